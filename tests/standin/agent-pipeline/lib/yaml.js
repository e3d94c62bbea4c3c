'use strict';
// A small YAML subset, enough for Agent Pipeline pipeline files:
//   - block mappings (`key: value`, `key:` followed by an indented block)
//   - block sequences (`- item`, `- key: value` starting a mapping item)
//   - flow sequences on one line (`[a, "b", 3]`) and `{}` / `[]`
//   - scalars: plain, 'single' and "double" quoted, numbers, true/false/null, ~
//   - `#` comments (full-line, and after a space in plain values)
// Not supported (an error names the line): anchors, aliases, tags, multi-line
// scalars (| and >), flow mappings with content, multiple documents.

class YamlError extends Error {
  constructor(line, message) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

function stripComment(text) {
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) return text.slice(0, i);
  }
  return text;
}

function scalar(raw, line) {
  const text = raw.trim();
  if (text === '' || text === '~' || text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new YamlError(line, `unterminated string ${text}`);
    return JSON.parse(text);
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new YamlError(line, `unterminated string ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new YamlError(line, `unterminated flow sequence ${text}`);
    const inner = text.slice(1, -1);
    const items = [];
    let cur = '';
    let quote = null;
    for (const c of inner) {
      if (quote) {
        cur += c;
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'") {
        quote = c;
        cur += c;
      } else if (c === ',') {
        items.push(scalar(cur, line));
        cur = '';
      } else cur += c;
    }
    if (cur.trim() !== '') items.push(scalar(cur, line));
    return items;
  }
  if (/^[&*!|>{]/.test(text)) throw new YamlError(line, `unsupported YAML: ${text}`);
  return text;
}

function tokenize(source) {
  const lines = [];
  source.split(/\r?\n/).forEach((rawLine, index) => {
    const body = stripComment(rawLine).replace(/\s+$/, '');
    if (body.trim() === '' || body.trim() === '---') return;
    if (/^\t/.test(rawLine)) throw new YamlError(index + 1, 'tabs are not allowed for indentation');
    const indent = body.length - body.trimStart().length;
    lines.push({ indent, text: body.trim(), line: index + 1 });
  });
  return lines;
}

function splitKey(text, line) {
  const match = /^("[^"]*"|'[^']*'|[^:]+?)\s*:(\s+(.*))?$/.exec(text);
  if (!match) return null;
  let key = match[1];
  if (key.startsWith('"') || key.startsWith("'")) key = scalar(key, line);
  return { key, rest: match[3] === undefined ? '' : match[3] };
}

function parseBlock(lines, pos, indent) {
  const first = lines[pos];
  if (first.text.startsWith('- ') || first.text === '-') return parseSequence(lines, pos, indent);
  return parseMapping(lines, pos, indent);
}

function parseValue(lines, pos, rest, parentIndent, line) {
  if (rest !== '') return { value: scalar(rest, line), pos: pos + 1 };
  const next = lines[pos + 1];
  if (next && next.indent > parentIndent) return parseBlock(lines, pos + 1, next.indent);
  // `key:` followed by `- item` at the same indentation is a sequence too.
  if (next && next.indent === parentIndent && next.text.startsWith('-')) {
    return parseSequence(lines, pos + 1, next.indent);
  }
  return { value: null, pos: pos + 1 };
}

function parseMapping(lines, pos, indent) {
  const result = {};
  while (pos < lines.length && lines[pos].indent === indent && !lines[pos].text.startsWith('-')) {
    const { text, line } = lines[pos];
    const kv = splitKey(text, line);
    if (!kv) throw new YamlError(line, `expected "key: value", got ${text}`);
    const parsed = parseValue(lines, pos, kv.rest, indent, line);
    result[kv.key] = parsed.value;
    pos = parsed.pos;
  }
  if (pos < lines.length && lines[pos].indent > indent) {
    throw new YamlError(lines[pos].line, 'unexpected indentation');
  }
  return { value: result, pos };
}

function parseSequence(lines, pos, indent) {
  const result = [];
  while (pos < lines.length && lines[pos].indent === indent && lines[pos].text.startsWith('-')) {
    const { text, line } = lines[pos];
    const body = text.slice(1).trim();
    if (body === '') {
      const next = lines[pos + 1];
      if (next && next.indent > indent) {
        const parsed = parseBlock(lines, pos + 1, next.indent);
        result.push(parsed.value);
        pos = parsed.pos;
      } else {
        result.push(null);
        pos += 1;
      }
      continue;
    }
    const kv = body.startsWith('[') || body.startsWith('"') || body.startsWith("'") ? null : splitKey(body, line);
    if (!kv) {
      result.push(scalar(body, line));
      pos += 1;
      continue;
    }
    // "- key: value" opens a mapping whose keys sit at the column after "- ".
    const itemIndent = indent + (text.length - body.length);
    const rewritten = lines.slice();
    rewritten[pos] = { indent: itemIndent, text: body, line };
    const parsed = parseMapping(rewritten, pos, itemIndent);
    result.push(parsed.value);
    pos = parsed.pos;
  }
  return { value: result, pos };
}

function parse(source) {
  const lines = tokenize(source);
  if (lines.length === 0) return null;
  if (lines[0].indent !== 0) throw new YamlError(lines[0].line, 'the document must start at column 0');
  const parsed = parseBlock(lines, 0, 0);
  if (parsed.pos < lines.length) throw new YamlError(lines[parsed.pos].line, 'unexpected content');
  return parsed.value;
}

module.exports = { parse, YamlError };
