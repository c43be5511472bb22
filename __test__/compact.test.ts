import test from 'ava';
import { cpSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, makeTree, tempDir, testEnv, walk } from './archive-helpers.js';
import { pseudoRandom } from './helpers.js';
import { archiveNames, create, extractAll, filesIn, foreignLock, objects, packBytes, packs, sameFile, snapshot } from './maintenance-helpers.js';

test('delete then compact frees the space of the deleted archive; the others still extract byte for byte', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  makeTree(src);
  await create(t, env, base, `${repo}::keep`, 'src');
  filesIn(base, 'extra', { 'one.bin': 3_000_000, 'two.bin': 1_500_000 });
  await create(t, env, base, `${repo}::drop`, 'extra');
  const before = packBytes(repo);
  const del = await hoardIn(env, ['delete', `${repo}::drop`]);
  t.is(del.code, 0, del.stderr);
  t.is(del.stdout + del.stderr, '');
  t.is(packBytes(repo), before, 'delete alone frees nothing');
  t.deepEqual(await archiveNames(env, repo), ['keep']);
  const untouched = snapshot(repo);
  const dry = await hoardIn(env, ['compact', '--dry-run', '-v', repo]);
  t.is(dry.code, 0, dry.stderr);
  const estimate = /^compaction would free about ([\d.]+) MB repository space \(1 packs to delete, 0 to rewrite, 0 unlisted\)\.\n$/.exec(dry.stderr);
  t.truthy(estimate, dry.stderr);
  t.true(Number(estimate?.[1]) >= 4.5);
  t.deepEqual(snapshot(repo), untouched, 'a dry run changes nothing');
  const c = await hoardIn(env, ['compact', '-v', repo]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /^compaction freed about [\d.]+ [kMG]?B repository space\.\n$/);
  const after = packBytes(repo);
  t.true(before - after >= 4_500_000, `packs went from ${before} to ${after} bytes`);
  t.is(objects(repo, 'index').length, 1, 'one index object lists every surviving pack');
  t.deepEqual(objects(repo, 'archives').length, 1, 'the deleted archive object is gone');
  const out = await extractAll(t, env, `${repo}::keep`);
  const want = walk(src);
  const got = walk(path.join(out, 'src'));
  t.deepEqual([...got.keys()], [...want.keys()]);
  for (const [k, w] of want) t.deepEqual(got.get(k), w, k);
  // A second compact finds nothing more to free, and the next create works against the new index.
  const again = await hoardIn(env, ['compact', '--info', repo]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /freed about 0 B/);
  t.is(packBytes(repo), after);
  await create(t, env, base, `${repo}::later`, 'src', 'extra');
  const out2 = await extractAll(t, env, `${repo}::later`);
  sameFile(t, path.join(out2, 'extra', 'one.bin'), path.join(base, 'extra', 'one.bin'));
});

test('compact rewrites a pack whose dead share exceeds --threshold and keeps one below it', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  // One pack holds both files; the archive that stays references only the first.
  filesIn(base, 'both', { 'live.bin': 1_000_000, 'dead.bin': 1_000_000 });
  await create(t, env, base, `${repo}::both`, 'both');
  const [shared] = [...packs(repo).keys()];
  t.truthy(shared);
  await create(t, env, base, `${repo}::live`, 'both/live.bin');
  t.is((await hoardIn(env, ['delete', `${repo}::both`])).code, 0);
  const before = packBytes(repo);
  // About half of that pack is dead: a 60 % threshold keeps it whole.
  const high = await hoardIn(env, ['compact', '--threshold', '60', repo]);
  t.is(high.code, 0, high.stderr);
  t.true(packs(repo).has(shared as string), 'below the threshold the pack stays');
  t.true(packBytes(repo) > before - 100_000, 'nothing large was freed');
  // The default threshold (10 %) rewrites it: its live blobs move to a new pack, the dead go.
  const low = await hoardIn(env, ['compact', repo]);
  t.is(low.code, 0, low.stderr);
  const after = packs(repo);
  t.false(after.has(shared as string), 'the partly dead pack was rewritten');
  const freed = before - packBytes(repo);
  t.true(freed > 950_000 && freed < 1_100_000, `freed ${freed} bytes`);
  const out = await extractAll(t, env, `${repo}::live`);
  sameFile(t, path.join(out, 'both', 'live.bin'), path.join(base, 'both', 'live.bin'));
  const check = await hoardIn(env, ['extract', '--dry-run', `${repo}::live`], tempDir('out'));
  t.is(check.code, 0, check.stderr);
});

test('compact removes what an interrupted create left: listed packs of no archive, unlisted packs, orphan archive objects', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'kept', { 'k.bin': 500_000 });
  await create(t, env, base, `${repo}::kept`, 'kept');
  // The same repository elsewhere (same key) makes an archive; its packs, index object and
  // archive object land in the original, but no manifest generation lists them: that is what a
  // create killed just before its manifest commit leaves behind.
  const twin = path.join(tempDir('twin'), 'repo');
  cpSync(repo, twin, { recursive: true });
  // Another client (its own security state and cache) uses the copy.
  const twinEnv = testEnv();
  filesIn(base, 'lost', { 'l.bin': 2_000_000 });
  await create(t, twinEnv, base, `${twin}::lost`, 'lost');
  const known = new Set(packs(repo).keys());
  const knownIndex = new Set(objects(repo, 'index'));
  const knownArchives = new Set(objects(repo, 'archives'));
  const copied = [...packs(twin).keys()].filter((p) => !known.has(p));
  t.true(copied.length > 0);
  for (const p of copied) cpSync(path.join(twin, 'packs', p.slice(0, 2), p), path.join(repo, 'packs', p.slice(0, 2), p));
  for (const i of objects(twin, 'index').filter((n) => !knownIndex.has(n))) cpSync(path.join(twin, 'index', i), path.join(repo, 'index', i));
  for (const a of objects(twin, 'archives').filter((n) => !knownArchives.has(n))) cpSync(path.join(twin, 'archives', a), path.join(repo, 'archives', a));
  // And a pack that no index object lists (its index object was never written).
  const stray = 'ab'.padEnd(64, '0');
  mkdirSync(path.join(repo, 'packs', 'ab'), { recursive: true });
  writeFileSync(path.join(repo, 'packs', 'ab', stray), pseudoRandom(300_000, 'stray'));
  // Everything in it is older than the compact's lock.
  const old = new Date(Date.now() - 3_600_000);
  for (const p of [...copied, stray]) utimesSync(path.join(repo, 'packs', p.slice(0, 2), p), old, old);
  t.deepEqual(await archiveNames(env, repo), ['kept'], 'the garbage is invisible');
  const garbage = packBytes(repo);

  // Objects younger than the oldest live lock are spared: a shared lock taken an hour and a half
  // ago (another host's create, still running) keeps them. --bypass-lock lets compact run beside it.
  const lock = foreignLock(repo, 'shared', new Date(Date.now() - 5_400_000));
  const spared = await hoardIn(env, ['compact', '--bypass-lock', repo]);
  t.is(spared.code, 0, spared.stderr);
  t.is(packBytes(repo), garbage, 'nothing younger than the live lock was deleted');
  t.true(packs(repo).has(stray));
  t.deepEqual(objects(repo, 'locks'), [lock]);
  t.is((await hoardIn(env, ['break-lock', repo])).code, 0);

  const c = await hoardIn(env, ['compact', '-v', repo]);
  t.is(c.code, 0, c.stderr);
  const left = packs(repo);
  for (const p of copied) t.false(left.has(p), `listed garbage pack ${p} removed`);
  t.false(left.has(stray), 'unlisted pack removed');
  t.deepEqual(objects(repo, 'archives').filter((a) => !knownArchives.has(a)), [], 'orphan archive object removed');
  t.is(objects(repo, 'index').length, 1);
  t.true(garbage - packBytes(repo) > 2_200_000, `freed ${garbage - packBytes(repo)}`);
  const out = await extractAll(t, env, `${repo}::kept`);
  sameFile(t, path.join(out, 'kept', 'k.bin'), path.join(base, 'kept', 'k.bin'));
  await create(t, env, base, `${repo}::next`, 'kept', 'lost');
  t.deepEqual(await archiveNames(env, repo), ['kept', 'next']);
});

test('compact keeps only the newest manifest generations; append-only repositories lose nothing', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  for (let i = 0; i < 12; i += 1) await create(t, env, base, `${repo}::a${i}`, 'd');
  t.is(objects(repo, 'manifest').length, 13);
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  const gens = objects(repo, 'manifest');
  t.is(gens.length, 10);
  t.is(gens[gens.length - 1], '00000000000000000014', 'the compact generation was committed');
  t.is((await archiveNames(env, repo)).length, 12);

  const appendRepo = path.join(tempDir('repo'), 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', '--append-only', appendRepo])).code, 0);
  await create(t, env, base, `${appendRepo}::one`, 'd');
  await create(t, env, base, `${appendRepo}::two`, 'd');
  const del = await hoardIn(env, ['delete', `${appendRepo}::one`]);
  t.is(del.code, 0, del.stderr);
  const before = readdirSync(path.join(appendRepo, 'manifest')).length;
  const packsBefore = [...packs(appendRepo).keys()];
  const c = await hoardIn(env, ['compact', '-v', appendRepo]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /append-only/);
  t.deepEqual([...packs(appendRepo).keys()], packsBefore);
  t.is(readdirSync(path.join(appendRepo, 'manifest')).length, before);
  t.is(objects(appendRepo, 'archives').length, 2, 'the deleted archive stays recoverable');
});

test('compact takes the exclusive lock: a lock of another host makes it wait, fail, and change nothing', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  await create(t, env, base, `${repo}::a`, 'd');
  t.is((await hoardIn(env, ['delete', `${repo}::a`])).code, 0);
  foreignLock(repo, 'shared');
  const before = [...packs(repo).keys()];
  const started = Date.now();
  const r = await hoardIn(env, ['compact', '--lock-wait', '0.3', repo]);
  t.is(r.code, 2);
  t.true(Date.now() - started >= 300, '--lock-wait was honoured');
  t.regex(r.stderr, /^hoard: Failed to create\/acquire the lock .*elsewhere\.example.*break-lock/);
  t.is(r.stderr.trimEnd().split('\n').length, 1);
  t.deepEqual([...packs(repo).keys()], before);
  t.is((await hoardIn(env, ['break-lock', repo])).code, 0);
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  t.deepEqual([...packs(repo).keys()], []);
});

test('a create that read an older compact generation does not commit', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10_000 });
  const { Repository } = await import('../dist/repository/repository.js');
  const { parseRepo } = await import('../dist/repository/location.js');
  const { syncChunkIndex } = await import('../dist/repository/chunk-cache.js');
  const { Archiver } = await import('../dist/archive/create.js');
  const io = { stdin: process.stdin, stderr: process.stderr };
  const writer = await Repository.open(parseRepo(repo), env, io);
  const synced = await syncChunkIndex(writer.storage, writer.key, env, writer.config.id);
  const archiver = new Archiver(writer, synced, {
    name: 'raced',
    paths: [path.join(base, 'd')],
    compression: 'lz4',
    chunkerParams: 'buzhash,19,23,21,4095',
    comment: '',
    commandLine: ['test'],
    dryRun: false,
    match: () => undefined,
    oneFileSystem: false,
    excludeNodump: false,
    noflags: false,
    noxattrs: false,
    noacls: false,
    excludeCaches: false,
    excludeIfPresent: [],
    keepExcludeTags: false,
    numericIds: false,
    atime: false,
    noctime: false,
    nobirthtime: false,
    readSpecial: false,
    stdinName: 'stdin',
    stdinMode: 0o660,
    onItem: () => undefined,
    onWarning: () => undefined,
    // A compact commits its generation while this backup runs (as if its lock had been broken).
    beforeCommit: async () => {
      const other = await Repository.open(parseRepo(repo), env, io);
      await other.commit((m) => ({ archives: m.archives, compactGeneration: m.compactGeneration + 1 }));
    },
  });
  const e = await t.throwsAsync(archiver.run());
  t.is((e as { code?: string } | undefined)?.code, 'HOARD_COMPACTED');
  t.deepEqual(await archiveNames(env, repo), []);
});

test('a compact that dies at any write or delete leaves a repository that lists, extracts and compacts', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'both', { 'live.bin': 600_000, 'dead.bin': 600_000 });
  filesIn(base, 'gone', { 'g.bin': 400_000 });
  await create(t, env, base, `${repo}::both`, 'both');
  await create(t, env, base, `${repo}::gone`, 'gone');
  await create(t, env, base, `${repo}::live`, 'both/live.bin');
  t.is((await hoardIn(env, ['delete', repo, 'both', 'gone'])).code, 0);
  const stray = 'cd'.padEnd(64, '1');
  mkdirSync(path.join(repo, 'packs', 'cd'), { recursive: true });
  writeFileSync(path.join(repo, 'packs', 'cd', stray), pseudoRandom(1000, 'stray'));
  const old = new Date(Date.now() - 60_000);
  utimesSync(path.join(repo, 'packs', 'cd', stray), old, old);

  const { Repository } = await import('../dist/repository/repository.js');
  const { parseRepo } = await import('../dist/repository/location.js');
  const { compactRepository } = await import('../dist/repository/compact.js');
  const io = { stdin: process.stdin, stderr: process.stderr };
  let clean = 0;
  for (let failAt = 0; ; failAt += 1) {
    // A fresh copy and a fresh client (security state, cache) per crash point.
    const copy = path.join(tempDir('crash'), 'repo');
    cpSync(repo, copy, { recursive: true, preserveTimestamps: true });
    const runEnv = testEnv();
    const opened = await Repository.open(parseRepo(copy), runEnv, io);
    let writes = 0;
    const real = opened.storage;
    const dying = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...a: unknown[]) => unknown;
        if (prop === 'put' || prop === 'delete' || prop === 'createExclusive') {
          return (...a: unknown[]) => {
            writes += 1;
            if (writes > failAt) throw new Error(`killed before write ${writes}`);
            return fn.apply(target, a);
          };
        }
        return fn.bind(target);
      },
    });
    Object.defineProperty(opened, 'storage', { value: dying });
    const died = await compactRepository(opened, { threshold: 10, lock: undefined, log: () => undefined }).then(
      () => false,
      () => true,
    );
    t.deepEqual(await archiveNames(runEnv, copy), ['live'], `crash at ${failAt}`);
    const out = await extractAll(t, runEnv, `${copy}::live`);
    sameFile(t, path.join(out, 'both', 'live.bin'), path.join(base, 'both', 'live.bin'));
    const again = await hoardIn(runEnv, ['compact', copy]);
    t.is(again.code, 0, `${failAt}: ${again.stderr}`);
    const size = packBytes(copy);
    if (!died) {
      clean = size;
      t.true(failAt > 5, `a whole run took ${failAt} writes`);
      break;
    }
    t.true(size < 700_000, `crash at ${failAt}: ${size} bytes of packs left after the next compact`);
  }
  t.true(clean > 600_000 && clean < 700_000, `${clean}`);
});

test('compact removes the temporary files that killed writes left, but not one younger than a live lock', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'data', { 'a.bin': 200_000 });
  await create(t, env, base, `${repo}::a`, 'data');
  const packDir = path.join(repo, 'packs', readdirSync(path.join(repo, 'packs'))[0] ?? '');
  const hour = Date.now() / 1000 - 3600;
  const stale = [path.join(packDir, '.tmp-0011223344556677'), path.join(repo, 'index', '.tmp-8899aabbccddeeff'), path.join(repo, '.tmp-0123456789abcdef')];
  for (const f of stale) {
    writeFileSync(f, Buffer.alloc(50_000, 7));
    utimesSync(f, hour, hour);
  }
  // A write still in progress: newer than any lock (its writer would hold one).
  const fresh = path.join(repo, 'archives', '.tmp-fedcba9876543210');
  writeFileSync(fresh, 'partial');
  const future = Date.now() / 1000 + 3600;
  utimesSync(fresh, future, future);
  const c = await hoardIn(env, ['compact', '--debug', repo]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /temporary files of interrupted writes removed: 3\b/);
  const left = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.tmp-'));
  t.deepEqual([...left(packDir), ...left(path.join(repo, 'index')), ...left(repo)], [], 'the stale temporaries are gone');
  t.deepEqual(left(path.join(repo, 'archives')), ['.tmp-fedcba9876543210'], 'the one being written stays');
  const check = await hoardIn(env, ['check', repo]);
  t.is(check.code, 0, check.stderr);
});
