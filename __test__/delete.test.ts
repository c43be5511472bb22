import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN, type CliResult } from './helpers.js';
import { archiveNames, create, filesIn, foreignLock, objects, snapshot } from './maintenance-helpers.js';

/** A repository with archives mon-1, mon-2, tue-1 and wed-1, made in that order. */
async function week(t: Parameters<typeof create>[0], env: NodeJS.ProcessEnv): Promise<{ repo: string; base: string }> {
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { a: 20_000, b: 5_000 });
  for (const name of ['mon-1', 'mon-2', 'tue-1', 'wed-1']) await create(t, env, base, `${repo}::${name}`, 'd');
  return { repo, base };
}

/** Runs hoard as a child with `input` on its stdin. */
async function withInput(env: NodeJS.ProcessEnv, argv: string[], input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [HOARD_BIN, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.end(input);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

test('delete REPO::A and delete REPO A B remove exactly those archives, each in one manifest generation', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  const gens = objects(repo, 'manifest').length;
  const one = await hoardIn(env, ['delete', `${repo}::mon-2`]);
  t.is(one.code, 0, one.stderr);
  t.deepEqual(await archiveNames(env, repo), ['mon-1', 'tue-1', 'wed-1']);
  t.is(objects(repo, 'manifest').length, gens + 1);
  const two = await hoardIn(env, ['delete', '--list', repo, 'wed-1', 'mon-1']);
  t.is(two.code, 0, two.stderr);
  t.regex(two.stderr, /^Deleting archive: wed-1 {32}[A-Z][a-z]{2}, [-\d]+ [:\d]+ \[[0-9a-f]{64}\] \(1\/2\)\nDeleting archive: mon-1 .* \(2\/2\)\n$/);
  t.deepEqual(await archiveNames(env, repo), ['tue-1']);
  t.is(objects(repo, 'manifest').length, gens + 2);
  // ::ARCHIVE with the repository from HOARD_REPO.
  t.is((await hoardIn({ ...env, HOARD_REPO: repo }, ['delete', '::tue-1'])).code, 0);
  t.deepEqual(await archiveNames(env, repo), []);
});

test('an unknown archive is a warning, as borg 1.4: "Archive X not found (i/n).", the others are deleted, exit code 1', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  const before = snapshot(repo);
  const alone = await hoardIn(env, ['delete', `${repo}::nope`]);
  t.is(alone.code, 1);
  t.is(alone.stderr, 'Archive nope not found (1/1).\n');
  t.is(alone.stdout, '');
  t.deepEqual(snapshot(repo), before);
  const dry = await hoardIn(env, ['delete', '-n', '--list', repo, 'nope', 'mon-1']);
  t.is(dry.code, 1);
  t.regex(dry.stderr, /^Archive nope not found \(1\/2\)\.\nWould delete archive: mon-1 .* \(2\/2\)\n$/);
  t.deepEqual(snapshot(repo), before);
  const mixedNames = await hoardIn(env, ['delete', `${repo}::mon-1`, 'nope', 'tue-1']);
  t.is(mixedNames.code, 1);
  t.is(mixedNames.stderr, 'Archive nope not found (2/3).\n');
  t.deepEqual(await archiveNames(env, repo), ['mon-2', 'wed-1']);
});

test('archive filters and names cannot be combined: one line, exit code 2, nothing changed', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  const before = snapshot(repo);
  const mixed = await hoardIn(env, ['delete', '-a', 'mon-*', repo, 'tue-1']);
  t.is(mixed.code, 2);
  t.is(mixed.stderr.trimEnd().split('\n').length, 1);
  t.deepEqual(snapshot(repo), before);
  t.deepEqual(await archiveNames(env, repo), ['mon-1', 'mon-2', 'tue-1', 'wed-1']);
});

test('a glob delete never touches archives outside the filter; --first/--last pick within it; --dry-run changes nothing', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  const before = snapshot(repo);
  const dry = await hoardIn(env, ['delete', '--dry-run', '--list', '-a', 'mon-*', repo]);
  t.is(dry.code, 0, dry.stderr);
  t.deepEqual(
    dry.stderr.trimEnd().split('\n').map((l) => l.replace(/^(Would delete archive: \S+) .*\((\d\/\d)\)$/, '$1 $2')),
    ['Would delete archive: mon-1 1/2', 'Would delete archive: mon-2 2/2'],
  );
  const dryStats = await hoardIn(env, ['delete', '-n', '--stats', '-a', '*', repo]);
  t.is(dryStats.code, 0, dryStats.stderr);
  // As borg 1.4: a dry run has no statistics.
  t.is(dryStats.stderr, 'Ignoring --stats. It is not supported when using --dry-run.\n');
  t.deepEqual(snapshot(repo), before, 'dry runs wrote nothing');
  const last = await hoardIn(env, ['delete', '-a', 'mon-*', '--last', '1', repo]);
  t.is(last.code, 0, last.stderr);
  t.deepEqual(await archiveNames(env, repo), ['mon-1', 'tue-1', 'wed-1']);
  const glob = await hoardIn(env, ['delete', '--glob-archives', 'mon-*', repo]);
  t.is(glob.code, 0, glob.stderr);
  t.deepEqual(await archiveNames(env, repo), ['tue-1', 'wed-1']);
  const none = await hoardIn(env, ['delete', '-a', 'fri-*', repo]);
  t.is(none.code, 0, none.stderr);
  t.deepEqual(await archiveNames(env, repo), ['tue-1', 'wed-1']);
  const prefix = await hoardIn(env, ['delete', '-P', 'we', repo]);
  t.is(prefix.code, 0, prefix.stderr);
  t.deepEqual(await archiveNames(env, repo), ['tue-1']);
});

test('delete --stats prints borg\'s table: what the archives alone held, and what stays', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'shared', { s: 200_000 });
  filesIn(base, 'own', { o: 300_000 });
  await create(t, env, base, `${repo}::stays`, 'shared');
  await create(t, env, base, `${repo}::goes`, 'shared', 'own');
  const r = await hoardIn(env, ['delete', '--stats', `${repo}::goes`]);
  t.is(r.code, 0, r.stderr);
  const rule = '-'.repeat(78);
  t.regex(
    r.stderr,
    new RegExp(
      `^${rule}\n {23}Original size {6}Compressed size {4}Deduplicated size\nDeleted data: +-500\\.\\d\\d kB +-500\\.\\d\\d kB +-300\\.\\d\\d kB\n` +
        `All archives: +200\\.\\d\\d kB +200\\.\\d\\d kB +200\\.\\d\\d kB\n\n {23}Unique chunks {9}Total chunks\nChunk index: +\\d+ +\\d+\n${rule}\n$`,
    ),
  );
});

test('delete REPO asks for YES; the answer may come from HOARD_/BORG_DELETE_I_KNOW_WHAT_I_AM_DOING', async (t) => {
  const env = testEnv();
  const { repo, base } = await week(t, env);
  const id = (JSON.parse((await hoardIn(env, ['info', '--json', repo])).stdout) as { repository: { id: string } }).repository.id;
  const cache = path.join(env.HOARD_CACHE_DIR ?? '', id);
  const security = path.join(env.HOARD_CONFIG_DIR ?? '', 'security', id);
  t.true(existsSync(cache) && existsSync(security));
  const before = snapshot(repo);
  // No answer (stdin at its end), a wrong one, or "yes" in lower case: nothing happens.
  const silent = await hoardIn(env, ['delete', repo], tempDir('cwd'));
  t.is(silent.code, 2);
  t.regex(silent.stderr, /You asked to DELETE this repository completely, with the 4 archives in it:\n-{78}\nRepository ID: [0-9a-f]{64}\n/);
  t.regex(silent.stderr, /Type 'YES' if you understand this and want to continue: \nhoard: Aborting\.\n$/);
  const lower = await withInput(env, ['delete', '--list', repo], 'yes\n');
  t.is(lower.code, 2);
  t.regex(lower.stderr, /Archives:\nmon-1 +[A-Z]/);
  t.regex(lower.stderr, /hoard: Invalid answer, aborting\.\n$/);
  const fromEnv = await hoardIn({ ...env, BORG_DELETE_I_KNOW_WHAT_I_AM_DOING: 'NO' }, ['delete', repo]);
  t.is(fromEnv.code, 2);
  t.regex(fromEnv.stderr, /NO \(from BORG_DELETE_I_KNOW_WHAT_I_AM_DOING\)\nhoard: Aborting\./);
  // --dry-run says what it would do, after the same question.
  const dry = await hoardIn({ ...env, HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['delete', '-v', '--dry-run', repo]);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stderr, /Would delete repository\.\nWould delete security info\.\nWould delete cache\.\n$/);
  t.deepEqual(snapshot(repo), before);
  // --cache-only removes only the cache.
  const cacheOnly = await hoardIn(env, ['delete', '--cache-only', repo]);
  t.is(cacheOnly.code, 0, cacheOnly.stderr);
  t.false(existsSync(cache));
  t.deepEqual(snapshot(repo), before);
  // Typed YES deletes the repository, its cache and its security folder.
  await create(t, env, base, `${repo}::thu-1`, 'd');
  t.true(existsSync(cache));
  const yes = await withInput(env, ['delete', '-v', repo], 'YES\n');
  t.is(yes.code, 0, yes.stderr);
  t.regex(yes.stderr, /Repository deleted\.\nCache deleted\.\n$/);
  t.false(existsSync(repo));
  t.false(existsSync(cache));
  t.false(existsSync(security));
});

test('delete REPO --keep-security-info keeps it; --force needs no answer; append-only repositories are not deleted whole', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  const id = JSON.parse((await hoardIn(env, ['info', '--json', repo])).stdout) as { repository: { id: string } };
  const security = path.join(env.HOARD_CONFIG_DIR ?? '', 'security', id.repository.id);
  const r = await hoardIn({ ...env, HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['delete', '--keep-security-info', repo]);
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(repo));
  t.true(existsSync(security));
  t.deepEqual(readdirSync(path.dirname(repo)), []);

  const other = await week(t, env);
  const forced = await hoardIn(env, ['delete', '--force', other.repo], tempDir('cwd'));
  t.is(forced.code, 0, forced.stderr);
  t.false(existsSync(other.repo));

  const appendRepo = path.join(tempDir('repo'), 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', '--append-only', appendRepo])).code, 0);
  const refused = await hoardIn({ ...env, HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['delete', appendRepo]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /^hoard: .* is an append-only repository: it cannot be deleted\n$/);
  t.true(existsSync(path.join(appendRepo, 'config')));
});

test('delete waits for --lock-wait behind an exclusive lock of another host, then fails changing nothing', async (t) => {
  const env = testEnv();
  const { repo } = await week(t, env);
  foreignLock(repo, 'exclusive');
  const before = snapshot(repo);
  const r = await hoardIn(env, ['delete', '--lock-wait', '0.2', `${repo}::mon-1`]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: Failed to create\/acquire the lock/);
  t.deepEqual(snapshot(repo), before);
  t.is((await hoardIn(env, ['break-lock', repo])).code, 0);
  t.is((await hoardIn(env, ['delete', `${repo}::mon-1`])).code, 0);
  t.deepEqual(await archiveNames(env, repo), ['mon-2', 'tue-1', 'wed-1']);
});
