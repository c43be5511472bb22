import test from 'ava';

import { ARENA_BLOCK, ByteArena } from '../dist/archive/byte-arena.js';
import { PathSet } from '../dist/archive/path-set.js';

test('a PathSet holds exactly the byte strings added, across table growth and blocks', (t) => {
  const set = new PathSet();
  const pathOf = (i: number): Buffer => Buffer.from(`tree/dir-${i % 97}/f\u00e9-${i}`);
  // Enough paths to double the table several times and fill more than one 1 MiB block.
  const n = 40_000;
  let added = 0;
  for (let i = 0; i < n; i += 1) if (set.add(pathOf(i))) added += 1;
  t.is(added, n);
  t.is(set.size, n);
  for (let i = 0; i < n; i += 7) t.true(set.has(pathOf(i)));
  // Added again: no change.
  t.false(set.add(pathOf(123)));
  t.is(set.size, n);
  // Prefixes, extensions, one byte changed and other lengths are not in it.
  t.false(set.has(Buffer.from('tree/dir-1/f\u00e9-1').subarray(0, 10)));
  t.false(set.has(Buffer.from(`${pathOf(5).toString()}x`)));
  // `tree/dir-6/fé-7` (one bit of the last byte flipped): no path has that directory and number.
  const changed = pathOf(6);
  changed.writeUInt8((changed.at(-1) ?? 0) ^ 1, changed.length - 1);
  t.false(set.has(changed));
  t.false(set.has(Buffer.alloc(0)));
  t.true(set.add(Buffer.alloc(0)));
  t.true(set.has(Buffer.alloc(0)));
  // The set keeps its own copy: changing the added buffer changes nothing.
  const mine = Buffer.from('tree/mine');
  set.add(mine);
  mine[0] = 0x78;
  t.true(set.has(Buffer.from('tree/mine')));
  t.false(set.has(mine));
});

test('a PathSet keeps a path longer than its blocks', (t) => {
  const set = new PathSet();
  const long = Buffer.alloc(3 << 20, 0x61);
  set.add(Buffer.from('a'));
  t.true(set.add(long));
  t.true(set.add(Buffer.from('b')));
  t.true(set.has(Buffer.alloc(3 << 20, 0x61)));
  t.true(set.has(Buffer.from('a')));
  t.true(set.has(Buffer.from('b')));
  t.false(set.has(Buffer.alloc((3 << 20) - 1, 0x61)));
});

test('ByteArena copies are equal, independent of their source, and packed into shared blocks', (t) => {
  const arena = new ByteArena();
  const src = Buffer.from('tree/usr/lib/x86_64-linux-gnu');
  const a = arena.copy(src);
  const b = arena.copy(Buffer.from('tree/etc'));
  t.true(a.equals(src));
  t.is(b.toString(), 'tree/etc');
  src[0] = 0x78;
  t.is(a.toString(), 'tree/usr/lib/x86_64-linux-gnu');
  // Both are views of one block, not of Node's 8 KiB pool.
  t.is(a.buffer, b.buffer);
  t.is(a.buffer.byteLength, ARENA_BLOCK);
  // A full block starts another; a copy larger than a block is its own.
  const big = arena.copy(Buffer.alloc(ARENA_BLOCK - 10, 1));
  t.not(big.buffer, a.buffer);
  const huge = arena.copy(Buffer.alloc(ARENA_BLOCK + 1, 2));
  t.is(huge.length, ARENA_BLOCK + 1);
  t.is(huge[ARENA_BLOCK], 2);
  t.is(arena.copy(Buffer.alloc(0)).length, 0);
});
