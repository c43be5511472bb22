import test from 'ava';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { archiveNames, create, extractAll, filesIn, foreignLock, objects, sameFile, snapshot } from './maintenance-helpers.js';

test('rename gives an archive a new name (and fingerprint); its contents stay', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 100_000 });
  await create(t, env, base, `${repo}::Monday`, 'd');
  await create(t, env, base, `${repo}::Tuesday`, 'd');
  const id = (n: string, list: string): string => (new RegExp(`^${n} .*\\[([0-9a-f]{64})\\]$`, 'm').exec(list)?.[1] ?? '');
  const before = (await hoardIn(env, ['list', repo])).stdout;
  const r = await hoardIn(env, ['rename', `${repo}::Monday`, 'Monday-old']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout + r.stderr, '');
  t.deepEqual(await archiveNames(env, repo), ['Monday-old', 'Tuesday']);
  const after = (await hoardIn(env, ['list', repo])).stdout;
  t.not(id('Monday-old', after), id('Monday', before));
  t.is(id('Tuesday', after), id('Tuesday', before));
  const info = JSON.parse((await hoardIn(env, ['info', '--json', `${repo}::Monday-old`])).stdout) as { archives: { name: string }[] };
  t.is(info.archives[0]?.name, 'Monday-old');
  const out = await extractAll(t, env, `${repo}::Monday-old`);
  sameFile(t, path.join(out, 'd', 'f'), path.join(base, 'd', 'f'));
  // Placeholders expand in the new name; the old archive object goes with the next compact.
  t.is((await hoardIn(env, ['rename', `${repo}::Tuesday`, 'Tue-{now:%Y}'])).code, 0);
  t.deepEqual(await archiveNames(env, repo), ['Monday-old', `Tue-${new Date().getFullYear()}`]);
  t.is(objects(repo, 'archives').length, 4);
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  t.is(objects(repo, 'archives').length, 2);
});

test('rename conflicts and bad names are one line, exit code 2, and change nothing', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  await create(t, env, base, `${repo}::a`, 'd');
  await create(t, env, base, `${repo}::b`, 'd');
  const before = snapshot(repo);
  const cases: [string[], RegExp][] = [
    [['rename', `${repo}::a`, 'b'], /^hoard: Archive b already exists\n$/],
    [['rename', `${repo}::a`, 'a'], /^hoard: Archive a already exists\n$/],
    [['rename', `${repo}::nope`, 'c'], /^hoard: Archive nope does not exist\n$/],
    [['rename', `${repo}::a`, 'x/y'], /^hoard: invalid archive name: "x\/y"\n$/],
    [['rename', `${repo}::a`, ''], /^hoard: invalid archive name: ""\n$/],
    [['rename', repo, 'c'], /^hoard: .*REPO::ARCHIVE/],
    [['rename', `${repo}::a`], /^hoard: /],
  ];
  for (const [argv, msg] of cases) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, msg, argv.join(' '));
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
  t.deepEqual(snapshot(repo), before);
  t.deepEqual(await archiveNames(env, repo), ['a', 'b']);
});

test('break-lock removes a stale lock of another host, without a passphrase', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  const lock = foreignLock(repo, 'exclusive', new Date(Date.now() - 86_400_000));
  // Another host's lock is never broken automatically, however old.
  const blocked = await hoardIn(env, ['create', '--lock-wait', '0.1', `${repo}::a`, 'd'], base);
  t.is(blocked.code, 2);
  t.regex(blocked.stderr, /elsewhere\.example/);
  t.deepEqual(objects(repo, 'locks'), [lock]);
  const { HOARD_PASSPHRASE: _unused, ...noPassphrase } = env;
  void _unused;
  const r = await hoardIn(noPassphrase, ['break-lock', '-v', repo]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, `removed the lock locks/${lock}\n`);
  t.deepEqual(objects(repo, 'locks'), []);
  await create(t, env, base, `${repo}::a`, 'd');
  const notRepo = await hoardIn(env, ['break-lock', base]);
  t.is(notRepo.code, 2);
  t.regex(notRepo.stderr, /is not a hoard repository/);
});
