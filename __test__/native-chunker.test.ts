/**
 * Chunking buffers (chunkBuffer) and real files (Key.chunkFiles): sizes within the spec's bounds,
 * files cut exactly as the whole buffer is, ids that are the ids of the slices (checked with
 * node:crypto's HMAC and SHA-256), per-file errors, non-UTF-8 paths, and spec validation.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { InvalidArgumentError } from '../dist/errors.js';
import { chunkBuffer, deriveSubkey, newKey, parseChunkerParams, type ChunkedFile } from '../dist/native.js';
import { pseudoRandom, textLike } from './helpers.js';

const MASTER = pseudoRandom(64, 'chunker master');
const SEED = pseudoRandom(32, 'chunker seed');

function sum(xs: Iterable<number>): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/** Checks that `lens` cut `total` bytes into chunks of [lo, hi] bytes, except a shorter last one. */
function assertBounds(t: ExecutionContext, lens: Uint32Array, total: number, lo: number, hi: number, what: string): void {
  t.is(sum(lens), total, `${what}: lengths add up`);
  lens.forEach((l, i) => {
    t.true(l <= hi, `${what}: chunk ${i} of ${l} bytes is at most ${hi}`);
    if (i < lens.length - 1) t.true(l >= lo, `${what}: chunk ${i} of ${l} bytes is at least ${lo}`);
    else t.true(l >= 1, `${what}: the last chunk is not empty`);
  });
}

const RANDOM = pseudoRandom(3_000_000, 'chunker data');
const TEXT = textLike(1_000_000);

test('chunkBuffer cuts within [2^min, 2^max] except the last chunk, and is deterministic', async (t) => {
  const specs: [string, number, number][] = [
    ['buzhash,10,16,12,63', 2 ** 10, 2 ** 16],
    ['buzhash,16,20,18,4095', 2 ** 16, 2 ** 20],
    ['buzhash,19,23,21,4095', 2 ** 19, 2 ** 23],
    ['default', 2 ** 19, 2 ** 23],
    ['fastcdc,10,16,12', 2 ** 10, 2 ** 16],
    ['fastcdc,13,18,15,3', 2 ** 13, 2 ** 18],
    ['fastcdc,6,23,6,0', 2 ** 6, 2 ** 23],
  ];
  for (const [spec, lo, hi] of specs) {
    for (const [name, data] of [['random', RANDOM], ['text', TEXT]] as const) {
      const lens = await chunkBuffer(spec, SEED, data);
      t.true(lens instanceof Uint32Array);
      assertBounds(t, lens, data.length, lo, hi, `${spec} ${name}`);
      t.deepEqual(await chunkBuffer(spec, SEED, data), lens, `${spec} ${name}: deterministic`);
    }
  }
  // With a small average, random data really is cut in many places, and not at fixed offsets.
  const small = await chunkBuffer('buzhash,10,16,12,63', SEED, RANDOM);
  t.true(small.length > 300, `${small.length} chunks`);
  t.true(new Set(small).size > small.length / 2);
});

test('chunkBuffer: fixed cuts blocks after an optional header; empty data has no chunks', async (t) => {
  const data = RANDOM.subarray(0, 1_000_000);
  const lens = await chunkBuffer('fixed,4096', SEED, data);
  t.is(lens.length, Math.ceil(1_000_000 / 4096));
  t.true(Array.from(lens).slice(0, -1).every((l) => l === 4096));
  t.is(lens[lens.length - 1], 1_000_000 % 4096);
  const headed = await chunkBuffer('fixed,65536,512', SEED, data);
  t.is(headed[0], 512);
  t.true(Array.from(headed).slice(1, -1).every((l) => l === 65536));
  t.is(sum(headed), data.length);
  for (const spec of ['default', 'fastcdc,10,16,12', 'fixed,4096,100']) {
    t.deepEqual(Array.from(await chunkBuffer(spec, SEED, Buffer.alloc(0))), [], spec);
    t.deepEqual(Array.from(await chunkBuffer(spec, SEED, Buffer.from('x'))), [1], spec);
  }
});

test('content-defined cuts follow the content: an insertion changes only nearby chunks', async (t) => {
  const data = RANDOM.subarray(0, 2_000_000);
  const inserted = Buffer.concat([data.subarray(0, 1_000_000), Buffer.from('an insertion'), data.subarray(1_000_000)]);
  for (const spec of ['buzhash,10,16,12,63', 'fastcdc,10,16,12']) {
    const a = Array.from(await chunkBuffer(spec, SEED, data));
    const b = Array.from(await chunkBuffer(spec, SEED, inserted));
    // Chunks that end before the insertion are identical.
    let at = 0;
    let same = 0;
    while (same < a.length && at + a[same]! < 1_000_000 && a[same] === b[same]) {
      at += a[same]!;
      same += 1;
    }
    t.true(same > a.length / 3, `${spec}: ${same} of ${a.length} leading chunks unchanged`);
    // And so are the chunks at the end (the cuts resynchronize).
    const tailA = a.slice(-50);
    const tailB = b.slice(-50);
    t.deepEqual(tailB, tailA, `${spec}: trailing chunks unchanged`);
    // Fixed-size blocks all move instead.
    const fa = Array.from(await chunkBuffer('fixed,4096', SEED, data));
    const fb = Array.from(await chunkBuffer('fixed,4096', SEED, inserted));
    t.is(fb[fb.length - 1], fa[fa.length - 1]! + 12);
  }
});

test('the seed is the chunker table: another seed, other cuts', async (t) => {
  const a = Array.from(await chunkBuffer('buzhash,10,16,12,63', SEED, RANDOM));
  const b = Array.from(await chunkBuffer('buzhash,10,16,12,63', pseudoRandom(32, 'other seed'), RANDOM));
  t.notDeepEqual(a, b);
  const c = Array.from(await chunkBuffer('fastcdc,10,16,12', SEED, RANDOM));
  const d = Array.from(await chunkBuffer('fastcdc,10,16,12', pseudoRandom(32, 'other seed'), RANDOM));
  t.notDeepEqual(c, d);
  for (const len of [0, 16, 31, 33, 64]) {
    await t.throwsAsync(async () => chunkBuffer('default', Buffer.alloc(len), RANDOM), { instanceOf: InvalidArgumentError }, `${len}-byte seed`);
  }
});

test('parseChunkerParams gives canonical specs', (t) => {
  const cases: [string, string][] = [
    ['default', 'buzhash,19,23,21,4095'],
    ['19,23,21,4095', 'buzhash,19,23,21,4095'],
    ['buzhash,10,16,12,63', 'buzhash,10,16,12,63'],
    ['fastcdc,10,16,12', 'fastcdc,10,16,12,2'],
    ['fastcdc,10,16,12,0', 'fastcdc,10,16,12,0'],
    ['fixed,4096', 'fixed,4096'],
    ['fixed,4096,0', 'fixed,4096'],
    ['fixed,4194304,512', 'fixed,4194304,512'],
    ['fixed,64', 'fixed,64'],
    ['fixed,8388608,8388608', 'fixed,8388608,8388608'],
    ['buzhash,6,23,6,1', 'buzhash,6,23,6,1'],
    // Whitespace around fields is ignored.
    [' buzhash , 10 , 16 , 12 , 63 ', 'buzhash,10,16,12,63'],
    ['fastcdc, 10,16, 12', 'fastcdc,10,16,12,2'],
    ['fixed , 4096 , 0', 'fixed,4096'],
  ];
  for (const [spec, canon] of cases) {
    t.is(parseChunkerParams(spec), canon, spec);
    t.is(parseChunkerParams(canon), canon, `${canon} is a fixed point`);
  }
});

const BAD_CHUNKER_SPECS = [
  '', 'nope', 'buzhash', ' default', 'DEFAULT', 'fastcdc,10,16,12,256', 'buzhash,19,23,21,4294967297', '1,2,3', '19,23,21', '19,23,21,4095,1',
  'buzhash,5,23,21,4095', 'buzhash,19,24,21,4095', 'buzhash,19,23,24,4095', 'buzhash,22,23,21,4095',
  'buzhash,19,23,21,4096', 'buzhash,10,12,11,4097', 'buzhash,a,23,21,4095', 'buzhash,19,23,21,-1',
  'fastcdc,10,16', 'fastcdc,10,16,12,4', 'fastcdc,5,16,12', 'fastcdc,10,16,17', 'fastcdc,10,16,12,2,1',
  'fixed', 'fixed,63', 'fixed,0', 'fixed,8388609', 'fixed,4096,8388609', 'fixed,4096,1,2', 'fixed,x',
];

test('bad chunker specs throw InvalidArgumentError from parseChunkerParams, chunkBuffer and chunkFiles', async (t) => {
  const key = newKey(MASTER, 'aes-256-gcm', 'hmac-sha256');
  for (const spec of BAD_CHUNKER_SPECS) {
    const e = t.throws(() => parseChunkerParams(spec), { instanceOf: InvalidArgumentError }, JSON.stringify(spec));
    t.is(e?.code, 'HOARD_INVALID_ARGUMENT');
    await t.throwsAsync(async () => chunkBuffer(spec, SEED, TEXT), { instanceOf: InvalidArgumentError }, JSON.stringify(spec));
    await t.throwsAsync(async () => key.chunkFiles([], spec), { instanceOf: InvalidArgumentError }, JSON.stringify(spec));
  }
});

// ---------------------------------------------------------------------------------------------
// Files.

interface Dir {
  path: string;
}

function withDir(name: string): Dir {
  return { path: mkdtempSync(join(tmpdir(), `hoard-${name}-`)) };
}

function subkey(purpose: string, suite: string): Buffer {
  return Buffer.from(hkdfSync('sha256', MASTER, 'hoard master key', `hoard/1 ${purpose} ${suite}`, 32));
}

/** Splits `ids` into 32-byte ids. */
function splitIds(ids: Buffer): Buffer[] {
  return Array.from({ length: ids.length / 32 }, (_, i) => ids.subarray(32 * i, 32 * i + 32));
}

test('chunkFiles cuts files as chunkBuffer cuts their bytes with the chunker subkey, with the ids of the slices', async (t) => {
  const dir = withDir('files');
  try {
    const big = pseudoRandom(6_500_000, 'big file');
    const files: [string, Buffer][] = [
      ['big', big],
      ['text', TEXT],
      ['small', Buffer.from('a small file\n')],
      ['empty', Buffer.alloc(0)],
      ['exact', pseudoRandom(65536 * 3, 'exact')],
    ];
    for (const [name, data] of files) writeFileSync(join(dir.path, name), data);
    const paths = files.map(([name]) => join(dir.path, name));
    for (const [suite, algo] of [['aes-256-gcm', 'hmac-sha256'], ['plaintext-blake3', 'sha256'], ['chacha20-poly1305', 'keyed-blake3']] as const) {
      const key = newKey(MASTER, suite, algo);
      const seed = deriveSubkey(MASTER, 'chunker', suite);
      t.deepEqual(seed, subkey('chunker', suite));
      for (const spec of ['buzhash,14,18,16,4095', 'fastcdc,12,20,14', 'fixed,65536', 'default']) {
        const results = await key.chunkFiles(paths, spec);
        t.is(results.length, files.length);
        for (const [i, [name, data]] of files.entries()) {
          const r: ChunkedFile = results[i]!;
          const what = `${suite}/${algo} ${spec} ${name}`;
          t.is(r.errorCode, undefined, what);
          t.is(r.size, data.length, what);
          t.deepEqual(Array.from(r.sizes), Array.from(await chunkBuffer(spec, seed, data)), `${what}: cuts`);
          t.is(r.ids.length, 32 * r.sizes.length, what);
          const ids = splitIds(r.ids);
          let at = 0;
          for (const [j, len] of r.sizes.entries()) {
            const slice = data.subarray(at, at + len);
            t.deepEqual(ids[j], key.chunkId(slice), `${what}: id of chunk ${j}`);
            if (algo === 'hmac-sha256') {
              t.is(ids[j]!.toString('hex'), createHmac('sha256', subkey('chunk-id', suite)).update(slice).digest('hex'));
            } else if (algo === 'sha256') {
              t.is(ids[j]!.toString('hex'), createHash('sha256').update(slice).digest('hex'));
            }
            at += len;
          }
        }
      }
    }
  } finally {
    rmSync(dir.path, { recursive: true, force: true });
  }
});

test('a file that cannot be read gets an error code without failing the batch', async (t) => {
  const dir = withDir('missing');
  try {
    const data = textLike(100_000);
    writeFileSync(join(dir.path, 'present'), data);
    mkdirSync(join(dir.path, 'a directory'));
    const key = newKey(MASTER, 'aes-256-gcm', 'hmac-sha256');
    const missing = join(dir.path, 'missing');
    const results = await key.chunkFiles(
      [join(dir.path, 'present'), missing, join(dir.path, 'a directory'), join(dir.path, 'present'), join(missing, 'deeper')],
      'fixed,4096',
    );
    t.is(results.length, 5);
    const [present, gone, directory, again, deeper] = results;
    t.is(present?.errorCode, undefined);
    t.is(present?.size, data.length);
    t.is(present?.sizes.length, Math.ceil(data.length / 4096));
    t.deepEqual(again?.ids, present?.ids, 'the same file twice in a batch gives the same ids');
    t.is(gone?.errorCode, 'HOARD_NOT_FOUND');
    t.true(gone?.errorMessage?.includes(missing), gone?.errorMessage);
    t.is(gone?.size, 0);
    t.is(gone?.ids.length, 0);
    t.is(gone?.sizes.length, 0);
    t.is(deeper?.errorCode, 'HOARD_NOT_FOUND');
    t.is(typeof directory?.errorCode, 'string', 'a directory is not a file');
    t.regex(directory?.errorCode ?? '', /^HOARD_[A-Z_]+$/);
    t.true(directory?.errorMessage?.includes('a directory'), directory?.errorMessage);
    t.deepEqual(await key.chunkFiles([], 'default'), []);
  } finally {
    rmSync(dir.path, { recursive: true, force: true });
  }
});

test('paths given as Buffers may be non-UTF-8 bytes', async (t) => {
  const dir = withDir('bytes');
  try {
    const name = Buffer.concat([Buffer.from(`${dir.path}/`), Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x2e, 0x62, 0x69, 0x6e])]);
    t.false(Buffer.from(name.toString('utf8')).equals(name), 'the name really is not UTF-8');
    const data = pseudoRandom(300_000, 'non-utf8 file');
    writeFileSync(name, data);
    const utf8Name = join(dir.path, 'caf\u00e9 \u{1f600}');
    writeFileSync(utf8Name, data);
    const key = newKey(MASTER, 'aes-256-gcm', 'hmac-sha256');
    const [bytes, str, asBuffer, wrong] = await key.chunkFiles(
      [name, utf8Name, Buffer.from(utf8Name), Buffer.from(name.toString('utf8'))],
      'fastcdc,12,16,14',
    );
    t.is(bytes?.errorCode, undefined, bytes?.errorMessage);
    t.is(bytes?.size, data.length);
    t.deepEqual(Array.from(bytes?.sizes ?? []), Array.from(await chunkBuffer('fastcdc,12,16,14', deriveSubkey(MASTER, 'chunker', 'aes-256-gcm'), data)));
    t.is(str?.errorCode, undefined, str?.errorMessage);
    t.deepEqual(str?.ids, bytes?.ids);
    t.deepEqual(asBuffer?.ids, bytes?.ids);
    // The lossy UTF-8 rendering of the name is another (missing) file.
    t.is(wrong?.errorCode, 'HOARD_NOT_FOUND');
  } finally {
    rmSync(dir.path, { recursive: true, force: true });
  }
});

test('many files in one batch come back in order', async (t) => {
  const dir = withDir('many');
  try {
    const files = Array.from({ length: 200 }, (_, i) => pseudoRandom(i * 97 + (i % 7) * 5000, `many ${i}`));
    const paths = files.map((data, i) => {
      const p = join(dir.path, `f${i}`);
      writeFileSync(p, data);
      return p;
    });
    const key = newKey(MASTER, 'plaintext-blake3', 'sha256');
    const results = await key.chunkFiles(paths, 'fixed,4096');
    t.is(results.length, 200);
    for (const [i, r] of results.entries()) {
      const data = files[i]!;
      t.is(r.size, data.length, `file ${i}`);
      const ids = splitIds(r.ids);
      t.is(ids.length, Math.ceil(data.length / 4096));
      if (ids.length > 0) t.is(ids[0]!.toString('hex'), createHash('sha256').update(data.subarray(0, 4096)).digest('hex'), `file ${i}`);
    }
  } finally {
    rmSync(dir.path, { recursive: true, force: true });
  }
});
