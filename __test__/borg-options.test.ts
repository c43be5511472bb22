import test from 'ava';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { create, filesIn, snapshot } from './maintenance-helpers.js';

test('an unknown option after the positionals, or a missing required one, is one line naming it, exit code 2', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  await create(t, env, base, `${repo}::a`, 'd');
  const before = snapshot(repo);
  const cases: [string[], string][] = [
    [['list', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['info', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['delete', `${repo}::a`, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['compact', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['create', `${repo}::b`, base, '--bogus=1'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['-v', 'list', repo, '-Z'], 'hoard: Unsupported option name ("-Z").\n'],
    [['list', repo, '--format'], 'hoard: Option --format expects a value.\n'],
    [['init', '-e', 'none', path.join(tempDir('r'), 'r'), '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['init', path.join(tempDir('r'), 'r')], 'hoard: Missing required option: -e/--encryption.\n'],
  ];
  for (const [argv, line] of cases) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stderr, line, argv.join(' '));
    t.is(r.stdout, '');
  }
  t.deepEqual(snapshot(repo), before);
});

test('a short option takes its value attached, as argparse does (-Clz4, -esrc/b.bin, -a"a*"); flags still combine', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'src', { 'b.bin': 1000, c: 1000 });
  let r = await hoardIn(env, ['create', '-Clz4', '-esrc/b.bin', `${repo}::a1`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  r = await hoardIn(env, ['create', '-vsCzstd,3', `${repo}::b1`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Number of files: 2/);
  r = await hoardIn(env, ['list', '--short', `${repo}::a1`]);
  t.deepEqual(r.stdout.trim().split('\n'), ['src', 'src/c']);
  r = await hoardIn(env, ['list', '--short', '-a', 'a*', repo]);
  t.deepEqual(r.stdout.trim().split('\n'), ['a1']);
  r = await hoardIn(env, ['list', '--short', '-ab*', repo]);
  t.deepEqual(r.stdout.trim().split('\n'), ['b1']);
});
