import test from 'ava';
import { readdirSync } from 'node:fs';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { snapshot } from './check-helpers.js';

test('upgrade with borg 1.4\'s options: one line, nothing to upgrade, exit 0, the repository unchanged', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const before = snapshot(repo);
  for (const opts of [[], ['--tam'], ['--disable-tam'], ['--check-tam'], ['--archives-tam', '--check-archives-tam'], ['-n', '-i', '--force'], ['--dry-run', '--inplace']]) {
    const r = await hoardIn(env, ['upgrade', ...opts, repo]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stderr, `${repo}: nothing to upgrade: hoard has one repository format (version 1), which authenticates every object\n`);
    t.is(r.stdout, '');
  }
  t.deepEqual(snapshot(repo), before);
  // HOARD_REPO stands in for the repository, as for every command.
  t.is((await hoardIn({ ...env, HOARD_REPO: repo }, ['upgrade'])).code, 0);
});

test('key migrate-to-repokey: nothing to migrate, exit 0; a folder that is no repository is exit 2', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'keyfile');
  const before = snapshot(repo);
  const r = await hoardIn(env, ['key', 'migrate-to-repokey', repo]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, `${repo}: nothing to migrate: hoard has no passphrase mode (this repository's key mode is keyfile-aes-256-gcm)\n`);
  t.deepEqual(snapshot(repo), before);
  const plain = tempDir('plain');
  t.deepEqual(readdirSync(plain), []);
  for (const argv of [['upgrade', plain], ['key', 'migrate-to-repokey', plain]]) {
    const bad = await hoardIn(env, argv);
    t.is(bad.code, 2);
    t.is(bad.stderr, `hoard: ${plain} is not a hoard repository\n`);
  }
  const archive = await hoardIn(env, ['upgrade', `${repo}::x`]);
  t.is(archive.code, 2);
});
