import test from 'ava';

import { takeSlab } from '../dist/archive/fetch-slabs.js';

test('the smallest spare that fits is taken, and the others stay', (t) => {
  const [a, b, c] = [Buffer.alloc(8), Buffer.alloc(5), Buffer.alloc(6)];
  const spares = [a, b, c];
  t.is(takeSlab(spares, 6, 4), c);
  t.deepEqual(spares, [a, b]);
  t.is(takeSlab(spares, 7, 4), a);
  t.deepEqual(spares, [b]);
});

test('a spare that fits is kept even when the last one does not', (t) => {
  // The spare pushed last is too small: it stays, and the one that fits is used.
  const [large, small] = [Buffer.alloc(9), Buffer.alloc(5)];
  const spares = [large, small];
  t.is(takeSlab(spares, 7, 4), large);
  t.deepEqual(spares, [small]);
});

test('with no spare large enough, a new buffer replaces the smallest spare', (t) => {
  const [a, b] = [Buffer.alloc(6), Buffer.alloc(5)];
  const spares = [a, b];
  const got = takeSlab(spares, 7, 4);
  t.true(got !== a && got !== b);
  t.is(got.length, 7);
  t.deepEqual(spares, [a]);
  // A new buffer is at least `least` bytes, and the spares never grow in number.
  const none: Buffer[] = [];
  t.is(takeSlab(none, 2, 4).length, 4);
  t.is(none.length, 0);
});
