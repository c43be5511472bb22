/** Shared helpers for the ava suites: run the CLI in-process or as a child, and make data. */
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';

import { run } from '../dist/cli.js';
import { errorFor } from '../dist/errors.js';
import { scanDirectories } from '../dist/native.js';
import type { ScanOptions, ScanResult } from '../dist/native.js';

/** The built `hoard` executable. */
export const HOARD_BIN = fileURLToPath(new URL('../dist/hoard.mjs', import.meta.url));

/** What a run of the CLI produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return () => Buffer.concat(parts).toString('utf8');
}

/** Runs the CLI in this process with captured streams. */
export async function runInProcess(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await run(argv, { stdin: new PassThrough(), stdout, stderr, env: { ...process.env, ...env } });
  return { code, stdout: out(), stderr: err() };
}

/** Runs the installed-style executable as a child process. */
export function runChild(argv: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [HOARD_BIN, ...argv], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `len` deterministic pseudo-random bytes named by `tag` (SHA-256 in counter mode). */
export function pseudoRandom(len: number, tag: string): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0, block = 0; i < len; block += 1) {
    const h = createHash('sha256').update(`${tag}:${block}`).digest();
    i += h.copy(out, i);
  }
  return out;
}

/** Text-like bytes that compress well. */
export function textLike(len: number): Buffer {
  const words = ['backup ', 'archive ', 'chunk ', 'repository ', 'hoard ', 'borg ', 'key\n'];
  let s = '';
  let x = 7;
  while (s.length < len) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += words[x % words.length];
  }
  return Buffer.from(s.slice(0, len));
}

/** Asserts equal bytes without ava's slow structural diff of large buffers. */
export function sameBytes(t: ExecutionContext, actual: Buffer, expected: Buffer, message = 'bytes'): void {
  if (actual.equals(expected)) {
    t.pass(message);
    return;
  }
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i += 1;
  t.fail(`${message}: ${actual.length} bytes, expected ${expected.length}; first difference at byte ${i}`);
}

/**
 * Asserts a size of "All archives" or "Deleted data": the archives' file bytes `fileBytes` plus the
 * encoded bytes of their trees (item metadata, which borg counts there too), more than none and
 * under 1 KiB a tree here.
 */
export function filesAndTrees(t: ExecutionContext, actual: number, fileBytes: number, trees = 2): void {
  t.true(actual > fileBytes && actual < fileBytes + 1024 * trees, `size ${actual}: files ${fileBytes} and ${trees} trees`);
}

/**
 * Waits until files written just now are older than the files cache's race guard: a create does
 * not cache a file whose ctime is within a second of its start (it could change again unseen), so
 * a test that expects the next create to find files unchanged waits this long before the first.
 */
export async function pastFilesCacheGuard(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

/** This process's umask, as the kernel reports it (`process.umask()` without a value is deprecated). */
export function processUmask(): number {
  const line = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number.parseInt(line?.[1] ?? '22', 8);
}

/**
 * One directory's entries, packed, through a one-folder `scanDirectories` call; a folder that
 * cannot be read rejects with its typed error (as the walk reports it).
 */
export async function scanOne(dir: string | Buffer, options?: ScanOptions): Promise<ScanResult> {
  const b = await scanDirectories([dir], options, 2 ** 32 - 1);
  const err = b.errors[0];
  if (err !== undefined) throw errorFor(err.code, err.message);
  return b.entries;
}
