#!/usr/bin/env node
/** The `hoard` executable: runs the CLI on the process's arguments and streams. */
import { run } from './cli.js';
import { commandLineArguments } from './fs-names.js';
import { keepMemoryTrimmed } from './memory-trim.js';

keepMemoryTrimmed();
process.exitCode = await run(commandLineArguments(), {}, { setUmask: true });
