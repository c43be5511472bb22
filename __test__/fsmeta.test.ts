/**
 * The file metadata calls through the loader, on real files in a temporary directory, checked
 * against node:fs (`lstat` with `bigint: true`).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ExistsError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../dist/errors.js';
import {
  applyMetadata,
  lstatPath,
  makeDirectories,
  makeHardLink,
  makeSpecial,
  makeSymlink,
  scanEntries,
} from '../dist/native.js';
import type { FsEntry } from '../dist/native.js';
import { scanOne } from './helpers.js';

const isRoot = process.getuid?.() === 0;

/** A fresh directory under /var/tmp (a disk file system: xattrs and flags work there), removed
 * after the test. */
function tempDir(t: ExecutionContext, tag: string): string {
  const base = existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
  const dir = mkdtempSync(path.join(base, `hoard-fsmeta-${tag}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts that `e` carries the same numbers as node's `lstat` of `p`. */
function sameAsLstat(t: ExecutionContext, e: FsEntry, p: string | Buffer, what: string): void {
  const s = lstatSync(p, { bigint: true });
  t.is(BigInt(e.mode), s.mode, `${what}: mode`);
  t.is(BigInt(e.uid), s.uid, `${what}: uid`);
  t.is(BigInt(e.gid), s.gid, `${what}: gid`);
  t.is(e.ino, s.ino, `${what}: ino`);
  t.is(BigInt(e.dev), s.dev, `${what}: dev`);
  t.is(BigInt(e.nlink), s.nlink, `${what}: nlink`);
  t.is(BigInt(e.size), s.size, `${what}: size`);
  t.is(BigInt(e.rdev), s.rdev, `${what}: rdev`);
  t.is(BigInt(e.blocks), s.blocks, `${what}: blocks`);
  t.is(e.mtimeNs, s.mtimeNs, `${what}: mtime`);
  t.is(e.ctimeNs, s.ctimeNs, `${what}: ctime`);
  // Reading a symlink's target after its lstat may move its atime.
  if (!s.isSymbolicLink()) t.is(e.atimeNs, s.atimeNs, `${what}: atime`);
  if (s.birthtimeNs > 0n) t.is(e.birthtimeNs, s.birthtimeNs, `${what}: birthtime`);
}

test('a folder scan matches lstat for every kind of entry, sorted by name bytes', async (t) => {
  const dir = tempDir(t, 'scan');
  writeFileSync(path.join(dir, 'file'), Buffer.alloc(10_000, 7));
  mkdirSync(path.join(dir, 'dir'));
  symlinkSync('file', path.join(dir, 'link'));
  symlinkSync(Buffer.from('/nowhere/\xfe', 'latin1'), path.join(dir, 'dangling'));
  linkSync(path.join(dir, 'file'), path.join(dir, 'hard'));
  const odd = Buffer.concat([Buffer.from(dir), Buffer.from([0x2f, 0xff, 0xfe, 0x61])]);
  writeFileSync(odd, 'not utf-8 name');
  await makeSpecial(dir, 'fifo', 'fifo', 0o600, 0);
  if (isRoot) await makeSpecial(dir, 'null', 'chr', 0o666, Number(lstatSync('/dev/null').rdev));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock'), resolve));
  try {
    const opts = { atime: true, birthtime: true, xattrs: true, acls: true, flags: true };
    const packed = await scanOne(dir, opts);
    const entries = scanEntries(packed);
    t.is(packed.count, entries.length);
    const expected = readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
    t.deepEqual(
      entries.map((e) => e.name),
      expected,
    );
    t.deepEqual(entries.at(-1)?.name, Buffer.from([0xff, 0xfe, 0x61]));
    for (const e of entries) {
      const p = Buffer.concat([Buffer.from(`${dir}/`), e.name]);
      const what = e.name.toString('latin1');
      t.is(e.errorCode, undefined, what);
      sameAsLstat(t, e, p, what);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) {
        t.deepEqual(e.linkTarget, readlinkSync(p, { encoding: 'buffer' }), `${what}: target`);
      } else {
        t.is(e.linkTarget, undefined);
      }
      if (!s.isFile() && !s.isDirectory()) t.is(e.flags, undefined, `${what}: no flags`);
    }
    // Without the options, no atime, birthtime or flags.
    const bare = scanEntries(await scanOne(Buffer.from(dir)));
    t.true(bare.every((e) => e.atimeNs === undefined && e.birthtimeNs === undefined && e.flags === undefined));
  } finally {
    server.close();
  }
});

test('lstatPath reads one path; failures are typed', async (t) => {
  const dir = tempDir(t, 'lstat');
  writeFileSync(path.join(dir, 'f'), 'x');
  symlinkSync('f', path.join(dir, 'l'));
  const f = await lstatPath(path.join(dir, 'f'), { atime: true, birthtime: true });
  sameAsLstat(t, f, path.join(dir, 'f'), 'f');
  t.deepEqual(f.name, Buffer.from(path.join(dir, 'f')));
  const l = await lstatPath(path.join(dir, 'l'));
  t.deepEqual(l.linkTarget, Buffer.from('f'));
  t.true(lstatSync(path.join(dir, 'l')).isSymbolicLink() && (l.mode & 0o170000) === 0o120000);
  await t.throwsAsync(lstatPath(path.join(dir, 'missing')), { instanceOf: NotFoundError });
  await t.throwsAsync(scanOne(path.join(dir, 'missing')), { instanceOf: NotFoundError });
  await t.throwsAsync(scanOne(path.join(dir, 'l')), { instanceOf: InvalidArgumentError });
});

test('applyMetadata sets mode, owner, ns times and xattrs; lstat sees them', async (t) => {
  const dir = tempDir(t, 'apply');
  writeFileSync(path.join(dir, 'f'), 'x');
  mkdirSync(path.join(dir, 'd'));
  writeFileSync(path.join(dir, 'target'), 't');
  symlinkSync('target', path.join(dir, 'l'));
  const own = lstatSync(dir);
  const [uid, gid] = isRoot ? [1234, 2345] : [own.uid, own.gid];
  const mtimeNs = 1_234_567_890_123_456_789n;
  const atimeNs = 1_000_000_000_000_000_001n;
  const old = -1_500_000_000_987_654_321n;
  const warnings = await applyMetadata(dir, [
    {
      path: 'f',
      mode: 0o100640,
      uid,
      gid,
      atimeNs,
      mtimeNs,
      xattrs: [{ name: Buffer.from('user.hoard'), value: Buffer.from([0, 1, 2]) }],
    },
    { path: Buffer.from('d'), mode: 0o40750, mtimeNs: old },
    { path: 'l', mode: 0o777, mtimeNs, uid, gid },
  ]);
  const unsupported = warnings.filter((w) => w.op === 'xattr' && /not supported/i.test(w.message));
  if (unsupported.length > 0) t.log('note: user xattrs unsupported here; their check is skipped');
  t.deepEqual(
    warnings.filter((w) => !unsupported.includes(w)),
    [],
  );
  const f = lstatSync(path.join(dir, 'f'), { bigint: true });
  t.is(f.mode & 0o7777n, 0o640n);
  t.deepEqual([f.uid, f.gid], [BigInt(uid), BigInt(gid)]);
  t.is(f.mtimeNs, mtimeNs);
  t.is(f.atimeNs, atimeNs);
  const d = lstatSync(path.join(dir, 'd'), { bigint: true });
  t.is(d.mode & 0o7777n, 0o750n);
  t.is(d.mtimeNs, old);
  t.is(d.atimeNs, old, 'atime defaults to mtime');
  // The symlink got its owner and times; its target kept its mode.
  const l = lstatSync(path.join(dir, 'l'), { bigint: true });
  t.is(l.mtimeNs, mtimeNs);
  t.deepEqual([l.uid, l.gid], [BigInt(uid), BigInt(gid)]);
  t.is(lstatSync(path.join(dir, 'target')).mode & 0o777, 0o644 & ~process.umask());
  if (unsupported.length === 0) {
    const entries = scanEntries(await scanOne(dir, { xattrs: true }));
    const fe = entries.find((e) => e.name.equals(Buffer.from('f')));
    t.deepEqual(fe?.xattrs, [{ name: Buffer.from('user.hoard'), value: Buffer.from([0, 1, 2]) }]);
  }
});

test('applyMetadata refuses paths that leave the root, item by item', async (t) => {
  const dir = tempDir(t, 'escape');
  const outside = tempDir(t, 'outside');
  writeFileSync(path.join(outside, 'victim'), 'v');
  const before = lstatSync(path.join(outside, 'victim')).mode;
  symlinkSync(outside, path.join(dir, 'out'));
  writeFileSync(path.join(dir, 'ok'), 'x');
  const warnings = await applyMetadata(dir, [
    { path: '../outside/victim', mode: 0o777 },
    { path: '/etc/passwd', mode: 0o777 },
    { path: 'out/victim', mode: 0o777 },
    { path: 'ok', mode: 0o600 },
  ]);
  t.deepEqual(
    warnings.map((w) => [w.index, w.op, w.code]),
    [
      [0, 'open', 'HOARD_INVALID_ARGUMENT'],
      [1, 'open', 'HOARD_INVALID_ARGUMENT'],
      [2, 'open', 'HOARD_PERMISSION_DENIED'],
    ],
  );
  t.is(lstatSync(path.join(outside, 'victim')).mode, before);
  t.is(lstatSync(path.join(dir, 'ok')).mode & 0o777, 0o600);
  // Numbers that do not fit are refused before anything is done.
  t.throws(() => applyMetadata(dir, [{ path: 'ok', mode: -1 }]), { instanceOf: InvalidArgumentError });
  t.throws(() => applyMetadata(dir, [{ path: 'ok', uid: 1.5 }]), { instanceOf: InvalidArgumentError });
  t.throws(() => applyMetadata(dir, [{ path: 'ok', mtimeNs: 2n ** 64n }]), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(applyMetadata(path.join(dir, 'missing'), []), { instanceOf: NotFoundError });
});

test('makeSpecial, makeSymlink, makeHardLink and makeDirectories stay beneath the root', async (t) => {
  const dir = tempDir(t, 'make');
  const outside = tempDir(t, 'outside');
  symlinkSync(outside, path.join(dir, 'out'));

  t.deepEqual(await makeDirectories(dir, ['a/b/c', Buffer.from('a/b'), 'x']), []);
  t.true(lstatSync(path.join(dir, 'a/b/c')).isDirectory());
  await makeSpecial(dir, 'a/fifo', 'fifo', 0o640, 0);
  t.true(lstatSync(path.join(dir, 'a/fifo')).isFIFO());
  await makeSpecial(dir, 'a/sock', 'sock', 0o600, 0);
  t.true(lstatSync(path.join(dir, 'a/sock')).isSocket());
  const target = Buffer.from([0x2e, 0x2e, 0x2f, 0xff]);
  await makeSymlink(dir, 'a/link', target);
  t.deepEqual(readlinkSync(path.join(dir, 'a/link'), { encoding: 'buffer' }), target);
  writeFileSync(path.join(dir, 'a/file'), 'data');
  await makeHardLink(dir, 'a/file', 'x/hard');
  t.is(lstatSync(path.join(dir, 'x/hard')).ino, lstatSync(path.join(dir, 'a/file')).ino);
  t.is(readFileSync(path.join(dir, 'x/hard'), 'utf8'), 'data');

  await t.throwsAsync(makeSymlink(dir, 'a/link', 'again'), { instanceOf: ExistsError });
  await t.throwsAsync(makeSymlink(dir, '../escape', 'x'), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(makeSpecial(dir, 'out/fifo', 'fifo', 0o600, 0), { instanceOf: PermissionDeniedError });
  await t.throwsAsync(makeHardLink(dir, 'a/file', 'out/planted'), { instanceOf: PermissionDeniedError });
  writeFileSync(path.join(outside, 'secret'), 's');
  await t.throwsAsync(makeHardLink(dir, 'out/secret', 'stolen'), { instanceOf: PermissionDeniedError });
  const failed = await makeDirectories(dir, ['out/x', '/abs', 'a/file', 'fine/too']);
  t.deepEqual(
    failed.map((f) => [f.index, f.code]),
    [
      [0, 'HOARD_PERMISSION_DENIED'],
      [1, 'HOARD_INVALID_ARGUMENT'],
      [2, 'HOARD_EXISTS'],
    ],
  );
  t.true(lstatSync(path.join(dir, 'fine/too')).isDirectory());
  t.deepEqual(readdirSync(outside), ['secret']);
  t.throws(() => makeSpecial(dir, 'a/nope', 'door' as 'fifo', 0o600, 0), { instanceOf: InvalidArgumentError });
  t.throws(() => makeSpecial(dir, 'a/nope', 'fifo', 0.5, 0), { instanceOf: InvalidArgumentError });
});
