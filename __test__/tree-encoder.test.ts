import { randomBytes } from 'node:crypto';

import test from 'ava';
import { Packr } from 'msgpackr';

import { decodeTree, encodeTree, type Item, type ItemType } from '../dist/archive/item.js';
import { encodeMsgpack } from '../dist/archive/tree-encoder.js';

// msgpackr as tree objects were written before tree-encoder: these options, undefined fields
// dropped. Tree ids are hashes of these bytes, so the two must agree byte for byte, or an
// unchanged directory would be stored again under a new id.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', variableMapSize: true });

/** The old encoder's copy of an item: its fields that are not undefined, chunk sizes as bytes. */
function clean(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (v !== undefined) out[k] = v instanceof Uint32Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
  return out;
}

/** A deterministic generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s = (s ^ (s >>> 13)) >>> 0;
    return s / 2 ** 32;
  };
}

const TYPES: ItemType[] = ['-', 'd', 'l', 'h', 'p', 'c', 'b', 's'];
// UTF-8 lengths around each string header's limits (32, 256, 65,536 bytes), and lone surrogates.
// Short strings whose UTF-8 is 32 bytes or more (16 'é', 11 CJK) leave the ASCII fast path.
const STRINGS = ['', 'root', 'a'.repeat(31), 'b'.repeat(32), 'ü', 'größe', '用户', '用'.repeat(11), 'é'.repeat(15), 'é'.repeat(16), '\u{1f600}x', 'x\ud800y', '\udfff', 'c'.repeat(200), 'c'.repeat(255), 'c'.repeat(256), 'é'.repeat(100), 'é'.repeat(127) + 'c', 'é'.repeat(128), 'é'.repeat(200), 'z'.repeat(300), 'y'.repeat(65535), 'ÿ'.repeat(40000)];
const NUMBERS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1, -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, 0.5, -2.25, 1e300, -0];
const BIGINTS = [0n, 1n, -1n, 1_700_000_000_123_456_789n, -(1n << 63n), (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

/** `n` bytes from `r`, so that a failing tree can be made again. */
function seeded(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 1) b[i] = Math.floor(r() * 256);
  return b;
}

function bytes(r: () => number): Buffer {
  const sizes = [0, 1, 32, 255, 256, 65535, 65536, 70000];
  return seeded(r, r() < 0.98 ? Math.floor(r() * 40) : pick(r, sizes));
}

/** An item with a random choice of fields, values at the edges of each MessagePack form. */
function randomItem(r: () => number): Item {
  const item: Item = { name: bytes(r), type: pick(r, TYPES), mode: pick(r, NUMBERS), uid: pick(r, NUMBERS), gid: pick(r, NUMBERS), mtime: pick(r, BIGINTS), size: pick(r, NUMBERS) };
  if (r() < 0.5) item.user = pick(r, STRINGS);
  if (r() < 0.5) item.group = r() < 0.5 ? undefined : pick(r, STRINGS);
  if (r() < 0.5) item.ctime = pick(r, BIGINTS);
  if (r() < 0.3) item.atime = pick(r, BIGINTS);
  if (r() < 0.5) {
    const n = Math.floor(r() * 20);
    item.chunks = seeded(r, 32 * n);
    item.chunkSizes = new Uint32Array(Array.from({ length: n }, () => Math.floor(r() * 2 ** 32)));
  }
  if (r() < 0.2) item.target = bytes(r);
  if (r() < 0.2) item.xattrs = Array.from({ length: Math.floor(r() * 18) }, () => ({ name: bytes(r), value: bytes(r) }));
  if (r() < 0.2) item.implied = r() < 0.5;
  if (r() < 0.2) item.tree = r() < 0.5 ? undefined : seeded(r, 32);
  if (r() < 0.2) item.rdev = pick(r, NUMBERS);
  if (r() < 0.2) item.csize = pick(r, NUMBERS);
  if (r() < 0.1) {
    // A wide item (16 fields or more: a map 16 header), among narrow ones.
    Object.assign(item, { user: pick(r, STRINGS), group: pick(r, STRINGS), ctime: 1n, atime: 2n, birthtime: 3n, rdev: 4, flags: 5, csize: 6, target: bytes(r), link: bytes(r) });
  }
  return item;
}

test('tree objects are msgpackr bytes: 300 random trees of items with every field at the edges of its form', (t) => {
  const r = rng(20261127);
  for (let i = 0; i < 300; i += 1) {
    const items = Array.from({ length: Math.floor(r() * 40) }, () => randomItem(r));
    const ours = encodeTree({ version: 1, items });
    const theirs = packr.pack({ version: 1, items: items.map(clean) });
    if (!ours.equals(theirs)) return t.fail(`tree ${i} (${items.length} items) differs`);
  }
  t.pass();
});

test('a tree of more than 65,535 items (a 32-bit array length) encodes as msgpackr does', (t) => {
  const items: Item[] = Array.from({ length: 65540 }, (_, i) => ({ name: Buffer.from(String(i)), type: '-', mode: 0o100644, uid: i, gid: 0, mtime: BigInt(i), size: i }));
  // equals, not deepEqual: ava's diffing of megabytes takes seconds
  t.true(encodeTree({ version: 1, items }).equals(packr.pack({ version: 1, items: items.map(clean) })));
});

test('a tree with more than 15 fields in an item, a next pointer, and a head of parts encode as msgpackr does and decode back', (t) => {
  const r = rng(7);
  const item = { ...randomItem(r), user: 'u', group: 'g', ctime: 5n, atime: 6n, birthtime: 7n, rdev: 8, flags: 9, csize: 10, target: Buffer.from('t'), link: Buffer.from('l'), aclAccess: Buffer.from('a'), aclDefault: Buffer.from('d'), tree: randomBytes(32) };
  const next = randomBytes(32);
  const v1 = encodeTree({ version: 1, items: [item], next });
  t.deepEqual(v1, packr.pack({ version: 1, items: [clean(item)], next }));
  const back = decodeTree(v1, 'test tree');
  t.deepEqual(back.next, next);
  t.deepEqual(back.items[0]?.name, item.name);
  t.is(back.items[0]?.birthtime, 7n);
  const parts = randomBytes(32 * 3);
  t.deepEqual(encodeTree({ version: 2, items: [], parts }), packr.pack({ version: 2, parts }));
});

test('values a tree cannot hold are refused, and the encoder stays usable after', (t) => {
  t.throws(() => encodeMsgpack({ when: new Date(0) }), { instanceOf: TypeError });
  t.throws(() => encodeMsgpack({ f: () => 1 }), { instanceOf: TypeError });
  t.throws(() => encodeMsgpack({ o: Object.create(null) as object }), { instanceOf: TypeError, message: /cannot hold \[object Object\]/ });
  t.throws(() => encodeMsgpack({ big: 1n << 64n }), { instanceOf: RangeError });
  t.deepEqual(encodeMsgpack({ a: [1, undefined, null, true, 'x'] }), packr.pack({ a: [1, undefined, null, true, 'x'] }));
});
