import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import type { ArchiveMeta } from '../dist/archive/archive-object.js';
import { sealArchive } from '../dist/archive/archive-object.js';
import { findArchive, loadArchive } from '../dist/archive/archives.js';
import { decodeTree, encodeTree, treeParts, TREE_ITEMS, type Item } from '../dist/archive/item.js';
import { readTrees } from '../dist/archive/tree-reader.js';
import { SPLIT_ITEMS, splitItems } from '../dist/archive/tree-store.js';
import { PackSink } from '../dist/archive/pack-sink.js';
import { newKey, newWriter } from '../dist/native.js';
import { syncChunkIndex } from '../dist/repository/chunk-cache.js';
import { parseRepo } from '../dist/repository/location.js';
import { ObjectType } from '../dist/repository/object-types.js';
import { readMetadata } from '../dist/repository/objects.js';
import { Repository } from '../dist/repository/repository.js';

import { hoardIn, makeRepo, tempDir, testEnv, walk } from './archive-helpers.js';
import { flip } from './check-helpers.js';

const FILES = 3000;

/** `base/tree/big` with FILES small files and `base/tree/small` with two. */
function makeBigDir(base: string): void {
  mkdirSync(path.join(base, 'tree', 'big'), { recursive: true });
  mkdirSync(path.join(base, 'tree', 'small'), { recursive: true });
  for (let i = 0; i < FILES; i += 1) writeFileSync(path.join(base, 'tree', 'big', `file-${String(i).padStart(5, '0')}.txt`), `content of file ${i}\n`);
  for (const f of ['a', 'b']) writeFileSync(path.join(base, 'tree', 'small', f), f);
}

/** Bytes of every file below `dir`. */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? bytesUnder(p) : statSync(p).size;
  }
  return n;
}

function item(name: string): Item {
  return { name: Buffer.from(name), type: '-', mode: 0o100644, uid: 0, gid: 0, mtime: 0n, size: 0 };
}

test('pieces: cut by name, within bounds, and an inserted item changes at most two pieces', (t) => {
  const key = newKey(randomBytes(64), 'aes-256-gcm', 'keyed-blake3');
  const names = Array.from({ length: 20_000 }, (_, i) => `n${String(i * 2).padStart(6, '0')}`);
  const pieces = splitItems(key, names.map(item));
  t.deepEqual(pieces.flat().map((i) => i.name.toString()), names);
  t.true(pieces.length > 20_000 / 1024, `${pieces.length} pieces`);
  for (const p of pieces.slice(0, -1)) t.true(p.length >= 64 && p.length <= TREE_ITEMS, `${p.length} items`);
  const inserted = [...names.slice(0, 10_001), 'n0200011', ...names.slice(10_001)];
  const again = splitItems(key, inserted.map(item));
  const enc = (ps: Item[][]): Set<string> => new Set(ps.map((p) => encodeTree({ version: 1, items: p }).toString('hex')));
  const before = enc(pieces);
  const changed = [...enc(again)].filter((p) => !before.has(p));
  t.true(changed.length >= 1 && changed.length <= 2, `${changed.length} pieces changed`);
  // Another key cuts elsewhere.
  const other = splitItems(newKey(randomBytes(64), 'aes-256-gcm', 'keyed-blake3'), names.map(item));
  t.notDeepEqual(other.map((p) => p.length), pieces.map((p) => p.length));
});

test('a head lists its pieces; a head without valid parts is not a tree', (t) => {
  const parts = Buffer.alloc(96, 7);
  const head = decodeTree(encodeTree({ version: 2, items: [], parts }), 'head');
  t.is(head.version, 2);
  t.deepEqual(head.items, []);
  t.deepEqual(treeParts(head), [parts.subarray(0, 32), parts.subarray(32, 64), parts.subarray(64)]);
  t.deepEqual(treeParts(decodeTree(encodeTree({ version: 1, items: [item('x')] }), 'v1')), []);
  for (const bad of [Buffer.alloc(0), Buffer.alloc(33)]) {
    t.throws(() => decodeTree(encodeTree({ version: 2, items: [], parts: bad }), 'head'), { message: /head is not a tree object/ });
  }
});

test('a large directory is stored in pieces that read back identically; one changed file adds a piece, not the directory', async (t) => {
  const env = testEnv();
  const repoPath = await makeRepo(env);
  const base = tempDir('src');
  makeBigDir(base);
  const c1 = await hoardIn(env, ['create', `${repoPath}::a1`, 'tree'], base);
  t.is(c1.code, 0, c1.stderr);
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const meta = await loadArchive(repo, findArchive(repo, 'a1'));
  const [top = []] = await readTrees(repo, synced.index, [Buffer.from(meta.root ?? '', 'hex')]);
  const big = top[0]?.tree;
  if (big === undefined) throw new Error('no tree for tree/');
  const [[bigDir] = []] = await readTrees(repo, synced.index, [big]);
  const bigId = bigDir?.tree;
  if (bigId === undefined || bigDir?.name.toString() !== 'big') throw new Error('no tree for tree/big');
  const [headPlain] = await readMetadata(repo.storage, repo.key, synced.index, ObjectType.tree, bigId, 1 << 20);
  const head = decodeTree(headPlain ?? Buffer.alloc(0), 'head');
  t.is(head.version, 2);
  t.true(treeParts(head).length >= 3, `${treeParts(head).length} pieces`);
  const [items = []] = await readTrees(repo, synced.index, [bigId]);
  t.deepEqual(items.map((i) => i.name.toString()), Array.from({ length: FILES }, (_, i) => `file-${String(i).padStart(5, '0')}.txt`));
  t.true(FILES > SPLIT_ITEMS);

  // list, extract and diff read it whole.
  const l = await hoardIn(env, ['list', '--short', `${repoPath}::a1`]);
  t.is(l.stdout.split('\n').filter((p) => p.startsWith('tree/big/')).length, FILES);
  const dest = tempDir('dest');
  t.is((await hoardIn(env, ['extract', `${repoPath}::a1`], dest)).code, 0);
  t.deepEqual(walk(path.join(dest, 'tree')), walk(path.join(base, 'tree')));

  // One file's time changes: its piece, the head and the parents' trees are stored again.
  const repoBytes = (): number => bytesUnder(repoPath);
  const afterFirst = repoBytes();
  const treeBytes = Array.from(synced.index.locate(Buffer.concat(treeParts(head))).lengths).reduce((a, b) => a + b, 0);
  const f = path.join(base, 'tree', 'big', 'file-01500.txt');
  utimesSync(f, new Date(2020, 0, 1), new Date(2020, 0, 1));
  const c2 = await hoardIn(env, ['create', `${repoPath}::a2`, 'tree'], base);
  t.is(c2.code, 0, c2.stderr);
  const grown = repoBytes() - afterFirst;
  // The new archive's tree of tree/big shares every piece but the changed one (or two).
  const synced2 = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  repo.manifest = (await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() })).manifest;
  const meta2 = await loadArchive(repo, findArchive(repo, 'a2'));
  const [top2 = []] = await readTrees(repo, synced2.index, [Buffer.from(meta2.root ?? '', 'hex')]);
  const [[bigDir2] = []] = await readTrees(repo, synced2.index, [top2[0]?.tree ?? Buffer.alloc(32)]);
  const [head2Plain] = await readMetadata(repo.storage, repo.key, synced2.index, ObjectType.tree, bigDir2?.tree ?? Buffer.alloc(32), 1 << 20);
  const old = new Set(treeParts(head).map((p) => p.toString('hex')));
  const fresh = treeParts(decodeTree(head2Plain ?? Buffer.alloc(0), 'head')).filter((p) => !old.has(p.toString('hex')));
  t.true(fresh.length >= 1 && fresh.length <= 2, `${fresh.length} new pieces`);
  const freshBytes = Array.from(synced2.index.locate(Buffer.concat(fresh)).lengths).reduce((a, b) => a + b, 0);
  t.log(`one changed file added ${grown} bytes (${freshBytes} in new pieces); the directory's pieces hold ${treeBytes}`);
  // Beyond its piece: the head, two parent trees, the pack's table, the index and archive objects, the manifest.
  t.true(grown < freshBytes + 8192, `a changed file added ${grown} bytes`);
  t.true(freshBytes < treeBytes, `${freshBytes} of ${treeBytes}`);
  const d = await hoardIn(env, ['diff', `${repoPath}::a1`, 'a2']);
  t.is(d.code, 0, d.stderr);
  t.deepEqual(d.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/).pop()), ['tree/big/file-01500.txt']);
  t.is((await hoardIn(env, ['check', repoPath])).code, 0);
  t.true(readFileSync(f, 'utf8').startsWith('content of file 1500'));
});

test('check finds a damaged piece and names it; repair drops only that piece\'s items', async (t) => {
  const env = testEnv();
  const repoPath = await makeRepo(env);
  const base = tempDir('src');
  makeBigDir(base);
  t.is((await hoardIn(env, ['create', `${repoPath}::a`, 'tree'], base)).code, 0);
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const meta = await loadArchive(repo, findArchive(repo, 'a'));
  const [top = []] = await readTrees(repo, synced.index, [Buffer.from(meta.root ?? '', 'hex')]);
  const [[bigDir] = []] = await readTrees(repo, synced.index, [top[0]?.tree ?? Buffer.alloc(32)]);
  const [headPlain] = await readMetadata(repo.storage, repo.key, synced.index, ObjectType.tree, bigDir?.tree ?? Buffer.alloc(32), 1 << 20);
  const parts = treeParts(decodeTree(headPlain ?? Buffer.alloc(0), 'head'));
  const victim = parts[1];
  if (victim === undefined) throw new Error('fewer than two pieces');
  const [lost = []] = await readTrees(repo, synced.index, [bigDir?.tree ?? Buffer.alloc(32)]);
  const [pieceItems = []] = await (async () => {
    const [plain] = await readMetadata(repo.storage, repo.key, synced.index, ObjectType.tree, victim, 1 << 20);
    return [decodeTree(plain ?? Buffer.alloc(0), 'piece').items];
  })();
  const where = synced.index.locate(victim);
  const packHex = synced.index.packId(where.packs[0] ?? 0).toString('hex');
  const packFile = path.join(repoPath, 'packs', packHex.slice(0, 2), packHex);
  flip(packFile, (where.offsets[0] ?? 0) + Math.floor((where.lengths[0] ?? 0) / 2));

  const c = await hoardIn(env, ['check', repoPath]);
  t.is(c.code, 1, c.stderr);
  t.regex(c.stderr, new RegExp(`^archive a: a piece of the tree of tree/big \\(${victim.toString('hex')}\\): object ${victim.toString('hex')}: blob failed authentication`, 'm'));
  const l = await hoardIn(env, ['list', `${repoPath}::a`]);
  t.is(l.code, 2);

  const r = await hoardIn({ ...env, HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['check', '--repair', repoPath]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^archive a: the tree of tree\/big: the items of part 3 are lost$/m);
  const after = await hoardIn(env, ['list', '--short', `${repoPath}::a`]);
  t.is(after.code, 0, after.stderr);
  const listed = after.stdout.split('\n').filter((p) => p.startsWith('tree/big/'));
  t.is(listed.length, lost.length - pieceItems.length);
  const gone = new Set(pieceItems.map((i) => `tree/big/${i.name.toString()}`));
  t.false(listed.some((p) => gone.has(p)));
  t.is((await hoardIn(env, ['check', repoPath])).code, 0);
});

test('a directory chained by next, as writers before pieces stored it (lz4), still reads: list, extract, check, compact', async (t) => {
  const env = testEnv();
  const repoPath = await makeRepo(env);
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const writer = newWriter(repo.key, synced.index, { compression: 'lz4', chunkerParams: 'buzhash,10,16,12,4095' });
  const sink = new PackSink(repo.storage, repo.key, writer);
  const chunk = (await writer.storeObjects(repo.key, ObjectType.chunk, [Buffer.from('hello')])).ids;
  const items: Item[] = Array.from({ length: 10 }, (_, i) => ({ ...item(`f${i}`), size: 5, chunks: chunk, chunkSizes: new Uint32Array([5]) }));
  // Two parts, the old way: the last stored first, the first naming it in `next`; the trees lz4 as the data.
  const second = (await writer.storeObjects(repo.key, ObjectType.tree, [encodeTree({ version: 1, items: items.slice(6) })])).ids;
  const first = (await writer.storeObjects(repo.key, ObjectType.tree, [encodeTree({ version: 1, items: items.slice(0, 6), next: second })])).ids;
  const dir: Item = { ...item('d'), type: 'd', mode: 0o40755, tree: first };
  const root = (await writer.storeObjects(repo.key, ObjectType.tree, [encodeTree({ version: 1, items: [dir] })])).ids;
  await writer.flush();
  writer.close();
  await sink.done;
  const meta: ArchiveMeta = {
    version: 1,
    name: 'old',
    root: root.toString('hex'),
    items: 11,
    hostname: 'h',
    username: 'u',
    start: '2024-01-01T00:00:00.000000',
    end: '2024-01-01T00:00:00.000000',
    time: '2024-01-01T00:00:00.000Z',
    commandLine: [],
    comment: '',
    chunkerParams: 'buzhash,10,16,12,4095',
    compression: 'lz4',
    stats: { nfiles: 10, original: 50, compressed: 0, deduplicated: 0, chunks: 13 },
  };
  const sealed = await sealArchive(repo.key, repo.key.newSession(), meta);
  await repo.storage.put(`archives/${sealed.id}`, sealed.data);
  await repo.commit((m) => ({ archives: [...m.archives, { id: sealed.id, name: 'old', time: meta.time }], compactGeneration: m.compactGeneration }));

  const l = await hoardIn(env, ['list', '--short', `${repoPath}::old`]);
  t.is(l.code, 0, l.stderr);
  t.deepEqual(l.stdout.trim().split('\n'), ['d', ...items.map((i) => `d/${i.name.toString()}`)]);
  const dest = tempDir('dest');
  t.is((await hoardIn(env, ['extract', `${repoPath}::old`], dest)).code, 0);
  t.is(readFileSync(path.join(dest, 'd', 'f9'), 'utf8'), 'hello');
  t.is((await hoardIn(env, ['check', repoPath])).code, 0);
  const c = await hoardIn(env, ['compact', repoPath]);
  t.is(c.code, 0, c.stderr);
  t.is((await hoardIn(env, ['check', repoPath])).code, 0);
  const again = await hoardIn(env, ['list', '--short', `${repoPath}::old`, 'd/f7']);
  t.is(again.stdout, 'd/f7\n', again.stderr);
});
