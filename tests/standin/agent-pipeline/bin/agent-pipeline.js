#!/usr/bin/env node
'use strict';
// agent-pipeline test stand-in: see ../README.md.
const { main } = require('../lib/cli');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`❌ Error: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  },
);
