/**
 * The addon's slow calls run on hoard's worker pool: they return a promise at once, and the event
 * loop keeps turning (immediates and timers run) until it settles. The tests that watch the loop
 * run serially, so that no other test's synchronous work stalls it.
 */
import { availableParallelism } from 'node:os';

import test from 'ava';

import { benchmarkCpu, compress, decompress, newKey, workerThreads } from '../dist/native.js';
import { pseudoRandom, textLike } from './helpers.js';

interface Observed<T> {
  value: T;
  /** Milliseconds the call itself took before returning its promise. */
  callMs: number;
  /** Milliseconds until the promise settled. */
  totalMs: number;
  /** setImmediate callbacks that ran while waiting. */
  immediates: number;
  /** 5 ms interval ticks while waiting. */
  ticks: number;
  /** Whether an immediate queued right after the call ran before the promise settled. */
  immediateFirst: boolean;
}

/** Starts `call` and watches the event loop until its promise settles. */
async function watch<T>(call: () => Promise<T>): Promise<Observed<T>> {
  let immediates = 0;
  let ticks = 0;
  let settled = false;
  let immediateFirst = false;
  const spin = (): void => {
    if (settled) return;
    immediates += 1;
    setImmediate(spin);
  };
  const interval = setInterval(() => {
    ticks += 1;
  }, 5);
  const start = performance.now();
  const promise = call();
  const callMs = performance.now() - start;
  setImmediate(() => {
    if (!settled) immediateFirst = true;
    spin();
  });
  try {
    const value = await promise;
    return { value, callMs, totalMs: performance.now() - start, immediates, ticks, immediateFirst };
  } finally {
    settled = true;
    clearInterval(interval);
  }
}

test.serial('benchmarkCpu runs argon2id off the event loop', async (t) => {
  // Three argon2id derivations at the default costs (64 MiB, three passes each).
  const o = await watch(() => benchmarkCpu('kdf:argon2id', 'random', 3));
  t.is(o.value.amount, 3);
  t.true(o.value.seconds > 0.05, `${o.value.seconds}s of work`);
  t.true(o.callMs < 50, `the call returned after ${o.callMs.toFixed(1)} ms`);
  t.true(o.immediateFirst, 'an immediate ran before the promise settled');
  t.true(o.immediates > 10, `${o.immediates} immediates ran`);
  t.true(o.ticks >= 3, `${o.ticks} timer ticks over ${o.totalMs.toFixed(0)} ms`);
  t.true(o.totalMs >= o.value.seconds * 1000 * 0.9, 'the promise settled after the work, not before');
});

test.serial('a large compress and decompress do not block the event loop', async (t) => {
  const data = textLike(6_000_000);
  const c = await watch(() => compress('lzma,6', data));
  t.is(c.value[0], 4, 'an lzma frame');
  t.true(c.callMs < 50, `compress returned after ${c.callMs.toFixed(1)} ms of ${c.totalMs.toFixed(0)} ms`);
  t.true(c.immediateFirst);
  t.true(c.ticks >= 3, `${c.ticks} timer ticks over ${c.totalMs.toFixed(0)} ms`);
  const d = await watch(() => decompress(c.value));
  t.true(d.immediateFirst);
  t.true(d.value.equals(data));
});

test.serial('sealing, opening and chunking settle asynchronously', async (t) => {
  const key = newKey(pseudoRandom(32, 'async master'), 'aes-256-gcm', 'keyed-blake3');
  const session = key.newSession();
  const data = pseudoRandom(8_000_000, 'async data');
  const id = key.chunkId(data);
  const sealed = await watch(() => session.seal(1, id, data));
  t.true(sealed.immediateFirst);
  t.is(sealed.value.length, data.length + 42);
  const opened = await watch(() => key.open(1, id, sealed.value));
  t.true(opened.immediateFirst);
  t.true(opened.value.equals(data));
  const bad = Buffer.from(sealed.value);
  bad[100] = bad[100]! ^ 1;
  // A rejection is asynchronous too.
  let rejectedLater = false;
  let immediateRan = false;
  const p = key.open(1, id, bad).catch(() => {
    rejectedLater = immediateRan;
  });
  setImmediate(() => {
    immediateRan = true;
  });
  await p;
  t.true(rejectedLater, 'the rejection came after an immediate');
});

test('many calls in flight at once all settle with their own results', async (t) => {
  const inputs = Array.from({ length: 48 }, (_, i) => textLike(20_000 + i * 1000));
  const specs = ['lz4', 'zstd,3', 'zlib,6', 'lzma,1'];
  const frames = await Promise.all(inputs.map((d, i) => compress(specs[i % specs.length]!, d)));
  frames.forEach((f, i) => t.is(f.readUInt32LE(2), inputs[i]!.length, `frame ${i}`));
  const outs = await Promise.all(frames.map((f) => decompress(f)));
  t.true(outs.every((o, i) => o.equals(inputs[i]!)), 'every frame decompressed to its own input');
});

test('the worker pool has at least one thread and no more than the machine offers', (t) => {
  const n = workerThreads();
  t.true(Number.isInteger(n));
  t.true(n >= 1 && n <= Math.max(availableParallelism(), 1) * 4, `${n} threads`);
});

test('benchmarkCpu measures the amount asked and refuses bad items', async (t) => {
  for (const item of ['chunker:fastcdc,10,16,12', 'id:hmac-sha256', 'seal:chacha20-poly1305', 'compress:zstd,3', 'decompress:lz4']) {
    const m = await benchmarkCpu(item, 'text', 1_000_000);
    t.is(m.amount, 1_000_000, item);
    t.true(m.seconds > 0, item);
  }
  for (const [item, content, amount] of [['nope:x', 'random', 1000], ['id:md5', 'random', 1000], ['kdf:scrypt', 'random', 1], ['id:sha256', 'zeros', 1000], ['id:sha256', 'random', 0]] as const) {
    await t.throwsAsync(async () => benchmarkCpu(item, content, amount), { name: 'InvalidArgumentError' }, `${item} ${content} ${amount}`);
  }
});
