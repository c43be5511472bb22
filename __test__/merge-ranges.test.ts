import test from 'ava';

import { mergeRanges, placesOf, type BlobPlace } from '../dist/repository/objects.js';

const at = (pack: number, offset: number, length: number): BlobPlace => ({ pack, offset, length });

test('overlapping and touching blobs are one range; packs never merge', (t) => {
  const got = mergeRanges([at(1, 100, 50), at(0, 0, 10), at(0, 10, 5), at(0, 12, 10), at(1, 150, 1)], 0);
  t.deepEqual(got, [
    { pack: 0, offset: 0, end: 22 },
    { pack: 1, offset: 100, end: 151 },
  ]);
  // However wide the gap allowed, ranges of two packs stay apart.
  t.is(mergeRanges([at(0, 0, 10), at(1, 20, 10)], 1 << 20).length, 2);
});

test('gaps up to `gap` are read through; without a budget, all of them', (t) => {
  const places = [at(0, 0, 10), at(0, 20, 10), at(0, 1000, 10), at(0, 1100, 10)];
  t.deepEqual(mergeRanges(places, 100), [
    { pack: 0, offset: 0, end: 30 },
    { pack: 0, offset: 1000, end: 1110 },
  ]);
  t.deepEqual(mergeRanges(places, 1 << 20), [{ pack: 0, offset: 0, end: 1110 }]);
});

test('a gap budget reads through the smallest gaps first and stops where the next would exceed it', (t) => {
  // Gaps of 10, 90, 30 and 5 bytes between five blobs.
  const places = [at(0, 0, 10), at(0, 20, 10), at(0, 120, 10), at(0, 160, 10), at(0, 175, 10)];
  const gapsRead = (ranges: { offset: number; end: number }[]): number =>
    ranges.reduce((n, r) => n + r.end - r.offset, 0) - places.reduce((n, p) => n + p.length, 0);
  t.deepEqual(mergeRanges(places, 100, 0), [
    { pack: 0, offset: 0, end: 10 },
    { pack: 0, offset: 20, end: 30 },
    { pack: 0, offset: 120, end: 130 },
    { pack: 0, offset: 160, end: 170 },
    { pack: 0, offset: 175, end: 185 },
  ]);
  const some = mergeRanges(places, 100, 44);
  t.deepEqual(some, [
    { pack: 0, offset: 0, end: 30 },
    { pack: 0, offset: 120, end: 130 },
    { pack: 0, offset: 160, end: 185 },
  ]);
  t.is(gapsRead(some), 15);
  t.is(gapsRead(mergeRanges(places, 100, 134)), 45);
  t.deepEqual(mergeRanges(places, 100, 135), [{ pack: 0, offset: 0, end: 185 }]);
});

test('placesOf gives one file its slice of a directory-wide lookup, and names its own missing chunk', (t) => {
  const ids = Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3), Buffer.alloc(32, 4)]);
  const loc = {
    packs: new Uint32Array([5, 5, 0xffffffff, 6]),
    offsets: new Uint32Array([0, 100, 0, 7]),
    lengths: new Uint32Array([100, 20, 0, 9]),
  };
  t.deepEqual(placesOf(loc, ids, 0, 2), [at(5, 0, 100), at(5, 100, 20)]);
  t.deepEqual(placesOf(loc, ids, 3, 4), [at(6, 7, 9)]);
  t.deepEqual(placesOf(loc, ids, 2, 2), []);
  t.throws(() => placesOf(loc, ids, 1, 3), { message: `object ${'03'.repeat(32)} is missing from the repository` });
});
