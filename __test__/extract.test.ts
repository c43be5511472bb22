import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, ftruncateSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';

/** Mode bits, ns mtime and contents of a file, as extract must give them back. */
function state(file: string): { mode: number; mtimeNs: bigint; content: string } {
  const st = lstatSync(file, { bigint: true });
  return { mode: Number(st.mode) & 0o7777, mtimeNs: st.mtimeNs, content: readFileSync(file).toString('utf8') };
}

test('extract restores exact modes (read-only, set-id, none) and ns times, and replaces what is in the way', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  const modes: Record<string, number> = { 'read-only': 0o444, setuid: 0o4755, 'setgid-sticky': 0o3750, 'sub/plain': 0o640 };
  // Only root can back up (and read back) a file of mode 0.
  if (process.getuid?.() === 0) modes.none = 0o000;
  for (const [name, mode] of Object.entries(modes)) {
    const file = path.join(src, name);
    writeFileSync(file, `contents of ${name}\n`);
    chmodSync(file, mode);
    utimesSync(file, 1_500_000_000.123456, 1_600_000_000.987654);
  }
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  const out = tempDir('out');
  const first = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(first.code, 0, first.stderr);
  for (const name of Object.keys(modes)) t.deepEqual(state(path.join(out, 'src', name)), state(path.join(src, name)), name);

  // Over the first extract, changed: a longer file, a read-only file, a symlink leading out of the
  // target. Each is replaced by the archived file; the symlink's target is left alone.
  const outside = path.join(tempDir('outside'), 'victim');
  writeFileSync(outside, 'untouched');
  writeFileSync(path.join(out, 'src', 'sub', 'plain'), 'a longer content than the archived one, which must not survive\n');
  chmodSync(path.join(out, 'src', 'read-only'), 0o400);
  const link = path.join(out, 'src', 'setuid');
  rmSync(link);
  symlinkSync(outside, link);
  const again = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(again.code, 0, again.stderr);
  for (const name of Object.keys(modes)) t.deepEqual(state(path.join(out, 'src', name)), state(path.join(src, name)), name);
  t.is(readFileSync(outside, 'utf8'), 'untouched');
});

test('a file or symlink where the archive has a folder is replaced by the folder, with the folder\'s own metadata', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  for (const d of ['sub', 'linked']) {
    mkdirSync(path.join(src, d), { recursive: true });
    writeFileSync(path.join(src, d, 'inner'), `inside ${d}\n`);
    chmodSync(path.join(src, d), 0o750);
    utimesSync(path.join(src, d), 1_500_000_000, 1_500_000_000);
  }
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  // In the extract's place: a private file where a folder was, and a symlink to a folder outside.
  const out = tempDir('out');
  mkdirSync(path.join(out, 'src'));
  const file = path.join(out, 'src', 'sub');
  writeFileSync(file, 'secret');
  chmodSync(file, 0o600);
  const outside = tempDir('outside');
  utimesSync(outside, 1_000_000_000, 1_000_000_000);
  symlinkSync(outside, path.join(out, 'src', 'linked'));
  const x = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(x.code, 0, x.stderr);
  for (const d of ['sub', 'linked']) {
    const st = lstatSync(path.join(out, 'src', d));
    t.true(st.isDirectory(), d);
    t.is(st.mode & 0o7777, 0o750, d);
    t.is(st.mtimeMs, 1_500_000_000_000, d);
    t.is(readFileSync(path.join(out, 'src', d, 'inner'), 'utf8'), `inside ${d}\n`);
  }
  // The symlink's target was not followed: nothing made in it, its times as they were.
  t.deepEqual(readdirSync(outside), []);
  t.is(statSync(outside).mtimeMs, 1_000_000_000_000);
});

test('hard links, symlinks and many folders come back in order across batches, also with --strip-components', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  // 300 folders of 3 files each (36 MB that does not compress: several restore batches), a symlink in each, and
  // hard links within and across folders, each made after the file it links to.
  for (let d = 0; d < 300; d += 1) {
    const dir = path.join(src, `d${String(d).padStart(3, '0')}`, 'deep');
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 3; f += 1) {
      writeFileSync(path.join(dir, `f${f}`), randomBytes(40 << 10));
    }
    symlinkSync('f0', path.join(dir, 'z-link'));
    chmodSync(path.join(dir, 'f1'), 0o640);
  }
  linkSync(path.join(src, 'd000', 'deep', 'f0'), path.join(src, 'd000', 'deep', 'f9'));
  linkSync(path.join(src, 'd000', 'deep', 'f1'), path.join(src, 'd299', 'deep', 'f9'));
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  const check = (root: string): void => {
    for (const d of [0, 150, 299]) {
      const dir = path.join(root, `d${String(d).padStart(3, '0')}`, 'deep');
      const from = path.join(src, `d${String(d).padStart(3, '0')}`, 'deep');
      for (const f of ['f0', 'f1', 'f2']) t.deepEqual(readFileSync(path.join(dir, f)), readFileSync(path.join(from, f)), `${d}/${f}`);
      t.is(readlinkSync(path.join(dir, 'z-link')), 'f0');
      t.is(lstatSync(path.join(dir, 'f1')).mode & 0o777, 0o640);
    }
    const a = lstatSync(path.join(root, 'd000', 'deep', 'f0'));
    t.is(lstatSync(path.join(root, 'd000', 'deep', 'f9')).ino, a.ino);
    t.is(a.nlink, 2);
    t.is(lstatSync(path.join(root, 'd299', 'deep', 'f9')).ino, lstatSync(path.join(root, 'd000', 'deep', 'f1')).ino);
  };
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(x.code, 0, x.stderr);
  check(path.join(out, 'src'));
  // Stripped: the links go to where their files went.
  const stripped = tempDir('strip');
  const s = await hoardIn(env, ['extract', '--strip-components', '1', `${repo}::a`], stripped);
  t.is(s.code, 0, s.stderr);
  check(stripped);
  // A hard link whose file is not extracted gets that file's contents (as borg).
  const part = tempDir('part');
  const p = await hoardIn(env, ['extract', `${repo}::a`, 'src/d299'], part);
  t.is(p.code, 0, p.stderr);
  t.deepEqual(readFileSync(path.join(part, 'src', 'd299', 'deep', 'f9')), readFileSync(path.join(src, 'd000', 'deep', 'f1')));
  t.is(lstatSync(path.join(part, 'src', 'd299', 'deep', 'f9')).mode & 0o777, 0o640);
  t.deepEqual(readFileSync(path.join(part, 'src', 'd299', 'deep', 'f2')), readFileSync(path.join(src, 'd299', 'deep', 'f2')));
});

test('large files of many chunks come back byte for byte, with holes under --sparse and their hard links', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  // 40 MB in parts of odd lengths: random (stored as is), text (compressed), zeros; chunks of
  // 512 KiB to 8 MiB, most starting and ending inside a 4 KiB block of the file.
  const parts: Buffer[] = [];
  for (let i = 0; i < 12; i += 1) {
    const len = 1_000_003 + i * 777_777;
    if (i % 3 === 0) parts.push(randomBytes(len));
    else if (i % 3 === 1) parts.push(Buffer.from(`line ${i} of text that compresses\n`.repeat(Math.ceil(len / 30))).subarray(0, len));
    else parts.push(Buffer.concat([randomBytes(len >> 1), Buffer.alloc(len - (len >> 1))]));
  }
  const big = Buffer.concat(parts);
  writeFileSync(path.join(src, 'big'), big);
  linkSync(path.join(src, 'big'), path.join(src, 'big-link'));
  // Sparse: data islands of odd lengths between holes of several MiB, ending in a hole.
  const fd = openSync(path.join(src, 'holes'), 'w');
  const islands = [0, 5_000_001, 13_000_017];
  const island = randomBytes(1_500_007);
  for (const at of islands) writeSync(fd, island, 0, island.length, at);
  const holesSize = 24 << 20;
  ftruncateSync(fd, holesSize);
  closeSync(fd);
  const holes = readFileSync(path.join(src, 'holes'));
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  for (const sparse of [false, true]) {
    const out = tempDir('out');
    const x = await hoardIn(env, ['extract', ...(sparse ? ['--sparse'] : []), `${repo}::a`], out);
    t.is(x.code, 0, x.stderr);
    t.true(readFileSync(path.join(out, 'src', 'big')).equals(big), 'big');
    t.is(statSync(path.join(out, 'src', 'big-link')).ino, statSync(path.join(out, 'src', 'big')).ino);
    const got = readFileSync(path.join(out, 'src', 'holes'));
    t.is(got.length, holesSize);
    t.true(got.equals(holes), 'holes');
    const allocated = statSync(path.join(out, 'src', 'holes')).blocks * 512;
    if (sparse) t.true(allocated < holesSize / 2, `${allocated} bytes allocated`);
    else t.true(allocated >= holesSize, `${allocated} bytes allocated`);
  }
});

test('modes the umask would cut, folder modes and owners come back exactly, also in a setgid folder of another group', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  // Files made whole in one piece get their permission bits when created, so each mode here
  // must survive the umask (0o666, 0o777, 0o664), forbid writing (0o444), or need fchmod (set-id).
  const files: Record<string, number> = { 'rw-all': 0o666, 'rwx-all': 0o777, 'group-rw': 0o664, 'read-only': 0o444, plain: 0o644, setgid: 0o2755 };
  const folders: Record<string, number> = { open: 0o777, private: 0o700, sticky: 0o1777, 'setgid-folder': 0o2775 };
  for (const [dir, dirMode] of Object.entries(folders)) {
    mkdirSync(path.join(src, dir), { recursive: true });
    for (const [name, mode] of Object.entries(files)) {
      const file = path.join(src, dir, name);
      writeFileSync(file, `${dir}/${name}\n`);
      chmodSync(file, mode);
      utimesSync(file, 1_500_000_000.5, 1_600_000_000.25);
    }
    chmodSync(path.join(src, dir), dirMode);
  }
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  const out = tempDir('out');
  const asRoot = process.getuid?.() === 0;
  // As root, the target is a setgid folder of another group: what is made in it gets that group
  // until extract sets the archived one.
  if (asRoot) {
    chownSync(out, 0, 4322);
    chmodSync(out, 0o2755);
  }
  const x = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(x.code, 0, x.stderr);
  const owner = (p: string): [number, number] => {
    const st = lstatSync(p);
    return [st.uid, st.gid];
  };
  for (const dir of Object.keys(folders)) {
    t.is(lstatSync(path.join(out, 'src', dir)).mode & 0o7777, lstatSync(path.join(src, dir)).mode & 0o7777, dir);
    t.deepEqual(owner(path.join(out, 'src', dir)), owner(path.join(src, dir)), dir);
    for (const name of Object.keys(files)) {
      const rel = path.join('src', dir, name);
      t.deepEqual(state(path.join(out, rel)), state(path.join(base, rel)), rel);
      t.deepEqual(owner(path.join(out, rel)), owner(path.join(base, rel)), rel);
    }
  }
});
