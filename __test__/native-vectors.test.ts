/**
 * The test vectors of docs/format.md section 8 (master key 000102…1f): hoard reproduces them, and
 * node:crypto reproduces the ones it can (HKDF subkeys, AEAD blobs, HMAC-SHA256 and SHA-256 ids).
 * The BLAKE3 vectors (tags, tables, cut points) are checked in native-blake3.test.ts.
 */
import { createCipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';

import test from 'ava';

import { IntegrityError } from '../dist/errors.js';
import { chunkBuffer, deriveSubkey, newKey } from '../dist/native.js';
import { pseudoRandom } from './helpers.js';

const MASTER = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

const SUBKEYS = {
  'plaintext-blake3': [
    '1b7eea537e2552300d6cbc456a9ce666ca331965cca4944a142a36f7ea961d67',
    'a28978f524a7d5549d7f493a5fd0929b83d5ae81c909c21434acc4d734a0ca79',
    '47c58348a9981c30dc1c304e0904be38b25b8f3652a01953ca8ffb4303693f93',
  ],
  'blake3-mac': [
    'e4146911d478a68324d4185c1f8b4992a9f0c2a6160ebb9e3804737eed162914',
    'd093feed7b6e3b902017c6c75b7f8635b2737b478165998d60c0d218c174f95d',
    '7c88f3aa52d5443db7b8982dbca150905969560b810d6a03261f25cc045d7dc4',
  ],
  'aes-256-gcm': [
    'a70dbd11de01315830b4d0d7af88f5671f4614f169c7bb34a7ef6005b2194e12',
    'dcf8be26d640091cc010e6a417926b08c8cf8cfe6780490841217445fb32ed3a',
    '927b8b3f04307f33bc240c8f23dd87e3b9bcb4cdacee3cb24b17fe1933446554',
  ],
  'chacha20-poly1305': [
    '28d94c6f8d5adc388f5985d686eb95706d77e6b4813a5254128277b3b74ec314',
    '72ad6d4d18c842806543be3075705055175d0d3468bed9d7cf9036e2d2fcbf95',
    '54666bb6ac209177a76af34556c56132fd1ffbe504a12ebe6ceffa96f40b7b9c',
  ],
} as const;

const BLOBS = {
  'plaintext-blake3': '0100a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000686f61726420666f726d6174207465737420766563746f725fcb1528dba95fbb244445b37b8be9c2',
  'blake3-mac': '0101a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000686f61726420666f726d6174207465737420766563746f72627ec71cbb3f9b4ea463f0d2a50d9104',
  'aes-256-gcm': '0102a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000ea60eef675a2420fbd3aadca0329e1aba7ac6cb0bd7ce25db3402178175958f6a3e6689aa7fcf0f6',
  'chacha20-poly1305': '0103a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000000000000008b15dd5ffd9a1c7c2b2e633af9b6339c2a6450d48ce1d1ced3b1c880e91929677210dca0a9557e73',
} as const;
const BLOB_SESSION = Buffer.from(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
const BLOB_ID = Buffer.alloc(32, 0x11);
const BLOB_TYPE = 7;
const BLOB_PLAINTEXT = Buffer.from('hoard format test vector');

function hkdf(ikm: Buffer, salt: Buffer | string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

test('section 8 subkeys: hoard and node:crypto HKDF both give the listed keys', (t) => {
  for (const [suite, keys] of Object.entries(SUBKEYS)) {
    for (const [i, purpose] of ['encryption', 'chunk-id', 'chunker'].entries()) {
      t.is(deriveSubkey(MASTER, purpose, suite).toString('hex'), keys[i]!, `${purpose} ${suite}`);
      t.is(hkdf(MASTER, 'hoard master key', `hoard/1 ${purpose} ${suite}`).toString('hex'), keys[i]!, `node: ${purpose} ${suite}`);
    }
  }
});

test('section 8 sealed blobs open in hoard as type 7 with id 11…11, and only so', async (t) => {
  for (const [suite, hex] of Object.entries(BLOBS)) {
    const key = newKey(MASTER, suite, 'keyed-blake3');
    const blob = Buffer.from(hex, 'hex');
    t.is(blob.length, 42 + BLOB_PLAINTEXT.length);
    t.deepEqual(blob.subarray(2, 18), BLOB_SESSION);
    t.deepEqual(await key.open(BLOB_TYPE, BLOB_ID, blob), BLOB_PLAINTEXT, suite);
    await t.throwsAsync(key.open(BLOB_TYPE + 1, BLOB_ID, blob), { instanceOf: IntegrityError });
    await t.throwsAsync(key.open(BLOB_TYPE, Buffer.alloc(32, 0x12), blob), { instanceOf: IntegrityError });
  }
});

test('section 8 AEAD blobs are exactly what node:crypto seals with the documented key, nonce and AAD', (t) => {
  for (const suite of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const head = Buffer.from(BLOBS[suite], 'hex').subarray(0, 26);
    const sessionKey = hkdf(Buffer.from(SUBKEYS[suite][0], 'hex'), BLOB_SESSION, `hoard/1 session ${suite}`);
    const nonce = Buffer.alloc(12);
    const aad = Buffer.concat([head, Buffer.of(BLOB_TYPE), BLOB_ID]);
    const c = suite === 'aes-256-gcm'
      ? createCipheriv('aes-256-gcm', sessionKey, nonce)
      : createCipheriv('chacha20-poly1305', sessionKey, nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: BLOB_PLAINTEXT.length });
    const blob = Buffer.concat([head, c.update(BLOB_PLAINTEXT), c.final(), c.getAuthTag()]);
    t.is(blob.toString('hex'), BLOBS[suite], suite);
  }
});

test('section 8 chunk ids of "abc" under the aes-256-gcm chunk-id subkey', (t) => {
  const abc = Buffer.from('abc');
  const ids = {
    'keyed-blake3': '2063c396ff37d1d4351870a89b6383ef0eb3cd35419b544f663d1c2ee19aea03',
    'hmac-sha256': 'ef8028dc50a9be71bd1299412d032a2c782e2a15114ab4a41a39df58090dc470',
    blake3: '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  };
  t.is(newKey(MASTER, 'aes-256-gcm', 'keyed-blake3').chunkId(abc).toString('hex'), ids['keyed-blake3']);
  t.is(newKey(MASTER, 'aes-256-gcm', 'hmac-sha256').chunkId(abc).toString('hex'), ids['hmac-sha256']);
  t.is(createHmac('sha256', Buffer.from(SUBKEYS['aes-256-gcm'][1], 'hex')).update(abc).digest('hex'), ids['hmac-sha256']);
  // The unkeyed ids do not depend on the suite's subkey (and are allowed only without encryption).
  t.is(newKey(MASTER, 'plaintext-blake3', 'blake3').chunkId(abc).toString('hex'), ids.blake3);
  t.is(newKey(MASTER, 'plaintext-blake3', 'sha256').chunkId(abc).toString('hex'), ids.sha256);
  t.is(createHash('sha256').update(abc).digest('hex'), ids.sha256);
});

test('section 8 fixed cut points: fixed,65536,1000 over 262144 bytes', async (t) => {
  const seed = Buffer.from(SUBKEYS['aes-256-gcm'][2], 'hex');
  const lens = await chunkBuffer('fixed,65536,1000', seed, pseudoRandom(262144, 'any data'));
  t.deepEqual(Array.from(lens), [1000, 65536, 65536, 65536, 64536]);
});
