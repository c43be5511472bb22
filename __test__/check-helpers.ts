/** Helpers for the check and crash suites: children that may be killed, repository files, flipped bytes. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN, pseudoRandom } from './helpers.js';

/** Chunker parameters that cut small data into many chunks. */
export const SMALL_CHUNKS = 'buzhash,10,16,12,4095';

/** What a child run of hoard produced, with the signal that ended it, if any. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs hoard as a child process in `cwd` (which a test-only crash point may kill). */
export async function hoardChild(env: NodeJS.ProcessEnv, argv: string[], cwd: string): Promise<ChildResult> {
  const child = spawn(process.execPath, [HOARD_BIN, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  return { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A small tree under `base/src`: a file of many chunks, small files and a folder. */
export function makeSmallTree(base: string, bigBytes = 300_000): void {
  mkdirSync(path.join(base, 'src', 'sub'), { recursive: true });
  writeFileSync(path.join(base, 'src', 'big'), pseudoRandom(bigBytes, 'check-big'));
  writeFileSync(path.join(base, 'src', 'sub', 'a.txt'), 'first small file\n');
  writeFileSync(path.join(base, 'src', 'sub', 'b.txt'), 'second small file\n');
}

/** Every file under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) visit(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  visit(dir, '');
  return out.sort();
}

/** Every file of a repository with the hash of its contents, to show that nothing changed. */
export function snapshot(repo: string): Map<string, string> {
  return new Map(filesUnder(repo).map((f) => [f, createHash('sha256').update(readFileSync(path.join(repo, f))).digest('hex')]));
}

/** The pack files of a repository (paths), oldest first. */
export function packFiles(repo: string): string[] {
  return filesUnder(path.join(repo, 'packs'))
    .map((f) => path.join(repo, 'packs', f))
    .sort((a, b) => Number(statSync(a, { bigint: true }).mtimeNs - statSync(b, { bigint: true }).mtimeNs));
}

/** The pack id of a pack file. */
export function packId(file: string): string {
  return path.basename(file);
}

/** Where a pack's blobs and table of contents lie, from its trailer. */
export function packParts(file: string): { size: number; blobsEnd: number } {
  const data = readFileSync(file);
  const tocLength = data.readUInt32LE(data.length - 12);
  return { size: data.length, blobsEnd: data.length - 12 - tocLength };
}

/** Flips one bit of the byte at `offset` of `file` (negative: from the end); flipping again restores it. */
export function flip(file: string, offset: number): void {
  const data = readFileSync(file);
  const at = offset < 0 ? data.length + offset : offset;
  data[at] = (data[at] ?? 0) ^ 0x04;
  writeFileSync(file, data);
}

/** Offsets of `file` to sample: its first byte, one in the middle and its last. */
export function sampleOffsets(file: string): number[] {
  const n = statSync(file).size;
  return [0, Math.floor(n / 2), n - 1];
}

/**
 * A repository with archive `a` of the small tree (`src`) and `b` of another (`other`), packs of
 * at most 16 KiB: what the repair and broken-file tests damage.
 */
export async function twoArchiveRepo(): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string }> {
  const env = testEnv({ HOARD_TESTONLY_PACK_SIZE: '16384' });
  const repo = await makeRepo(env);
  const base = tempDir('src');
  makeSmallTree(base);
  mkdirSync(path.join(base, 'other'));
  writeFileSync(path.join(base, 'other', 'data'), pseudoRandom(50_000, 'other-data'));
  for (const [name, dir] of [
    ['a', 'src'],
    ['b', 'other'],
  ] as const) {
    const c = await hoardIn(env, ['create', '--chunker-params', SMALL_CHUNKS, `${repo}::${name}`, dir], base);
    if (c.code !== 0) throw new Error(`create failed: ${c.stderr}`);
  }
  return { env, repo, base };
}
