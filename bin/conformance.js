#!/usr/bin/env node
// The `conformance` command: see `conformance help` and docs/. The code lives in conformance/cli.ts.
import { main } from '../dist/conformance/cli.js';

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
