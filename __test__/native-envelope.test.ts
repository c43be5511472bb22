/**
 * Sealed envelopes (Session.seal / Key.open) against node:crypto's AES-256-GCM and
 * ChaCha20-Poly1305: hoard's blobs decrypt here, blobs encrypted here open in hoard, and any
 * change to a blob, or opening it as another object, is refused.
 */
import { createCipheriv, createDecipheriv, hkdfSync, type CipherGCMTypes } from 'node:crypto';

import test from 'ava';

import { CorruptDataError, HoardError, IntegrityError, InvalidArgumentError } from '../dist/errors.js';
import { newKey, type Key } from '../dist/native.js';
import { pseudoRandom, sameBytes, textLike } from './helpers.js';


const SUITE_BYTES = { 'plaintext-blake3': 0, 'blake3-mac': 1, 'aes-256-gcm': 2, 'chacha20-poly1305': 3 } as const;
type Suite = keyof typeof SUITE_BYTES;
const SUITES = Object.keys(SUITE_BYTES) as Suite[];
const AEADS = ['aes-256-gcm', 'chacha20-poly1305'] as const;
type Aead = (typeof AEADS)[number];

const MASTER = pseudoRandom(64, 'envelope master');

function hkdf(ikm: Buffer, salt: Buffer | string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** The session key of a blob: HKDF-SHA256(salt = session id, ikm = encryption subkey). */
function sessionKey(master: Buffer, suite: string, sessionId: Buffer): Buffer {
  const enc = hkdf(master, 'hoard master key', `hoard/1 encryption ${suite}`);
  return hkdf(enc, sessionId, `hoard/1 session ${suite}`);
}

function nonce(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 0);
  return n;
}

function header(suite: Suite, sessionId: Buffer, counter: bigint): Buffer {
  const h = Buffer.alloc(26);
  h[0] = 1;
  h[1] = SUITE_BYTES[suite];
  sessionId.copy(h, 2);
  h.writeBigUInt64LE(counter, 18);
  return h;
}

function aad(head: Buffer, objType: number, id: Buffer): Buffer {
  return Buffer.concat([head, Buffer.of(objType), id]);
}

/** Opens a hoard blob with node:crypto alone. */
function nodeOpen(master: Buffer, suite: Aead, objType: number, id: Buffer, blob: Buffer): Buffer {
  const head = blob.subarray(0, 26);
  const k = sessionKey(master, suite, head.subarray(2, 18));
  const n = nonce(head.readBigUInt64LE(18));
  const d = suite === 'aes-256-gcm'
    ? createDecipheriv(suite as CipherGCMTypes, k, n)
    : createDecipheriv('chacha20-poly1305', k, n, { authTagLength: 16 });
  d.setAAD(aad(head, objType, id));
  d.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([d.update(blob.subarray(26, blob.length - 16)), d.final()]);
}

/** Seals a blob with node:crypto alone, for any session id and counter. */
function nodeSeal(master: Buffer, suite: Aead, sessionId: Buffer, counter: bigint, objType: number, id: Buffer, plaintext: Buffer): Buffer {
  const head = header(suite, sessionId, counter);
  const k = sessionKey(master, suite, sessionId);
  const n = nonce(counter);
  const c = suite === 'aes-256-gcm'
    ? createCipheriv(suite as CipherGCMTypes, k, n)
    : createCipheriv('chacha20-poly1305', k, n, { authTagLength: 16 });
  c.setAAD(aad(head, objType, id));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([head, body, c.getAuthTag()]);
}

const PLAINTEXTS = [
  Buffer.alloc(0),
  Buffer.from('x'),
  pseudoRandom(15, 'pt 15'),
  pseudoRandom(16, 'pt 16'),
  pseudoRandom(17, 'pt 17'),
  textLike(10_000),
  pseudoRandom(1_000_003, 'pt 1M'),
];

for (const suite of AEADS) {
  test(`${suite}: hoard's blobs have the documented header and decrypt with node:crypto`, async (t) => {
    const key = newKey(MASTER, suite, 'hmac-sha256');
    const session = key.newSession();
    t.is(session.id.length, 16);
    for (const [i, pt] of PLAINTEXTS.entries()) {
      const id = key.chunkId(pt);
      const objType = i * 31;
      const blob = await session.seal(objType, id, pt);
      t.is(blob.length, 26 + pt.length + 16);
      t.is(blob[0], 1, 'envelope version');
      t.is(blob[1], SUITE_BYTES[suite], 'suite byte');
      sameBytes(t, blob.subarray(2, 18), session.id, 'session id');
      t.is(blob.readBigUInt64LE(18), BigInt(i), 'counter');
      if (pt.length >= 16) t.notDeepEqual(blob.subarray(26, 26 + pt.length), pt, 'the body is encrypted');
      sameBytes(t, nodeOpen(MASTER, suite, objType, id, blob), pt, `${pt.length} bytes`);
      sameBytes(t, await key.open(objType, id, blob), pt);
      // node:crypto itself refuses the blob as another object type or id.
      t.throws(() => nodeOpen(MASTER, suite, objType ^ 1, id, blob));
    }
  });

  test(`${suite}: blobs encrypted by node:crypto open in hoard, with any session id and counter`, async (t) => {
    const key = newKey(MASTER, suite, 'hmac-sha256');
    for (const [i, counter] of [0n, 1n, 0xffffn, 2n ** 32n - 1n, 2n ** 40n + 5n, 2n ** 64n - 1n].entries()) {
      const sessionId = pseudoRandom(16, `session ${i}`);
      const pt = pseudoRandom(100 * i + 1, `forged ${i}`);
      const id = key.chunkId(pt);
      const blob = nodeSeal(MASTER, suite, sessionId, counter, 200 + i, id, pt);
      sameBytes(t, await key.open(200 + i, id, blob), pt, `counter ${counter}`);
      await t.throwsAsync(key.open(201 + i, id, blob), { instanceOf: IntegrityError });
    }
    // The other AEAD's blob, or one sealed under another master key, is refused.
    const other = suite === 'aes-256-gcm' ? 'chacha20-poly1305' : 'aes-256-gcm';
    const id = pseudoRandom(32, 'cross id');
    const pt = Buffer.from('cross');
    await t.throwsAsync(key.open(1, id, nodeSeal(MASTER, other, pseudoRandom(16, 's'), 0n, 1, id, pt)), { instanceOf: IntegrityError });
    await t.throwsAsync(key.open(1, id, nodeSeal(pseudoRandom(64, 'x'), suite, pseudoRandom(16, 's'), 0n, 1, id, pt)), { instanceOf: IntegrityError });
    // A blob whose header names the suite but whose key is derived with the other suite's info.
    const head = header(suite, pseudoRandom(16, 's2'), 0n);
    const wrongInfo = hkdf(hkdf(MASTER, 'hoard master key', `hoard/1 encryption ${suite}`), head.subarray(2, 18), `hoard/1 session ${other}`);
    const c = createCipheriv('chacha20-poly1305', wrongInfo, nonce(0n), { authTagLength: 16 });
    c.setAAD(aad(head, 1, id), { plaintextLength: pt.length });
    const body = Buffer.concat([c.update(pt), c.final()]);
    await t.throwsAsync(key.open(1, id, Buffer.concat([head, body, c.getAuthTag()])), { instanceOf: IntegrityError });
  });

  test(`${suite}: the nonce is the counter, little endian, then four zero bytes`, async (t) => {
    const key = newKey(MASTER, suite, 'keyed-blake3');
    const sessionId = pseudoRandom(16, 'nonce session');
    const id = pseudoRandom(32, 'nonce id');
    const pt = textLike(500);
    const blob = nodeSeal(MASTER, suite, sessionId, 0x0102030405060708n, 9, id, pt);
    sameBytes(t, await key.open(9, id, blob), pt);
    // Changing the counter in the header changes the nonce (and the AAD): authentication fails.
    const moved = Buffer.from(blob);
    moved.writeBigUInt64LE(0x0102030405060709n, 18);
    await t.throwsAsync(key.open(9, id, moved), { instanceOf: IntegrityError });
    // A nonce with the counter big endian is not hoard's.
    const head = header(suite, sessionId, 0x0102030405060708n);
    const be = Buffer.alloc(12);
    be.writeBigUInt64BE(0x0102030405060708n, 0);
    const c = suite === 'aes-256-gcm'
      ? createCipheriv('aes-256-gcm', sessionKey(MASTER, suite, sessionId), be)
      : createCipheriv('chacha20-poly1305', sessionKey(MASTER, suite, sessionId), be, { authTagLength: 16 });
    c.setAAD(aad(head, 9, id));
    const body = Buffer.concat([c.update(pt), c.final()]);
    await t.throwsAsync(key.open(9, id, Buffer.concat([head, body, c.getAuthTag()])), { instanceOf: IntegrityError });
  });
}

for (const suite of SUITES) {
  test(`${suite}: a flipped bit anywhere in a blob is refused`, async (t) => {
    const key = newKey(MASTER, suite, 'keyed-blake3');
    const pt = textLike(3000);
    const id = key.chunkId(pt);
    const blob = await key.newSession().seal(5, id, pt);
    sameBytes(t, await key.open(5, id, blob), pt);
    const offsets = new Set([0, 1, 2, 10, 17, 18, 19, 25, 26, 27, 100, 26 + pt.length - 1, blob.length - 16, blob.length - 9, blob.length - 1]);
    for (let o = 0; o < blob.length; o += 97) offsets.add(o);
    for (const offset of offsets) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(blob);
        bad[offset] = bad[offset]! ^ bit;
        const e = await t.throwsAsync(key.open(5, id, bad), undefined, `offset ${offset} bit ${bit}`);
        t.true(e instanceof IntegrityError || e instanceof CorruptDataError, `offset ${offset}: ${String(e)}`);
        if (offset === 0) t.true(e instanceof CorruptDataError, 'an unknown envelope version is structural damage');
        if (offset >= 2) t.true(e instanceof IntegrityError, `offset ${offset} fails authentication`);
      }
    }
  });

  test(`${suite}: a blob opens only as the object type and id it was sealed as, under its own key`, async (t) => {
    const key = newKey(MASTER, suite, 'hmac-sha256');
    const pt = pseudoRandom(777, 'which object');
    const id = key.chunkId(pt);
    const blob = await key.newSession().seal(42, id, pt);
    sameBytes(t, await key.open(42, id, blob), pt);
    for (const objType of [0, 41, 43, 255]) {
      await t.throwsAsync(key.open(objType, id, blob), { instanceOf: IntegrityError }, `type ${objType}`);
    }
    const otherId = Buffer.from(id);
    otherId[31] = otherId[31]! ^ 1;
    await t.throwsAsync(key.open(42, otherId, blob), { instanceOf: IntegrityError });
    await t.throwsAsync(key.open(42, Buffer.alloc(32), blob), { instanceOf: IntegrityError });
    if (suite !== 'plaintext-blake3') {
      // plaintext-blake3 has no key; every other suite needs the right master key.
      const stranger = newKey(pseudoRandom(64, 'stranger'), suite, 'hmac-sha256');
      await t.throwsAsync(stranger.open(42, id, blob), { instanceOf: IntegrityError });
    } else {
      sameBytes(t, await newKey(pseudoRandom(64, 'stranger'), suite, 'hmac-sha256').open(42, id, blob), pt,
        'a checksum-only blob opens under any master key');
    }
    // Any other suite refuses it, and so does the same master with another suite.
    for (const other of SUITES.filter((s) => s !== suite)) {
      const e = await t.throwsAsync(newKey(MASTER, other, 'hmac-sha256').open(42, id, blob), { instanceOf: IntegrityError });
      t.regex(e?.message ?? '', new RegExp(`sealed with ${suite}`));
    }
  });

  test(`${suite}: truncated and extended blobs are refused`, async (t) => {
    const key = newKey(MASTER, suite, 'hmac-sha256');
    const pt = pseudoRandom(200, 'truncate');
    const id = key.chunkId(pt);
    const blob = await key.newSession().seal(1, id, pt);
    for (const len of [0, 1, 25, 26, 41]) {
      await t.throwsAsync(key.open(1, id, blob.subarray(0, len)), { instanceOf: CorruptDataError }, `${len} bytes`);
    }
    for (const len of [42, 43, 100, blob.length - 16, blob.length - 1]) {
      await t.throwsAsync(key.open(1, id, blob.subarray(0, len)), { instanceOf: IntegrityError }, `${len} bytes`);
    }
    await t.throwsAsync(key.open(1, id, Buffer.concat([blob, Buffer.of(0)])), { instanceOf: IntegrityError });
    // The empty plaintext seals to exactly the 42 bytes of header and tag.
    const empty = await key.newSession().seal(1, id, Buffer.alloc(0));
    t.is(empty.length, 42);
    sameBytes(t, await key.open(1, id, empty), Buffer.alloc(0));
  });
}

test('a session counts its blobs from 0 and two sessions have different ids', async (t) => {
  const key = newKey(MASTER, 'aes-256-gcm', 'keyed-blake3');
  const session = key.newSession();
  const pt = Buffer.from('same plaintext');
  const id = key.chunkId(pt);
  const blobs: Buffer[] = [];
  for (let i = 0; i < 6; i += 1) blobs.push(await session.seal(1, id, pt));
  t.deepEqual(blobs.map((b) => b.readBigUInt64LE(18)), [0n, 1n, 2n, 3n, 4n, 5n]);
  t.is(new Set(blobs.map((b) => b.subarray(26).toString('hex'))).size, 6, 'a new nonce each time: no two ciphertexts agree');
  t.true(blobs.every((b) => b.subarray(2, 18).equals(session.id)));
  sameBytes(t, session.id, session.id, 'the id is stable');

  const ids = new Set<string>();
  for (let i = 0; i < 20; i += 1) ids.add(key.newSession().id.toString('hex'));
  ids.add(session.id.toString('hex'));
  t.is(ids.size, 21, 'random session ids');
  const second = key.newSession();
  const other = await second.seal(1, id, pt);
  t.is(other.readBigUInt64LE(18), 0n, 'a new session starts at 0 again');
  t.notDeepEqual(other.subarray(26), blobs[0]!.subarray(26), 'same counter, another session key');
  sameBytes(t, nodeOpen(MASTER, 'aes-256-gcm', 1, id, other), pt);
});

test('concurrent seals in one session get distinct counters, and all open', async (t) => {
  const key = newKey(MASTER, 'chacha20-poly1305', 'keyed-blake3');
  const session = key.newSession();
  const pts = Array.from({ length: 64 }, (_, i) => pseudoRandom(1000 + i * 500, `concurrent ${i}`));
  const blobs = await Promise.all(pts.map((pt, i) => session.seal(i, key.chunkId(pt), pt)));
  const counters = blobs.map((b) => Number(b.readBigUInt64LE(18))).sort((a, b) => a - b);
  t.deepEqual(counters, Array.from({ length: 64 }, (_, i) => i));
  for (const [i, blob] of blobs.entries()) {
    sameBytes(t, nodeOpen(MASTER, 'chacha20-poly1305', i, key.chunkId(pts[i]!), blob), pts[i]!);
  }
  const opened = await Promise.all(blobs.map((blob, i) => key.open(i, key.chunkId(pts[i]!), blob)));
  t.true(opened.every((o, i) => o.equals(pts[i]!)));
});

test('seal and open refuse ids that are not 32 bytes', async (t) => {
  const key: Key = newKey(MASTER, 'aes-256-gcm', 'hmac-sha256');
  const session = key.newSession();
  for (const len of [0, 16, 31, 33, 64]) {
    await t.throwsAsync(async () => session.seal(1, Buffer.alloc(len), Buffer.from('x')), { instanceOf: InvalidArgumentError }, `${len}`);
    await t.throwsAsync(async () => key.open(1, Buffer.alloc(len), Buffer.alloc(100)), { instanceOf: InvalidArgumentError }, `${len}`);
  }
  // The failed calls did not use up a counter.
  const blob = await session.seal(1, Buffer.alloc(32), Buffer.from('x'));
  t.is(blob.readBigUInt64LE(18), 0n);
});

test('errors from opening are typed HoardErrors with stable codes', async (t) => {
  const key = newKey(MASTER, 'aes-256-gcm', 'hmac-sha256');
  const id = Buffer.alloc(32);
  const blob = await key.newSession().seal(1, id, Buffer.from('typed'));
  const bad = Buffer.from(blob);
  bad[30] = bad[30]! ^ 4;
  const integrity = await t.throwsAsync(key.open(1, id, bad), { instanceOf: HoardError });
  t.is(integrity?.code, 'HOARD_INTEGRITY');
  t.is(integrity?.name, 'IntegrityError');
  const corrupt = await t.throwsAsync(key.open(1, id, blob.subarray(0, 10)), { instanceOf: HoardError });
  t.is(corrupt?.code, 'HOARD_CORRUPT');
  t.false(/^HOARD_/.test(corrupt?.message ?? ''), 'the code is not repeated in the message');
});
