import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

import { joinDashValues } from '../dist/cli.js';
import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { archiveNames, create, filesIn, foreignLock, packBytes } from './maintenance-helpers.js';
import { filesAndTrees } from './helpers.js';

// Periods are local time: every expectation here is written for Berlin (CET, UTC+1 in winter).
process.env['TZ'] = 'Europe/Berlin';

const HOST = hostname().split('.')[0] ?? '';

/** A test environment in Berlin time. */
function berlinEnv(): NodeJS.ProcessEnv {
  return testEnv({ TZ: 'Europe/Berlin' });
}

/** Makes one archive per `[name, UTC time]` with `create --timestamp`, in this order. */
async function archivesAt(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string, base: string, list: [string, string][]): Promise<void> {
  for (const [name, time] of list) await create(t, env, base, `--timestamp=${time}`, `${repo}::${name}`, 'd');
}

/** name -> id of every archive. */
async function archiveIds(env: NodeJS.ProcessEnv, repo: string): Promise<Map<string, string>> {
  const r = await hoardIn(env, ['list', '--format', '{archive} {id}{NL}', repo]);
  if (r.code !== 0) throw new Error(r.stderr);
  return new Map(r.stdout.trimEnd().split('\n').map((l) => l.split(' ') as [string, string]));
}

/** SHA-256 of every file under `dir` by relative path: the repository byte for byte. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) visit(full);
      else out[path.relative(dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  visit(dir);
  return out;
}

/**
 * Archives of HOST around the ISO year end 2025/2026, as UTC times (Berlin is one hour ahead). h05
 * is Monday 00:30 in Berlin (ISO week 2) but Sunday in UTC (week 1): prune must read local time.
 */
const YEAR_END: [string, string][] = [
  [`${HOST}-01`, '2025-12-28T11:00:00Z'], // Sun 12:00, 2025-W52, December
  [`${HOST}-02`, '2025-12-29T11:00:00Z'], // Mon 12:00, 2026-W01, December
  [`${HOST}-03`, '2026-01-02T11:00:00Z'], // Fri 12:00, 2026-W01
  [`${HOST}-04`, '2026-01-04T22:30:00Z'], // Sun 23:30, 2026-W01
  [`${HOST}-05`, '2026-01-04T23:30:00Z'], // Mon 00:30, 2026-W02
  [`${HOST}-06`, '2026-01-10T11:00:00Z'], // Sat 12:00, 2026-W02
  [`${HOST}-07`, '2026-01-11T08:00:00Z'], // Sun 09:00, 2026-W02
  [`${HOST}-08`, '2026-01-11T17:00:00Z'], // Sun 18:00, 2026-W02
];

/** Archives of another machine in the same repository: newer and older than HOST's. */
const OTHERS: [string, string][] = [
  ['other-old', '2024-03-01T10:00:00Z'],
  ['other-mid', '2026-01-03T10:00:00Z'],
  ['other-new', '2026-02-01T10:00:00Z'],
];

async function yearEndRepo(t: ExecutionContext, env: NodeJS.ProcessEnv): Promise<string> {
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { a: 3_000 });
  await archivesAt(t, env, repo, base, [...YEAR_END, ...OTHERS]);
  return repo;
}

test('prune -d -w -m with -a {hostname}-*: list shows exactly the survivors; --list prints borg\'s lines; other archives are never touched', async (t) => {
  const env = berlinEnv();
  const repo = await yearEndRepo(t, env);
  const ids = await archiveIds(env, repo);
  const r = await hoardIn(env, ['prune', '--list', '-d', '2', '--keep-weekly=3', '-m', '2', '-a', '{hostname}-*', repo]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  const line = (message: string, n: string, time: string): string => `${message.padEnd(44)} ${n.padEnd(36)} ${time} [${ids.get(n) ?? '?'}]`;
  t.deepEqual(r.stderr.trimEnd().split('\n'), [
    line('Keeping archive (rule: daily #1):', `${HOST}-08`, 'Sun, 2026-01-11 18:00:00'),
    line('Pruning archive (1/3):', `${HOST}-07`, 'Sun, 2026-01-11 09:00:00'),
    line('Keeping archive (rule: daily #2):', `${HOST}-06`, 'Sat, 2026-01-10 12:00:00'),
    // Monday 00:30 local: ISO week 2, used up by the daily rule.
    line('Pruning archive (2/3):', `${HOST}-05`, 'Mon, 2026-01-05 00:30:00'),
    line('Keeping archive (rule: weekly #1):', `${HOST}-04`, 'Sun, 2026-01-04 23:30:00'),
    line('Pruning archive (3/3):', `${HOST}-03`, 'Fri, 2026-01-02 12:00:00'),
    // Monday 2025-12-29 is in ISO week 1 of 2026: the monthly rule's December.
    line('Keeping archive (rule: monthly #1):', `${HOST}-02`, 'Mon, 2025-12-29 12:00:00'),
    line('Keeping archive (rule: weekly #2):', `${HOST}-01`, 'Sun, 2025-12-28 12:00:00'),
  ]);
  t.deepEqual(await archiveNames(env, repo), ['other-old', `${HOST}-01`, `${HOST}-02`, 'other-mid', `${HOST}-04`, `${HOST}-06`, `${HOST}-08`, 'other-new']);
  // -P (deprecated) narrows the same way: only other-* are considered, and the newest stays.
  const p = await hoardIn(env, ['prune', '-P', 'other-', '--keep-last', '1', repo]);
  t.is(p.code, 0, p.stderr);
  t.deepEqual((await archiveNames(env, repo)).filter((n) => n.startsWith('other-')), ['other-new']);
  t.is((await archiveNames(env, repo)).filter((n) => n.startsWith(`${HOST}-`)).length, 5);
});

test('without a filter every archive counts; --dry-run changes no byte of the repository and says "Would prune:"', async (t) => {
  const env = berlinEnv();
  const repo = await yearEndRepo(t, env);
  const before = contents(repo);
  const dry = await hoardIn(env, ['prune', '--dry-run', '--list', '--keep-monthly', '-1', repo]);
  t.is(dry.code, 0, dry.stderr);
  // One archive a month: the newest of February 2026, January 2026, December 2025 and March 2024.
  t.deepEqual(
    dry.stderr.trimEnd().split('\n').map((l) => `${l.slice(0, 44).trimEnd()} ${l.slice(45).split(' ')[0] ?? ''}`),
    [
      'Keeping archive (rule: monthly #1): other-new',
      `Keeping archive (rule: monthly #2): ${HOST}-08`,
      ...['07', '06', '05', '04'].map((n) => `Would prune: ${HOST}-${n}`),
      'Would prune: other-mid',
      `Would prune: ${HOST}-03`,
      `Keeping archive (rule: monthly #3): ${HOST}-02`,
      `Would prune: ${HOST}-01`,
      'Keeping archive (rule: monthly #4): other-old',
    ],
  );
  const dryStats = await hoardIn(env, ['prune', '-n', '--stats', '-v', '--keep-last=2', repo]);
  t.is(dryStats.code, 0, dryStats.stderr);
  // As borg 1.4: a dry run has no statistics.
  t.is(
    dryStats.stderr,
    'Ignoring --stats. It is not supported when using --dry-run.\nRepository contains 11 normal archives and 0 checkpoint archives.\n' +
      'Applying rules to the matching 11 archives and 0 checkpoints...\nKeeping 2 archives and 0 checkpoints, pruning 9 archives and 0 checkpoints.\n',
  );
  t.deepEqual(contents(repo), before, 'dry runs wrote nothing');
  t.is((await archiveNames(env, repo)).length, 11);
  // The same for real: the decision --dry-run announced.
  const real = await hoardIn(env, ['prune', '--keep-monthly=-1', repo]);
  t.is(real.code, 0, real.stderr);
  t.is(real.stderr, '');
  t.deepEqual(await archiveNames(env, repo), ['other-old', `${HOST}-02`, `${HOST}-08`, 'other-new']);
});

test('--keep-within keeps what is younger than the interval; the oldest archive stays when a rule falls short', async (t) => {
  const env = berlinEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { a: 1_000 });
  const ago = (hours: number): string => new Date(Date.now() - hours * 3600_000).toISOString();
  await archivesAt(t, env, repo, base, [
    ['first', ago(24 * 400)],
    ['old', ago(24 * 10)],
    ['days-3', ago(72)],
    ['hours-30', ago(30)],
    ['hours-1', ago(1)],
  ]);
  const r = await hoardIn(env, ['prune', '--list', '--keep-within', '2d', '--keep-daily', '1', repo]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    r.stderr.trimEnd().split('\n').map((l) => `${l.slice(0, 44).trimEnd()} ${l.slice(45).split(' ')[0] ?? ''}`),
    [
      'Keeping archive (rule: within #1): hours-1',
      'Keeping archive (rule: within #2): hours-30',
      'Keeping archive (rule: daily #1): days-3',
      'Pruning archive (1/2): old',
      'Pruning archive (2/2): first',
    ],
  );
  t.deepEqual(await archiveNames(env, repo), ['days-3', 'hours-30', 'hours-1']);
  // A rule that finds fewer periods than asked keeps the oldest: here first is the only day before today.
  const base2 = tempDir('src');
  filesIn(base2, 'd', { a: 1_000 });
  const repo2 = await makeRepo(env);
  await archivesAt(t, env, repo2, base2, [
    ['a', '2026-01-10T08:00:00Z'],
    ['b', '2026-01-10T09:00:00Z'],
    ['c', '2026-01-10T10:00:00Z'],
  ]);
  const short = await hoardIn(env, ['prune', '--list', '--keep-daily', '7', repo2]);
  t.is(short.code, 0, short.stderr);
  t.deepEqual(
    short.stderr.trimEnd().split('\n').map((l) => l.slice(0, 44).trimEnd()),
    ['Keeping archive (rule: daily #1):', 'Pruning archive (1/1):', 'Keeping archive (rule: daily[oldest] #2):'],
  );
  t.deepEqual(await archiveNames(env, repo2), ['a', 'c']);
});

test('prune --stats prints what the pruned archives alone held, and compact gives that space back', async (t) => {
  const env = berlinEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { shared: 50_000 });
  for (const [name, time] of [
    ['mon', '2026-01-05T10:00:00Z'],
    ['tue', '2026-01-06T10:00:00Z'],
    ['wed', '2026-01-07T10:00:00Z'],
  ]) {
    filesIn(base, 'd', { [`own-${name}`]: 200_000 });
    await create(t, env, base, `--timestamp=${time}`, `${repo}::${name}`, 'd');
  }
  const quick = await hoardIn(env, ['prune', '--dry-run', '--quick-stats', '--keep-last', '1', repo]);
  t.is(quick.code, 0, quick.stderr);
  t.is(quick.stderr, 'Ignoring --quick-stats. It is not supported when using --dry-run.\n');
  // --quick-stats: the header and the "Deleted data" row (mon goes).
  const rule = '-'.repeat(78);
  const real = await hoardIn(env, ['prune', '--quick-stats', '--keep-last', '2', repo]);
  t.is(real.code, 0, real.stderr);
  t.regex(real.stderr, new RegExp(`^${rule}\n {23}Original size {6}Compressed size {4}Deduplicated size\nDeleted data: +-250\\.\\d\\d kB +-[\\d.]+ kB +-[\\d.]+ k?B\n${rule}\n$`));
  const before = packBytes(repo);
  const r = await hoardIn(env, ['prune', '-s', '--keep-last', '1', repo]);
  t.is(r.code, 0, r.stderr);
  // mon holds own-mon; tue holds own-mon and own-tue; wed (kept) holds all three. Only tue's tree is its own.
  const m = /Deleted data: +-(\d+\.\d\d) kB +-[\d.]+ kB +-([\d.]+) (k?B)\nAll archives: +(\d+\.\d\d) kB/.exec(r.stderr);
  t.truthy(m, r.stderr);
  // The files' bytes and the trees' (a few hundred bytes each).
  filesAndTrees(t, Number(m?.[1]) * 1000, 450_000, 2);
  filesAndTrees(t, Number(m?.[4]) * 1000, 650_000, 2);
  t.regex(r.stderr, /\nChunk index: +\d+ +\d+\n-{78}\n$/);
  t.deepEqual(await archiveNames(env, repo), ['wed']);
  t.is(packBytes(repo), before, 'prune frees nothing by itself');
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  t.true(packBytes(repo) <= before);
  t.is((await hoardIn(env, ['check', repo])).code, 0);
});

test('prune with a pruned archive holding its own data: compact frees it', async (t) => {
  const env = berlinEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'old', { big: 400_000 });
  filesIn(base, 'new', { small: 10_000 });
  await create(t, env, base, '--timestamp=2026-01-01T10:00:00Z', `${repo}::old`, 'old');
  await create(t, env, base, '--timestamp=2026-01-02T10:00:00Z', `${repo}::new`, 'new');
  const r = await hoardIn(env, ['prune', '--keep-last=1', '--stats', repo]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Deleted data: +-400\.\d\d kB +-\d+\.\d\d kB +-40\d\.\d\d kB\n/);
  const before = packBytes(repo);
  t.is((await hoardIn(env, ['compact', repo])).code, 0);
  t.true(before - packBytes(repo) > 390_000, `${before} -> ${packBytes(repo)}`);
  t.deepEqual(await archiveNames(env, repo), ['new']);
});

test("bad prune options are one line and exit code 2, and change nothing; borg's no-op options are accepted", async (t) => {
  const env = berlinEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { a: 1_000 });
  await archivesAt(t, env, repo, base, [
    ['x1', '2026-01-01T10:00:00Z'],
    ['x2', '2026-01-02T10:00:00Z'],
  ]);
  const before = contents(repo);
  const noRule =
    'hoard: At least one of the "keep-within", "keep-last", "keep-secondly", "keep-minutely", "keep-hourly", "keep-daily", ' +
    '"keep-weekly", "keep-monthly", "keep-13weekly", "keep-3monthly", or "keep-yearly" settings must be specified.\n';
  for (const argv of [['prune', repo], ['prune', '--list', '-d', '0', repo]]) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stderr, noRule);
  }
  for (const [argv, message] of [
    [['prune', '--keep-within', '2S', repo], /^hoard: --keep-within: unexpected interval time unit "S"/],
    [['prune', '--keep-within', '0d', repo], /^hoard: --keep-within: unexpected interval number "0"/],
    [['prune', '-d', 'x', repo], /^hoard: .*-d/],
    [['prune', '-d', '1', `${repo}::x1`], /^hoard: prune takes a repository, not an archive/],
    [['prune', '-d', '1', '-a', 'x*', '-P', 'x', repo], /^hoard: -P\/--prefix and -a\/--glob-archives exclude each other/],
    [['prune', '-d', '1', '--stats', '--quick-stats', repo], /^hoard: --stats and --quick-stats are mutually exclusive\./],
    [['prune', '--keep-13weekly', '1', '--keep-3monthly', '1', repo], /^hoard: --keep-13weekly and --keep-3monthly exclude each other/],
    [['prune', '--keep-13weekly=1', '--keep-3monthly', '-1', repo], /^hoard: --keep-13weekly and --keep-3monthly exclude each other/],
  ] as [string[], RegExp][]) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, r.stderr);
  }
  t.deepEqual(contents(repo), before);
  const ok = await hoardIn(env, [
    'prune', '--force', '--force', '--save-space', '-c', '60', '--checkpoint-interval', '30', '--show-rc', '--lock-wait', '5',
    '--keep-13weekly', '-1', '-y7', '--keep-secondly', '1', '-H', '1', '--keep-minutely', '1', '-w', '1', repo,
  ]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stderr, 'terminating with success status, rc 0\n');
  t.deepEqual(await archiveNames(env, repo), ['x1', 'x2']);
  // borg's spellings of counts: bound, negative, attached to a short option, on the names with digits too.
  for (const argv of [['--keep-3monthly=2'], ['--keep-13weekly=-1'], ['--keep-3monthly', '3'], ['-d7'], ['--keep-daily', '-1'], ['-y', '-1']]) {
    const r = await hoardIn(env, ['prune', '--list', '-n', ...argv, repo]);
    t.is(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /^Keeping archive \(rule: \S+ #1\): +x2 /, argv.join(' '));
  }
});

test('prune waits for --lock-wait behind an exclusive lock of another host, then fails changing nothing', async (t) => {
  const env = berlinEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { a: 1_000 });
  await archivesAt(t, env, repo, base, [
    ['y1', '2026-01-01T10:00:00Z'],
    ['y2', '2026-01-02T10:00:00Z'],
  ]);
  const lock = foreignLock(repo, 'exclusive');
  const before = contents(repo);
  const r = await hoardIn(env, ['prune', '--lock-wait', '0.2', '--keep-last', '1', repo]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: Failed to create\/acquire the lock/);
  t.deepEqual(contents(repo), before);
  t.true(Object.keys(before).includes(`locks/${lock}`));
  // Beside another client's shared lock (a create running), prune runs.
  t.is((await hoardIn(env, ['break-lock', repo])).code, 0);
  foreignLock(repo, 'shared');
  const shared = await hoardIn(env, ['prune', '--keep-last', '1', repo]);
  t.is(shared.code, 0, shared.stderr);
  t.deepEqual(await archiveNames(env, repo), ['y2']);
});

test('argv as argparse reads it: negative counts, attached short values and the digit names reach clipanion in forms it parses', (t) => {
  t.deepEqual(joinDashValues(['prune', '--keep-monthly', '-1', '-d', '-2', '-y7', '-w-1', 'repo']), ['prune', '--keep-monthly=-1', '-d=-2', '-y=7', '-w=-1', 'repo']);
  t.deepEqual(joinDashValues(['--keep-13weekly=4', '--keep-3monthly', '-1', '--keep-13weekly', '4']), ['--keep-thirteen-weekly=4', '--keep-three-monthly=-1', '--keep-13weekly', '4']);
  // After `--` nothing changes; a value with a space still joins its option.
  t.deepEqual(joinDashValues(['create', '--pattern', '- tmp', 'r::a', '--', '-d7', '-d', '-1']), ['create', '--pattern=- tmp', 'r::a', '--', '-d7', '-d', '-1']);
});
