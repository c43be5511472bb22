/**
 * Compression frames (compress / decompress / parseCompression): the documented header, payloads
 * checked with node:zlib and small independent decoders (LZ4 block, xz and zstd headers), and
 * frames built here that hoard must decompress or refuse.
 */
import * as zlib from 'node:zlib';

import test from 'ava';

import { CorruptDataError, InvalidArgumentError, TooLargeError } from '../dist/errors.js';
import { compress, decompress, parseCompression } from '../dist/native.js';
import { pseudoRandom, sameBytes, textLike } from './helpers.js';


const CODEC = { none: 0, lz4: 1, zstd: 2, zlib: 3, lzma: 4 } as const;

function frame(codec: number, level: number, length: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = codec;
  h[1] = level;
  h.writeUInt32LE(length, 2);
  return Buffer.concat([h, payload]);
}

/** An LZ4 block decoder after the LZ4 block format description (lz4/lz4, doc/lz4_Block_format.md). */
function lz4Decode(src: Buffer, outLen: number): Buffer {
  const out = Buffer.alloc(outLen);
  let ip = 0;
  let op = 0;
  const length = (base: number): number => {
    let n = base;
    if (base === 15) {
      let b: number;
      do {
        b = src[ip]!;
        ip += 1;
        n += b;
      } while (b === 255);
    }
    return n;
  };
  while (ip < src.length) {
    const token = src[ip]!;
    ip += 1;
    const literals = length(token >>> 4);
    src.copy(out, op, ip, ip + literals);
    ip += literals;
    op += literals;
    if (ip >= src.length) break;
    const offset = src.readUInt16LE(ip);
    ip += 2;
    const matchLen = length(token & 15) + 4;
    if (offset === 0 || offset > op) throw new Error(`bad LZ4 offset ${offset} at ${op}`);
    for (let i = 0; i < matchLen; i += 1, op += 1) out[op] = out[op - offset]!;
  }
  if (op !== outLen) throw new Error(`LZ4 block gave ${op} bytes, expected ${outLen}`);
  return out;
}

const EMPTY = Buffer.alloc(0);
const TINY = Buffer.from('hoard');
const TEXT = textLike(200_000);
const RANDOM = pseudoRandom(100_000, 'codec random');
const ZEROS = Buffer.alloc(300_000);
const INPUTS: [string, Buffer][] = [['empty', EMPTY], ['tiny', TINY], ['text', TEXT], ['random', RANDOM], ['zeros', ZEROS]];

const SPECS = [
  'none', 'lz4',
  'zstd', 'zstd,1', 'zstd,2', 'zstd,3', 'zstd,9', 'zstd,15', 'zstd,19', 'zstd,22',
  'zlib', 'zlib,0', 'zlib,1', 'zlib,5', 'zlib,9',
  'lzma', 'lzma,0', 'lzma,1', 'lzma,6', 'lzma,9',
  'auto,lz4', 'auto,zstd', 'auto,zstd,3', 'auto,zstd,19', 'auto,zlib,9', 'auto,lzma,1',
];

test('every spec round-trips empty, tiny, text-like, random and zero data', async (t) => {
  for (const spec of SPECS) {
    for (const [name, data] of INPUTS) {
      const f = await compress(spec, data);
      t.true(f.length >= 6, `${spec} ${name}`);
      t.is(f.readUInt32LE(2), data.length, `${spec} ${name}: declared length`);
      t.true(f.length <= data.length + 6, `${spec} ${name}: never more than the header over the data`);
      sameBytes(t, await decompress(f), data, `${spec} ${name}`);
    }
  }
});

test('frames name the codec and level used', async (t) => {
  const cases: [string, number, number][] = [
    ['lz4', CODEC.lz4, 0],
    ['zstd', CODEC.zstd, 3],
    ['zstd,1', CODEC.zstd, 1],
    ['zstd,22', CODEC.zstd, 22],
    ['zlib', CODEC.zlib, 6],
    ['zlib,1', CODEC.zlib, 1],
    ['zlib,9', CODEC.zlib, 9],
    ['lzma', CODEC.lzma, 6],
    ['lzma,0', CODEC.lzma, 0],
    ['lzma,9', CODEC.lzma, 9],
    ['auto,lz4', CODEC.lz4, 0],
    // Text compresses, so auto uses the expensive codec when it beats lz4.
    ['auto,zstd,7', CODEC.zstd, 7],
    ['auto,zlib,9', CODEC.zlib, 9],
    ['auto,lzma,6', CODEC.lzma, 6],
  ];
  for (const [spec, codec, level] of cases) {
    const f = await compress(spec, TEXT);
    t.is(f[0], codec, spec);
    t.is(f[1], level, spec);
    t.true(f.length < TEXT.length / 2, `${spec} compresses text`);
  }
  // Higher levels do not make text bigger.
  const z1 = await compress('zstd,1', TEXT);
  const z19 = await compress('zstd,19', TEXT);
  t.true(z19.length <= z1.length);
});

test('data that does not shrink is stored: codec byte 0, level 0, the data itself', async (t) => {
  for (const spec of SPECS) {
    for (const [name, data] of [['empty', EMPTY], ['tiny', TINY], ['random', RANDOM]] as const) {
      const f = await compress(spec, data);
      sameBytes(t, f, frame(0, 0, data.length, data), `${spec} ${name}`);
    }
  }
  // zlib level 0 only stores blocks, which is larger than the data.
  t.is((await compress('zlib,0', TEXT))[0], CODEC.none);
  sameBytes(t, await compress('none', TEXT), frame(0, 0, TEXT.length, TEXT));
});

test('zlib payloads are zlib streams: node:zlib inflates them, and deflated data decompresses in hoard', async (t) => {
  for (const level of [1, 6, 9]) {
    for (const data of [TEXT, ZEROS, textLike(1000)]) {
      const f = await compress(`zlib,${level}`, data);
      t.is(f[0], CODEC.zlib);
      const payload = f.subarray(6);
      t.is(payload[0]! & 0x0f, 8, 'deflate');
      t.is((payload[0]! * 256 + payload[1]!) % 31, 0, 'zlib header check');
      sameBytes(t, zlib.inflateSync(payload), data, `level ${level}`);
    }
  }
  for (const data of [EMPTY, TINY, TEXT, RANDOM]) {
    for (const level of [0, 1, 9]) {
      const handmade = frame(CODEC.zlib, level, data.length, zlib.deflateSync(data, { level }));
      sameBytes(t, await decompress(handmade), data, `node zlib level ${level}, ${data.length} bytes`);
    }
  }
});

test('a zlib frame whose stream and header disagree is corrupt', async (t) => {
  const data = textLike(5000);
  const payload = zlib.deflateSync(data);
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length + 1, payload)), { instanceOf: CorruptDataError }, 'declared too long');
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length - 1, payload)), { instanceOf: CorruptDataError }, 'declared too short');
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length, Buffer.concat([payload, Buffer.of(0)]))), { instanceOf: CorruptDataError }, 'trailing bytes');
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length, zlib.deflateRawSync(data))), { instanceOf: CorruptDataError }, 'raw deflate');
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length, zlib.gzipSync(data))), { instanceOf: CorruptDataError }, 'gzip');
  const badAdler = Buffer.from(payload);
  badAdler[badAdler.length - 1] = badAdler[badAdler.length - 1]! ^ 1;
  await t.throwsAsync(decompress(frame(CODEC.zlib, 6, data.length, badAdler)), { instanceOf: CorruptDataError }, 'checksum');
});

test('lz4 payloads are LZ4 blocks: an independent decoder reads them, and hand-made blocks decompress', async (t) => {
  for (const data of [TEXT, ZEROS, textLike(100)]) {
    const f = await compress('lz4', data);
    t.is(f[0], CODEC.lz4);
    sameBytes(t, lz4Decode(f.subarray(6), data.length), data);
  }
  // Literals "abcd", a match of 20 bytes at offset 4, then 5 literals.
  const block = Buffer.concat([Buffer.of(0x4f), Buffer.from('abcd'), Buffer.of(4, 0, 1), Buffer.of(0x50), Buffer.from('xyzwv')]);
  const expected = Buffer.from(`abcd${'abcd'.repeat(5)}xyzwv`);
  sameBytes(t, lz4Decode(block, expected.length), expected);
  sameBytes(t, await decompress(frame(CODEC.lz4, 0, expected.length, block)), expected);
  // A block of literals only (long length encoding: 15 + 255 + 30 = 300).
  const lit = pseudoRandom(300, 'literals');
  const litBlock = Buffer.concat([Buffer.of(0xf0, 255, 30), lit]);
  sameBytes(t, await decompress(frame(CODEC.lz4, 0, 300, litBlock)), lit);
  // A match reaching before the start of the output is corrupt, not a read out of bounds.
  const before = Buffer.concat([Buffer.of(0x4f), Buffer.from('abcd'), Buffer.of(9, 0, 1), Buffer.of(0x50), Buffer.from('xyzwv')]);
  await t.throwsAsync(decompress(frame(CODEC.lz4, 0, expected.length, before)), { instanceOf: CorruptDataError });
  await t.throwsAsync(decompress(frame(CODEC.lz4, 0, expected.length + 1, block)), { instanceOf: CorruptDataError }, 'declared too long');
  await t.throwsAsync(decompress(frame(CODEC.lz4, 0, expected.length - 1, block)), { instanceOf: CorruptDataError }, 'declared too short');
});

test('lzma payloads are xz streams without an integrity check', async (t) => {
  for (const level of [0, 6]) {
    const f = await compress(`lzma,${level}`, TEXT);
    t.is(f[0], CODEC.lzma);
    const xz = f.subarray(6);
    sameBytes(t, xz.subarray(0, 6), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'xz magic');
    sameBytes(t, xz.subarray(6, 8), Buffer.of(0, 0), 'stream flags: check type None');
    t.is(xz.readUInt32LE(8), zlib.crc32(xz.subarray(6, 8)), 'CRC32 of the stream flags');
    sameBytes(t, xz.subarray(xz.length - 2), Buffer.from('YZ'), 'footer magic');
    sameBytes(t, xz.subarray(xz.length - 4, xz.length - 2), Buffer.of(0, 0), 'footer stream flags');
    t.is(xz.length % 4, 0, 'xz streams are padded to four bytes');
    // The stream must end exactly where the frame does: no trailing bytes, not even xz padding.
    for (const extra of [Buffer.of(0), Buffer.alloc(4), xz]) {
      await t.throwsAsync(decompress(Buffer.concat([f, extra])), { instanceOf: CorruptDataError }, `${extra.length} extra bytes`);
    }
    await t.throwsAsync(decompress(frame(CODEC.lzma, level, TEXT.length + 1, xz)), { instanceOf: CorruptDataError }, 'declared too long');
    await t.throwsAsync(decompress(frame(CODEC.lzma, level, TEXT.length - 1, xz)), { instanceOf: CorruptDataError }, 'declared too short');
  }
});

test('zstd payloads are zstd frames that declare the content size', async (t) => {
  for (const [spec, data] of [['zstd,1', TEXT], ['zstd,19', TEXT], ['zstd,3', ZEROS], ['zstd,3', textLike(300)]] as const) {
    const f = await compress(spec, data);
    t.is(f[0], CODEC.zstd);
    const z = f.subarray(6);
    t.is(z.readUInt32LE(0), 0xfd2fb528, 'zstd magic');
    const descriptor = z[4]!;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
    t.is(descriptor & 0x08, 0, 'reserved bit');
    t.is(descriptor & 0x04, 0, 'no content checksum');
    let at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
    const fcsBytes = fcsFlag === 0 ? singleSegment : [1, 2, 4, 8][fcsFlag]!;
    t.true(fcsBytes > 0, `${spec}: the frame declares its content size`);
    let size = 0;
    for (let i = fcsBytes - 1; i >= 0; i -= 1) size = size * 256 + z[at + i]!;
    if (fcsBytes === 2) size += 256;
    at += fcsBytes;
    t.is(size, data.length, `${spec}: declared content size`);
    // node >= 22.15 can decode zstd; where it can, the payload must decode to the data.
    const zstdDecompress = (zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;
    if (zstdDecompress) sameBytes(t, zstdDecompress(z), data);
  }
});

test('decompress refuses frames declaring more than the limit, before decoding them', async (t) => {
  const data = textLike(10_000);
  for (const spec of ['none', 'lz4', 'zstd', 'zlib', 'lzma']) {
    const f = await compress(spec, data);
    sameBytes(t, await decompress(f, 10_000), data, `${spec} at the limit`);
    sameBytes(t, await decompress(f, 10_001), data);
    const e = await t.throwsAsync(decompress(f, 9_999), { instanceOf: TooLargeError }, spec);
    t.is(e?.code, 'HOARD_TOO_LARGE');
    await t.throwsAsync(decompress(f, 0), { instanceOf: TooLargeError }, spec);
  }
  sameBytes(t, await decompress(await compress('zstd', EMPTY), 0), EMPTY);
  // The default limit is 64 MiB: a frame declaring one byte more is refused without allocating it.
  const huge = frame(CODEC.zstd, 3, 64 * 1024 * 1024 + 1, Buffer.alloc(10));
  await t.throwsAsync(decompress(huge), { instanceOf: TooLargeError });
  await t.throwsAsync(decompress(frame(CODEC.lz4, 0, 0xffffffff, Buffer.alloc(10))), { instanceOf: TooLargeError });
  // At the default limit, a frame with a short payload is corrupt, not too large.
  await t.throwsAsync(decompress(frame(CODEC.none, 0, 64 * 1024 * 1024, Buffer.alloc(10))), { instanceOf: CorruptDataError });
});

test('malformed frames are corrupt: short, unknown codec, stored length mismatch', async (t) => {
  for (const len of [0, 1, 5]) {
    await t.throwsAsync(decompress(Buffer.alloc(len)), { instanceOf: CorruptDataError }, `${len} bytes`);
  }
  sameBytes(t, await decompress(Buffer.alloc(6)), EMPTY, 'six zero bytes are the empty stored frame');
  for (const codec of [5, 6, 0x80, 0xff]) {
    await t.throwsAsync(decompress(frame(codec, 0, 4, Buffer.from('abcd'))), { instanceOf: CorruptDataError }, `codec ${codec}`);
  }
  await t.throwsAsync(decompress(frame(CODEC.none, 0, 5, Buffer.from('abcd'))), { instanceOf: CorruptDataError });
  await t.throwsAsync(decompress(frame(CODEC.none, 0, 3, Buffer.from('abcd'))), { instanceOf: CorruptDataError });
  sameBytes(t, await decompress(frame(CODEC.none, 0, 4, Buffer.from('abcd'))), Buffer.from('abcd'));
  // A level byte is informational: another level in the header still decodes.
  const f = await compress('zstd,3', TEXT);
  f[1] = 17;
  sameBytes(t, await decompress(f), TEXT);
});

test('truncated or damaged payloads are refused or yield exactly the declared length, never crash', async (t) => {
  const data = textLike(50_000);
  for (const spec of ['lz4', 'zstd,3', 'zstd,19', 'zlib,6', 'lzma,6']) {
    const f = await compress(spec, data);
    t.not(f[0], CODEC.none, spec);
    for (const keep of [6, 7, 8, 16, Math.floor(f.length / 2), f.length - 1]) {
      await t.throwsAsync(decompress(f.subarray(0, keep)), { instanceOf: CorruptDataError }, `${spec} cut to ${keep}`);
    }
    for (let offset = 6; offset < f.length; offset += Math.max(1, Math.floor(f.length / 40))) {
      const bad = Buffer.from(f);
      bad[offset] = bad[offset]! ^ 0x5a;
      try {
        const out = await decompress(bad);
        t.is(out.length, data.length, `${spec} flipped at ${offset}: declared length`);
        t.false(spec.startsWith('zlib'), `zlib's Adler-32 catches a change at ${offset}`);
      } catch (e) {
        t.true(e instanceof CorruptDataError, `${spec} flipped at ${offset}: ${String(e)}`);
      }
    }
    const garbage = frame(f[0]!, f[1]!, data.length, pseudoRandom(f.length - 6, `garbage ${spec}`));
    await t.throwsAsync(decompress(garbage), { instanceOf: CorruptDataError }, `${spec} garbage`);
  }
});

test('auto follows borg\'s heuristic: store what lz4 cannot shrink, keep lz4 unless it saves 3%, then the target if 1% smaller', async (t) => {
  // Random nibbles: no repeats for lz4 to find, but half the entropy of random bytes for zstd.
  const nibbles = Buffer.from(pseudoRandom(100_000, 'nibbles').map((b) => b & 15));
  const inputs = [nibbles, TEXT, RANDOM, ZEROS, EMPTY];
  for (const zeros of [1500, 2500, 3500, 5000, 20_000]) inputs.push(Buffer.concat([nibbles.subarray(0, 100_000 - zeros), Buffer.alloc(zeros)]));
  const branches = new Set<string>();
  for (const data of inputs) {
    const lz4 = await compress('lz4', data);
    const zstd = await compress('zstd,3', data);
    const auto = await compress('auto,zstd,3', data);
    const r = lz4.length / Math.max(data.length, 1);
    let expected: Buffer;
    let branch: string;
    if (lz4[0] === CODEC.none) {
      [expected, branch] = [frame(0, 0, data.length, data), 'stored'];
    } else if (r < 0.97 && zstd[0] === CODEC.zstd && zstd.length < 0.99 * lz4.length) {
      [expected, branch] = [zstd, 'target'];
    } else {
      [expected, branch] = [lz4, 'lz4'];
    }
    branches.add(branch);
    sameBytes(t, auto, expected, `${data.length} bytes, lz4 ratio ${r.toFixed(4)}: ${branch}`);
    sameBytes(t, await compress('auto,lz4', data), lz4, 'auto,lz4 is lz4');
  }
  t.deepEqual([...branches].sort(), ['lz4', 'stored', 'target'], 'every branch of the heuristic was taken');
  // Nibbles alone: zstd would halve them, but lz4 cannot shrink them, so auto stores them.
  t.true((await compress('zstd,3', nibbles)).length < nibbles.length * 0.6);
  t.is((await compress('auto,zstd,3', nibbles))[0], CODEC.none);
});

test('whitespace around spec fields is ignored', async (t) => {
  t.is(parseCompression(' zstd , 7 '), 'zstd,7');
  t.is(parseCompression('auto, zlib ,9'), 'auto,zlib,9');
  t.is(parseCompression('lz4 '), 'lz4');
  const f = await compress(' lzma ,1', TEXT);
  t.is(f[0], CODEC.lzma);
  t.is(f[1], 1);
});

test('parseCompression gives canonical specs and compress accepts exactly those', (t) => {
  const canonical: [string, string][] = [
    ['none', 'none'],
    ['lz4', 'lz4'],
    ['zstd', 'zstd,3'],
    ['zstd,1', 'zstd,1'],
    ['zstd,22', 'zstd,22'],
    ['zlib', 'zlib,6'],
    ['zlib,0', 'zlib,0'],
    ['lzma', 'lzma,6'],
    ['lzma,9', 'lzma,9'],
    ['auto,lz4', 'auto,lz4'],
    ['auto,zstd', 'auto,zstd,3'],
    ['auto,zstd,10', 'auto,zstd,10'],
    ['auto,zlib', 'auto,zlib,6'],
    ['auto,lzma,2', 'auto,lzma,2'],
  ];
  for (const [spec, canon] of canonical) {
    t.is(parseCompression(spec), canon, spec);
    t.is(parseCompression(canon), canon, `${canon} is a fixed point`);
  }
  for (let l = 1; l <= 22; l += 1) t.is(parseCompression(`zstd,${l}`), `zstd,${l}`);
  for (let l = 0; l <= 9; l += 1) {
    t.is(parseCompression(`zlib,${l}`), `zlib,${l}`);
    t.is(parseCompression(`lzma,${l}`), `lzma,${l}`);
  }
});

test('bad compression specs throw InvalidArgumentError, from parseCompression and compress alike', async (t) => {
  const bad = [
    '', 'gzip', 'ZSTD', 'zstd,0', 'zstd,23', 'zstd,-1', 'zstd,x', 'zstd,3,1', 'zlib,10', 'lzma,10',
    'lz4,1', 'none,0', 'auto', 'auto,', 'auto,none', 'auto,auto,lz4', 'auto,zstd,0', 'auto,lz4,1', 'auto,zstd,3,1',
  ];
  for (const spec of bad) {
    const e = t.throws(() => parseCompression(spec), { instanceOf: InvalidArgumentError }, JSON.stringify(spec));
    t.is(e?.code, 'HOARD_INVALID_ARGUMENT');
    await t.throwsAsync(async () => compress(spec, TINY), { instanceOf: InvalidArgumentError }, JSON.stringify(spec));
  }
});

test('compress and decompress read views of larger buffers correctly', async (t) => {
  const backing = Buffer.concat([pseudoRandom(1000, 'before'), TEXT, pseudoRandom(1000, 'after')]);
  const view = backing.subarray(1000, 1000 + TEXT.length);
  const f = await compress('zstd,3', view);
  sameBytes(t, await decompress(f), TEXT);
  const framed = Buffer.concat([Buffer.from('junk'), f, Buffer.from('more junk')]);
  sameBytes(t, await decompress(framed.subarray(4, 4 + f.length)), TEXT);
});
