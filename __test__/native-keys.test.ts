/**
 * Subkeys and chunk ids of the native addon, against node:crypto's HKDF, HMAC and SHA-256.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';

import test from 'ava';

import { InvalidArgumentError } from '../dist/errors.js';
import { deriveSubkey, newKey } from '../dist/native.js';
import { pseudoRandom, textLike } from './helpers.js';

const SUITES = ['aes-256-gcm', 'chacha20-poly1305', 'blake3-mac', 'plaintext-blake3'] as const;
const PURPOSES = ['encryption', 'chunk-id', 'chunker'] as const;
const ID_ALGORITHMS = ['keyed-blake3', 'hmac-sha256', 'blake3', 'sha256'] as const;

/** HKDF-SHA256 as documented: salt "hoard master key", info "hoard/1 PURPOSE SUITE". */
function subkey(master: Buffer, purpose: string, suite: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.from('hoard master key'), Buffer.from(`hoard/1 ${purpose} ${suite}`), 32));
}

const MASTERS = [pseudoRandom(32, 'master 32'), pseudoRandom(64, 'master 64'), pseudoRandom(200, 'master 200')];

test('deriveSubkey is HKDF-SHA256 with the documented salt and info, 32 bytes', (t) => {
  const seen = new Set<string>();
  for (const master of MASTERS) {
    for (const suite of SUITES) {
      for (const purpose of PURPOSES) {
        const k = deriveSubkey(master, purpose, suite);
        t.true(Buffer.isBuffer(k));
        t.is(k.length, 32);
        t.is(k.toString('hex'), subkey(master, purpose, suite).toString('hex'), `${master.length} ${purpose} ${suite}`);
        seen.add(k.toString('hex'));
      }
    }
  }
  t.is(seen.size, MASTERS.length * SUITES.length * PURPOSES.length, 'every master, purpose and suite has its own subkey');
  // A master key of exactly 32 zero bytes is still a master key.
  t.deepEqual(deriveSubkey(Buffer.alloc(32), 'chunker', 'aes-256-gcm'), subkey(Buffer.alloc(32), 'chunker', 'aes-256-gcm'));
});

test('deriveSubkey refuses short master keys, unknown purposes and unknown suites', (t) => {
  const master = MASTERS[1]!;
  for (const short of [Buffer.alloc(0), Buffer.alloc(16), pseudoRandom(31, 'short')]) {
    const e = t.throws(() => deriveSubkey(short, 'encryption', 'aes-256-gcm'), { instanceOf: InvalidArgumentError });
    t.is(e?.code, 'HOARD_INVALID_ARGUMENT');
  }
  for (const purpose of ['', 'Encryption', 'chunk_id', 'id', 'session']) {
    t.throws(() => deriveSubkey(master, purpose, 'aes-256-gcm'), { instanceOf: InvalidArgumentError }, purpose);
  }
  for (const suite of ['', 'aes', 'AES-256-GCM', 'aes-128-gcm', 'chacha20', 'none']) {
    t.throws(() => deriveSubkey(master, 'encryption', suite), { instanceOf: InvalidArgumentError }, suite);
  }
});

const DATA = [
  Buffer.alloc(0),
  Buffer.from('abc'),
  Buffer.alloc(64, 0x61),
  pseudoRandom(1000, 'id 1000'),
  pseudoRandom(65_537, 'id 64k'),
  textLike(1_500_000),
];

test('hmac-sha256 chunk ids are HMAC-SHA256 keyed with the chunk-id subkey of the suite', (t) => {
  for (const master of MASTERS) {
    for (const suite of SUITES) {
      const key = newKey(master, suite, 'hmac-sha256');
      const idKey = subkey(master, 'chunk-id', suite);
      for (const data of DATA) {
        const id = key.chunkId(data);
        t.is(id.length, 32);
        t.is(id.toString('hex'), createHmac('sha256', idKey).update(data).digest('hex'), `${suite}, ${data.length} bytes`);
      }
    }
  }
});

test('sha256 chunk ids are plain SHA-256, whatever the master key', (t) => {
  for (const master of MASTERS) {
    const key = newKey(master, 'plaintext-blake3', 'sha256');
    for (const data of DATA) {
      t.is(key.chunkId(data).toString('hex'), createHash('sha256').update(data).digest('hex'));
    }
  }
  // FIPS 180-2's "abc".
  t.is(newKey(MASTERS[0]!, 'plaintext-blake3', 'sha256').chunkId(Buffer.from('abc')).toString('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('blake3 chunk ids match the published BLAKE3 hashes of "" and "abc"', (t) => {
  const key = newKey(MASTERS[2]!, 'plaintext-blake3', 'blake3');
  t.is(key.chunkId(Buffer.alloc(0)).toString('hex'), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  t.is(key.chunkId(Buffer.from('abc')).toString('hex'), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
});

test('keyed-blake3 chunk ids are deterministic, 32 bytes, and depend on data, master key and suite', (t) => {
  const ids = new Set<string>();
  for (const master of MASTERS) {
    for (const suite of SUITES) {
      const a = newKey(master, suite, 'keyed-blake3');
      const b = newKey(Buffer.from(master), suite, 'keyed-blake3');
      for (const data of DATA) {
        const id = a.chunkId(data);
        t.is(id.length, 32);
        t.deepEqual(b.chunkId(data), id, 'the same key gives the same id');
        ids.add(id.toString('hex'));
      }
    }
  }
  t.is(ids.size, MASTERS.length * SUITES.length * DATA.length, 'no two (master, suite, data) share an id');
  // A one-bit change in the data changes the id.
  const key = newKey(MASTERS[0]!, 'aes-256-gcm', 'keyed-blake3');
  const data = pseudoRandom(5000, 'flip');
  const flipped = Buffer.from(data);
  flipped[2500] = flipped[2500]! ^ 0x10;
  t.notDeepEqual(key.chunkId(flipped), key.chunkId(data));
  // Keyed ids are neither the unkeyed BLAKE3 nor the HMAC of the data.
  t.notDeepEqual(key.chunkId(data), newKey(MASTERS[0]!, 'plaintext-blake3', 'blake3').chunkId(data));
  t.notDeepEqual(key.chunkId(data), newKey(MASTERS[0]!, 'aes-256-gcm', 'hmac-sha256').chunkId(data));
});

test('chunkId does not depend on the Buffer being a view into a larger one', (t) => {
  const big = pseudoRandom(10_000, 'backing');
  const view = big.subarray(1234, 5678);
  const copy = Buffer.from(view);
  for (const algo of ID_ALGORITHMS) {
    const key = newKey(MASTERS[1]!, 'plaintext-blake3', algo);
    t.deepEqual(key.chunkId(view), key.chunkId(copy), algo);
  }
  const sha = newKey(MASTERS[1]!, 'plaintext-blake3', 'sha256');
  t.is(sha.chunkId(view).toString('hex'), createHash('sha256').update(copy).digest('hex'));
});

test('a Key reports its suite and id algorithm', (t) => {
  for (const suite of SUITES) {
    for (const algo of ID_ALGORITHMS) {
      if (suite !== 'plaintext-blake3' && (algo === 'blake3' || algo === 'sha256')) continue;
      const key = newKey(MASTERS[0]!, suite, algo);
      t.is(key.suite, suite);
      t.is(key.idAlgorithm, algo);
    }
  }
});

test('keyed suites need keyed chunk ids; plaintext-blake3 takes any id algorithm', (t) => {
  // Unkeyed ids would let anyone holding a file confirm that a secret repository stores it.
  for (const suite of ['aes-256-gcm', 'chacha20-poly1305', 'blake3-mac']) {
    for (const algo of ['blake3', 'sha256']) {
      const e = t.throws(() => newKey(MASTERS[0]!, suite, algo), { instanceOf: InvalidArgumentError }, `${suite} ${algo}`);
      t.regex(e?.message ?? '', /keyed/);
    }
    for (const algo of ['keyed-blake3', 'hmac-sha256']) t.is(newKey(MASTERS[0]!, suite, algo).idAlgorithm, algo);
  }
  for (const algo of ID_ALGORITHMS) t.is(newKey(MASTERS[0]!, 'plaintext-blake3', algo).idAlgorithm, algo);
});

test('newKey refuses short master keys, unknown suites and unknown id algorithms', (t) => {
  t.throws(() => newKey(pseudoRandom(31, 'm'), 'aes-256-gcm', 'keyed-blake3'), { instanceOf: InvalidArgumentError });
  t.throws(() => newKey(Buffer.alloc(0), 'aes-256-gcm', 'keyed-blake3'), { instanceOf: InvalidArgumentError });
  for (const suite of ['', 'aes-256', 'repokey', 'plaintext']) {
    t.throws(() => newKey(MASTERS[0]!, suite, 'keyed-blake3'), { instanceOf: InvalidArgumentError }, suite);
  }
  for (const algo of ['', 'hmac-sha512', 'blake2b', 'sha-256', 'keyed_blake3']) {
    const e = t.throws(() => newKey(MASTERS[0]!, 'aes-256-gcm', algo), { instanceOf: InvalidArgumentError }, algo);
    t.regex(e?.message ?? '', /id algorithm/);
  }
});
