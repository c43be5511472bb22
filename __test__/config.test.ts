import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { archiveNames, create, extractAll, filesIn, foreignLock, packBytes, sameFile, snapshot } from './maintenance-helpers.js';

/** The repository's config object as stored. */
function stored(repo: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(repo, 'config'), 'utf8')) as Record<string, unknown>;
}

/** Asserts a run failed with exit code 2 and exactly one `hoard: ...` line matching `re` on stderr. */
function refused(t: import('ava').ExecutionContext, r: { code: number; stdout: string; stderr: string }, re: RegExp): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^hoard: [^\n]+\n$/, 'one line');
  t.regex(r.stderr, re);
}

test('config --list prints the repository section as borg does, and NAME prints one value', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const id = stored(repo).id as string;
  const list = await hoardIn(env, ['config', '--list', repo]);
  t.is(list.code, 0, list.stderr);
  t.is(
    list.stdout,
    [
      '[repository]',
      'version = 1',
      'storage_quota = 0',
      'additional_free_space = 0',
      'append_only = 0',
      `id = ${id}`,
      'encryption = repokey-aes-256-gcm',
      'suite = aes-256-gcm',
      'id_algorithm = keyed-blake3',
      'key_storage = repokey',
      '',
    ].join('\n'),
  );
  // A bare key and section.key name the same thing; no passphrase is needed.
  const noPass = { ...env, HOARD_PASSPHRASE: undefined };
  for (const name of ['id', 'repository.id']) {
    const r = await hoardIn(noPass, ['config', repo, name]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, `${id}\n`);
  }
  // HOARD_REPO stands in for the repository with --list.
  const fromEnv = await hoardIn({ ...env, HOARD_REPO: repo }, ['config', '-l']);
  t.is(fromEnv.stdout, list.stdout);
});

test('config sets and deletes additional_free_space, storage_quota and append_only, writing config atomically', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const before = stored(repo);
  for (const [name, value, field, want] of [
    ['additional_free_space', '2G', 'additionalFreeSpace', 2_000_000_000],
    ['repository.storage_quota', '1.5GiB', 'storageQuota', 1_610_612_736],
    ['append_only', '1', 'appendOnly', true],
  ] as const) {
    const r = await hoardIn(env, ['config', repo, name, value]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout + r.stderr, '');
    t.is(stored(repo)[field], want, name);
  }
  t.is((await hoardIn(env, ['config', repo, 'additional_free_space'])).stdout, '2000000000\n');
  t.is((await hoardIn(env, ['config', repo, 'append_only'])).stdout, '1\n');
  // The other fields are untouched, the file is still pretty JSON, and nothing temporary is left.
  const after = stored(repo);
  for (const k of ['format', 'version', 'id', 'encryption', 'suite', 'idAlgorithm', 'keyStorage']) t.deepEqual(after[k], before[k], k);
  t.true(readFileSync(path.join(repo, 'config'), 'utf8').endsWith('}\n'));
  t.deepEqual(readdirSync(repo).filter((n) => n.startsWith('.tmp-')), []);
  t.deepEqual(readdirSync(path.join(repo, 'locks')), [], 'the exclusive lock was released');
  // --delete puts a key back to its default.
  for (const name of ['additional_free_space', 'storage_quota', 'append_only']) {
    const r = await hoardIn(env, ['config', '--delete', repo, name]);
    t.is(r.code, 0, r.stderr);
  }
  t.deepEqual(stored(repo), before);
  // storage_quota 0 means none again.
  t.is((await hoardIn(env, ['config', repo, 'storage_quota', '20M'])).code, 0);
  t.is((await hoardIn(env, ['config', repo, 'storage_quota', '0'])).code, 0);
  t.is(stored(repo).storageQuota, 0);
});

test('config refuses read-only, unknown and borg segment keys and bad values with one line and exit code 2', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const before = readFileSync(path.join(repo, 'config'));
  const cases: [string[], RegExp][] = [
    [['id', 'ab'.repeat(32)], /repository\.id is read-only/],
    [['version', '2'], /repository\.version is read-only/],
    [['encryption', 'none'], /repository\.encryption is read-only/],
    [['--delete', 'id'], /repository\.id is read-only and cannot be deleted/],
    [['segments_per_dir'], /segments_per_dir is a setting of borg's segment files/],
    [['max_segment_size', '1G'], /max_segment_size is a setting of borg's segment files/],
    [['frobnicate'], /Invalid name "frobnicate": repository keys are version, storage_quota, additional_free_space, append_only, id/],
    [['cache.previous_location'], /Invalid section "cache"/],
    [['additional_free_space', 'lots'], /Invalid value for additional_free_space: "lots"/],
    [['storage_quota', '5M'], /storage_quota < 10M/],
    [['append_only', 'yes'], /Invalid value for append_only: "yes" \(use 0 or 1\)/],
    [[], /No config key name was provided\./],
  ];
  for (const [args, re] of cases) {
    const flags = args.filter((a) => a.startsWith('-'));
    const rest = args.filter((a) => !a.startsWith('-'));
    refused(t, await hoardIn(env, ['config', ...flags, repo, ...rest]), re);
  }
  refused(t, await hoardIn(env, ['config', '--list', repo, 'id']), /--list option does not take NAME/);
  refused(t, await hoardIn(env, ['config', '--list', '--delete', repo]), /cannot be combined/);
  refused(t, await hoardIn(env, ['config', '--delete', repo, 'append_only', '1']), /--delete takes NAME only/);
  refused(t, await hoardIn(env, ['config', `${repo}::a`, 'id']), /takes a repository, not an archive/);
  refused(t, await hoardIn(env, ['config', path.join(tempDir('none'), 'nothing'), 'id']), /does not exist/);
  t.true(readFileSync(path.join(repo, 'config')).equals(before), 'nothing was changed');
});

test('config changes wait for the exclusive lock; reading needs none', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const before = readFileSync(path.join(repo, 'config'));
  foreignLock(repo, 'shared');
  const r = await hoardIn(env, ['config', '--lock-wait', '0', repo, 'append_only', '1']);
  refused(t, r, /Failed to create\/acquire the lock .* \(timeout\): held by a shared lock of pid 4242 on elsewhere\.example/);
  t.true(readFileSync(path.join(repo, 'config')).equals(before), 'nothing was written without the lock');
  const get = await hoardIn(env, ['config', repo, 'append_only']);
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout, '0\n');
  t.is((await hoardIn(env, ['break-lock', repo])).code, 0);
  t.is((await hoardIn(env, ['config', '--lock-wait', '0', repo, 'append_only', '1'])).code, 0);
  t.is(stored(repo).appendOnly, true);
});

test('config --cache reads and sets this client\'s record of the repository', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const id = stored(repo).id as string;
  const list = await hoardIn(env, ['config', '--cache', '--list', repo]);
  t.is(list.code, 0, list.stderr);
  t.is(list.stdout, ['[cache]', `repository = ${id}`, `previous_location = ${repo}`, 'key_type = repokey-aes-256-gcm', 'manifest_seq = 1', ''].join('\n'));
  t.is((await hoardIn(env, ['config', '-c', repo, 'cache.key_type'])).stdout, 'repokey-aes-256-gcm\n');
  // Moved repositories: previous_location tells this client where it was, so that no relocation question comes up.
  const moved = path.join(tempDir('moved'), 'repo');
  const set = await hoardIn(env, ['config', '-c', repo, 'previous_location', moved]);
  t.is(set.code, 0, set.stderr);
  t.is((await hoardIn(env, ['config', '-c', repo, 'previous_location'])).stdout, `${moved}\n`);
  const relocated = await hoardIn(env, ['list', repo]);
  refused(t, relocated, /previously located at/);
  refused(t, await hoardIn(env, ['config', '-c', repo, 'key_type', 'none']), /cache\.key_type is read-only/);
  refused(t, await hoardIn(env, ['config', '-c', '--delete', repo, 'previous_location']), /cannot be deleted \(set it instead\)/);
  refused(t, await hoardIn(env, ['config', '-c', repo, 'repository.append_only']), /with --cache the section is cache/);
  refused(t, await hoardIn(env, ['config', '-c', repo, 'id']), /Invalid name "id": cache keys are repository, previous_location, key_type, manifest_seq/);
  // A client that never used the repository has no record.
  refused(t, await hoardIn(testEnv(), ['config', '-c', '-l', repo]), /has no record of repository/);
});

test('append_only: delete hides archives but compact frees nothing until config turns it off', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'keep', { 'k.bin': 500_000 });
  filesIn(base, 'drop', { 'd.bin': 2_000_000 });
  await create(t, env, base, `${repo}::keep`, 'keep');
  await create(t, env, base, `${repo}::drop`, 'drop');
  t.is((await hoardIn(env, ['config', repo, 'append_only', '1'])).code, 0);
  const del = await hoardIn(env, ['delete', `${repo}::drop`]);
  t.is(del.code, 0, del.stderr);
  t.deepEqual(await archiveNames(env, repo), ['keep']);
  const objectsBefore = snapshot(repo);
  const c = await hoardIn(env, ['compact', '-v', repo]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /append-only: compact deletes nothing/);
  t.deepEqual(snapshot(repo), objectsBefore, 'every pack, index, archive object and manifest generation stays');
  refused(t, await hoardIn(env, ['delete', '--force', repo]), /append-only repository: it cannot be deleted/);
  // Turned off, compact frees the deleted archive's data; the kept one still extracts.
  const packsBefore = packBytes(repo);
  t.is((await hoardIn(env, ['config', repo, 'append_only', '0'])).code, 0);
  const c2 = await hoardIn(env, ['compact', repo]);
  t.is(c2.code, 0, c2.stderr);
  t.true(packsBefore - packBytes(repo) >= 1_900_000, `packs went from ${packsBefore} to ${packBytes(repo)} bytes`);
  const out = await extractAll(t, env, `${repo}::keep`);
  sameFile(t, path.join(out, 'keep', 'k.bin'), path.join(base, 'keep', 'k.bin'));
});
