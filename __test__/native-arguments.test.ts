import test from 'ava';

import { InvalidArgumentError } from '../dist/errors.js';
import { argon2id, compress, decompress, newKey } from '../dist/native.js';
import { pseudoRandom } from './helpers.js';

const MASTER = pseudoRandom(64, 'arguments master');

test('decompress refuses limits that are not whole numbers in range instead of wrapping them', async (t) => {
  const frame = await compress('lz4', Buffer.alloc(100_000, 7));
  for (const limit of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, 2 ** 32 + 20_000, 1.5]) {
    await t.throwsAsync(async () => decompress(frame, limit), { instanceOf: InvalidArgumentError }, String(limit));
  }
  t.is((await decompress(frame, 2 ** 32 - 1)).length, 100_000);
  t.is((await decompress(frame, 100_000)).length, 100_000);
  await t.throwsAsync(decompress(frame, 99_999), { message: /more than the limit/ });
});

test('argon2id refuses huge or malformed costs with an error, not an abort', async (t) => {
  const salt = Buffer.from('somesalt');
  const pw = Buffer.from('pw');
  for (const params of [
    { timeCost: 1, memoryKib: 2 ** 31, parallelism: 1 },
    { timeCost: 1, memoryKib: -1, parallelism: 1 },
    { timeCost: 1, memoryKib: 2 ** 32 + 8, parallelism: 1 },
    { timeCost: 1.5, memoryKib: 64, parallelism: 1 },
    { timeCost: 1000, memoryKib: 64, parallelism: 1 },
    { timeCost: 1, memoryKib: 64, parallelism: 1000 },
  ]) {
    await t.throwsAsync(async () => argon2id(pw, salt, params), { instanceOf: InvalidArgumentError }, JSON.stringify(params));
  }
  t.is((await argon2id(pw, salt, { timeCost: 1, memoryKib: 64, parallelism: 1 })).length, 32);
});

test('seal and open refuse object types outside 0..255 or with fractions', async (t) => {
  const key = newKey(MASTER, 'aes-256-gcm', 'keyed-blake3');
  const session = key.newSession();
  const id = key.chunkId(Buffer.from('x'));
  for (const type of [256, -1, 1.5, Number.NaN]) {
    await t.throwsAsync(async () => session.seal(type, id, Buffer.from('x')), { instanceOf: InvalidArgumentError }, String(type));
  }
  const blob = await session.seal(255, id, Buffer.from('x'));
  t.deepEqual(await key.open(255, id, blob), Buffer.from('x'));
  await t.throwsAsync(async () => key.open(1.5, id, blob), { instanceOf: InvalidArgumentError });
});

test('sealWithKey and openWithKey take only the AEAD suites', async (t) => {
  const { sealWithKey, openWithKey } = await import('../dist/native.js');
  const key = pseudoRandom(32, 'kek');
  const id = pseudoRandom(32, 'id');
  for (const suite of ['plaintext-blake3', 'blake3-mac']) {
    await t.throwsAsync(async () => sealWithKey(suite, key, 6, id, Buffer.from('master')), { instanceOf: InvalidArgumentError }, suite);
  }
  for (const suite of ['aes-256-gcm', 'chacha20-poly1305']) {
    const blob = await sealWithKey(suite, key, 6, id, Buffer.from('master'));
    t.deepEqual(await openWithKey(suite, key, 6, id, blob), Buffer.from('master'));
    await t.throwsAsync(async () => openWithKey('blake3-mac', key, 6, id, blob), { instanceOf: InvalidArgumentError });
  }
});
