#!/usr/bin/env node
"use strict";
// Runs the TypeScript sources directly (transpile-only, cached by tsx) so that
// `npm ci` is the only install step.
require("tsx/cjs/api").register();
require("../src/main.ts")
  .main(process.argv.slice(2))
  .catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
