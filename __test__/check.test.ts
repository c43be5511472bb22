import test from 'ava';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import type { ArchiveMeta } from '../dist/archive/archive-object.js';
import { sealArchive } from '../dist/archive/archive-object.js';
import { encodeTree, type Item } from '../dist/archive/item.js';
import { PackSink } from '../dist/archive/pack-sink.js';
import { newWriter } from '../dist/native.js';
import { syncChunkIndex } from '../dist/repository/chunk-cache.js';
import { parseRepo } from '../dist/repository/location.js';
import { ObjectType } from '../dist/repository/object-types.js';
import { Repository } from '../dist/repository/repository.js';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { SMALL_CHUNKS, flip, makeSmallTree, packFiles, packId, packParts, sampleOffsets, snapshot } from './check-helpers.js';

/** A repository with archive `a` of the small tree (or of `paths` in it), in packs of at most 16 KiB. */
async function setup(paths = ['src']): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string }> {
  const env = testEnv({ HOARD_TESTONLY_PACK_SIZE: '16384' });
  const repo = await makeRepo(env);
  const base = tempDir('src');
  makeSmallTree(base);
  const c = await hoardIn(env, ['create', '--chunker-params', SMALL_CHUNKS, `${repo}::a`, ...paths], base);
  if (c.code !== 0) throw new Error(`create failed: ${c.stderr}`);
  return { env, repo, base };
}

/** The lines of stderr other than check's summaries. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/check complete/.test(l));
}

test('a sound repository passes check, --verify-data and -v; nothing is changed', async (t) => {
  const { env, repo } = await setup();
  const before = snapshot(repo);
  const plain = await hoardIn(env, ['check', repo]);
  t.is(plain.code, 0, plain.stderr);
  t.is(plain.stderr, '');
  t.is(plain.stdout, '');
  const full = await hoardIn(env, ['check', '-v', '--verify-data', repo]);
  t.is(full.code, 0, full.stderr);
  t.regex(full.stderr, /^Repository check complete: \d+ index objects, \d+ packs \(every blob read\); no problems found\.$/m);
  t.regex(full.stderr, /^Archive consistency check complete; no problems found\.$/m);
  t.notRegex(full.stderr, /garbage/);
  t.is((await hoardIn(env, ['check', '--repository-only', '--max-duration', '60', '--save-space', repo])).code, 0);
  t.is((await hoardIn(env, ['check', '--archives-only', `${repo}::a`])).code, 0);
  t.deepEqual(snapshot(repo), before);
});

test('a flipped byte in a data blob is found by check --verify-data and by extract, naming the pack and the file', async (t) => {
  // One file: its tree is stored after all its chunks, so the first pack holds only chunks.
  const { env, repo } = await setup(['src/big']);
  const [first] = packFiles(repo);
  if (first === undefined) throw new Error('no pack');
  const { blobsEnd } = packParts(first);
  for (const at of [8, Math.floor(blobsEnd / 2), blobsEnd - 1]) {
    flip(first, at);
    const c = await hoardIn(env, ['check', '--verify-data', repo]);
    t.is(c.code, 1, `${at}: ${c.stderr}`);
    const lines = problemLines(c.stderr);
    t.is(lines.length, 1, c.stderr);
    t.regex(lines[0] ?? '', new RegExp(`^pack ${packId(first)} offset \\d+: chunk [0-9a-f]{64}: `));
    const x = await hoardIn(env, ['extract', `${repo}::a`], tempDir('out'));
    t.is(x.code, 1, x.stderr);
    t.regex(x.stderr, /^src\/big: object [0-9a-f]{64}: (blob failed authentication|unknown envelope version)/m);
    flip(first, at);
  }
  t.is((await hoardIn(env, ['check', '--verify-data', repo])).code, 0);
});

test('a flipped byte in a pack magic, table of contents or trailer is found by check without --verify-data', async (t) => {
  const { env, repo } = await setup();
  const packs = packFiles(repo);
  const file = packs[1] ?? packs[0];
  if (file === undefined) throw new Error('no pack');
  const { size, blobsEnd } = packParts(file);
  const cases: [number, RegExp][] = [
    [3, /does not start with the pack magic/],
    [blobsEnd, /table of contents: /],
    [blobsEnd + Math.floor((size - 12 - blobsEnd) / 2), /table of contents: blob failed authentication/],
    [size - 12, /trailer puts the table of contents at|table of contents/],
    [size - 2, /trailer: pack does not end with a table of contents/],
  ];
  for (const [at, msg] of cases) {
    flip(file, at);
    const c = await hoardIn(env, ['check', '--repository-only', repo]);
    t.is(c.code, 1, `${at}: ${c.stderr}`);
    t.regex(c.stderr, new RegExp(`^pack ${packId(file)}: `, 'm'), `${at}`);
    t.regex(c.stderr, msg, `${at}: ${c.stderr}`);
    flip(file, at);
  }
  // A pack cut short, grown, or gone.
  const { truncateSync, appendFileSync, readFileSync, rmSync } = await import('node:fs');
  const whole = readFileSync(file);
  truncateSync(file, size - 1);
  t.regex((await hoardIn(env, ['check', repo])).stderr, new RegExp(`^pack ${packId(file)}: is ${size - 1} bytes, shorter than the ${size} bytes`, 'm'));
  writeFileSync(file, whole);
  appendFileSync(file, 'x');
  t.regex((await hoardIn(env, ['check', repo])).stderr, new RegExp(`^pack ${packId(file)}: is longer than the ${size} bytes`, 'm'));
  rmSync(file);
  const gone = await hoardIn(env, ['check', repo]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, new RegExp(`^pack ${packId(file)} is missing \\(index object [0-9a-f]{64} lists it\\)$`, 'm'));
  writeFileSync(file, whole);
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('a flipped byte in an index object is found by check and by list with an empty cache', async (t) => {
  const { env, repo } = await setup();
  const ids = readdirSync(path.join(repo, 'index'));
  const first = ids[0];
  if (first === undefined) throw new Error('no index object');
  const file = path.join(repo, 'index', first);
  for (const at of sampleOffsets(file)) {
    flip(file, at);
    const c = await hoardIn(env, ['check', repo]);
    t.is(c.code, 1, `${at}: ${c.stderr}`);
    t.regex(c.stderr, new RegExp(`^index object ${first}: `, 'm'));
    const l = await hoardIn({ ...env, HOARD_CACHE_DIR: tempDir('cache') }, ['list', `${repo}::a`]);
    t.is(l.code, 2, l.stderr);
    t.regex(l.stderr, new RegExp(`^hoard: index object ${first}: `));
    flip(file, at);
  }
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('a flipped byte in an archive object is found by check, list and extract; only selected archives are checked', async (t) => {
  const { env, repo, base } = await setup();
  t.is((await hoardIn(env, ['create', `${repo}::b`, 'src'], base)).code, 0);
  const list = JSON.parse((await hoardIn(env, ['list', '--json', repo])).stdout) as { archives: { name: string; id: string }[] };
  const id = list.archives.find((a) => a.name === 'a')?.id ?? '';
  const file = path.join(repo, 'archives', id);
  for (const at of sampleOffsets(file)) {
    flip(file, at);
    const c = await hoardIn(env, ['check', repo]);
    t.is(c.code, 1, `${at}: ${c.stderr}`);
    t.is(problemLines(c.stderr).length, 1, c.stderr);
    t.regex(c.stderr, new RegExp(`^archive a: archive object ${id}: `, 'm'));
    const l = await hoardIn(env, ['list', `${repo}::a`]);
    t.is(l.code, 2);
    t.regex(l.stderr, new RegExp(`^hoard: archive object ${id}: `));
    const x = await hoardIn(env, ['extract', `${repo}::a`], tempDir('out'));
    t.is(x.code, 2);
    t.regex(x.stderr, new RegExp(`archive object ${id}`));
    // Archive b is unharmed, and a check that leaves a out passes.
    t.is((await hoardIn(env, ['check', '--archives-only', '-a', 'b*', repo])).code, 0);
    t.is((await hoardIn(env, ['check', '--archives-only', '--last', '1', repo])).code, 0);
    t.is((await hoardIn(env, ['check', '--archives-only', '--first', '1', repo])).code, 1);
    t.is((await hoardIn(env, ['check', '--archives-only', '-P', 'b', repo])).code, 0);
    t.is((await hoardIn(env, ['check', `${repo}::b`])).code, 0);
    t.is((await hoardIn(env, ['check', `${repo}::a`])).code, 1);
    flip(file, at);
  }
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('a flipped byte in a tree is found by check and by list, naming the tree', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  // Only folders and empty files: every blob of the repository is a tree.
  for (const d of ['x', 'y/z']) mkdirSync(path.join(base, 'tree', d), { recursive: true });
  for (const f of ['x/1', 'x/2', 'y/3', 'y/z/4']) writeFileSync(path.join(base, 'tree', f), '');
  t.is((await hoardIn(env, ['create', `${repo}::a`, 'tree'], base)).code, 0);
  const [file] = packFiles(repo);
  if (file === undefined) throw new Error('no pack');
  const { blobsEnd } = packParts(file);
  for (const at of [8, Math.floor(blobsEnd / 2), blobsEnd - 1]) {
    flip(file, at);
    const c = await hoardIn(env, ['check', repo]);
    t.is(c.code, 1, `${at}: ${c.stderr}`);
    const lines = problemLines(c.stderr);
    t.true(lines.length >= 1, c.stderr);
    for (const line of lines) t.regex(line, /^archive a: the (root )?tree (of \S+ )?\([0-9a-f]{64}\): object [0-9a-f]{64}: (blob failed authentication|unknown envelope version)/);
    const v = await hoardIn(env, ['check', '--verify-data', repo]);
    t.regex(v.stderr, new RegExp(`^pack ${packId(file)} offset \\d+: tree [0-9a-f]{64}: `, 'm'));
    const l = await hoardIn(env, ['list', `${repo}::a`]);
    t.is(l.code, 2, l.stderr);
    t.regex(l.stderr, /^hoard: object [0-9a-f]{64}: (blob failed authentication|unknown envelope version)/);
    flip(file, at);
  }
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('a flipped byte in a manifest generation is found: the newest stops every command but check, an older one is reported', async (t) => {
  const { env, repo, base } = await setup();
  t.is((await hoardIn(env, ['create', `${repo}::b`, 'src'], base)).code, 0);
  const gens = readdirSync(path.join(repo, 'manifest')).sort();
  t.is(gens.length, 3);
  const newest = path.join(repo, 'manifest', gens[2] ?? '');
  const older = path.join(repo, 'manifest', gens[1] ?? '');
  for (const at of sampleOffsets(newest)) {
    flip(newest, at);
    const r = await hoardIn(env, ['list', repo]);
    t.is(r.code, 2, `list ${at}`);
    t.regex(r.stderr, new RegExp(`^hoard: manifest/${gens[2]}: `));
    // As borg, check reports it, checks the archives it finds without it, and exits 1.
    const c = await hoardIn(env, ['check', repo]);
    t.is(c.code, 1, `check ${at}: ${c.stderr}`);
    t.regex(c.stderr, new RegExp(`^manifest/${gens[2]}: .*; the archive list is rebuilt from the archive objects$`, 'm'));
    t.regex(c.stderr, /^Archive consistency check complete; \d+ problems? found\.$/m);
    flip(newest, at);
  }
  for (const at of sampleOffsets(older)) {
    flip(older, at);
    const c = await hoardIn(env, ['check', repo]);
    t.is(c.code, 1, c.stderr);
    t.regex(c.stderr, new RegExp(`^manifest/${gens[1]}: `, 'm'));
    t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'a\nb\n');
    flip(older, at);
  }
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('missing index objects make every chunk missing and every pack garbage', async (t) => {
  const { env, repo } = await setup();
  renameSync(path.join(repo, 'index'), path.join(repo, 'index-aside'));
  const c = await hoardIn(env, ['check', '-v', repo]);
  t.is(c.code, 1);
  t.regex(c.stderr, /^archive a: the root tree \([0-9a-f]{64}\): object [0-9a-f]{64} is missing from the repository$/m);
  t.regex(c.stderr, /^pack [0-9a-f]{64} is in no index object: garbage for compact$/m);
  t.regex(c.stderr, /; garbage for compact: \d+ packs, 0 archive objects; no problems found\.$/m);
  renameSync(path.join(repo, 'index-aside'), path.join(repo, 'index'));
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('items are checked: names, order, sizes against chunk sizes, and chunks missing from the repository', async (t) => {
  const env = testEnv();
  const repoPath = await makeRepo(env);
  // An archive no hoard would write, made through hoard's own modules.
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const writer = newWriter(repo.key, synced.index, { compression: 'lz4', chunkerParams: SMALL_CHUNKS });
  const sink = new PackSink(repo.storage, repo.key, writer);
  const chunk = (await writer.storeObjects(repo.key, ObjectType.chunk, [Buffer.from('hello')])).ids;
  const file = (name: string, size: number, chunks: Buffer, sizes: number[]): Item => ({
    name: Buffer.from(name),
    type: '-',
    mode: 0o100644,
    uid: 0,
    gid: 0,
    mtime: 0n,
    size,
    chunks,
    chunkSizes: new Uint32Array(sizes),
  });
  const items = [
    file('a/b', 5, chunk, [5]),
    file('good', 5, chunk, [5]),
    file('missing', 8, Buffer.concat([chunk, Buffer.alloc(64, 0x11)]), [5, 1, 2]),
    file('wrong-size', 10, chunk, [5]),
    file('too-few-sizes', 5, chunk, []),
    file('sorted-after', 5, chunk, [5]),
  ];
  const root = (await writer.storeObjects(repo.key, ObjectType.tree, [encodeTree({ version: 1, items })])).ids;
  await writer.flush();
  writer.close();
  await sink.done;
  const meta: ArchiveMeta = {
    version: 1,
    name: 'forged',
    root: root.toString('hex'),
    items: items.length,
    hostname: 'h',
    username: 'u',
    start: '2024-01-01T00:00:00.000000',
    end: '2024-01-01T00:00:00.000000',
    time: '2024-01-01T00:00:00.000Z',
    commandLine: [],
    comment: '',
    chunkerParams: SMALL_CHUNKS,
    compression: 'lz4',
    stats: { nfiles: 0, original: 0, compressed: 0, deduplicated: 0, chunks: 0 },
  };
  const sealed = await sealArchive(repo.key, repo.key.newSession(), meta);
  await repo.storage.put(`archives/${sealed.id}`, sealed.data);
  await repo.commit((m) => ({ archives: [...m.archives, { id: sealed.id, name: 'forged', time: meta.time }], compactGeneration: m.compactGeneration }));
  const c = await hoardIn(env, ['check', repoPath]);
  t.is(c.code, 1);
  const missing = '11'.repeat(32);
  t.deepEqual(problemLines(c.stderr), [
    'archive forged: a/b: the item name is not a plain name',
    'archive forged: wrong-size: the size is 10 bytes, its chunks hold 5',
    'archive forged: too-few-sizes: 1 chunks but 0 chunk sizes',
    `archive forged: the root tree (${root.toString('hex')}): items are not sorted by name, or a name repeats`,
    `archive forged: missing: chunk ${missing} is missing from the repository (and 1 more of its 3 chunks)`,
  ]);
  t.regex(c.stderr, /^Archive consistency check complete; 5 problems found\.$/m);
});

test('check: bad options, unknown archive, not a repository and a wrong passphrase are one line, exit 2, nothing changed', async (t) => {
  const { env, repo, base } = await setup();
  const before = snapshot(repo);
  const cases: [NodeJS.ProcessEnv, string[], RegExp][] = [
    [env, ['check', '--repair', '--max-duration', '10', repo], /^hoard: --repair does not allow --max-duration$/],
    [env, ['check', `${repo}::nope`], /^hoard: Archive nope does not exist$/],
    [env, ['check', path.join(base, 'src')], /is not a hoard repository/],
    [env, ['check', path.join(base, 'nowhere')], /does not exist/],
    [{ ...env, HOARD_PASSPHRASE: 'wrong' }, ['check', repo], /passphrase/i],
    [env, ['check', '--repository-only', '--verify-data', repo], /--repository-only contradicts/],
    [env, ['check', '--repository-only', '--archives-only', repo], /exclude each other/],
    [env, ['check', '--max-duration', '10', repo], /--repository-only is required for --max-duration/],
    [env, ['check', '--first', 'x', repo], /first/],
    [env, ['check', '--sort-by', 'size', repo], /--sort-by: unknown key size/],
    [env, ['check', '--no-such-option', repo], /Unsupported option name|Unknown Syntax Error|no-such-option/],
  ];
  for (const [e, argv, msg] of cases) {
    const r = await hoardIn(e, argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr.trimEnd(), msg, argv.join(' '));
    t.is(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    t.is(r.stdout, '');
  }
  t.deepEqual(snapshot(repo), before);
});
