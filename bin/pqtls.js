#!/usr/bin/env node
// The pqtls CLI. Runs the compiled code in dist/ (`npm run build`).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
