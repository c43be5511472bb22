import test from 'ava';
import { lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir, testEnv } from './archive-helpers.js';
import { filesIn } from './maintenance-helpers.js';

/** The permission bits of every file and of every folder under `root` (itself included). */
function modes(root: string): { files: Set<number>; dirs: Set<number>; count: number } {
  const out = { files: new Set<number>(), dirs: new Set<number>(), count: 0 };
  const visit = (p: string): void => {
    const st = lstatSync(p);
    out.count += 1;
    if (st.isDirectory()) {
      out.dirs.add(st.mode & 0o777);
      for (const n of readdirSync(p)) visit(path.join(p, n));
    } else out.files.add(st.mode & 0o777);
  };
  visit(root);
  return out;
}

test("repository and cache files are 0600 and folders 0700 by default (borg's umask 0077); --umask 0027 makes them group-readable", async (t) => {
  const base = tempDir('src');
  filesIn(base, 'd', { a: 300_000, b: 2000 });
  for (const [umask, file, dir] of [[undefined, 0o600, 0o700], ['0027', 0o640, 0o750]] as const) {
    const env = testEnv();
    const repo = path.join(tempDir('repo'), 'repo');
    const extra = umask === undefined ? [] : ['--umask', umask];
    // Children, so that the umask is the run's own, not this process's.
    let r = await hoardIn(env, ['init', '-e', 'repokey', ...extra, repo], base);
    t.is(r.code, 0, r.stderr);
    r = await hoardIn(env, ['create', ...extra, `${repo}::a`, 'd'], base);
    t.is(r.code, 0, r.stderr);
    r = await hoardIn(env, ['delete', ...extra, `${repo}::a`], base);
    t.is(r.code, 0, r.stderr);
    r = await hoardIn(env, ['compact', ...extra, repo], base);
    t.is(r.code, 0, r.stderr);
    const inRepo = modes(repo);
    t.true(inRepo.count > 5, `${inRepo.count} entries`);
    t.deepEqual([...inRepo.files], [file], `repository files, --umask ${umask}`);
    t.deepEqual([...inRepo.dirs], [dir], `repository folders, --umask ${umask}`);
    const cache = modes(env.HOARD_CACHE_DIR as string);
    t.deepEqual([...cache.files], [file], `cache files, --umask ${umask}`);
  }
});

test('--umask takes an octal number of up to 4 digits', async (t) => {
  const env = testEnv();
  const repo = path.join(tempDir('repo'), 'repo');
  const r = await hoardIn(env, ['init', '-e', 'none', '--umask', '0089', repo], tempDir('cwd'));
  t.is(r.code, 2);
  t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
});
