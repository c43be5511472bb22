#!/usr/bin/env node
/** The `hoard` executable: runs the CLI on the process's arguments and streams. */
import { run } from './cli.js';

process.exitCode = await run(process.argv.slice(2), {}, { setUmask: true });
