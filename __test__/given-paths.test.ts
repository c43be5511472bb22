import test from 'ava';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';

/** The paths `list` shows for an archive, in its order. */
async function listed(env: NodeJS.ProcessEnv, archive: string): Promise<string[]> {
  const l = await hoardIn(env, ['list', '--format', '{path}{NL}', archive]);
  if (l.code !== 0) throw new Error(l.stderr);
  return l.stdout.split('\n').filter((p) => p !== '');
}

/** Extracts `archive` (only `paths`, if any) into `dir`, a new folder. */
async function extractInto(env: NodeJS.ProcessEnv, dir: string, archive: string, ...paths: string[]): Promise<{ code: number; stderr: string }> {
  mkdirSync(dir);
  return hoardIn(env, ['extract', archive, ...paths], dir);
}

/** The regular files of an archive as `path source` (the file a hard link links to). */
async function linksOf(env: NodeJS.ProcessEnv, archive: string): Promise<string[]> {
  const l = await hoardIn(env, ['list', '--format', '{type}{path} {source}{NL}', archive]);
  return l.stdout
    .split('\n')
    .filter((p) => p.startsWith('-'))
    .map((p) => p.slice(1));
}

/**
 * A folder `src` in a fresh directory: `f`, `a/h`, `a/b/g`, and `a/b/g2`, a hard link to `a/h`;
 * and beside it `other`, holding `o`.
 */
function source(tag: string): { base: string; src: string; other: string } {
  const base = tempDir(tag);
  const src = path.join(base, 'src');
  mkdirSync(path.join(src, 'a', 'b'), { recursive: true });
  writeFileSync(path.join(src, 'f'), 'f-data');
  writeFileSync(path.join(src, 'a', 'h'), 'h-data');
  writeFileSync(path.join(src, 'a', 'b', 'g'), 'g-data');
  linkSync(path.join(src, 'a', 'h'), path.join(src, 'a', 'b', 'g2'));
  const other = path.join(base, 'other');
  mkdirSync(other);
  writeFileSync(path.join(other, 'o'), 'o-data');
  return { base, src, other };
}

test('create . keeps the folder itself as item `.`, which extract restores on the target folder', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base, src } = source('dot');
  chmodSync(src, 0o750);
  utimesSync(src, 978_307_200, 978_307_200); // 2001-01-01
  const made = await hoardIn(env, ['create', '--list', `${repo}::a`, '.'], src);
  t.is(made.code, 0, made.stderr);
  // As borg: `.` itself (after its contents), and what is below it without `./`.
  t.deepEqual(made.stderr.trim().split('\n'), ['A a/b/g', 'A a/b/g2', 'd a/b', 'h a/h', 'd a', 'A f', 'd .']);
  t.deepEqual(await listed(env, `${repo}::a`), ['.', 'a', 'a/b', 'a/b/g', 'a/b/g2', 'a/h', 'f']);
  const dot = await hoardIn(env, ['list', '--json-lines', `${repo}::a`, '.']);
  const item = JSON.parse(dot.stdout.split('\n')[0] ?? '') as { path: string; mode: string; mtime: string; type: string };
  t.like(item, { path: '.', type: 'd', mode: 'drwxr-x---', mtime: '2001-01-01T00:00:00.000000' });
  const check = await hoardIn(env, ['check', repo]);
  t.is(check.code, 0, check.stderr);
  // Repair keeps it too (it drops names that are not plain elsewhere).
  const repair = await hoardIn({ ...env, HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['check', '--repair', repo]);
  t.is(repair.code, 0, repair.stderr);
  t.deepEqual(await listed(env, `${repo}::a`), ['.', 'a', 'a/b', 'a/b/g', 'a/b/g2', 'a/h', 'f']);

  const out = path.join(base, 'out');
  mkdirSync(out, { mode: 0o755 });
  const x = await hoardIn(env, ['extract', '--list', `${repo}::a`], out);
  t.is(x.code, 0, x.stderr);
  t.true(x.stderr.split('\n').includes('.'), x.stderr);
  const st = statSync(out);
  t.is(st.mode & 0o7777, 0o750);
  t.is(st.mtimeMs, 978_307_200_000);
  t.is(readFileSync(path.join(out, 'a', 'b', 'g2'), 'utf8'), 'h-data');
  // With --strip-components, or only some paths, the target folder is left as it is.
  const stripped = path.join(base, 'stripped');
  mkdirSync(stripped, { mode: 0o755 });
  chmodSync(stripped, 0o755);
  t.is((await hoardIn(env, ['extract', '--strip-components', '1', `${repo}::a`], stripped)).code, 0);
  t.is(statSync(stripped).mode & 0o7777, 0o755);
  t.is(readFileSync(path.join(stripped, 'b', 'g'), 'utf8'), 'g-data');
  const some = path.join(base, 'some');
  mkdirSync(some, { mode: 0o755 });
  chmodSync(some, 0o755);
  t.is((await hoardIn(env, ['extract', `${repo}::a`, 'f'], some)).code, 0);
  t.is(statSync(some).mode & 0o7777, 0o755);

  // export-tar writes it as `./`; import-tar makes it `.` again, as borg's import-tar does.
  const tar = path.join(base, 'a.tar');
  t.is((await hoardIn(env, ['export-tar', `${repo}::a`, tar])).code, 0);
  t.is(readFileSync(tar).subarray(0, 3).toString('latin1'), './\0');
  const imported = await hoardIn(env, ['import-tar', `${repo}::b`, tar]);
  t.is(imported.code, 0, imported.stderr);
  t.deepEqual(await listed(env, `${repo}::b`), ['.', 'a', 'a/b', 'a/b/g', 'a/b/g2', 'a/h', 'f']);

  // A listed `.` (--paths-from-command) is the item alone.
  const flat = await hoardIn(env, ['create', '--list', '--paths-from-command', `${repo}::c`, '--', 'printf', '.\\na\\n'], src);
  t.is(flat.code, 0, flat.stderr);
  t.true(flat.stderr.split('\n').includes('d .'), flat.stderr);
  t.deepEqual(await listed(env, `${repo}::c`), ['.', 'a']);
});

test('a given path inside another given path is stored once, and neither loses anything; hard links across given paths extract, also without their first path', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base, src, other } = source('nested');
  const nested = await hoardIn(env, ['create', `${repo}::nested`, 'src/a', 'src/a/b', 'src'], base);
  t.is(nested.code, 0, nested.stderr);
  t.deepEqual(await listed(env, `${repo}::nested`), ['src', 'src/a', 'src/a/b', 'src/a/b/g', 'src/a/b/g2', 'src/a/h', 'src/f']);
  // Given out of walk order: the first name of the hard-linked file is still the one met first.
  const out = path.join(base, 'out');
  t.is((await extractInto(env, out, `${repo}::nested`)).code, 0);
  t.is(statSync(path.join(out, 'src', 'a', 'h')).ino, statSync(path.join(out, 'src', 'a', 'b', 'g2')).ino);
  t.is(readFileSync(path.join(out, 'src', 'a', 'b', 'g2'), 'utf8'), 'h-data');
  t.is(readFileSync(path.join(out, 'src', 'f'), 'utf8'), 'f-data');

  // `.` and a path from elsewhere: the folder's own entries and the other path side by side.
  const both = await hoardIn(env, ['create', `${repo}::both`, '.', other], src);
  t.is(both.code, 0, both.stderr);
  const otherPath = path.relative('/', other);
  // Parents that were not backed up themselves are not listed.
  t.deepEqual((await listed(env, `${repo}::both`)).sort(), ['.', 'a', 'a/b', 'a/b/g', 'a/b/g2', 'a/h', 'f', otherPath, `${otherPath}/o`].sort());
  const check = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(check.code, 0, check.stderr);

  // Two folders given in reverse order that share a file.
  mkdirSync(path.join(base, 'x'));
  mkdirSync(path.join(base, 'y'));
  writeFileSync(path.join(base, 'x', 'one'), 'shared');
  linkSync(path.join(base, 'x', 'one'), path.join(base, 'y', 'two'));
  linkSync(path.join(base, 'x', 'one'), path.join(base, 'y', 'three'));
  t.is((await hoardIn(env, ['create', `${repo}::reversed`, 'y', 'x'], base)).code, 0);
  const out2 = path.join(base, 'out2');
  const x = await extractInto(env, out2, `${repo}::reversed`);
  t.is(x.code, 0, x.stderr);
  t.is(readFileSync(path.join(out2, 'y', 'two'), 'utf8'), 'shared');
  t.is(statSync(path.join(out2, 'x', 'one')).ino, statSync(path.join(out2, 'y', 'two')).ino);
  // The name a walk meets first holds the contents (export-tar and extract --stdout rely on it).
  t.deepEqual(await linksOf(env, `${repo}::reversed`), ['x/one ', 'y/three x/one', 'y/two x/one']);
  // Only the links (as borg): the first gets the contents, the next links to it.
  const out3 = path.join(base, 'out3');
  const links = await extractInto(env, out3, `${repo}::reversed`, 'y');
  t.is(links.code, 0, links.stderr);
  t.is(readFileSync(path.join(out3, 'y', 'three'), 'utf8'), 'shared');
  t.is(statSync(path.join(out3, 'y', 'three')).ino, statSync(path.join(out3, 'y', 'two')).ino);
  t.is(statSync(path.join(out3, 'y', 'two')).nlink, 2);
  // Listed out of walk order: the contents still go to the name a walk meets first.
  const listedOut = await hoardIn(env, ['create', '--paths-from-command', `${repo}::listed`, '--', 'printf', 'y\\ny/two\\nx\\nx/one\\n'], base);
  t.is(listedOut.code, 0, listedOut.stderr);
  t.deepEqual(await linksOf(env, `${repo}::listed`), ['x/one ', 'y/two x/one']);
  const out4 = path.join(base, 'out4');
  const x4 = await extractInto(env, out4, `${repo}::listed`);
  t.is(x4.code, 0, x4.stderr);
  t.is(readFileSync(path.join(out4, 'x', 'one'), 'utf8'), 'shared');
  t.is(statSync(path.join(out4, 'x', 'one')).ino, statSync(path.join(out4, 'y', 'two')).ino);
});

test('PATHs that meet: one archive path from two sources is a warning; a link to a PATH elsewhere follows walk order; a symlink above a PATH is a warning', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base, src, other } = source('meet');
  linkSync(path.join(other, 'o'), path.join(src, 'zo'));
  // Both are archived as the root: the first is kept, the second named.
  const two = await hoardIn(env, ['create', `${repo}::two`, `${src}/./`, `${other}/./`], base);
  t.is(two.code, 1, two.stderr);
  t.is(two.stderr, `${other}/./: left out, as . in the archive holds another PATH already\n`);
  t.deepEqual(await listed(env, `${repo}::two`), ['.', 'a', 'a/b', 'a/b/g', 'a/b/g2', 'a/h', 'f', 'zo']);
  // The same PATH twice is stored once, silently.
  const twice = await hoardIn(env, ['create', `${repo}::twice`, 'src/a', `${src}/a`], base);
  t.is(twice.code, 0, twice.stderr);
  // `other` lies under tmp/..., which sorts before `zo`: it is walked there, so o holds the contents.
  const elsewhere = await hoardIn(env, ['create', `${repo}::elsewhere`, '.', other], src);
  t.is(elsewhere.code, 0, elsewhere.stderr);
  const otherPath = path.relative('/', other);
  t.true(otherPath < 'zo');
  t.deepEqual(await linksOf(env, `${repo}::elsewhere`), ['a/b/g ', 'a/b/g2 ', 'a/h a/b/g2', 'f ', `${otherPath}/o `, `zo ${otherPath}/o`]);
  // A symlink on the way to a given path cannot hold it: the folder is kept, with a warning.
  mkdirSync(path.join(base, 'home', 'real', 'proj'), { recursive: true });
  writeFileSync(path.join(base, 'home', 'real', 'proj', 'p'), 'p');
  symlinkSync('real', path.join(base, 'home', 'me'));
  const sym = await hoardIn(env, ['create', `${repo}::sym`, 'home', 'home/me/proj'], base);
  t.is(sym.code, 1, sym.stderr);
  t.is(sym.stderr, 'home/me: left out, as PATHs are given below it and it is not a folder (the archive has a folder there, holding only those PATHs)\n');
  t.true((await listed(env, `${repo}::sym`)).includes('home/me/proj/p'));
});
