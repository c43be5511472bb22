import test, { type ExecutionContext } from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, makeTree, tempDir, testEnv, walk, type Walked } from './archive-helpers.js';
import { hoardChild, snapshot as contents } from './check-helpers.js';
import { pseudoRandom, textLike } from './helpers.js';
import { archiveNames, create, extractAll, objects, packBytes } from './maintenance-helpers.js';

/** A source tree under `base/src` (makeTree's items) with a folder to drop and a large file to drop. */
function source(): { base: string; src: string } {
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  makeTree(src);
  mkdirSync(path.join(src, 'junk', 'inner'), { recursive: true });
  writeFileSync(path.join(src, 'junk', 'inner', 'a.tmp'), 'temporary\n');
  writeFileSync(path.join(src, 'junk', 'b.tmp'), 'more\n');
  writeFileSync(path.join(src, 'drop.bin'), pseudoRandom(3_000_000, 'drop'));
  return { base, src };
}

/** `list --short` of an archive: its paths. */
async function paths(env: NodeJS.ProcessEnv, target: string): Promise<string[]> {
  const r = await hoardIn(env, ['list', '--short', target]);
  if (r.code !== 0) throw new Error(`list ${target}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** name -> id of every archive. */
async function archiveIds(env: NodeJS.ProcessEnv, repo: string): Promise<Map<string, string>> {
  const r = await hoardIn(env, ['list', '--json', repo]);
  if (r.code !== 0) throw new Error(`list: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { archives: { name: string; id: string }[] };
  return new Map(j.archives.map((a) => [a.name, a.id]));
}

/** The stats `info --json` gives for one archive. */
async function archiveStats(env: NodeJS.ProcessEnv, target: string): Promise<{ compressed_size: number; original_size: number; nfiles: number }> {
  const r = await hoardIn(env, ['info', '--json', target]);
  if (r.code !== 0) throw new Error(`info ${target}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { archives: { stats: { compressed_size: number; original_size: number; nfiles: number } }[] }).archives[0]?.stats ?? { compressed_size: 0, original_size: 0, nfiles: 0 };
}

async function checkPasses(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string): Promise<void> {
  const c = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(c.code, 0, `check: ${c.stderr}`);
}

/**
 * Asserts that the extracted tree equals the source without the paths `gone` (relative to src);
 * `links: false` leaves hard links out of the comparison (a link whose partner is gone is alone).
 */
function sameTreeWithout(t: ExecutionContext, src: string, out: string, gone: (p: string) => boolean, links = true): void {
  const strip = (w: Walked | undefined): Walked | undefined => {
    if (w === undefined || links) return w;
    const { inodeGroup: _g, ...rest } = w;
    return rest;
  };
  const want = [...walk(src)].filter(([k]) => !gone(k));
  const got = walk(path.join(out, 'src'));
  t.deepEqual([...got.keys()], want.map(([k]) => k));
  for (const [k, w] of want) t.deepEqual(strip(got.get(k)), strip(w), k);
}

test('recreate -e drops the excluded items in place; the rest extracts byte for byte; compact frees their space', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base, src } = source();
  await create(t, env, base, `${repo}::a`, 'src');
  const before = await archiveIds(env, repo);
  const r = await hoardIn(env, ['recreate', '--list', '-e', 'src/junk', '-e', 'src/drop.bin', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^x src\/junk$/m);
  t.regex(r.stderr, /^x src\/drop\.bin$/m);
  t.regex(r.stderr, /^A src\/docs\/text\.txt$/m);
  const after = await archiveIds(env, repo);
  t.deepEqual([...after.keys()], ['a'], 'the archive keeps its name');
  t.not(after.get('a'), before.get('a'), 'the archive was replaced');
  const listed = await paths(env, `${repo}::a`);
  t.false(listed.some((p) => p.startsWith('src/junk') || p === 'src/drop.bin'), listed.join('\n'));
  t.true(listed.includes('src/docs/deep/er/leaf'));
  const out = await extractAll(t, env, `${repo}::a`);
  sameTreeWithout(t, src, out, (p) => p === 'junk' || p.startsWith('junk/') || p === 'drop.bin');
  await checkPasses(t, env, repo);
  t.is(objects(repo, 'archives').length, 2, 'the old archive object stays until compact');
  const bytes = packBytes(repo);
  const c = await hoardIn(env, ['compact', repo]);
  t.is(c.code, 0, c.stderr);
  t.true(bytes - packBytes(repo) >= 2_900_000, `packs went from ${bytes} to ${packBytes(repo)} bytes`);
  t.is(objects(repo, 'archives').length, 1);
  await checkPasses(t, env, repo);
  const again = await extractAll(t, env, `${repo}::a`);
  sameTreeWithout(t, src, again, (p) => p === 'junk' || p.startsWith('junk/') || p === 'drop.bin');
});

test('recreate --target writes a new archive and keeps the original; PATHs keep only what they name', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base, src } = source();
  await create(t, env, base, `${repo}::orig`, 'src');
  const full = await paths(env, `${repo}::orig`);
  const r = await hoardIn(env, ['recreate', '--target', 'docs-only', `${repo}::orig`, 'src/docs']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(await archiveNames(env, repo), ['orig', 'docs-only']);
  t.deepEqual(await paths(env, `${repo}::orig`), full, 'the original is untouched');
  t.deepEqual(await paths(env, `${repo}::docs-only`), ['src/docs', 'src/docs/deep', 'src/docs/deep/er', 'src/docs/deep/er/leaf', 'src/docs/text.txt']);
  const out = await extractAll(t, env, `${repo}::docs-only`);
  sameTreeWithout(t, src, out, (p) => !(p === 'docs' || p.startsWith('docs/')), false);
  const stats = await archiveStats(env, `${repo}::docs-only`);
  t.is(stats.nfiles, 2);
  t.is(stats.original_size, 300_000 + 5);
  await checkPasses(t, env, repo);
});

test('recreate -C zstd,3 --recompress always stores the chunks again: smaller, still verified, same bytes out', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'text.txt'), textLike(2_000_000));
  writeFileSync(path.join(src, 'more.txt'), textLike(700_000).reverse());
  writeFileSync(path.join(src, 'random.bin'), pseudoRandom(500_000, 'rnd'));
  await create(t, env, base, `${repo}::a`, 'src');
  const lz4 = await archiveStats(env, `${repo}::a`);
  const r = await hoardIn(env, ['recreate', '-C', 'zstd,3', '--recompress', 'always', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  const zstd = await archiveStats(env, `${repo}::a`);
  t.is(zstd.original_size, lz4.original_size);
  t.true(zstd.compressed_size < lz4.compressed_size, `compressed ${lz4.compressed_size} -> ${zstd.compressed_size}`);
  await checkPasses(t, env, repo);
  const out = await extractAll(t, env, `${repo}::a`);
  sameTreeWithout(t, src, out, () => false);
  // Compact drops the old lz4 copies: the index objects place the chunks in the new packs.
  const bytes = packBytes(repo);
  const c = await hoardIn(env, ['compact', repo]);
  t.is(c.code, 0, c.stderr);
  t.true(packBytes(repo) < bytes - 500_000, `packs went from ${bytes} to ${packBytes(repo)} bytes`);
  await checkPasses(t, env, repo);
  t.deepEqual(await archiveStats(env, `${repo}::a`), zstd);
  sameTreeWithout(t, src, await extractAll(t, env, `${repo}::a`), () => false);
  // The same codec again: if-different finds nothing to do and the archive stays as it is.
  const ids = await archiveIds(env, repo);
  const same = await hoardIn(env, ['recreate', '-v', '-C', 'zstd,9', '--recompress', `${repo}::a`]);
  t.is(same.code, 0, same.stderr);
  t.regex(same.stderr, /nothing changed/);
  t.deepEqual(await archiveIds(env, repo), ids);
});

test('recreate -a touches only the matching archives, and with nothing asked skips them', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base } = source();
  for (const name of ['mon-1', 'mon-2', 'tue-1']) await create(t, env, base, `${repo}::${name}`, 'src');
  const before = await archiveIds(env, repo);
  const idle = await hoardIn(env, ['recreate', '-v', repo]);
  t.is(idle.code, 0, idle.stderr);
  t.regex(idle.stderr, /Skipped archive mon-1: Nothing to do/);
  t.deepEqual(await archiveIds(env, repo), before);
  const r = await hoardIn(env, ['recreate', '-a', 'mon-*', '-e', 'src/junk', repo]);
  t.is(r.code, 0, r.stderr);
  const after = await archiveIds(env, repo);
  t.deepEqual([...after.keys()], ['mon-1', 'mon-2', 'tue-1']);
  t.not(after.get('mon-1'), before.get('mon-1'));
  t.not(after.get('mon-2'), before.get('mon-2'));
  t.is(after.get('tue-1'), before.get('tue-1'));
  t.false((await paths(env, `${repo}::mon-2`)).includes('src/junk'));
  t.true((await paths(env, `${repo}::tue-1`)).includes('src/junk'));
  await checkPasses(t, env, repo);
});

test('recreate --timestamp makes it the start and shifts the end by the recreate\'s own run, as borg; --comment alone keeps both', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base } = source();
  await create(t, env, base, `${repo}::a`, 'src');
  const times = async (): Promise<{ start: string; end: string; comment: string }> => {
    const r = await hoardIn(env, ['info', '--json', `${repo}::a`]);
    t.is(r.code, 0, r.stderr);
    const [a] = (JSON.parse(r.stdout) as { archives: { start: string; end: string; comment: string }[] }).archives;
    return { start: a?.start ?? '', end: a?.end ?? '', comment: a?.comment ?? '' };
  };
  const made = await times();
  t.is((await hoardIn(env, ['recreate', '--comment', 'noted', `${repo}::a`])).code, 0);
  t.deepEqual(await times(), { ...made, comment: 'noted' });
  const r = await hoardIn(env, ['recreate', '--timestamp', '2020-01-02T03:04:05', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  const moved = await times();
  t.is(moved.start, '2020-01-02T03:04:05.000000');
  t.regex(moved.end, /^2020-01-02T03:04:\d\d\.\d{6}$/);
  t.true(moved.end >= moved.start, `${moved.start} .. ${moved.end}`);
  const listed = JSON.parse((await hoardIn(env, ['list', '--json', repo])).stdout) as { archives: { time: string }[] };
  t.is(listed.archives[0]?.time, '2020-01-02T03:04:05.000000');
});

test('recreate --dry-run changes nothing and lists what it would keep', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base } = source();
  await create(t, env, base, `${repo}::a`, 'src');
  const untouched = contents(repo);
  const r = await hoardIn(env, ['recreate', '-n', '--list', '-C', 'zstd,5', '--recompress', 'always', '-e', 'src/junk', '--comment', 'x', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^x src\/junk$/m);
  t.regex(r.stderr, /^- src\/big\.bin$/m);
  t.deepEqual(contents(repo), untouched);
});

test('recreate --exclude-caches and --exclude-if-present read the tags from the archive', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  for (const d of ['cache', 'fake', 'marked', 'plain']) mkdirSync(path.join(src, d), { recursive: true });
  writeFileSync(path.join(src, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n');
  writeFileSync(path.join(src, 'cache', 'data'), 'cached\n');
  writeFileSync(path.join(src, 'fake', 'CACHEDIR.TAG'), 'not a signature at all, just some text\n');
  writeFileSync(path.join(src, 'marked', '.nobackup'), '');
  writeFileSync(path.join(src, 'marked', 'data'), 'marked\n');
  writeFileSync(path.join(src, 'plain', 'data'), 'plain\n');
  await create(t, env, base, `${repo}::a`, 'src');
  const keep = await hoardIn(env, ['recreate', '--target', 'b', '--exclude-caches', '--exclude-if-present', '.nobackup', '--keep-exclude-tags', `${repo}::a`]);
  t.is(keep.code, 0, keep.stderr);
  t.deepEqual(await paths(env, `${repo}::b`), [
    'src',
    'src/cache',
    'src/cache/CACHEDIR.TAG',
    'src/fake',
    'src/fake/CACHEDIR.TAG',
    'src/marked',
    'src/marked/.nobackup',
    'src/plain',
    'src/plain/data',
  ]);
  const drop = await hoardIn(env, ['recreate', '--exclude-caches', '--exclude-if-present', '.nobackup', `${repo}::a`]);
  t.is(drop.code, 0, drop.stderr);
  t.deepEqual(await paths(env, `${repo}::a`), ['src', 'src/fake', 'src/fake/CACHEDIR.TAG', 'src/plain', 'src/plain/data']);
  await checkPasses(t, env, repo);
});

test('a recreate killed before its manifest commit leaves the old archive whole', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base, src } = source();
  await create(t, env, base, `${repo}::a`, 'src');
  const ids = await archiveIds(env, repo);
  for (const point of ['after-pack:1', 'before-manifest']) {
    const r = await hoardChild({ ...env, HOARD_TESTONLY_CRASH_AT: point }, ['recreate', '-C', 'zstd,3', '--recompress', 'always', '-e', 'src/junk', `${repo}::a`], base);
    t.is(r.signal, 'SIGKILL', `${point}: ${r.stderr}`);
    t.deepEqual(await archiveIds(env, repo), ids, point);
    await checkPasses(t, env, repo);
    sameTreeWithout(t, src, await extractAll(t, env, `${repo}::a`), () => false);
  }
  await hoardIn(env, ['break-lock', repo]);
  const r = await hoardIn(env, ['recreate', '-C', 'zstd,3', '--recompress', 'always', '-e', 'src/junk', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  sameTreeWithout(t, src, await extractAll(t, env, `${repo}::a`), (p) => p === 'junk' || p.startsWith('junk/'));
  await checkPasses(t, env, repo);
});

test('recreate refuses bad requests with one line and exit code 2, before changing anything', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const { base } = source();
  await create(t, env, base, `${repo}::a`, 'src');
  await create(t, env, base, `${repo}::b`, 'src');
  const untouched = contents(repo);
  const cases: [string[], RegExp][] = [
    [['recreate', '-e', 'x', `${repo}::nope`], /^hoard: Archive nope does not exist\n$/],
    [['recreate', '--target', 'c', '-e', 'x', repo], /^hoard: --target needs exactly one archive, but 2 are selected\n$/],
    [['recreate', '--target', 'b', '-e', 'x', `${repo}::a`], /^hoard: Archive b already exists\n$/],
    [['recreate', '--chunker-params', 'fixed,4096', `${repo}::a`], /^hoard: --chunker-params fixed,4096: re-chunking archive a .* is not supported yet\n$/],
    [['recreate', '--recompress=sometimes', `${repo}::a`], /^hoard: --recompress sometimes: use if-different, always or never\n$/],
    [['recreate', '-C', 'zstd,99', '--recompress', `${repo}::a`], /^hoard: .*zstd.*\n$/],
  ];
  for (const [argv, message] of cases) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, message, argv.join(' '));
  }
  t.deepEqual(contents(repo), untouched);
});

test('after compact keeps an old pack for its other blobs, the recompressed copies stay the placed ones', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'text.txt'), textLike(1_500_000));
  writeFileSync(path.join(src, 'other.bin'), pseudoRandom(400_000, 'other'));
  await create(t, env, base, `${repo}::a`, 'src');
  // b's chunks (the text) get zstd copies; the old pack stays live through a's other.bin.
  const r = await hoardIn(env, ['recreate', '--target', 'b', '-e', 'src/other.bin', '-C', 'zstd,3', '--recompress', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  const del = await hoardIn(env, ['delete', `${repo}::a`]);
  t.is(del.code, 0, del.stderr);
  await create(t, env, base, `${repo}::c`, 'src/other.bin');
  // Keep every pack (one listing for all), then rewrite every pack with dead blobs.
  for (const threshold of ['100', '0']) {
    const c = await hoardIn(env, ['compact', '--threshold', threshold, repo]);
    t.is(c.code, 0, c.stderr);
    t.is(objects(repo, 'index').length, 1);
  }
  await checkPasses(t, env, repo);
  const again = await hoardIn(env, ['recreate', '-v', '-C', 'zstd,3', '--recompress', `${repo}::b`]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /Archive b: nothing changed/, 'the text chunks are still the zstd copies');
  sameTreeWithout(t, src, await extractAll(t, env, `${repo}::b`), (p) => p === 'other.bin');
});
