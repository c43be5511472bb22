/**
 * Everything hoard computes with BLAKE3, checked against a from-scratch BLAKE3 written here (node
 * has none) that is itself checked against the official test vectors: keyed-blake3 and blake3
 * chunk ids, the blake3-mac and plaintext-blake3 envelope tags, and the chunkers' tables, with
 * independent Buzhash and FastCDC implementations that must cut where hoard cuts.
 */
import { hkdfSync } from 'node:crypto';

import test from 'ava';

import { CorruptDataError, IntegrityError } from '../dist/errors.js';
import { chunkBuffer, newKey } from '../dist/native.js';
import { pseudoRandom, textLike } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// BLAKE3, after the reference implementation's description (github.com/BLAKE3-team/BLAKE3).

const IV = Uint32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const KEYED_HASH = 16;
const CHUNK_LEN = 1024;
const BLOCK_LEN = 64;

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

function g(s: Uint32Array, a: number, b: number, c: number, d: number, x: number, y: number): void {
  s[a] = s[a]! + s[b]! + x;
  s[d] = rotr(s[d]! ^ s[a]!, 16);
  s[c] = s[c]! + s[d]!;
  s[b] = rotr(s[b]! ^ s[c]!, 12);
  s[a] = s[a]! + s[b]! + y;
  s[d] = rotr(s[d]! ^ s[a]!, 8);
  s[c] = s[c]! + s[d]!;
  s[b] = rotr(s[b]! ^ s[c]!, 7);
}

function compress(cv: Uint32Array, block: Uint32Array, counter: number, blockLen: number, flags: number): Uint32Array {
  const s = new Uint32Array(16);
  s.set(cv.subarray(0, 8), 0);
  s.set(IV.subarray(0, 4), 8);
  s[12] = counter % 2 ** 32;
  s[13] = Math.floor(counter / 2 ** 32);
  s[14] = blockLen;
  s[15] = flags;
  let m = Uint32Array.from(block);
  for (let round = 0; round < 7; round += 1) {
    g(s, 0, 4, 8, 12, m[0]!, m[1]!);
    g(s, 1, 5, 9, 13, m[2]!, m[3]!);
    g(s, 2, 6, 10, 14, m[4]!, m[5]!);
    g(s, 3, 7, 11, 15, m[6]!, m[7]!);
    g(s, 0, 5, 10, 15, m[8]!, m[9]!);
    g(s, 1, 6, 11, 12, m[10]!, m[11]!);
    g(s, 2, 7, 8, 13, m[12]!, m[13]!);
    g(s, 3, 4, 9, 14, m[14]!, m[15]!);
    const prev = m;
    m = Uint32Array.from(PERMUTATION, (p) => prev[p]!);
  }
  for (let i = 0; i < 8; i += 1) {
    s[i] = s[i]! ^ s[i + 8]!;
    s[i + 8] = s[i + 8]! ^ cv[i]!;
  }
  return s;
}

/** Up to 64 bytes of `data` from `off` as 16 little-endian words, zero padded. */
function blockWords(data: Uint8Array, off: number, len: number): Uint32Array {
  const padded = Buffer.alloc(BLOCK_LEN);
  padded.set(data.subarray(off, off + len));
  return Uint32Array.from({ length: 16 }, (_, i) => padded.readUInt32LE(4 * i));
}

interface Output {
  cv: Uint32Array;
  block: Uint32Array;
  counter: number;
  blockLen: number;
  flags: number;
}

function chainingValue(o: Output): Uint32Array {
  return compress(o.cv, o.block, o.counter, o.blockLen, o.flags).slice(0, 8);
}

/** The output of one chunk (`data[start..end)`, at most 1024 bytes) before its last compression. */
function chunkOutput(data: Uint8Array, start: number, end: number, counter: number, key: Uint32Array, base: number): Output {
  const len = end - start;
  const blocks = Math.max(1, Math.ceil(len / BLOCK_LEN));
  let cv = key;
  for (let j = 0; j < blocks - 1; j += 1) {
    const flags = base | (j === 0 ? CHUNK_START : 0);
    cv = compress(cv, blockWords(data, start + j * BLOCK_LEN, BLOCK_LEN), counter, BLOCK_LEN, flags).slice(0, 8);
  }
  const lastLen = len - (blocks - 1) * BLOCK_LEN;
  return {
    cv,
    block: blockWords(data, start + (blocks - 1) * BLOCK_LEN, lastLen),
    counter,
    blockLen: lastLen,
    flags: base | CHUNK_END | (blocks === 1 ? CHUNK_START : 0),
  };
}

function parentOutput(left: Uint32Array, right: Uint32Array, key: Uint32Array, base: number): Output {
  const block = new Uint32Array(16);
  block.set(left, 0);
  block.set(right, 8);
  return { cv: key, block, counter: 0, blockLen: BLOCK_LEN, flags: base | PARENT };
}

/** BLAKE3 of `data` (keyed when `key` is given), `outLen` bytes of extendable output. */
function blake3(data: Uint8Array, key?: Uint8Array, outLen = 32): Buffer {
  const keyWords = key === undefined ? IV : blockWords(key, 0, 32).slice(0, 8);
  const base = key === undefined ? 0 : KEYED_HASH;
  const chunks = Math.max(1, Math.ceil(data.length / CHUNK_LEN));
  const stack: Uint32Array[] = [];
  for (let c = 0; c < chunks - 1; c += 1) {
    let cv = chainingValue(chunkOutput(data, c * CHUNK_LEN, (c + 1) * CHUNK_LEN, c, keyWords, base));
    // Merge completed subtrees: as many as there are trailing zero bits in the chunk count.
    for (let total = c + 1; total % 2 === 0; total /= 2) {
      cv = chainingValue(parentOutput(stack.pop()!, cv, keyWords, base));
    }
    stack.push(cv);
  }
  let out = chunkOutput(data, (chunks - 1) * CHUNK_LEN, data.length, chunks - 1, keyWords, base);
  while (stack.length > 0) {
    out = parentOutput(stack.pop()!, chainingValue(out), keyWords, base);
  }
  const bytes = Buffer.alloc(Math.ceil(outLen / 64) * 64);
  for (let i = 0; i * 64 < outLen; i += 1) {
    const words = compress(out.cv, out.block, i, out.blockLen, out.flags | ROOT);
    words.forEach((w, j) => bytes.writeUInt32LE(w, i * 64 + 4 * j));
  }
  return bytes.subarray(0, outLen);
}

// ---------------------------------------------------------------------------------------------
// The official test vectors (BLAKE3-team/BLAKE3, test_vectors/test_vectors.json): input is the
// repeating bytes 0..250; the key is "whats the Elvish word for friend".

const VECTOR_KEY = Buffer.from('whats the Elvish word for friend');

function vectorInput(len: number): Buffer {
  return Buffer.from(Array.from({ length: len }, (_, i) => i % 251));
}

const VECTORS: { len: number; hash: string; keyed: string }[] = [
  {
    len: 0,
    hash: 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262e00f03e7b69af26b7faaf09fcd333050338ddfe085b8cc869ca98b206c08243a26f5487789e8f660afe6c99ef9e0c52b92e7393024a80459cf91f476f9ffdbda7001c22e159b402631f277ca96f2defdf1078282314e763699a31c5363165421cce14d',
    keyed: '92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26b18171a2f22a4b94822c701f107153dba24918c4bae4d2945c20ece13387627d3b73cbf97b797d5e59948c7ef788f54372df45e45e4293c7dc18c1d41144a9758be58960856be1eabbe22c2653190de560ca3b2ac4aa692a9210694254c371e851bc8f',
  },
  {
    len: 1,
    hash: '2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213c3a6cb8bf623e20cdb535f8d1a5ffb86342d9c0b64aca3bce1d31f60adfa137b358ad4d79f97b47c3d5e79f179df87a3b9776ef8325f8329886ba42f07fb138bb502f4081cbcec3195c5871e6c23e2cc97d3c69a613eba131e5f1351f3f1da786545e5',
    keyed: '6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b6568c0490609413006fbd428eb3fd14e7756d90f73a4725fad147f7bf70fd61c4e0cf7074885e92b0e3f125978b4154986d4fb202a3f331a3fb6cf349a3a70e49990f98fe4289761c8602c4e6ab1138d31d3b62218078b2f3ba9a88e1d08d0dd4cea11',
  },
  {
    len: 1023,
    hash: '10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11a182d27a591b05592b15607500e1e8dd56bc6c7fc063715b7a1d737df5bad3339c56778957d870eb9717b57ea3d9fb68d1b55127bba6a906a4a24bbd5acb2d123a37b28f9e9a81bbaae360d58f85e5fc9d75f7c370a0cc09b6522d9c8d822f2f28f485',
    keyed: 'c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e890316d2e6d8b8c25b0a5b2180f94fb1a158ef508c3cde45e2966bd796a696d3e13efd86259d756387d9becf5c8bf1ce2192b87025152907b6d8cc33d17826d8b7b9bc97e38c3c85108ef09f013e01c229c20a83d9e8efac5b37470da28575fd755a10',
  },
  {
    len: 1024,
    hash: '42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af71cf8107265ecdaf8505b95d8fcec83a98a6a96ea5109d2c179c47a387ffbb404756f6eeae7883b446b70ebb144527c2075ab8ab204c0086bb22b7c93d465efc57f8d917f0b385c6df265e77003b85102967486ed57db5c5ca170ba441427ed9afa684e',
    keyed: '75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4a78bc838c72852d4f49c864acb7adafe2478e824afe51c8919d06168414c265f298a8094b1ad813a9b8614acabac321f24ce61c5a5346eb519520d38ecc43e89b5000236df0597243e4d2493fd626730e2ba17ac4d8824d09d1a4a8f57b8227778e2de',
  },
  {
    len: 1025,
    hash: 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444f4c4a22b4b399155358a994e52bf255de60035742ec71bd08ac275a1b51cc6bfe332b0ef84b409108cda080e6269ed4b3e2c3f7d722aa4cdc98d16deb554e5627be8f955c98e1d5f9565a9194cad0c4285f93700062d9595adb992ae68ff12800ab67a',
    keyed: '357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69362396b77fdc0d2634a552970843722066c3c15902ae5097e00ff53f1e116f1cd5352720113a837ab2452cafbde4d54085d9cf5d21ca613071551b25d52e69d6c81123872b6f19cd3bc1333edf0c52b94de23ba772cf82636cff4542540a7738d5b930',
  },
  {
    len: 3073,
    hash: '7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd39a27ae3b79d68d89da9bf25bc27139ae65a324918a5f9b7828181e52cf373c84f35b639b7fccbb985b6f2fa56aea0c18f531203497b8bbd3a07ceb5926f1cab74d14bd66486d9a91eba99059a98bd1cd25876b2af5a76c3e9eed554ed72ea952b603bf',
    keyed: '68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a96d6da3fe985054d3478865be9a092250839a697bbda74e279e8a9e69f0025e4cfddd6cfb434b1cd9543aaf97c635d1b451a4386041e4bb100f5e45407cbbc24fa53ea2de3536ccb329e4eb9466ec37093a42cf62b82903c696a93a50b702c80f3c3c5',
  },
  {
    len: 8193,
    hash: 'bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3bb2282aa69be089359ea1154b9a9286c4a56af4de975a9aa4a5c497654914d279bea60bb6d2cf7225a2fa0ff5ef56bbe4b149f3ed15860f78b4e2ad04e158e375c1e0c0b551cd7dfc82f1b155c11b6b3ed51ec9edb30d133653bb5709d1dbd55f4e1ff6',
    keyed: '954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5f03228648fd983aef045c2fa8290934b0866b615f585149587dda2299039965328835a2b18f1d63b7e300fc76ff260b571839fe44876a4eae66cbac8c67694411ed7e09df51068a22c6e67d6d3dd2cca8ff12e3275384006c80f4db68023f24eebba57',
  },
  {
    len: 31744,
    hash: '62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47860cc51f2b0c28a7b77304bd55fe73af663c02d3f52ea053ba43431ca5bab7bfea2f5e9d7121770d88f70ae9649ea713087d1914f7f312147e247f87eb2d4ffef0ac978bf7b6579d57d533355aa20b8b77b13fd09748728a5cc327a8ec470f4013226f',
    keyed: 'efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a4193a7258db2d9cd32a7a3ecfce46144114b15c2fcb68a618a976bd74515d47be08b628be420b5e830fade7c080e351a076fbc38641ad80c736c8a18fe3c66ce12f95c61c2462a9770d60d0f77115bbcd3782b593016a4e728d4c06cee4505cb0c08a42ec',
  },
  {
    len: 102400,
    hash: 'bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085e01c59dab908c04c3342b816941a26d69c2605ebee5ec5291cc55e15b76146e6745f0601156c3596cb75065a9c57f35585a52e1ac70f69131c23d611ce11ee4ab1ec2c009012d236648e77be9295dd0426f29b764d65de58eb7d01dd42248204f45f8e',
    keyed: '1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7f9dbdd3e1d81dcbca3ba241bb18760f207710b751846faaeb9dff8262710999a59b2aa1aca298a032d94eacfadf1aa192418eb54808db23b56e34213266aa08499a16b354f018fc4967d05f8b9d2ad87a7278337be9693fc638a3bfdbe314574ee6fc4',
  },
];

test('the BLAKE3 written here reproduces the official test vectors (hash, keyed hash, extended output)', (t) => {
  for (const v of VECTORS) {
    const input = vectorInput(v.len);
    t.is(blake3(input, undefined, 131).toString('hex'), v.hash, `hash of ${v.len} bytes`);
    t.is(blake3(input, VECTOR_KEY, 131).toString('hex'), v.keyed, `keyed hash of ${v.len} bytes`);
    t.is(blake3(input).toString('hex'), v.hash.slice(0, 64), `32-byte hash of ${v.len} bytes`);
  }
});

// ---------------------------------------------------------------------------------------------
// Chunk ids.

const MASTER = pseudoRandom(64, 'blake3 master');
const SUITES = ['aes-256-gcm', 'chacha20-poly1305', 'blake3-mac', 'plaintext-blake3'] as const;

function subkey(master: Buffer, purpose: string, suite: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, 'hoard master key', `hoard/1 ${purpose} ${suite}`, 32));
}

const SAMPLES = [
  Buffer.alloc(0),
  Buffer.from('a'),
  vectorInput(1024),
  vectorInput(1025),
  pseudoRandom(70_000, 'blake3 sample'),
  textLike(300_000),
];

test('blake3 chunk ids (plaintext-blake3 only) are plain BLAKE3, whatever the master key', (t) => {
  const key = newKey(MASTER, 'plaintext-blake3', 'blake3');
  const other = newKey(pseudoRandom(32, 'another master'), 'plaintext-blake3', 'blake3');
  for (const data of SAMPLES) {
    const id = key.chunkId(data);
    t.is(id.toString('hex'), blake3(data).toString('hex'), `${data.length} bytes`);
    t.deepEqual(other.chunkId(data), id);
  }
  t.is(key.chunkId(Buffer.alloc(0)).toString('hex'),
    'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
});

test('keyed-blake3 chunk ids are BLAKE3 keyed with the chunk-id subkey of the suite', (t) => {
  for (const suite of SUITES) {
    const key = newKey(MASTER, suite, 'keyed-blake3');
    const idKey = subkey(MASTER, 'chunk-id', suite);
    for (const data of SAMPLES) {
      t.is(key.chunkId(data).toString('hex'), blake3(data, idKey).toString('hex'), `${suite}, ${data.length} bytes`);
      t.notDeepEqual(key.chunkId(data), blake3(data), 'keyed ids are not unkeyed ones');
    }
  }
  // The same data under another master key or suite gets another id.
  const data = SAMPLES[4]!;
  const a = newKey(MASTER, 'aes-256-gcm', 'keyed-blake3').chunkId(data);
  t.notDeepEqual(newKey(MASTER, 'chacha20-poly1305', 'keyed-blake3').chunkId(data), a);
  t.notDeepEqual(newKey(pseudoRandom(64, 'other'), 'aes-256-gcm', 'keyed-blake3').chunkId(data), a);
});

// ---------------------------------------------------------------------------------------------
// blake3-mac and plaintext-blake3 envelopes: the tag is the first 16 bytes of BLAKE3 (keyed with
// the session key for blake3-mac, unkeyed for plaintext-blake3) over AAD || plaintext.

const SUITE_BYTE: Record<string, number> = { 'plaintext-blake3': 0, 'blake3-mac': 1 };

function sessionKey(suite: string, sessionId: Buffer): Buffer {
  const enc = subkey(MASTER, 'encryption', suite);
  return Buffer.from(hkdfSync('sha256', enc, sessionId, `hoard/1 session ${suite}`, 32));
}

function header(suite: string, sessionId: Buffer, counter: bigint): Buffer {
  const h = Buffer.alloc(26);
  h[0] = 1;
  h[1] = SUITE_BYTE[suite]!;
  sessionId.copy(h, 2);
  h.writeBigUInt64LE(counter, 18);
  return h;
}

function tag(suite: string, aad: Buffer, body: Buffer): Buffer {
  const mac = suite === 'blake3-mac' ? sessionKey(suite, aad.subarray(2, 18)) : undefined;
  return blake3(Buffer.concat([aad, body]), mac).subarray(0, 16);
}

for (const suite of ['blake3-mac', 'plaintext-blake3']) {
  test(`${suite} blobs carry the plaintext and a BLAKE3 tag over header, type, id and plaintext`, async (t) => {
    const key = newKey(MASTER, suite, 'keyed-blake3');
    const session = key.newSession();
    for (const [i, data] of [Buffer.alloc(0), Buffer.from('hello'), pseudoRandom(5000, 'mac body')].entries()) {
      const id = key.chunkId(data);
      const objType = 7 + i;
      const blob = await session.seal(objType, id, data);
      t.is(blob.length, 26 + data.length + 16);
      const head = blob.subarray(0, 26);
      t.deepEqual(head, header(suite, session.id, BigInt(i)));
      t.deepEqual(blob.subarray(26, 26 + data.length), data, 'the body is the plaintext');
      const aad = Buffer.concat([head, Buffer.of(objType), id]);
      t.is(blob.subarray(26 + data.length).toString('hex'), tag(suite, aad, data).toString('hex'));
      t.deepEqual(await key.open(objType, id, blob), data);
    }
  });

  test(`${suite} blobs made here open in hoard, and a changed body or tag does not`, async (t) => {
    const key = newKey(MASTER, suite, 'hmac-sha256');
    const sessionId = pseudoRandom(16, `forged session ${suite}`);
    const data = textLike(4000);
    const id = pseudoRandom(32, 'forged id');
    const head = header(suite, sessionId, 0xdead_beefn);
    const aad = Buffer.concat([head, Buffer.of(3), id]);
    const blob = Buffer.concat([head, data, tag(suite, aad, data)]);
    t.deepEqual(await key.open(3, id, blob), data);

    const body = Buffer.from(blob);
    body[26 + 100] = body[26 + 100]! ^ 0x01;
    await t.throwsAsync(key.open(3, id, body), { instanceOf: IntegrityError });
    const tagged = Buffer.from(blob);
    tagged[tagged.length - 1] = tagged[tagged.length - 1]! ^ 0x80;
    await t.throwsAsync(key.open(3, id, tagged), { instanceOf: IntegrityError });
    await t.throwsAsync(key.open(4, id, blob), { instanceOf: IntegrityError });
    // A body that is consistent with its tag but the tag is not over AAD (e.g. body only).
    const bodyOnly = Buffer.concat([head, data, blake3(data).subarray(0, 16)]);
    await t.throwsAsync(key.open(3, id, bodyOnly), { instanceOf: IntegrityError });
  });
}

test('a blake3-mac tag needs the session key: an unkeyed tag or another master key is refused', async (t) => {
  const key = newKey(MASTER, 'blake3-mac', 'keyed-blake3');
  const sessionId = pseudoRandom(16, 'mac session');
  const data = Buffer.from('authenticated but not secret');
  const id = blake3(data);
  const head = header('blake3-mac', sessionId, 0n);
  const aad = Buffer.concat([head, Buffer.of(1), id]);
  const unkeyed = Buffer.concat([head, data, blake3(Buffer.concat([aad, data])).subarray(0, 16)]);
  await t.throwsAsync(key.open(1, id, unkeyed), { instanceOf: IntegrityError });
  const good = Buffer.concat([head, data, tag('blake3-mac', aad, data)]);
  t.deepEqual(await key.open(1, id, good), data);
  const stranger = newKey(pseudoRandom(64, 'stranger'), 'blake3-mac', 'keyed-blake3');
  await t.throwsAsync(stranger.open(1, id, good), { instanceOf: IntegrityError });
  // A plaintext-blake3 repository refuses a blake3-mac blob (a downgrade or a mix-up).
  const plain = newKey(MASTER, 'plaintext-blake3', 'keyed-blake3');
  await t.throwsAsync(plain.open(1, id, good), { instanceOf: IntegrityError });
  // And a suite byte no suite has is structural damage.
  const unknown = Buffer.from(good);
  unknown[1] = 0x09;
  await t.throwsAsync(key.open(1, id, unknown), { instanceOf: CorruptDataError });
});

// ---------------------------------------------------------------------------------------------
// Chunkers: tables from the seed's keyed BLAKE3 output stream, and the cut rules of
// crates/hoard-core/src/chunker (buzhash.rs, fastcdc.rs, fixed.rs) reimplemented plainly.

function rotl(x: number, n: number): number {
  return n === 0 ? x >>> 0 : ((x << n) | (x >>> (32 - n))) >>> 0;
}

function buzhashTable(seed: Buffer): Uint32Array {
  const bytes = blake3(Buffer.from('hoard chunker table buzhash'), seed, 1024);
  return Uint32Array.from({ length: 256 }, (_, i) => bytes.readUInt32LE(4 * i));
}

/** Buzhash: a cut at `e` when `e >= max(2^min, w)` and the window hash ending there has its low `mask` bits zero. */
function referenceBuzhash(data: Buffer, minExp: number, maxExp: number, maskBits: number, window: number, seed: Buffer): number[] {
  const table = buzhashTable(seed);
  const lo = Math.max(2 ** minExp, window);
  const max = 2 ** maxExp;
  const mask = 2 ** maskBits - 1;
  const lens: number[] = [];
  for (let s = 0; s < data.length;) {
    const limit = Math.min(data.length - s, max);
    if (limit < lo) {
      lens.push(data.length - s);
      break;
    }
    // The hash of a window is the XOR of each byte's table word rotated by its distance from the end.
    let h = 0;
    for (let i = 0; i < window; i += 1) h ^= rotl(table[data[s + lo - window + i]!]!, (window - 1 - i) % 32);
    let e = lo;
    while ((h & mask) !== 0 && e < limit) {
      h = rotl(h, 1) ^ rotl(table[data[s + e - window]!]!, window % 32) ^ table[data[s + e]!]!;
      e += 1;
    }
    lens.push(e);
    s += e;
  }
  return lens;
}

/** The 256 64-bit Gear words, as [high, low] 32-bit halves. */
function gearTable(seed: Buffer): { hi: Uint32Array; lo: Uint32Array } {
  const bytes = blake3(Buffer.from('hoard chunker table gear'), seed, 2048);
  return {
    hi: Uint32Array.from({ length: 256 }, (_, i) => bytes.readUInt32LE(8 * i + 4)),
    lo: Uint32Array.from({ length: 256 }, (_, i) => bytes.readUInt32LE(8 * i)),
  };
}

/** A mask of the top `bits` bits of 64, as [high, low]. */
function topBits(bits: number): [number, number] {
  if (bits <= 0) return [0, 0];
  if (bits <= 32) return [(0xffffffff << (32 - bits)) >>> 0, 0];
  return [0xffffffff, (0xffffffff << (64 - bits)) >>> 0];
}

/**
 * FastCDC: the Gear hash h = 2h + G[b] (mod 2^64) of everything since the chunk start; a cut at
 * `e >= 2^min` where the top mask+nc bits are zero (up to 2^mask) or the top mask-nc bits (beyond).
 */
function referenceFastCdc(data: Buffer, minExp: number, maxExp: number, maskBits: number, nc: number, seed: Buffer): number[] {
  const gear = gearTable(seed);
  const [smallHi, smallLo] = topBits(maskBits + nc);
  const [largeHi, largeLo] = topBits(Math.max(0, maskBits - nc));
  const min = 2 ** minExp;
  const normal = 2 ** maskBits;
  const max = 2 ** maxExp;
  const lens: number[] = [];
  for (let s = 0; s < data.length;) {
    const limit = Math.min(data.length - s, max);
    if (limit < min) {
      lens.push(data.length - s);
      break;
    }
    let hi = 0;
    let lo = 0;
    const roll = (b: number): void => {
      const nextHi = ((hi << 1) | (lo >>> 31)) >>> 0;
      const sumLo = ((lo << 1) >>> 0) + gear.lo[b]!;
      lo = sumLo >>> 0;
      hi = (nextHi + gear.hi[b]! + (sumLo > 0xffffffff ? 1 : 0)) >>> 0;
    };
    for (let e = 0; e < min; e += 1) roll(data[s + e]!);
    let e = min;
    for (;;) {
      const [mHi, mLo] = e <= normal ? [smallHi, smallLo] : [largeHi, largeLo];
      if ((hi & mHi) === 0 && (lo & mLo) === 0) break;
      if (e >= limit) break;
      roll(data[s + e]!);
      e += 1;
    }
    lens.push(e);
    s += e;
  }
  return lens;
}

function referenceFixed(len: number, block: number, header: number): number[] {
  const lens: number[] = [];
  let s = 0;
  if (header > 0 && len > 0) {
    lens.push(Math.min(header, len));
    s = lens[0]!;
  }
  for (; s < len; s += block) lens.push(Math.min(block, len - s));
  return lens;
}

function zeros(len: number): Buffer {
  return Buffer.alloc(len);
}

/** Data whose statistics change along the way: random, text, zeros and a repeated block. */
function mixed(len: number): Buffer {
  const part = Math.floor(len / 4);
  const block = pseudoRandom(3000, 'mixed block');
  const repeated = Buffer.concat(Array.from({ length: Math.ceil(part / block.length) }, () => block)).subarray(0, part);
  return Buffer.concat([pseudoRandom(part, 'mixed'), textLike(part), zeros(part), repeated, pseudoRandom(len - 4 * part, 'tail')]);
}

const CHUNK_DATA: [string, Buffer][] = [
  ['random', pseudoRandom(1_200_000, 'chunker random')],
  ['mixed', mixed(1_000_003)],
  ['zeros', zeros(300_000)],
  ['short', pseudoRandom(700, 'short')],
  ['empty', Buffer.alloc(0)],
];

test('buzhash cuts where a plain Buzhash over the seed-derived table cuts', async (t) => {
  const seed = pseudoRandom(32, 'buzhash seed');
  const specs: [string, number, number, number, number][] = [
    ['buzhash,10,16,12,63', 10, 16, 12, 63],
    ['buzhash,6,14,8,31', 6, 14, 8, 31],
    // A window longer than the minimum chunk: the first cut may come only after a whole window.
    ['10,14,12,4095', 10, 14, 12, 4095],
    ['buzhash,13,17,13,33', 13, 17, 13, 33],
  ];
  for (const [spec, min, max, mask, window] of specs) {
    for (const [name, data] of CHUNK_DATA) {
      const got = Array.from(await chunkBuffer(spec, seed, data));
      t.deepEqual(got, referenceBuzhash(data, min, max, mask, window, seed), `${spec} on ${name}`);
    }
  }
  // Another seed gives another table and other cuts.
  const data = CHUNK_DATA[0]![1];
  const a = Array.from(await chunkBuffer('buzhash,10,16,12,63', seed, data));
  const b = Array.from(await chunkBuffer('buzhash,10,16,12,63', pseudoRandom(32, 'other seed'), data));
  t.notDeepEqual(a, b);
  t.deepEqual(b, referenceBuzhash(data, 10, 16, 12, 63, pseudoRandom(32, 'other seed')));
});

test('fastcdc cuts where a plain normalized Gear chunker over the seed-derived table cuts', async (t) => {
  const seed = pseudoRandom(32, 'fastcdc seed');
  const specs: [string, number, number, number, number][] = [
    ['fastcdc,10,16,12', 10, 16, 12, 2],
    ['fastcdc,10,16,12,0', 10, 16, 12, 0],
    ['fastcdc,6,12,8,3', 6, 12, 8, 3],
    ['fastcdc,12,18,15,1', 12, 18, 15, 1],
    ['fastcdc,8,8,8,2', 8, 8, 8, 2],
  ];
  for (const [spec, min, max, mask, nc] of specs) {
    for (const [name, data] of CHUNK_DATA) {
      const got = Array.from(await chunkBuffer(spec, seed, data));
      t.deepEqual(got, referenceFastCdc(data, min, max, mask, nc, seed), `${spec} on ${name}`);
    }
  }
});

test('fixed cuts an optional header chunk, then blocks, and ignores the seed', async (t) => {
  const specs: [string, number, number][] = [
    ['fixed,4096', 4096, 0],
    ['fixed,4096,1000', 4096, 1000],
    ['fixed,64,100000', 64, 100000],
    ['fixed,65536,65536', 65536, 65536],
  ];
  for (const [spec, block, head] of specs) {
    for (const [name, data] of CHUNK_DATA) {
      const a = Array.from(await chunkBuffer(spec, pseudoRandom(32, 'one'), data));
      const b = Array.from(await chunkBuffer(spec, pseudoRandom(32, 'two'), data));
      t.deepEqual(a, referenceFixed(data.length, block, head), `${spec} on ${name}`);
      t.deepEqual(b, a);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The BLAKE3 parts of docs/format.md section 8 (master key 000102…1f), recomputed here.

const DOC_MASTER = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

test('section 8: the plaintext-blake3 and blake3-mac blobs are the BLAKE3 tags computed here', async (t) => {
  const vectors: Record<string, string> = {
    'plaintext-blake3': '0100a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000686f61726420666f726d6174207465737420766563746f725fcb1528dba95fbb244445b37b8be9c2',
    'blake3-mac': '0101a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000686f61726420666f726d6174207465737420766563746f72627ec71cbb3f9b4ea463f0d2a50d9104',
  };
  const sessionId = Buffer.from(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
  const id = Buffer.alloc(32, 0x11);
  const pt = Buffer.from('hoard format test vector');
  for (const [suite, hex] of Object.entries(vectors)) {
    const head = header(suite, sessionId, 0n);
    const aad = Buffer.concat([head, Buffer.of(7), id]);
    const enc = subkey(DOC_MASTER, 'encryption', suite);
    const macKey = suite === 'blake3-mac' ? Buffer.from(hkdfSync('sha256', enc, sessionId, `hoard/1 session ${suite}`, 32)) : undefined;
    const blob = Buffer.concat([head, pt, blake3(Buffer.concat([aad, pt]), macKey).subarray(0, 16)]);
    t.is(blob.toString('hex'), hex, suite);
    t.deepEqual(await newKey(DOC_MASTER, suite, 'keyed-blake3').open(7, id, blob), pt);
  }
});

test('section 8: keyed-blake3 id of "abc" and the chunker tables of the aes-256-gcm subkeys', (t) => {
  const idKey = subkey(DOC_MASTER, 'chunk-id', 'aes-256-gcm');
  t.is(blake3(Buffer.from('abc'), idKey).toString('hex'), '2063c396ff37d1d4351870a89b6383ef0eb3cd35419b544f663d1c2ee19aea03');
  const seed = subkey(DOC_MASTER, 'chunker', 'aes-256-gcm');
  const table = buzhashTable(seed);
  const hex32 = (x: number): string => x.toString(16).padStart(8, '0');
  t.is(hex32(table[0]!), 'a6e4cd30');
  t.is(hex32(table[1]!), '8508dc09');
  t.is(hex32(table[255]!), '2cf1feab');
  const gear = gearTable(seed);
  const g64 = (i: number): string => hex32(gear.hi[i]!) + hex32(gear.lo[i]!);
  t.is(g64(0), '22ed309641e93b92');
  t.is(g64(1), '90a6f04fe246497b');
  t.is(g64(255), 'aada02948f064e8e');
});

test('section 8: cut points of buzhash and fastcdc over BLAKE3("hoard chunker vector")[..262144]', async (t) => {
  const seed = subkey(DOC_MASTER, 'chunker', 'aes-256-gcm');
  const data = blake3(Buffer.from('hoard chunker vector'), undefined, 262144);
  const expected: [string, number, number[], number, () => number[]][] = [
    ['buzhash,10,16,12,63', 48, [1423, 3479, 7019, 13860, 6505, 6329, 2619, 13489], 5418, () => referenceBuzhash(data, 10, 16, 12, 63, seed)],
    ['fastcdc,10,16,12,2', 54, [4752, 3972, 4138, 6120, 4811, 5130, 5790, 4843], 1840, () => referenceFastCdc(data, 10, 16, 12, 2, seed)],
  ];
  for (const [spec, count, first, last, reference] of expected) {
    const lens = Array.from(await chunkBuffer(spec, seed, data));
    t.is(lens.length, count, spec);
    t.deepEqual(lens.slice(0, 8), first, spec);
    t.is(lens[lens.length - 1], last, spec);
    t.deepEqual(reference(), lens, `${spec}: the reference chunker agrees`);
  }
});
