import test from 'ava';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { InvalidArgumentError, IoError, StorageQuotaError } from '../dist/errors.js';
import { newChunkIndex, newKey, newWriter, salvagePack, storedFiles, type PackOut } from '../dist/native.js';
import { packName, putPack } from '../dist/repository/objects.js';
import { SpaceGuard } from '../dist/repository/space.js';
import { LocalStorage } from '../dist/storage/local.js';

import { tempDir } from './archive-helpers.js';
import { SMALL_CHUNKS } from './check-helpers.js';
import { processUmask, pseudoRandom } from './helpers.js';

const key = newKey(pseudoRandom(64, 'pack bytes master'), 'aes-256-gcm', 'keyed-blake3');

/** Every pack a writer makes of three incompressible files, in packs of at most 16 KiB. */
async function packs(): Promise<PackOut[]> {
  const src = tempDir('packbytes-src');
  const files = ['a', 'b', 'c'].map((n, i) => {
    const f = path.join(src, n);
    writeFileSync(f, pseudoRandom(20_000 + i * 7_000, `file ${n}`));
    return f;
  });
  const writer = newWriter(key, newChunkIndex(), { compression: 'none', chunkerParams: SMALL_CHUNKS, packSize: 16384 });
  const out: PackOut[] = [];
  const taking = (async () => {
    for (let p = await writer.nextPack(); p !== null; p = await writer.nextPack()) out.push(p);
  })();
  const stored = storedFiles(await writer.storeFiles(files));
  for (const f of stored) if (f.errorCode !== undefined) throw new Error(f.errorMessage ?? f.errorCode ?? 'not stored');
  await writer.flush();
  writer.close();
  await taking;
  return out;
}

test('a pack stored through putPack is the whole sound pack, and its handle is empty afterwards', async (t) => {
  const all = await packs();
  t.true(all.length >= 3, `${all.length} packs`);
  const dir = path.join(tempDir('packbytes-repo'), 'repo');
  const storage = new LocalStorage(dir);
  for (const p of all) {
    t.true(p.bytes.held);
    await putPack(storage, p);
    t.false(p.bytes.held);
    const name = packName(p.id.toString('hex'));
    const file = path.join(dir, ...name.split('/'));
    t.is(statSync(file).size, p.size);
    // 0666 less the umask (borg's --umask; the executable sets 0077 unless told otherwise).
    t.is(statSync(file).mode & 0o777, 0o666 & ~processUmask());
    const salvage = await salvagePack(key, p.id, await storage.get(name), null);
    t.deepEqual(salvage.problems, []);
    t.deepEqual(salvage.bad, []);
    t.deepEqual(salvage.good, p.toc, 'the pack on disk has the table the writer gave');
    t.deepEqual(readdirSync(path.dirname(file)).filter((n) => n.startsWith('.tmp-')), []);
    // Handed over once: neither a second write nor a take gets the bytes.
    await t.throwsAsync(p.bytes.writeTo(path.join(dir, 'again')), { instanceOf: InvalidArgumentError });
    t.throws(() => p.bytes.take(), { instanceOf: InvalidArgumentError });
  }
});

test('take gives the bytes as a Buffer once; a write that fails keeps them', async (t) => {
  const [p, q] = await packs();
  if (p === undefined || q === undefined) throw new Error('too few packs');
  const dir = tempDir('packbytes-take');
  // Reference bytes, written by the handle itself.
  await p.bytes.writeTo(path.join(dir, 'p'));
  const taken = q.bytes.take();
  t.is(taken.length, q.size);
  t.false(q.bytes.held);
  t.deepEqual((await salvagePack(key, q.id, taken, null)).good, q.toc);
  t.throws(() => q.bytes.take(), { instanceOf: InvalidArgumentError });

  const [r] = await packs();
  if (r === undefined) throw new Error('no pack');
  writeFileSync(path.join(dir, 'exists'), 'other');
  await t.throwsAsync(r.bytes.writeTo(path.join(dir, 'exists')), { instanceOf: IoError });
  await t.throwsAsync(r.bytes.writeTo(path.join(dir, 'no-such-folder', 'r')), { message: /no-such-folder/ });
  t.true(r.bytes.held, 'the bytes are still held after failed writes');
  t.deepEqual(readdirSync(dir).sort(), ['exists', 'p']);
  mkdirSync(path.join(dir, 'later'));
  await r.bytes.writeTo(path.join(dir, 'later', 'r'));
  t.is(statSync(path.join(dir, 'later', 'r')).size, r.size);
});

test('the space guard refuses a pack before its bytes are written anywhere', async (t) => {
  const [p] = await packs();
  if (p === undefined) throw new Error('no pack');
  const dir = path.join(tempDir('packbytes-quota'), 'repo');
  const storage = new LocalStorage(dir);
  await storage.put('config', Buffer.from('x'));
  const guard = new SpaceGuard(storage, { storageQuota: p.size, additionalFreeSpace: 0 }, dir);
  let filled = false;
  await t.throwsAsync(
    guard.putFrom(packName(p.id.toString('hex')), p.size, async (temp) => {
      filled = true;
      await p.bytes.writeTo(temp);
    }),
    { instanceOf: StorageQuotaError },
  );
  t.false(filled);
  t.true(p.bytes.held);
  t.deepEqual(readdirSync(dir), ['config']);
  const roomy = new SpaceGuard(storage, { storageQuota: p.size + 1, additionalFreeSpace: 0 }, dir);
  await putPack(roomy, p);
  t.false(p.bytes.held);
  t.is((await storage.get(packName(p.id.toString('hex')))).length, p.size);
});
