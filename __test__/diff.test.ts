import test from 'ava';
import { chmodSync, chownSync, lutimesSync, mkdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { formatFileSize } from '../dist/archive/diff.js';
import { pseudoRandom } from './helpers.js';

const T0 = new Date('2000-01-01T00:00:00Z');
const T1 = new Date('2001-02-03T04:05:06Z');
const asRoot = process.getuid?.() === 0;

/** Sets a fixed mtime so that only the changes a test makes show (ctime is left out with --noctime). */
function fix(p: string, when = T0): void {
  utimesSync(p, when, when);
}

/**
 * Two archives of one folder, `one` and `two`, between which: a file's content changed, a mode,
 * a symlink's target, an owner (as root), an mtime; a file and a folder were added and a file
 * removed. Everything else keeps its mtime, and ctime is not stored, so the lines are exact.
 */
async function twoArchives(): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string }> {
  const env = testEnv({ TZ: 'UTC' });
  const repo = await makeRepo(env);
  const base = tempDir('diff');
  const src = path.join(base, 'src');
  mkdirSync(src);
  const file = (name: string, data: string | Buffer, mode = 0o644): void => {
    writeFileSync(path.join(src, name), data);
    chmodSync(path.join(src, name), mode);
    fix(path.join(src, name));
  };
  file('keep.txt', 'same\n');
  file('mod.txt', 'hello\n');
  file('chmod.sh', 'echo\n');
  file('owner.txt', 'mine\n');
  file('removed.txt', 'gone\n');
  file('big.bin', pseudoRandom(3_000_000, 'diff-big'));
  symlinkSync('a', path.join(src, 'link'));
  lutimesSync(path.join(src, 'link'), T0, T0);
  fix(src);
  const one = await hoardIn(env, ['create', '--noctime', `${repo}::one`, 'src'], base);
  if (one.code !== 0) throw new Error(one.stderr);

  file('mod.txt', 'hello world\n');
  chmodSync(path.join(src, 'chmod.sh'), 0o755);
  if (asRoot) chownSync(path.join(src, 'owner.txt'), 12345, 12345);
  unlinkSync(path.join(src, 'link'));
  symlinkSync('b', path.join(src, 'link'));
  lutimesSync(path.join(src, 'link'), T0, T0);
  fix(path.join(src, 'keep.txt'), T1);
  rmSync(path.join(src, 'removed.txt'));
  file('added.txt', pseudoRandom(1234, 'added'));
  mkdirSync(path.join(src, 'newdir'));
  writeFileSync(path.join(src, 'newdir', 'f'), 'new');
  fix(src);
  const two = await hoardIn(env, ['create', '--noctime', `${repo}::two`, 'src'], base);
  if (two.code !== 0) throw new Error(two.stderr);
  return { env, repo, base };
}

test('diff prints borg 1.4 lines for every kind of change, in borg order', async (t) => {
  const { env, repo, base } = await twoArchives();
  const r = await hoardIn(env, ['diff', `${repo}::one`, 'two'], base);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  const want = [
    '[-rw-r--r-- -> -rwxr-xr-x] src/chmod.sh',
    '[mtime: Sat, 2000-01-01 00:00:00 -> Sat, 2001-02-03 04:05:06] src/keep.txt',
    'changed link        src/link',
    '    +12 B      -6 B src/mod.txt',
    ...(asRoot ? ['[root:root -> None:None] src/owner.txt'] : []),
    'added       1.23 kB src/added.txt',
    'added directory     src/newdir',
    'added           3 B src/newdir/f',
    'removed         5 B src/removed.txt',
  ];
  t.deepEqual(r.stdout.split('\n'), [...want, '']);

  if (asRoot) {
    const numeric = await hoardIn(env, ['diff', '--numeric-ids', `${repo}::one`, 'two', 'src/owner.txt'], base);
    t.is(numeric.stdout, '[0:0 -> 12345:12345] src/owner.txt\n');
  }
  // --content-only: contents, links and presence only.
  const content = await hoardIn(env, ['diff', '--content-only', `${repo}::one`, 'two'], base);
  t.deepEqual(content.stdout.split('\n'), [
    'changed link        src/link',
    '    +12 B      -6 B src/mod.txt',
    'added       1.23 kB src/added.txt',
    'added directory     src/newdir',
    'added           3 B src/newdir/f',
    'removed         5 B src/removed.txt',
    '',
  ]);
  // Sorting, as borg's --sort-by (stable, last key first) and --sort.
  const bySize = await hoardIn(env, ['diff', '--sort-by', '>size_added,path', '--content-only', `${repo}::one`, 'two'], base);
  t.deepEqual(bySize.stdout.split('\n').map((l) => l.slice(20)), ['src/added.txt', 'src/mod.txt', 'src/newdir/f', 'src/link', 'src/newdir', 'src/removed.txt', '']);
  const sorted = await hoardIn(env, ['diff', '--sort', '--content-only', `${repo}::one`, 'two'], base);
  t.deepEqual(sorted.stdout.split('\n').map((l) => l.slice(20)), ['src/added.txt', 'src/link', 'src/mod.txt', 'src/newdir', 'src/newdir/f', 'src/removed.txt', '']);
  const bad = await hoardIn(env, ['diff', '--sort-by', 'colour', `${repo}::one`, 'two'], base);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'hoard: --sort-by: unsupported sort field: colour\n');
});

test('diff --json-lines has borg keys; PATHs and patterns narrow it; unknown archives are one line', async (t) => {
  const { env, repo, base } = await twoArchives();
  const r = await hoardIn(env, ['diff', '--json-lines', `${repo}::one`, 'two'], base);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  // Python's json.dumps(sort_keys=True) layout, as borg prints it.
  t.true(lines.includes('{"changes": [{"added": 12, "removed": 6, "type": "modified"}], "path": "src/mod.txt"}'), r.stdout);
  const parsed = lines.map((l) => JSON.parse(l) as { path: string; changes: Record<string, unknown>[] });
  const byPath = new Map(parsed.map((p) => [p.path, p.changes]));
  t.deepEqual(byPath.get('src/chmod.sh'), [{ type: 'mode', old_mode: '-rw-r--r--', new_mode: '-rwxr-xr-x' }]);
  t.deepEqual(byPath.get('src/keep.txt'), [{ type: 'mtime', old_mtime: '2000-01-01T00:00:00.000000', new_mtime: '2001-02-03T04:05:06.000000' }]);
  t.deepEqual(byPath.get('src/link'), [{ type: 'changed link' }]);
  t.deepEqual(byPath.get('src/added.txt'), [{ type: 'added', size: 1234 }]);
  t.deepEqual(byPath.get('src/newdir'), [{ type: 'added directory' }]);
  t.deepEqual(byPath.get('src/removed.txt'), [{ type: 'removed', size: 5 }]);
  if (asRoot) t.deepEqual(byPath.get('src/owner.txt'), [{ type: 'owner', old_user: 'root', old_group: 'root', new_user: null, new_group: null }]);

  const under = await hoardIn(env, ['diff', `${repo}::one`, 'two', 'src/newdir'], base);
  t.is(under.stdout, 'added directory     src/newdir\nadded           3 B src/newdir/f\n');
  const excluded = await hoardIn(env, ['diff', '--content-only', '-e', 'src/newdir', '--pattern', '- src/link', `${repo}::one`, 'two'], base);
  t.deepEqual(excluded.stdout.split('\n').map((l) => l.slice(20)), ['src/mod.txt', 'src/added.txt', 'src/removed.txt', '']);
  const never = await hoardIn(env, ['diff', `${repo}::one`, 'two', 'src/nothing'], base);
  t.is(never.code, 1);
  t.is(never.stdout, '');
  t.is(never.stderr, "Include pattern 'src/nothing' never matched.\n");
  const missing = await hoardIn(env, ['diff', `${repo}::one`, 'three'], base);
  t.is(missing.code, 2);
  t.is(missing.stderr, 'hoard: Archive three does not exist\n');
  const same = await hoardIn(env, ['diff', `${repo}::two`, 'two'], base);
  t.is(same.code, 0);
  t.is(same.stdout, '');
});

test('diff reads contents when the chunker parameters differ: equal files show nothing, changed ones "modified"', async (t) => {
  const { env, repo, base } = await twoArchives();
  const other = await hoardIn(env, ['create', '--noctime', '--chunker-params', 'buzhash,10,23,16,4095', `${repo}::small-chunks`, 'src'], base);
  t.is(other.code, 0, other.stderr);
  const equal = await hoardIn(env, ['diff', `${repo}::two`, 'small-chunks'], base);
  t.is(equal.code, 0, equal.stderr);
  t.is(equal.stderr, '--chunker-params are different between archives, diff will be slow.\n');
  t.is(equal.stdout, '');
  const changed = await hoardIn(env, ['diff', '--content-only', `${repo}::one`, 'small-chunks', 'src/mod.txt', 'src/big.bin'], base);
  t.is(changed.stdout, 'modified            src/mod.txt\n');
});

test("diff's sizes are borg's format_file_size, with Python's rounding of exact ties", (t) => {
  t.is(formatFileSize(0), '0 B');
  t.is(formatFileSize(999), '999 B');
  t.is(formatFileSize(1234), '1.23 kB');
  // 1.125 is exact in binary: Python rounds the tie to even, JavaScript's toFixed would not.
  t.is(formatFileSize(1125), '1.12 kB');
  t.is(formatFileSize(1135), '1.14 kB');
  t.is(formatFileSize(12, 1, true), '+12 B');
  t.is(formatFileSize(-6, 1, true), '-6 B');
  t.is(formatFileSize(0, 1, true), '0 B');
  t.is(formatFileSize(2_500_000, 1, true), '+2.5 MB');
  t.is(formatFileSize(999_999), '1.00 MB');
});
