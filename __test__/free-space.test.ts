import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { LocalStorage } from '../dist/storage/local.js';
import { hoardIn, tempDir, testEnv } from './archive-helpers.js';
import type { CliResult } from './helpers.js';
import { archiveNames, create, extractAll, objects, packs, sameFile } from './maintenance-helpers.js';

/** Mounts a tmpfs of `mib` MiB on a new folder (unmounted at teardown); undefined, logged, where mounting is not allowed. */
function smallDisk(t: ExecutionContext, mib: number): string | undefined {
  const dir = tempDir('disk');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    t.log(`SKIPPED: cannot mount a ${mib} MiB tmpfs on ${dir} (needs root): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return undefined;
  }
  t.teardown(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A folder `<base>/<name>` of files of random bytes (incompressible, never deduplicated), each of the given size. */
function filesIn(base: string, name: string, files: Record<string, number>): void {
  const dir = path.join(base, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, size] of Object.entries(files)) writeFileSync(path.join(dir, f), randomBytes(size));
}

/** Bytes free on the file system of `dir`. */
function free(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/** Fills the file system of `dir` with a file until at most `left` bytes stay free; returns the file. */
function fill(dir: string, left: number): string {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(1 << 14, 1);
  try {
    while (free(dir) > left) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** Every file name under `dir`, recursively. */
function names(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((n) => path.basename(n));
}

/** Asserts that a run ended with exit code 2 and one line, no stack. */
function cleanAbort(t: ExecutionContext, r: CliResult, re: RegExp): void {
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^hoard: [^\n]+\n$/, `one line, no stack: ${r.stderr}`);
  t.notRegex(r.stderr, /\n\s+at /);
  t.regex(r.stderr, re);
}

/** Runs `check` and fails the test unless it passes. */
async function checked(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string): Promise<void> {
  const r = await hoardIn(env, ['check', repo]);
  t.is(r.code, 0, `check: ${r.stderr}`);
}

test('a full disk: the backup that does not fit aborts cleanly; delete and compact work on the full disk and free it', async (t) => {
  const disk = smallDisk(t, 48);
  if (disk === undefined) return t.pass();
  const env = testEnv();
  const repo = path.join(disk, 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', repo])).code, 0);
  const base = tempDir('src');
  filesIn(base, 'first', { 'a.bin': 2_000_000, 'b.bin': 1_000_000 });
  filesIn(base, 'second', { 'c.bin': 3_000_000 });
  filesIn(base, 'big', { '1.bin': 20_000_000, '2.bin': 20_000_000, '3.bin': 20_000_000, '4.bin': 20_000_000 });
  filesIn(base, 'later', { 'd.bin': 25_000_000 });
  await create(t, env, base, `${repo}::first`, 'first');
  await create(t, env, base, `${repo}::second`, 'second');

  const indexObjects = objects(repo, 'index').length;
  const big = await hoardIn(env, ['create', `${repo}::big`, 'big'], base);
  cleanAbort(t, big, /^hoard: Insufficient free space on .*repo \(required: [\d.]+ [kMG]?B, available: [\d.]+ [kMG]?B\); delete archives and run compact/);
  t.deepEqual(await archiveNames(env, repo), ['first', 'second']);
  t.deepEqual(names(repo).filter((n) => n.startsWith('.tmp-')), [], 'no half-written object');
  t.true(free(disk) >= 1 << 20, 'the headroom stayed free');
  t.true(objects(repo, 'index').length > indexObjects, 'the packs the failed run stored are listed in an index object');
  await checked(t, env, repo);

  // Fill the disk to the last few pages from outside: delete and compact must still work.
  const filler = fill(disk, 256 * 1024);
  const del = await hoardIn(env, ['delete', `${repo}::second`]);
  t.is(del.code, 0, del.stderr);
  const before = free(disk);
  const c = await hoardIn(env, ['compact', '-v', repo]);
  t.is(c.code, 0, c.stderr);
  t.true(free(disk) - before > 20_000_000, `compact freed ${free(disk) - before} bytes`);
  rmSync(filler);
  t.deepEqual(await archiveNames(env, repo), ['first']);
  await checked(t, env, repo);
  const out = await extractAll(t, env, `${repo}::first`);
  sameFile(t, path.join(out, 'first', 'a.bin'), path.join(base, 'first', 'a.bin'));
  sameFile(t, path.join(out, 'first', 'b.bin'), path.join(base, 'first', 'b.bin'));

  // A backup that fits now succeeds (it did not before compact: the aborted one's packs filled the disk).
  await create(t, env, base, `${repo}::later`, 'later');
  await checked(t, env, repo);
  const out2 = await extractAll(t, env, `${repo}::later`);
  sameFile(t, path.join(out2, 'later', 'd.bin'), path.join(base, 'later', 'd.bin'));
});

test('a full cache disk after the commit is a warning: exit 1, the archive kept, the next run rebuilds the caches', async (t) => {
  const disk = smallDisk(t, 1);
  if (disk === undefined) return t.pass();
  const cache = path.join(disk, 'cache');
  mkdirSync(cache);
  fill(disk, 0);
  const base = tempDir('cachefull');
  filesIn(base, 'src', { a: 200_000, b: 300_000 });
  const env = testEnv({ HOARD_CACHE_DIR: cache });
  const repo = path.join(tempDir('repo'), 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', repo], base)).code, 0);
  const r = await hoardIn(env, ['create', `${repo}::one`, 'src'], base);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^Archive one: committed, but a cache could not be saved \(the next run rebuilds it\): .*No space left on device/m);
  t.notRegex(r.stderr, /^\s+at /m, 'no stack trace');
  t.deepEqual(await archiveNames(env, repo), ['one']);
  // Room again: the next run works, and its archive has the same files.
  rmSync(path.join(disk, 'filler'));
  await create(t, env, base, `${repo}::two`, 'src');
  sameFile(t, path.join(await extractAll(t, env, `${repo}::two`), 'src', 'b'), path.join(base, 'src', 'b'));
});

test('additional_free_space: a backup that would eat into the reserve aborts cleanly; a smaller reserve lets it through', async (t) => {
  const disk = smallDisk(t, 48);
  if (disk === undefined) return t.pass();
  const env = testEnv();
  const repo = path.join(disk, 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', repo])).code, 0);
  t.is((await hoardIn(env, ['config', repo, 'additional_free_space', '40M'])).code, 0);
  const base = tempDir('src');
  filesIn(base, 'data', { 'x.bin': 10_000_000 });
  const r = await hoardIn(env, ['create', `${repo}::one`, 'data'], base);
  cleanAbort(t, r, /Insufficient free space on .*\(required: .*, available: .*, additional_free_space 40\.00 MB\)/);
  t.deepEqual(await archiveNames(env, repo), []);
  t.true(free(disk) > 40_000_000, 'the reserve is untouched');
  await checked(t, env, repo);
  t.is((await hoardIn(env, ['config', repo, 'additional_free_space', '20M'])).code, 0);
  await create(t, env, base, `${repo}::one`, 'data');
  t.true(free(disk) > 20_000_000);
  await checked(t, env, repo);
  const out = await extractAll(t, env, `${repo}::one`);
  sameFile(t, path.join(out, 'data', 'x.bin'), path.join(base, 'data', 'x.bin'));
});

test('storage_quota: a backup that would exceed it aborts with borg\'s message; delete and compact bring the repository back under it', async (t) => {
  const env = testEnv();
  const repo = path.join(tempDir('repo'), 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', '--storage-quota', '10M', repo])).code, 0);
  const base = tempDir('src');
  filesIn(base, 'one', { 'a.bin': 6_000_000 });
  filesIn(base, 'two', { 'b.bin': 6_000_000 });
  await create(t, env, base, `${repo}::one`, 'one');
  const r = await hoardIn(env, ['create', `${repo}::two`, 'two'], base);
  cleanAbort(t, r, /^hoard: The storage quota \(10\.00 MB\) of .*repo would be exceeded \([\d.]+ MB\)\. Try deleting some archives and running compact\.\n$/);
  t.deepEqual(await archiveNames(env, repo), ['one']);
  await checked(t, env, repo);
  // A quota raised by config lets the same backup through.
  t.is((await hoardIn(env, ['config', repo, 'storage_quota', '20M'])).code, 0);
  await create(t, env, base, `${repo}::two`, 'two');
  t.is((await hoardIn(env, ['config', repo, 'storage_quota', '10M'])).code, 0);
  // Over the quota now: nothing new fits until delete and compact free space.
  filesIn(base, 'three', { 'c.bin': 1_000_000 });
  cleanAbort(t, await hoardIn(env, ['create', `${repo}::three`, 'three'], base), /storage quota \(10\.00 MB\)/);
  t.is((await hoardIn(env, ['delete', `${repo}::one`])).code, 0);
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  await create(t, env, base, `${repo}::three`, 'three');
  t.deepEqual(await archiveNames(env, repo), ['two', 'three']);
  await checked(t, env, repo);
  const size = readdirSync(repo, { recursive: true, encoding: 'utf8' })
    .map((n) => statSync(path.join(repo, n)))
    .filter((s) => s.isFile())
    .reduce((a, s) => a + s.size, 0);
  t.true(size <= 10_000_000, `the repository holds ${size} bytes`);
});

test('compact rewrites only the packs whose live blobs fit in the free space; a later run rewrites the rest', async (t) => {
  const disk = smallDisk(t, 24);
  if (disk === undefined) return t.pass();
  const env = testEnv();
  const repo = path.join(disk, 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', repo])).code, 0);
  const base = tempDir('src');
  // One pack holds both files; the archive that stays references only the first.
  filesIn(base, 'both', { 'live.bin': 2_000_000, 'dead.bin': 2_000_000 });
  await create(t, env, base, `${repo}::both`, 'both');
  const [shared] = [...packs(repo).keys()];
  await create(t, env, base, `${repo}::live`, 'both/live.bin');
  t.is((await hoardIn(env, ['delete', `${repo}::both`])).code, 0);
  // Less free than the live half plus the headroom: the pack cannot be rewritten now.
  const filler = fill(disk, (1 << 20) + 500_000);
  const tight = await hoardIn(env, ['compact', '-v', repo]);
  t.is(tight.code, 0, tight.stderr);
  t.regex(tight.stderr, /not enough free space to rewrite 1 of 1 packs now: they stay as they are \(run compact again\)/);
  t.true(packs(repo).has(shared as string), 'the pack stays');
  await checked(t, env, repo);
  rmSync(filler);
  const roomy = await hoardIn(env, ['compact', '-v', repo]);
  t.is(roomy.code, 0, roomy.stderr);
  t.notRegex(roomy.stderr, /not enough free space/);
  t.false(packs(repo).has(shared as string), 'now it is rewritten');
  await checked(t, env, repo);
  const out = await extractAll(t, env, `${repo}::live`);
  sameFile(t, path.join(out, 'both', 'live.bin'), path.join(base, 'both', 'live.bin'));
});

test('LocalStorage.freeSpace is what statfs says is free to the user; undefined where the folder is missing', async (t) => {
  const disk = smallDisk(t, 8);
  if (disk === undefined) return t.pass();
  const store = new LocalStorage(disk);
  t.is(await store.freeSpace(), 8 << 20);
  await store.put('a/b', Buffer.alloc(3 << 20, 7));
  t.is(await store.freeSpace(), free(disk));
  t.true(free(disk) <= 5 << 20);
  t.is(await new LocalStorage(path.join(disk, 'missing')).freeSpace(), undefined);
});
