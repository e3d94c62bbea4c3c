/* Agent Oven status page: keeps the server-rendered page current without a reload.
 *
 * Every few seconds it fetches the JSON feed named in <body data-feed> and re-renders the
 * parts that change. It only ever builds DOM nodes and sets textContent, never innerHTML,
 * so text from manifests and logs can not become markup. Formatting mirrors web/format.py.
 */
(function () {
  "use strict";

  var body = document.body;
  var base = body.dataset.base || "";
  var POLL_MS = Number(body.dataset.poll) || 3000;
  var DASH = "\u2014";
  var lastOk = null;

  /* ---------- small DOM and formatting helpers ---------- */

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function dash() { return el("span", "muted", DASH); }

  function blank(v) { return v === null || v === undefined || v === ""; }

  function rel(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return String(iso);
    var s = Math.round((t - Date.now()) / 1000), a = Math.abs(s), text;
    if (a < 5) return "just now";
    if (a >= 7 * 86400) return String(iso).slice(0, 16).replace("T", " ");
    if (a < 60) text = a + "s";
    else if (a < 3600) text = Math.floor(a / 60) + "m";
    else if (a < 86400) text = Math.floor(a / 3600) + "h " + Math.floor((a % 3600) / 60) + "m";
    else text = Math.floor(a / 86400) + "d " + Math.floor((a % 86400) / 3600) + "h";
    return s > 0 ? "in " + text : text + " ago";
  }

  function duration(v) {
    if (blank(v) || isNaN(Number(v))) return DASH;
    var s = Number(v);
    if (s < 10) return s.toFixed(1) + "s";
    var w = Math.round(s), h = Math.floor(w / 3600), m = Math.floor((w % 3600) / 60);
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (w % 60) + "s";
    return w + "s";
  }

  function percent(v) {
    return blank(v) || isNaN(Number(v)) ? DASH : Math.round(Number(v) * 100) + "%";
  }

  function scheduleText(v) {
    if (blank(v)) return DASH;
    if (typeof v === "object") return ((v.type || "") + " " + (v.cron || v.at || v.every || "")).trim();
    return String(v);
  }

  function timeEl(iso) {
    if (blank(iso)) return dash();
    var t = el("time", "t", rel(iso));
    t.dateTime = iso;
    t.title = iso;
    return t;
  }

  function badge(status) {
    if (blank(status)) return el("span", "badge s-none", "never run");
    return el("span", "badge s-" + status, String(status).replace(/_/g, " "));
  }

  function link(href, text, cls) {
    var a = el("a", cls, text);
    a.href = base + href;
    return a;
  }

  function runLink(id) {
    return blank(id) ? dash() : link("/runs/" + encodeURIComponent(id), id, "id");
  }

  function runLinks(ids) {
    var frag = document.createDocumentFragment();
    (ids || []).forEach(function (id) { frag.append(runLink(id), " "); });
    return frag.childNodes.length ? frag : dash();
  }

  function count(v) {
    var n = Number(v);
    if (blank(v) || isNaN(n)) return DASH;
    var units = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(n) >= units[i][0]) return (n / units[i][0]).toFixed(1) + units[i][1];
    }
    return n.toFixed(0);
  }

  function tokensText(t) {
    /* Same as web/format.py tokens(): "1.5k in · 250 out". */
    if (!t || typeof t !== "object") return DASH;
    var parts = [];
    if ("input" in t) parts.push(count(t.input) + " in");
    if ("output" in t) parts.push(count(t.output) + " out");
    return parts.length ? parts.join(" \u00b7 ") : DASH;
  }

  function currentStage(stages) {
    /* Same as web/queries.py current_stage(): the last running stage, with its attempt. */
    var running = (stages || []).filter(function (s) { return s.status === "running"; });
    if (!running.length) return null;
    var s = running[running.length - 1];
    return (s.attempt || 1) > 1 ? s.name + " (attempt " + s.attempt + ")" : String(s.name);
  }

  function pullRequest(pr) {
    if (!pr) return dash();
    if (pr.url && /^https?:\/\//.test(pr.url)) {
      var a = el("a", "pr", pr.url);
      a.href = pr.url;
      a.rel = "noopener noreferrer";
      return a;
    }
    if (pr.url) return el("code", null, pr.url);
    if (pr.error) return el("span", "bad", "not opened: " + pr.error);
    return dash();
  }

  function failures(n) { n = Number(n) || 0; return el("span", n > 0 ? "bad" : "muted", n); }

  function code(v) { return blank(v) ? dash() : el("code", null, v); }

  var KINDS = {
    text: function (v) { return blank(v) ? dash() : document.createTextNode(String(v)); },
    time: timeEl,
    badge: badge,
    duration: function (v) { return document.createTextNode(duration(v)); },
    percent: function (v) { return document.createTextNode(percent(v)); },
    schedule: function (v) { return document.createTextNode(scheduleText(v)); },
    failures: failures,
    runs: runLinks,
    run: runLink,
    code: code,
    rev: function (v) { return code(blank(v) ? v : String(v).slice(0, 12)); },
    current: function (v) { var s = currentStage(v); return s ? el("strong", null, s) : dash(); },
    tokens: function (v) { return document.createTextNode(tokensText(v)); },
    pr: pullRequest,
    enabled: function (v) {
      return v === false ? el("span", "tag warn", "disabled") : el("span", "tag ok", "enabled");
    }
  };

  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }

  function fillFields(data) {
    document.querySelectorAll("[data-field]").forEach(function (node) {
      var render = KINDS[node.dataset.kind] || KINDS.text;
      node.replaceChildren(render(pick(data, node.dataset.field)));
    });
  }

  function cells(row, nodes) {
    nodes.forEach(function (n) {
      var td = el("td", n.cls);
      td.append.apply(td, n.content);
      row.append(td);
    });
    return row;
  }

  function c(content, cls) { return { content: content, cls: cls }; }

  function emptyRow(cols, text) {
    var tr = el("tr", "empty"), td = el("td", null, text);
    td.colSpan = cols;
    tr.append(td);
    return tr;
  }

  function setText(id, text) { var n = document.getElementById(id); if (n) n.textContent = text; }

  /* ---------- page renderers ---------- */

  function elapsedEl(iso) {
    var t = el("time", "elapsed", elapsedText(iso));
    t.dateTime = iso;
    t.title = "running since " + iso;
    return t;
  }

  function elapsedText(iso) {
    var t = Date.parse(iso);
    return isNaN(t) ? DASH : duration(Math.max(0, (Date.now() - t) / 1000));
  }

  function activeRuns(ids, current, started) {
    var frag = document.createDocumentFragment();
    (ids || []).forEach(function (id) {
      frag.append(runLink(id));
      if (started && started[id]) frag.append(" ", wrap(el("span", "running-for"), elapsedEl(started[id])));
      if (current && current[id]) frag.append(" ", el("span", "stage-now", "\u00b7 " + current[id]));
      frag.append(" ");
    });
    return frag.childNodes.length ? frag : dash();
  }

  function wrap(parent, child) { parent.append(child); return parent; }

  function jobRow(job, current, started) {
    var tr = el("tr", job.enabled === false ? "disabled" : null);
    tr.dataset.job = job.job_id;
    var id = [link("/jobs/" + encodeURIComponent(job.job_id), job.job_id, "id"), el("div", "sub", job.name)];
    var sched = [scheduleText(job.schedule)];
    if (job.enabled === false) sched.push(" ", el("span", "tag", "disabled"));
    var last = [badge(job.last_run && job.last_run.status)];
    if (job.last_run) {
      var a = link("/runs/" + encodeURIComponent(job.last_run.run_id), null, "when");
      a.append(timeEl(job.last_run.finished_at));
      last.push(" ", a);
    }
    return cells(tr, [c(id), c(sched), c([timeEl(job.next_run)]), c(last),
      c([percent(job.success_rate)], "num"), c([duration(job.p95_duration_s)], "num"),
      c([failures(job.consecutive_failures)], "num"),
      c([tokensText(job.tokens && job.tokens.last_7_days)], "num"),
      c([activeRuns(job.active_runs, current, started)])]);
  }

  function runRow(run) {
    var tr = el("tr");
    tr.dataset.run = run.run_id;
    return cells(tr, [c([runLink(run.run_id)]), c([badge(run.status)]), c([run.trigger || DASH]),
      c([timeEl(run.scheduled_for)]), c([timeEl(run.started_at)]),
      c([duration(run.duration_s)], "num"), c([blank(run.exit_code) ? DASH : run.exit_code], "num"),
      c([blank(run.attempt) ? DASH : run.attempt], "num")]);
  }

  function renderProblems(problems) {
    var panel = document.getElementById("problems-panel");
    if (!panel) return;
    panel.hidden = problems.length === 0;
    setText("problems-count", problems.length);
    var none = document.getElementById("no-problems");
    if (none) none.hidden = problems.length > 0;
    document.getElementById("problems-list").replaceChildren.apply(
      document.getElementById("problems-list"),
      problems.map(function (p) {
        var li = el("li");
        li.append(el("code", "loc", p.path + ":" + p.line), el("span", "field", p.field),
          el("span", "msg", p.message));
        return li;
      }));
  }

  function renderOverview(data) {
    var h = data.health, rec = data.reconciler || {};
    var cond = document.getElementById("condition");
    if (cond) {
      cond.className = "condition c-" + String(h.state).toLowerCase();
      setText("cond-state", h.state);
      setText("cond-reason", h.reason);
      setText("cond-message", h.message);
      setText("rev-applied", blank(h.applied_revision) ? DASH : String(h.applied_revision).slice(0, 12));
      document.getElementById("heartbeat").replaceChildren(timeEl(h.heartbeat));
      document.getElementById("next-wakeup").replaceChildren(timeEl(h.next_wakeup));
      setText("runs-active", h.runs_active);
    }
    var att = document.getElementById("rev-attempted");
    if (att) {
      att.textContent = blank(rec.attempted_revision) ? DASH : String(rec.attempted_revision).slice(0, 12);
      att.className = rec.attempted_revision && rec.attempted_revision !== rec.applied_revision ? "diverged" : "";
    }
    renderProblems(rec.problems || []);
    renderHealth(h, data.jobs_health);
    var tbody = document.getElementById("jobs-body");
    if (tbody) {
      var rows = data.jobs.map(function (job) { return jobRow(job, data.current_stages, data.active_started); });
      tbody.replaceChildren.apply(tbody, rows.length ? rows : [emptyRow(9, data.jobs_total ? "No jobs on this page." : "No jobs are defined yet.")]);
      setText("jobs-count", data.jobs_total != null ? data.jobs_total : data.jobs.length);
    }
  }

  function renderHealth(h, jobs) {
    var chip = document.getElementById("health-reconciler");
    if (chip && h) {
      chip.className = "hchip c-" + String(h.state).toLowerCase();
      chip.title = h.message || "";
      chip.querySelector("strong").textContent = h.state;
    }
    var jchip = document.getElementById("health-jobs");
    if (jchip && jobs) {
      jchip.className = "hchip " + (jobs.failing.length ? "j-bad" : "j-ok");
      jchip.title = jobs.failing.join(", ");
      jchip.querySelector("strong").textContent = jobs.summary;
    }
  }

  function renderJob(job, runs) {
    fillFields(job);
    var tbody = document.getElementById("runs-body");
    var rows = runs.runs.map(runRow);
    tbody.replaceChildren.apply(tbody, rows.length ? rows : [emptyRow(8, "No runs yet.")]);
  }

  function stageRow(stage) {
    var svg = "http://www.w3.org/2000/svg", bar = document.createElementNS(svg, "svg");
    bar.setAttribute("class", "bar");
    bar.setAttribute("viewBox", "0 0 100 10");
    bar.setAttribute("preserveAspectRatio", "none");
    [["track", 0, 100], ["fill s-" + stage.status, stage.offset, stage.width]].forEach(function (r) {
      var rect = document.createElementNS(svg, "rect");
      rect.setAttribute("class", r[0]);
      rect.setAttribute("x", r[1]);
      rect.setAttribute("y", 0);
      rect.setAttribute("width", r[2]);
      rect.setAttribute("height", 10);
      bar.append(rect);
    });
    var tokens = stage.tokens ? Object.keys(stage.tokens).sort().map(function (k) {
      return k + " " + stage.tokens[k];
    }).join(", ") : DASH;
    var name = [stage.name];
    if ((stage.attempt || 1) > 1) name.push(" ", el("span", "muted", "(attempt " + stage.attempt + ")"));
    if (stage.error) name.push(el("div", "sub bad", stage.error.message));
    return cells(el("tr"), [c(name), c([badge(stage.status)]), c([bar], "bar-cell"),
      c([duration(stage.duration_s)], "num"), c([stage.model || DASH]),
      c([code(stage.commit)]), c([tokens], "num")]);
  }

  function stageBars(run) {
    /* Same placement as web/timeline.py: at start times when known, else end to end. */
    var origin = Date.parse(run.started_at), cursor = 0, spans = [];
    (run.stages || []).forEach(function (st) {
      var began = Date.parse(st.started_at), ended = Date.parse(st.finished_at);
      var start = !isNaN(began) && !isNaN(origin) ? Math.max(0, (began - origin) / 1000) : cursor;
      var len = !blank(st.duration_s) ? Number(st.duration_s)
        : (!isNaN(began) && !isNaN(ended) ? (ended - began) / 1000 : 0);
      spans.push([start, start + Math.max(0, len)]);
      cursor = start + Math.max(0, len);
    });
    var total = Math.max.apply(null, [Number(run.duration_s) || 0, 0].concat(spans.map(function (s) { return s[1]; }))) || 1;
    return (run.stages || []).map(function (st, i) {
      var offset = Math.min(100, 100 * spans[i][0] / total);
      var width = Math.max(0.5, Math.min(100 - offset, 100 * (spans[i][1] - spans[i][0]) / total));
      return Object.assign({}, st, { offset: offset.toFixed(2), width: width.toFixed(2) });
    });
  }

  function renderRun(run) {
    fillFields(run);
    var active = run.status === "running" || run.status === "queued";
    var box = document.getElementById("run-elapsed");
    if (box) {
      box.hidden = !active;
      if (run.started_at) box.querySelector("time").dateTime = run.started_at;
    }
    var stage = document.getElementById("run-stage"), now = currentStage(run.stages);
    if (stage) { stage.hidden = !now; stage.querySelector("strong").textContent = now || ""; }
    var state = document.getElementById("log-state");
    if (state) state.textContent = active ? "as it is written" : "complete";
    showActions(run);
    document.getElementById("run-error").hidden = !run.error;
    var stages = stageBars(run), tbody = document.getElementById("stages-body");
    document.getElementById("stages-panel").hidden = stages.length === 0;
    tbody.replaceChildren.apply(tbody, stages.map(stageRow));
    var log = document.getElementById("log-tail");
    if (log.dataset.source === "file") return;  /* the log comes from the event stream */
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    if (log.textContent !== (run.log_tail || "")) {
      log.textContent = run.log_tail || "";
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
  }

  /* ---------- the run page's event stream ---------- */

  function appendLog(text) {
    var log = document.getElementById("log-tail");
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(document.createTextNode(text));
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function follow() {
    /* Server-sent events: new log text, the run when it changes, and the end. */
    var log = document.getElementById("log-tail");
    if (!log || !log.dataset.events || !window.EventSource) return false;
    var url = base + log.dataset.events + "?offset=" + encodeURIComponent(log.dataset.offset || "0");
    var source = new EventSource(url);
    function ok() {
      lastOk = Date.now();
      body.dataset.updated = String(lastOk);
      status(true, "live");
    }
    source.addEventListener("open", ok);
    source.addEventListener("log", function (e) {
      var d = JSON.parse(e.data);
      appendLog(d.text);
      log.dataset.offset = d.offset;
      ok();
    });
    source.addEventListener("run", function (e) {
      document.getElementById("gone").hidden = true;
      renderRun(JSON.parse(e.data));
      ok();
    });
    source.addEventListener("gone", function () {
      document.getElementById("gone").hidden = false;
      status(false, "gone");
    });
    source.addEventListener("end", function () {
      source.close();
      status(true, "live \u00b7 run finished");
      body.dataset.finished = "1";
    });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) status(false, "offline \u00b7 retrying");
    });
    return true;
  }

  /* ---------- cancel and retry with a write token ---------- */

  var TOKEN_KEY = "oven-write-token";
  var currentRun = null;

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function showActions(run) {
    currentRun = run || currentRun;
    var cancel = document.getElementById("cancel-run"), retry = document.getElementById("retry-run");
    if (!cancel || !currentRun) return;
    var has = token() !== "", active = currentRun.status === "running" || currentRun.status === "queued";
    var retriable = ["failed", "timed_out", "cancelled"].indexOf(currentRun.status) !== -1;
    cancel.hidden = !(has && active);
    retry.hidden = !(has && retriable);
    document.getElementById("token-forget").hidden = !has;
  }

  function act(kind) {
    var result = document.getElementById("action-result");
    var id = document.getElementById("run-actions").dataset.run;
    result.textContent = kind === "cancel" ? "cancelling\u2026" : "asking for a retry\u2026";
    fetch(base + "/api/v1/runs/" + encodeURIComponent(id) + "/" + kind, {
      method: "POST", cache: "no-store",
      headers: { Authorization: "Bearer " + token(), Accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (!r.ok) {
          var err = d.error || {};
          result.textContent = "refused (" + r.status + "): " + (err.message || r.statusText) +
            (err.hint ? " \u2014 hint: " + err.hint : "");
          return;
        }
        result.replaceChildren(document.createTextNode(kind === "cancel" ? "cancel requested" : "retry requested"));
        if (d.run_id) result.append(" \u00b7 ", runLink(d.run_id));
      });
    }).catch(function (e) { result.textContent = "could not reach the server: " + e.message; });
  }

  function wireActions() {
    var save = document.getElementById("token-save");
    if (!save) return;
    var input = document.getElementById("token-input");
    save.addEventListener("click", function () {
      try { sessionStorage.setItem(TOKEN_KEY, input.value.trim()); } catch (e) { /* private mode */ }
      input.value = "";
      showActions(null);
    });
    document.getElementById("token-forget").addEventListener("click", function () {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
      showActions(null);
    });
    document.getElementById("cancel-run").addEventListener("click", function () { act("cancel"); });
    document.getElementById("retry-run").addEventListener("click", function () { act("retry"); });
    var status0 = document.getElementById("run-status").textContent.trim().replace(/ /g, "_");
    showActions({ status: status0 });
  }

  /* ---------- polling ---------- */

  function getJSON(path) {
    var ctl = new AbortController(), timer = setTimeout(function () { ctl.abort(); }, 10000);
    // no-cache: the browser asks again each time, with the ETag it holds (304: not changed)
    return fetch(base + path, { cache: "no-cache", signal: ctl.signal, headers: { Accept: "application/json" } })
      .then(function (r) {
        clearTimeout(timer);
        if (r.status === 404) { var e = new Error("gone"); e.gone = true; throw e; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      });
  }

  function refresh() {
    var page = body.dataset.page, feed = body.dataset.feed;
    if (page === "overview" || page === "problems") {
      return getJSON(feed).then(function (d) {
        renderOverview(d);
        var count = (d.reconciler.problems || []).length, pill = document.getElementById("nav-problems");
        if (pill) { pill.textContent = count; pill.className = "pill" + (count ? " alert" : ""); }
      });
    }
    if (page === "job") {
      var runsBody = document.getElementById("runs-body");
      var q = "/api/v1/runs?job=" + encodeURIComponent(runsBody.dataset.job) + "&limit=" + runsBody.dataset.limit;
      return Promise.all([getJSON(feed), getJSON(q)]).then(function (r) { renderJob(r[0], r[1]); });
    }
    if (page === "run") return getJSON(feed).then(renderRun);
    return Promise.resolve();
  }

  function tickElapsed() {
    document.querySelectorAll("time.elapsed").forEach(function (t) {
      if (t.dateTime && !t.closest("[hidden]")) t.textContent = elapsedText(t.dateTime);
    });
  }

  function tickTimes() {
    document.querySelectorAll("time.t").forEach(function (t) { t.textContent = rel(t.dateTime); });
    tickElapsed();
    var live = document.getElementById("live");
    if (live && lastOk && !live.classList.contains("down") && !body.dataset.finished) {
      live.textContent = "live \u00b7 updated " + rel(new Date(lastOk).toISOString());
    }
  }

  function status(ok, text) {
    var live = document.getElementById("live");
    if (!live) return;
    live.className = "live " + (ok ? "up" : "down");
    live.textContent = text;
  }

  function loop() {
    refresh().then(function () {
      lastOk = Date.now();
      body.dataset.updated = String(lastOk);
      var gone = document.getElementById("gone");
      if (gone) gone.hidden = true;
      status(true, "live");
    }).catch(function (err) {
      var gone = document.getElementById("gone");
      if (err && err.gone && gone) { gone.hidden = false; status(false, "gone"); return; }
      status(false, "offline \u00b7 retrying");
    }).then(function () {
      tickTimes();
      setTimeout(loop, POLL_MS);
    });
  }

  wireActions();
  setInterval(tickElapsed, 1000);
  if (body.dataset.page === "run" && follow()) {
    tickTimes();
    setInterval(tickTimes, POLL_MS);
  } else if (body.dataset.feed) {
    tickTimes();
    setTimeout(loop, POLL_MS);
  }
})();
