import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';

/**
 * A tree whose first file is large (stored last of all, by far) and whose other entries are
 * small files, a symlink, folders, a folder a pattern excludes and a tagged folder.
 */
function tree(): { base: string; src: string } {
  const base = tempDir('list-order');
  const src = path.join(base, 'src');
  for (const d of ['a/b', 'c', 'skip/keep', 'tagged']) mkdirSync(path.join(src, d), { recursive: true });
  writeFileSync(path.join(src, 'a', 'big'), randomBytes(24 << 20));
  writeFileSync(path.join(src, 'a', 'b', 'f'), 'f');
  writeFileSync(path.join(src, 'a', 'z'), 'z');
  writeFileSync(path.join(src, 'c', 'g'), 'g');
  symlinkSync('a/z', path.join(src, 'link'));
  writeFileSync(path.join(src, 'skip', 'out'), 'out');
  writeFileSync(path.join(src, 'skip', 'keep', 'in'), 'in');
  writeFileSync(path.join(src, 'tagged', '.tag'), '');
  writeFileSync(path.join(src, 'tagged', 'gone'), 'gone');
  writeFileSync(path.join(src, 'top'), 'top');
  return { base, src };
}

test('create --list gives its lines in walk order, each folder after its contents (as borg)', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const { base } = tree();
  const argv = ['create', '--list', '--exclude-if-present', '.tag', '--keep-exclude-tags', '--pattern=+src/skip/keep', '--pattern=-src/skip', `${repo}::a`, 'src'];
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
