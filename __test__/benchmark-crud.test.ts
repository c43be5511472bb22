import test from 'ava';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { runChild } from './helpers.js';

const LINE = /^([CRUD])-([ZR]-(?:BIG|MEDIUM|SMALL)) +(\d+\.\d\d) MB\/s \((\d+) \* (\d+(?:\.\d\d)? k?M?B) (all-zero|random) files: (\d+\.\d\d)s\)$/;

/** The sets at scale 0.01: borg's counts and sizes times 0.01 (at least one file). */
const SETS: [string, number, string, string][] = [
  ['Z-BIG', 1, '1.00 MB', 'all-zero'],
  ['R-BIG', 1, '1.00 MB', 'random'],
  ['Z-MEDIUM', 10, '10.00 kB', 'all-zero'],
  ['R-MEDIUM', 10, '10.00 kB', 'random'],
  ['Z-SMALL', 100, '100 B', 'all-zero'],
  ['R-SMALL', 100, '100 B', 'random'],
];

test('benchmark crud prints borg\'s four lines per set and leaves no archive and no test data behind', async (t) => {
  const env = testEnv({ HOARD_TESTONLY_CRUD_SCALE: '0.01' });
  const repo = await makeRepo(env);
  const base = tempDir('keep');
  writeFileSync(path.join(base, 'f'), 'kept\n');
  t.is((await hoardIn(env, ['create', `${repo}::keep`, 'f'], base)).code, 0);
  const work = tempDir('crud');
  const r = await hoardIn(env, ['benchmark', 'crud', repo, work]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 24, r.stdout);
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (m === null) {
      t.fail(`not a benchmark line: ${JSON.stringify(line)}`);
      return;
    }
    const [name, count, size, content] = SETS[Math.floor(i / 4)]!;
    t.is(m[1], 'CRUD'[i % 4]);
    t.is(m[2], name);
    t.is(Number(m[4]), count, line);
    t.is(m[5], size, line);
    t.is(m[6], content, line);
    // borg's columns: the rate ends at column 22, and is the amount over the seconds printed.
    t.is(line.indexOf(' MB/s'), 22, line);
    const seconds = Number(m[7]);
    const bytes = count * (size === '1.00 MB' ? 1e6 : size === '10.00 kB' ? 1e4 : 100);
    if (seconds >= 0.1) {
      // Both numbers are rounded to two places: the rate by 0.005, the seconds by 0.005 (which
      // moves the rate by up to its 0.005 / seconds share, and a little more).
      const expected = bytes / 1e6 / seconds;
      t.true(Math.abs(Number(m[3]) - expected) <= 0.0051 + (expected * 0.0051) / (seconds - 0.005), line);
    }
  });
  const list = await hoardIn(env, ['list', '--short', repo]);
  t.is(list.stdout, 'keep\n');
  t.deepEqual(readdirSync(work), []);
  const check = await hoardIn(env, ['check', repo]);
  t.is(check.code, 0, check.stderr);
});

test('benchmark crud as a child: the folders it makes for PATH are removed again; a failed step, a folder that is no repository and a bad scale are one line, exit 2', async (t) => {
  const env = testEnv({ HOARD_TESTONLY_CRUD_SCALE: '0.001' });
  const repo = await makeRepo(env);
  const parent = tempDir('crud');
  const work = path.join(parent, 'made', 'here');
  const r = runChild(['benchmark', 'crud', repo, work], env);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trimEnd().split('\n').length, 24);
  t.regex(r.stdout, /^C-Z-BIG +\d+\.\d\d MB\/s \(1 \* 100\.00 kB all-zero files: \d+\.\d\ds\)$/m);
  t.false(existsSync(work));
  t.deepEqual(readdirSync(parent), [], 'the folders made for PATH are removed again');
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, '');

  const notRepo = tempDir('plain');
  mkdirSync(path.join(notRepo, 'x'));
  const bad = runChild(['benchmark', 'crud', notRepo, parent], env);
  t.is(bad.code, 2);
  t.is(bad.stderr, `hoard: ${notRepo} is not a hoard repository\n`);
  // A step that fails ends the run with one line; the archive it did not make stays, the data goes.
  const keep = tempDir('keep');
  writeFileSync(path.join(keep, 'f'), 'x');
  t.is((await hoardIn(env, ['create', `${repo}::hoard-benchmark-crud1`, 'f'], keep)).code, 0);
  const taken = runChild(['benchmark', 'crud', repo, parent], env);
  t.is(taken.code, 2);
  t.is(taken.stderr, 'hoard: benchmark crud: hoard create ended with exit code 2: Archive hoard-benchmark-crud1 already exists\n');
  t.is(taken.stdout, '');
  t.deepEqual(readdirSync(parent), []);
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'hoard-benchmark-crud1\n');
  const scale = runChild(['benchmark', 'crud', repo, parent], { ...env, HOARD_TESTONLY_CRUD_SCALE: '2' });
  t.is(scale.code, 2);
  t.regex(scale.stderr, /^hoard: HOARD_TESTONLY_CRUD_SCALE=2 is not a number in \(0, 1\]\n$/);
});
