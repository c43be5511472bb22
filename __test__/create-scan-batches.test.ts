/**
 * create reads its folders several per native call (`scanDirectories`, read ahead by
 * `DirScanner`): the archive is the same as a folder-by-folder walk makes, in the same order,
 * with excludes, tags and --one-file-system decided per folder, and a folder that cannot be read
 * fails alone.
 */
import test from 'ava';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import { findArchive, loadArchive } from '../dist/archive/archives.js';
import { Archiver, type CreateOptions } from '../dist/archive/create.js';
import { BATCH_DIRS, DirScanner } from '../dist/archive/scan.js';
import { decodeName } from '../dist/fs-names.js';
import { scanDirectories, scanEntries } from '../dist/native.js';
import { syncChunkIndex } from '../dist/repository/chunk-cache.js';
import { parseRepo } from '../dist/repository/location.js';
import { Repository } from '../dist/repository/repository.js';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN, scanOne } from './helpers.js';

const SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55\n';

/**
 * `folders` folders `dNNN` under `root`, each with a file and a subfolder `s` holding a file, and
 * `s` a folder `t` with a file: three folders each, so that a walk spans several batches.
 */
function manyFolders(root: string, folders: number): void {
  for (let i = 0; i < folders; i += 1) {
    const d = path.join(root, `d${String(i).padStart(3, '0')}`);
    mkdirSync(path.join(d, 's', 't'), { recursive: true });
    writeFileSync(path.join(d, 'f'), `file ${i}\n`);
    writeFileSync(path.join(d, 's', 'g'), `sub ${i}\n`);
    writeFileSync(path.join(d, 's', 't', 'h'), `deep ${i}\n`);
  }
}

/** Every path below `root` (`root`'s own name first), depth first in name-byte order, as `list --short` prints an archive of it; `skip` decides what is left out, `prune` whose contents. */
function expectedList(root: string, name: string, skip: (rel: string) => boolean, prune: (rel: string) => boolean): string[] {
  const out: string[] = [name];
  const visit = (dir: string, rel: string): void => {
    const names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (skip(r)) continue;
      out.push(`${name}/${r}`);
      if (statSync(path.join(dir, n)).isDirectory() && !prune(r)) visit(path.join(dir, n), r);
    }
  };
  visit(root, '');
  return out;
}

/** The number of native directory reads create's --debug log reports. */
function scanCalls(stderr: string): number {
  const m = /read its directories in (\d+) native calls/.exec(stderr);
  if (m === null) throw new Error(`no scan count in: ${stderr}`);
  return Number(m[1]);
}

test('scanDirectories packs each folder as a one-folder scan does, a failed one alone, up to its entry budget', async (t) => {
  const base = tempDir('scanbatch');
  const dirs: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const d = path.join(base, `d${i}`);
    mkdirSync(d);
    for (let j = 0; j <= i; j += 1) writeFileSync(path.join(d, `f${j}`), 'x'.repeat(j));
    // Symlinks carry their targets in `extras`, numbered through the whole batch.
    symlinkSync(`target-${i}`, path.join(d, 'link'));
    dirs.push(d);
  }
  dirs.splice(2, 0, path.join(base, 'gone'));
  const b = await scanDirectories(dirs, { xattrs: true }, 1_000_000);
  t.is(b.dirs, dirs.length);
  t.deepEqual(b.errors.map((e) => [e.index, e.code]), [[2, 'HOARD_NOT_FOUND']]);
  t.regex(b.errors[0]?.message ?? '', /gone/);
  for (let i = 0; i < dirs.length; i += 1) {
    const from = i > 0 ? (b.dirEnds[i - 1] ?? 0) : 0;
    const to = b.dirEnds[i] ?? 0;
    if (i === 2) {
      t.is(to, from, 'a failed folder has no entries');
      continue;
    }
    t.deepEqual(scanEntries(b.entries, from, to), scanEntries(await scanOne(dirs[i] as string, { xattrs: true })));
  }
  // d0 has 2 entries, d1 3: a budget of 4 stops after d1.
  const some = await scanDirectories(dirs, {}, 4);
  t.is(some.dirs, 2);
  t.is(some.entries.count, 5);
});

test('many folders are read in a few native calls, the archive in walk order with excludes and tags decided per folder', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('batches');
  const src = path.join(base, 'src');
  manyFolders(src, 200);
  // One folder of more entries than a batch takes (BATCH_ENTRIES), in the middle of the walk.
  mkdirSync(path.join(src, 'd100', 'wide'));
  for (let i = 0; i < 4500; i += 1) writeFileSync(path.join(src, 'd100', 'wide', `e${i}`), '');
  // Tags inside batches: a real cache (left out, or kept as its tag), a false one (kept whole),
  // an --exclude-if-present tag, and folders below each.
  for (const [dir, tag, body] of [['d040/cache', 'CACHEDIR.TAG', SIGNATURE], ['d041/notcache', 'CACHEDIR.TAG', 'no signature\n'], ['d150/private', '.nobackup', '']] as const) {
    mkdirSync(path.join(src, dir, 'below', 'deeper'), { recursive: true });
    writeFileSync(path.join(src, dir, tag), body);
    writeFileSync(path.join(src, dir, 'below', 'deeper', 'x'), 'x\n');
  }
  const folders = readdirSync(src).length * 3 + 9;
  t.true(folders > 2 * BATCH_DIRS, 'the walk spans several batches');

  const patterns = ['--exclude-caches', '--exclude-if-present', '.nobackup', '-e', 'src/d060', '-e', 'src/d061/s/t', '--exclude', 'src/*/f'];
  const r = await hoardIn(env, ['--debug', 'create', ...patterns, `${repo}::a`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  const calls = scanCalls(r.stderr);
  t.true(calls > 1 && calls * 10 < folders, `${calls} native calls for ${folders} folders`);

  const tagged = new Set(['d040/cache', 'd150/private']);
  const inTagged = (rel: string): boolean => [...tagged].some((d) => rel.startsWith(`${d}/`));
  const excluded = (rel: string): boolean => rel === 'd060' || rel === 'd061/s/t' || /^d\d{3}\/f$/.test(rel);
  // A tagged folder is left out whole (borg), or kept with its tag alone (--keep-exclude-tags).
  const want = expectedList(src, 'src', (rel) => excluded(rel) || tagged.has(rel) || inTagged(rel), () => false);
  const list = await hoardIn(env, ['list', '--short', `${repo}::a`]);
  t.is(list.code, 0, list.stderr);
  t.deepEqual(list.stdout.trimEnd().split('\n'), want);

  // --keep-exclude-tags keeps the tagged folders with their tags only.
  const k = await hoardIn(env, ['create', ...patterns, '--keep-exclude-tags', `${repo}::b`, 'src'], base);
  t.is(k.code, 0, k.stderr);
  const keep = (await hoardIn(env, ['list', '--short', `${repo}::b`])).stdout.trimEnd().split('\n');
  const wantKeep = expectedList(src, 'src', (rel) => excluded(rel) || (inTagged(rel) && !['d040/cache/CACHEDIR.TAG', 'd150/private/.nobackup'].includes(rel)), () => false);
  t.deepEqual(keep, wantKeep);
});

test('a folder that vanishes mid-walk is a warning of its own and the rest is backed up', async (t) => {
  const env = testEnv();
  const repoPath = await makeRepo(env);
  const base = tempDir('vanish');
  const src = path.join(base, 'src');
  manyFolders(src, 300);
  const gone = path.join(src, 'd250');
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const warnings: string[] = [];
  const items: string[] = [];
  let removed = false;
  const opts: CreateOptions = {
    name: 'a',
    paths: [src],
    compression: 'lz4',
    chunkerParams: 'buzhash,19,23,21,4095',
    comment: '',
    commandLine: ['hoard', 'create'],
    dryRun: false,
    // The decision on the first folder below src (made once src is read, before any of its
    // folders is: the read-ahead decides as the walk does) removes a folder src's read listed.
    match: (p) => {
      if (!removed && p.endsWith('/src/d000')) {
        rmSync(gone, { recursive: true });
        removed = true;
      }
      return undefined;
    },
    oneFileSystem: false,
    excludeCaches: false,
    excludeIfPresent: [],
    keepExcludeTags: false,
    numericIds: false,
    atime: false,
    noctime: false,
    nobirthtime: false,
    readSpecial: false,
    excludeNodump: false,
    noflags: false,
    noxattrs: false,
    noacls: false,
    stdinName: 'stdin',
    stdinMode: 0o660,
    onItem: (status, p) => items.push(`${status} ${p}`),
    onWarning: (m) => warnings.push(m),
  };
  const archiver = new Archiver(repo, synced, opts);
  const result = await archiver.run();
  const apath = src.slice(1);
  t.is(result.warnings, 1, warnings.join('\n'));
  t.regex(warnings[0] ?? '', new RegExp(`${apath}/d250: .*d250`));
  t.true(items.includes(`E ${apath}/d250`));
  t.true(archiver.scanCalls > 1 && archiver.scanCalls * 10 < 900, `${archiver.scanCalls} native calls`);
  t.truthy(await loadArchive(repo, findArchive(repo, 'a')));

  const list = (await hoardIn(env, ['list', '--short', `${repoPath}::a`])).stdout.trimEnd().split('\n');
  // Everything but the vanished folder's contents; the folder itself is kept, empty (as before).
  const want = expectedList(src, apath, () => false, () => false);
  const at = want.indexOf(`${apath}/d249/s/t/h`) + 1;
  want.splice(at, 0, `${apath}/d250`);
  t.deepEqual(list.slice(list.indexOf(apath)), want);
});

test('a folder that cannot be read is a warning (exit 1) and the rest is backed up', async (t) => {
  const root = process.getuid?.() === 0;
  // root reads any folder: the run is made as nobody then, with everything it needs its own.
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('unreadable');
  const src = path.join(base, 'src');
  manyFolders(src, 60);
  if (root) {
    const own = (p: string): void => {
      chownSync(p, 65534, 65534);
      if (statSync(p).isDirectory()) for (const n of readdirSync(p)) own(path.join(p, n));
    };
    for (const p of [base, path.dirname(repo), path.dirname(env.HOARD_CONFIG_DIR as string)]) {
      chmodSync(p, 0o755);
      own(p);
    }
  }
  chmodSync(path.join(src, 'd030', 's'), 0);
  const { spawn } = await import('node:child_process');
  const run = (argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [HOARD_BIN, ...argv], { cwd: base, env: { ...env, HOME: base }, stdio: ['ignore', 'pipe', 'pipe'], ...(root ? { uid: 65534, gid: 65534 } : {}) });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('close', (c) => resolve({ code: c ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
  const r = await run(['create', `${repo}::a`, 'src']);
  chmodSync(path.join(src, 'd030', 's'), 0o755);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /src\/d030\/s: /);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  const list = await run(['list', '--short', `${repo}::a`]);
  t.is(list.code, 0, list.stderr);
  const want = expectedList(src, 'src', (rel) => rel.startsWith('d030/s/'), () => false);
  t.deepEqual(list.stdout.trimEnd().split('\n'), want);
});

test('--one-file-system keeps a mount point read ahead in a batch, empty', async (t) => {
  // /dev/pts and /dev/shm are mount points below /dev on Linux; a dry run reads no device.
  const mounts = ['pts', 'shm'].filter((n) => {
    try {
      return statSync(path.join('/dev', n)).dev !== statSync('/dev').dev && readdirSync(path.join('/dev', n)).length > 0;
    } catch {
      return false;
    }
  });
  if (mounts.length === 0) {
    t.log('no mount point with entries below /dev here');
    t.pass();
    return;
  }
  const env = testEnv();
  const repo = await makeRepo(env);
  const one = await hoardIn(env, ['create', '--dry-run', '--list', '--one-file-system', `${repo}::a`, '/dev']);
  const all = await hoardIn(env, ['create', '--dry-run', '--list', `${repo}::b`, '/dev']);
  const listed = (s: string): string[] => s.split('\n').map((l) => l.slice(2));
  for (const m of mounts) {
    t.true(listed(one.stderr).includes(`/dev/${m}`), one.stderr);
    t.false(listed(one.stderr).some((p) => p.startsWith(`/dev/${m}/`)), `nothing below /dev/${m}`);
    t.true(listed(all.stderr).some((p) => p.startsWith(`/dev/${m}/`)), `below /dev/${m} without --one-file-system`);
  }
});

test('the read-ahead asks the walk about a folder by the archive path the walk uses, bytes that are not UTF-8 escaped', async (t) => {
  const root = tempDir('ahead');
  const odd = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x64, 0xff])]);
  mkdirSync(odd);
  mkdirSync(path.join(root, 'plain'));
  const asked: string[] = [];
  const scanner = new DirScanner({}, {
    enters: (_mode, _dev, _flags, apath) => {
      asked.push(apath);
      return false;
    },
    mayExclude: () => false,
  });
  await scanner.scan(Buffer.from(root), 'r', statSync(root).dev);
  // The walk (create.ts) names it with decodeName, so patterns decide for both alike.
  t.deepEqual(asked.sort(), ['r/d\udcff', 'r/plain']);
  t.is(decodeName(Buffer.from([0x64, 0xff])), 'd\udcff');
});
