#!/usr/bin/env node
// The pqtls CLI. Runs the compiled code in dist/ (`npm run build`).
import { main } from '../dist/cli/main.js';

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // A missing file or a bad key is a message and exit code 1, not a stack trace.
  process.stderr.write(`pqtls: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
