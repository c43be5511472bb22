import test from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN } from './helpers.js';

/** Runs hoard in `cwd` with `input` on its standard input. */
function hoardWith(env: NodeJS.ProcessEnv, argv: string[], cwd: string, input: string): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [HOARD_BIN, ...argv], { cwd, env, input, timeout: 120_000 });
  return { code: r.status ?? -1, stderr: r.stderr.toString('utf8') };
}

/**
 * A tree whose first file is large (stored last of all, by far) and whose other entries are
 * small files, a symlink, folders, a folder a pattern excludes and a tagged folder.
 */
function tree(): { base: string; src: string } {
  const base = tempDir('list-order');
  const src = path.join(base, 'src');
  for (const d of ['a/b', 'c', 'skip/keep', 'skip2/in', 'tagged']) mkdirSync(path.join(src, d), { recursive: true });
  writeFileSync(path.join(src, 'a', 'big'), randomBytes(24 << 20));
  writeFileSync(path.join(src, 'a', 'b', 'f'), 'f');
  writeFileSync(path.join(src, 'a', 'z'), 'z');
  writeFileSync(path.join(src, 'c', 'g'), 'g');
  symlinkSync('a/z', path.join(src, 'link'));
  writeFileSync(path.join(src, 'skip', 'out'), 'out');
  writeFileSync(path.join(src, 'skip', 'keep', 'in'), 'in');
  writeFileSync(path.join(src, 'skip2', '.tag'), '');
  writeFileSync(path.join(src, 'skip2', 'in', 'f'), 'f');
  writeFileSync(path.join(src, 'tagged', '.tag'), '');
  writeFileSync(path.join(src, 'tagged', 'gone'), 'gone');
  writeFileSync(path.join(src, 'top'), 'top');
  return { base, src };
}

test('create --list gives its lines in walk order, each folder after its contents (as borg)', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base } = tree();
  const argv = ['create', '--list', '--exclude-if-present', '.tag', '--keep-exclude-tags', '--pattern=+src/skip/keep', '--pattern=-src/skip', '--pattern=+src/skip2/in', '--pattern=-src/skip2', `${repo}::a`, 'src'];
  const made = await hoardIn(env, argv, base);
  t.is(made.code, 0, made.stderr);
  t.deepEqual(made.stderr.trim().split('\n'), [
    'A src/a/b/f',
    'd src/a/b',
    'A src/a/big',
    'A src/a/z',
    'd src/a',
    'A src/c/g',
    'd src/c',
    's src/link',
    // A folder a pattern excludes is 'x' before what is walked below it.
    'x src/skip',
    'A src/skip/keep/in',
    'd src/skip/keep',
    'x src/skip/out',
    // One a pattern excludes is left out as its tag says: nothing below it is looked at (borg).
    'x src/skip2',
    // A folder its tag excludes, kept with its tag by --keep-exclude-tags, is 'x' after the tag.
    'A src/tagged/.tag',
    'x src/tagged',
    'A src/top',
    'd src',
  ]);
  // A dry run gives the same order, every status '-' but the excluded ones.
  const dry = await hoardIn(env, ['create', '--dry-run', ...argv.slice(1, -2), `${repo}::b`, 'src'], base);
  t.is(dry.code, 0, dry.stderr);
  t.deepEqual(
    dry.stderr.trim().split('\n').map((l) => l.slice(2)),
    made.stderr.trim().split('\n').map((l) => l.slice(2)),
  );
});

test('create --list: a warning comes just before the line of the item it is about, also in a dry run', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base } = tree();
  const listed = 'src/a/big\nsrc/missing\nsrc/top\n';
  const made = hoardWith(env, ['create', '--list', '--paths-from-stdin', `${repo}::a`], base, listed);
  t.is(made.code, 1, made.stderr);
  const lines = made.stderr.trim().split('\n');
  t.is(lines.length, 4, made.stderr);
  t.is(lines[0], 'A src/a/big');
  t.regex(lines[1] ?? '', /^src\/missing: /);
  t.is(lines[2], 'E src/missing');
  t.is(lines[3], 'A src/top');
  // As borg 1.2, a dry run lists what it cannot read as 'E', not '-'.
  const dry = hoardWith(env, ['create', '--dry-run', '--list', '--paths-from-stdin', `${repo}::b`], base, listed);
  t.is(dry.code, 1, dry.stderr);
  t.deepEqual(dry.stderr.trim().split('\n').filter((l) => !l.startsWith('src/')), ['- src/a/big', 'E src/missing', '- src/top']);
});
