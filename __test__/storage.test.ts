import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { HoardError, NotFoundError } from '../dist/errors.js';
import { LocalStorage } from '../dist/storage/local.js';
import { makeDirs } from '../dist/storage/make-dirs.js';

import { processUmask } from './helpers.js';

function storage(): { s: LocalStorage; dir: string } {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'hoard-storage-')), 'repo');
  return { s: new LocalStorage(dir), dir };
}

test('put, get, getRange, list and delete on real files', async (t) => {
  const { s, dir } = storage();
  t.false(await s.exists());
  await s.put('packs/ab/abcdef', Buffer.from('0123456789'));
  await s.put('config', Buffer.from('{}'));
  t.true(await s.exists());
  t.deepEqual(await s.get('packs/ab/abcdef'), Buffer.from('0123456789'));
  t.deepEqual(await s.getRange('packs/ab/abcdef', 3, 4), Buffer.from('3456'));
  t.deepEqual(await s.getRange('packs/ab/abcdef', 8, 10), Buffer.from('89'));
  t.deepEqual(await s.list(''), ['config', 'packs']);
  t.deepEqual(await s.list('packs/ab'), ['abcdef']);
  t.deepEqual(await s.list('missing'), []);
  await s.put('config', Buffer.from('{"v":2}'));
  t.deepEqual(await s.get('config'), Buffer.from('{"v":2}'));
  await s.delete('config');
  await s.delete('config');
  await t.throwsAsync(s.get('config'), { instanceOf: NotFoundError });
  // No temporary files are left behind, and stray ones are not listed.
  writeFileSync(path.join(dir, 'packs', 'ab', '.tmp-deadbeef'), 'partial');
  t.deepEqual(await s.list('packs/ab'), ['abcdef']);
});

test('getRanges reads into given buffers, and a replaced or deleted object reads as it is now', async (t) => {
  const { s } = storage();
  await s.put('packs/ab/abcdef', Buffer.from('0123456789'));
  const slab = Buffer.alloc(6, 0x2e);
  const got = await s.getRanges(
    'packs/ab/abcdef',
    [
      { offset: 1, length: 2 },
      { offset: 6, length: 3 },
      { offset: 9, length: 4 },
    ],
    [slab.subarray(0, 2), slab.subarray(2, 5)],
  );
  t.deepEqual(got, [Buffer.from('12'), Buffer.from('678'), Buffer.from('9')]);
  t.is(got[0]?.buffer, slab.buffer);
  t.deepEqual(slab, Buffer.from('12678.'));
  // The pack was read just now (its descriptor is kept): a put over it is read, not the old one.
  await s.put('packs/ab/abcdef', Buffer.from('abcdefghij'));
  t.deepEqual(await s.getRange('packs/ab/abcdef', 2, 3), Buffer.from('cde'));
  await s.delete('packs/ab/abcdef');
  const e = await t.throwsAsync(s.getRange('packs/ab/abcdef', 0, 1), { instanceOf: NotFoundError });
  t.regex(e?.message ?? '', /abcdef: no such file or directory$/);
});

/** This process's open descriptors on files under `dir` (a deleted file's link ends in ` (deleted)`). */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) out.push(target);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return out.sort();
}

test('kept pack descriptors are closed when the object is deleted or replaced, and by close()', async (t) => {
  const { s, dir } = storage();
  for (const n of ['a', 'b', 'c']) await s.put(`packs/ab/${n}`, Buffer.from(`0123456789${n}`));
  for (const n of ['a', 'b', 'c']) await s.getRange(`packs/ab/${n}`, 10, 1);
  const file = (n: string): string => path.join(dir, 'packs', 'ab', n);
  t.deepEqual(openUnder(dir), [file('a'), file('b'), file('c')]);
  // A deleted pack's space is not held by a kept descriptor; a replaced one's old file neither.
  await s.delete('packs/ab/a');
  await s.put('packs/ab/b', Buffer.from('new'));
  t.deepEqual(openUnder(dir), [file('c')]);
  t.deepEqual(await s.getRange('packs/ab/b', 0, 3), Buffer.from('new'));
  t.deepEqual(openUnder(dir), [file('b'), file('c')]);
  s.close();
  t.deepEqual(openUnder(dir), []);
  // Closed is not unusable: the next read opens again.
  t.deepEqual(await s.getRange('packs/ab/c', 10, 1), Buffer.from('c'));
});

// Serial: it changes the process's umask, which the other tests' modes depend on.
test.serial("new files and folders get 0666 and 0777 less the umask (borg's --umask); a private store's get 0600 and 0700", async (t) => {
  const { s, dir } = storage();
  const keys = new LocalStorage(path.join(path.dirname(dir), 'keys'), { private: true });
  const before = process.umask(0o027);
  try {
    await s.put('packs/ab/abcdef', Buffer.from('0123456789'));
    await s.createExclusive('config', Buffer.from('{}'));
    await keys.put('k', Buffer.from('secret'));
  } finally {
    process.umask(before);
  }
  t.is(statSync(path.join(dir, 'config')).mode & 0o777, 0o640);
  t.is(statSync(path.join(dir, 'packs', 'ab', 'abcdef')).mode & 0o777, 0o640);
  t.is(statSync(path.join(dir, 'packs', 'ab')).mode & 0o777, 0o750);
  t.is(statSync(path.join(keys.location, 'k')).mode & 0o777, 0o600);
  t.is(statSync(keys.location).mode & 0o777, 0o700);
});

test('createExclusive creates once and never replaces', async (t) => {
  const { s, dir } = storage();
  t.true(await s.createExclusive('manifest/1', Buffer.from('first')));
  t.false(await s.createExclusive('manifest/1', Buffer.from('second')));
  t.deepEqual(await s.get('manifest/1'), Buffer.from('first'));
  t.deepEqual(readdirSync(path.join(dir, 'manifest')), ['1']);
  // Many writers racing for one name: exactly one wins.
  const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => s.createExclusive('manifest/2', Buffer.from(`w${i}`))));
  t.is(wins.filter(Boolean).length, 1);
  const winner = wins.indexOf(true);
  t.deepEqual(await s.get('manifest/2'), Buffer.from(`w${winner}`));
});

test('replaceExisting replaces an existing object only: a missing one stays missing, and no temporary file is left', async (t) => {
  const { s, dir } = storage();
  t.false(await s.replaceExisting('locks/a', Buffer.from('revived')));
  t.false(existsSync(path.join(dir, 'locks', 'a')));
  t.deepEqual(readdirSync(path.join(dir, 'locks')), []);
  await s.put('locks/a', Buffer.from('first'));
  t.true(await s.replaceExisting('locks/a', Buffer.from('second')));
  t.deepEqual(await s.get('locks/a'), Buffer.from('second'));
  t.is(statSync(path.join(dir, 'locks', 'a')).mode & 0o777, 0o666 & ~processUmask());
  t.deepEqual(readdirSync(path.join(dir, 'locks')), ['a']);
  // Racing a delete: in either order the object ends up gone (a delete first is never undone by
  // the replacement; a delete after removes the new one), and no temporary file is left.
  for (let i = 0; i < 20; i++) {
    await s.put('locks/b', Buffer.from('old'));
    await Promise.all([s.replaceExisting('locks/b', Buffer.from(`new${i}`)), s.delete('locks/b')]);
    t.deepEqual(readdirSync(path.join(dir, 'locks')), ['a']);
  }
});

test('without hard links, createExclusive renames without replacing: once, never replacing, one winner of a race', async (t) => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'hoard-storage-')), 'repo');
  const s = new LocalStorage(dir, { hardLinks: false });
  t.true(await s.createExclusive('manifest/1', Buffer.from('first')));
  t.false(await s.createExclusive('manifest/1', Buffer.from('second')));
  t.deepEqual(await s.get('manifest/1'), Buffer.from('first'));
  t.deepEqual(readdirSync(path.join(dir, 'manifest')), ['1'], 'no temporary file is left, won or lost');
  const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => s.createExclusive('manifest/2', Buffer.from(`w${i}`))));
  t.is(wins.filter(Boolean).length, 1);
  t.deepEqual(await s.get('manifest/2'), Buffer.from(`w${wins.indexOf(true)}`));
  t.deepEqual(readdirSync(path.join(dir, 'manifest')).sort(), ['1', '2']);
});

test('putFrom: fill writes a new temporary file beside the object, which is then committed under the name, replacing an existing one', async (t) => {
  const { s, dir } = storage();
  const given: string[] = [];
  const fill = (data: string) => async (temp: string): Promise<void> => {
    given.push(temp);
    t.false(existsSync(temp), 'the temporary file does not exist yet');
    await writeFile(temp, data, { flag: 'wx', mode: 0o600 });
  };
  await s.putFrom('packs/ab/abcdef', 5, fill('first'));
  t.deepEqual(await s.get('packs/ab/abcdef'), Buffer.from('first'));
  await s.put('packs/ab/other', Buffer.from('other'));
  await s.putFrom('packs/ab/other', 6, fill('second'));
  t.deepEqual(await s.get('packs/ab/other'), Buffer.from('second'));
  t.is(given.length, 2);
  for (const temp of given) {
    t.is(path.dirname(temp), path.join(dir, 'packs', 'ab'), 'in the object\'s own folder');
    t.regex(path.basename(temp), /^\.tmp-/);
  }
  t.notDeepEqual(given[0], given[1]);
  t.deepEqual(readdirSync(path.join(dir, 'packs', 'ab')).sort(), ['abcdef', 'other'], 'no temporary file is left');
  await t.throwsAsync(async () => s.putFrom('../x', 1, fill('x')), { message: /bad object name/ });
});

test('putFrom: a fill that fails stores nothing, keeps the object it would have replaced, and leaves no temporary file', async (t) => {
  const { s, dir } = storage();
  await s.put('packs/ab/kept', Buffer.from('old'));
  const partial = async (temp: string): Promise<void> => {
    await writeFile(temp, 'half of it', { flag: 'wx' });
    throw new Error('the fill failed');
  };
  await t.throwsAsync(s.putFrom('packs/ab/new', 100, partial), { message: 'the fill failed' });
  await t.throwsAsync(s.putFrom('packs/ab/kept', 100, partial), { message: 'the fill failed' });
  // A fill that fails before making the file, in a folder that putFrom had to make.
  await t.throwsAsync(
    s.putFrom('packs/cd/new', 1, async () => {
      throw new Error('nothing written');
    }),
    { message: 'nothing written' },
  );
  t.deepEqual(readdirSync(path.join(dir, 'packs', 'ab')), ['kept']);
  t.deepEqual(readdirSync(path.join(dir, 'packs', 'cd')), []);
  t.deepEqual(await s.get('packs/ab/kept'), Buffer.from('old'));
  await t.throwsAsync(s.get('packs/ab/new'), { instanceOf: NotFoundError });
});

test('object names cannot leave the repository', async (t) => {
  const { s } = storage();
  for (const name of ['', '../x', 'a/../../x', '/abs', 'a//b', './a']) {
    await t.throwsAsync(async () => s.put(name, Buffer.from('x')), { message: /bad object name/ }, name);
  }
});

test('listInfo gives sizes and times of objects only; destroy removes the whole store', async (t) => {
  const { s, dir } = storage();
  const before = Date.now();
  await s.put('packs/ab/one', Buffer.from('12345'));
  await s.put('packs/ab/two', Buffer.alloc(0));
  await s.put('config', Buffer.from('{}'));
  writeFileSync(path.join(dir, 'packs', 'ab', '.tmp-deadbeef'), 'partial');
  const infos = await s.listInfo('packs/ab');
  t.deepEqual(
    infos.map((i) => [i.name, i.size]),
    [
      ['one', 5],
      ['two', 0],
    ],
  );
  for (const i of infos) t.true(i.modified >= before - 2000 && i.modified <= Date.now() + 2000, `${i.modified}`);
  t.deepEqual(
    (await s.listInfo('')).map((i) => i.name),
    ['config'],
    'folders are left out',
  );
  t.deepEqual(await s.listInfo('missing'), []);
  await s.destroy();
  t.false(await s.exists());
  t.throws(() => readdirSync(dir));
  await s.destroy();
});

test('makeDirs makes missing parents once, reports the first, and fails (never loops) under /proc', async (t) => {
  const base = mkdtempSync(path.join(tmpdir(), 'hoard-mkdirs-'));
  const deep = path.join(base, 'a', 'b', 'c');
  t.is(await makeDirs(deep), path.join(base, 'a'));
  t.true(statSync(deep).isDirectory());
  t.is(statSync(path.join(base, 'a', 'b')).mode & 0o777, 0o777 & ~processUmask());
  t.is(await makeDirs(deep), undefined);
  t.is(await makeDirs(path.join(deep, 'd')), path.join(deep, 'd'));
  writeFileSync(path.join(base, 'file'), 'x');
  await t.throwsAsync(makeDirs(path.join(base, 'file', 'sub')), { instanceOf: HoardError, message: /cannot make folder .*file/ });
  // /proc exists but refuses new entries with ENOENT: Node 20's recursive mkdir spins on it forever.
  await t.throwsAsync(makeDirs('/proc/hoard-test/sub'), { instanceOf: NotFoundError, message: 'cannot make folder /proc/hoard-test: no such file or directory' });
  // Two callers making the same folders at once both succeed.
  const race = path.join(base, 'r', 's', 't');
  await Promise.all([makeDirs(race), makeDirs(race)]);
  t.true(statSync(race).isDirectory());
});
