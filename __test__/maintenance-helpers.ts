/** Helpers for the suites of delete, rename, compact, break-lock and info: what a repository holds on disk. */
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir } from './archive-helpers.js';
import { pseudoRandom } from './helpers.js';

/** Every pack of a repository: name -> size. */
export function packs(repo: string): Map<string, number> {
  const out = new Map<string, number>();
  const root = path.join(repo, 'packs');
  for (const dir of readdirSync(root)) {
    for (const name of readdirSync(path.join(root, dir))) out.set(name, statSync(path.join(root, dir, name)).size);
  }
  return out;
}

/** Bytes of all packs. */
export function packBytes(repo: string): number {
  return [...packs(repo).values()].reduce((a, b) => a + b, 0);
}

/** Object names in one folder of the repository (empty if it does not exist). */
export function objects(repo: string, folder: string): string[] {
  try {
    return readdirSync(path.join(repo, folder)).sort();
  } catch {
    return [];
  }
}

/** A snapshot of every object name and size in the repository except locks, to show nothing changed. */
export function snapshot(repo: string): string[] {
  const out: string[] = [];
  const visit = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === 'locks') continue;
      const st = statSync(full);
      if (st.isDirectory()) visit(full, r);
      else out.push(`${r} ${st.size}`);
    }
  };
  visit(repo, '');
  return out;
}

/** A folder `<base>/<name>` of files, each `size` pseudo-random bytes named by its own tag. */
export function filesIn(base: string, name: string, files: Record<string, number>): string {
  const dir = path.join(base, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, size] of Object.entries(files)) writeFileSync(path.join(dir, f), pseudoRandom(size, `${name}/${f}`));
  return dir;
}

/** Runs create as a child in `base`; fails the test unless it succeeds. */
export async function create(t: ExecutionContext, env: NodeJS.ProcessEnv, base: string, target: string, ...paths: string[]): Promise<void> {
  const r = await hoardIn(env, ['create', target, ...paths], base);
  t.is(r.code, 0, `create ${target}: ${r.stderr}`);
}

/** Extracts `target` into a new folder and returns it. */
export async function extractAll(t: ExecutionContext, env: NodeJS.ProcessEnv, target: string): Promise<string> {
  const out = tempDir('out');
  const r = await hoardIn(env, ['extract', target], out);
  t.is(r.code, 0, `extract ${target}: ${r.stderr}`);
  return out;
}

/** Asserts that `a` and `b` hold the same bytes. */
export function sameFile(t: ExecutionContext, a: string, b: string): void {
  t.true(readFileSync(a).equals(readFileSync(b)), `${a} equals ${b}`);
}

/** Writes a lock object of another host, as a dead hoard elsewhere leaves it; returns its name. */
export function foreignLock(repo: string, kind: 'shared' | 'exclusive', created = new Date()): string {
  const id = randomBytes(8).toString('hex');
  const name = `${kind}-${created.getTime().toString(16).padStart(12, '0')}-${id}`;
  mkdirSync(path.join(repo, 'locks'), { recursive: true });
  const time = created.toISOString();
  writeFileSync(path.join(repo, 'locks', name), JSON.stringify({ kind, host: 'elsewhere.example', pid: 4242, id, created: time, time }));
  return name;
}

/** The names of a repository's archives, as `list --short` prints them. */
export async function archiveNames(env: NodeJS.ProcessEnv, repo: string): Promise<string[]> {
  const r = await hoardIn(env, ['list', '--short', repo]);
  if (r.code !== 0) throw new Error(`list failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}
