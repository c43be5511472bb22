import test from 'ava';

import { discardPages } from '../dist/native.js';

const MiB = 1 << 20;

test('discardPages gives back the whole pages past `from` (they read as zeros) and keeps the bytes before it', (t) => {
  const buf = Buffer.allocUnsafeSlow(16 * MiB);
  buf.fill(0x5a);
  const from = 5 * MiB + 123;
  discardPages(buf, from);
  // Before `from`: untouched.
  t.is(buf.subarray(0, from).indexOf(0x00), -1);
  // The whole pages after it (the page holding `from` and a last partial page may stay).
  const freed = buf.subarray(from + 4096, buf.length - 4096);
  t.true(freed.every((b) => b === 0));
  // The buffer stays usable: written again, it holds what was written.
  buf.fill(0x33, from);
  t.true(buf.subarray(from).every((b) => b === 0x33));
});

test('discardPages past the end, or of a buffer shorter than a page, changes nothing', (t) => {
  const buf = Buffer.allocUnsafeSlow(64 * 1024);
  buf.fill(0x11);
  discardPages(buf, buf.length + 10);
  const small = Buffer.alloc(100, 0x22);
  discardPages(small, 0);
  t.true(buf.every((b) => b === 0x11));
  t.true(small.every((b) => b === 0x22));
});
