import test from 'ava';
import { spawnSync } from 'node:child_process';

import { InvalidArgumentError } from '../dist/errors.js';
import { type KeepRules, PERIOD_RULES, type PeriodRule, applyKeepRules, hasKeepRule, parseInterval, periodKey } from '../dist/archive/prune-rules.js';
import { seededRandom } from './python-oracle.js';

// Periods are local time: every expectation below is written for Berlin (CET +1, CEST +2).
process.env['TZ'] = 'Europe/Berlin';

/** A Berlin wall-clock time `YYYY-MM-DD HH:MM[:SS[.mmm]]` as an ISO time in UTC, as the manifest holds it. */
function berlin(local: string): string {
  const [date = '', time = '00:00'] = local.split(' ');
  const [y, mo, d] = date.split('-').map(Number);
  const [h = 0, mi = 0, s = 0] = time.split(':').map(Number);
  const d0 = new Date(y ?? 0, (mo ?? 1) - 1, d ?? 1, h, mi, Math.floor(s), Math.round((s % 1) * 1000));
  return d0.toISOString();
}

/**
 * Runs `rules` over archives named by their Berlin times and returns `name -> reason` for every
 * archive, `-` for pruned; names list newest first, as prune lists them.
 */
function decide(locals: string[], rules: KeepRules, now = new Date('2030-01-01T00:00:00Z')): string[] {
  const archives = locals.map((l) => ({ id: l, name: l, time: berlin(l) }));
  return applyKeepRules(archives, rules, now).map((d) => `${d.archive.name} ${d.kept ? `${d.kept.rule} #${d.kept.number}` : '-'}`);
}

test('periods are local time; weeks are ISO weeks, numbered within the ISO year', (t) => {
  const key = (rule: PeriodRule, local: string): string => periodKey(rule, Date.parse(berlin(local)));
  // 00:30 in Berlin on New Year's Day is still the old year in UTC.
  t.is(key('daily', '2026-01-01 00:30'), '2026-01-01');
  t.is(key('yearly', '2026-01-01 00:30'), '2026');
  t.is(key('monthly', '2026-03-01 00:30'), '2026-03');
  t.is(key('hourly', '2026-07-01 00:30'), '2026-07-01 00');
  t.is(key('minutely', '2026-07-01 00:30:59'), '2026-07-01 00:30');
  t.is(key('secondly', '2026-07-01 00:30:59'), '2026-07-01 00:30:59');
  // 2026-01-01 is a Thursday: ISO week 1 of 2026 runs from Monday 2025-12-29 to Sunday 2026-01-04.
  t.is(key('weekly', '2025-12-28 23:59'), '2025-52');
  t.is(key('weekly', '2025-12-29 00:00'), '2026-01');
  t.is(key('weekly', '2026-01-04 23:59'), '2026-01');
  t.is(key('weekly', '2026-01-05 00:00'), '2026-02');
  // 2020 has an ISO week 53, which holds the first days of 2021.
  t.is(key('weekly', '2020-12-31 12:00'), '2020-53');
  t.is(key('weekly', '2021-01-03 12:00'), '2020-53');
  t.is(key('weekly', '2021-01-04 12:00'), '2021-01');
  // Quarters by ISO weeks (1-13, 14-26, 27-39, 40-53) and by months.
  t.is(key('quarterly_13weekly', '2025-12-29 12:00'), '2026-Q1');
  t.is(key('quarterly_13weekly', '2026-03-29 12:00'), '2026-Q1');
  t.is(key('quarterly_13weekly', '2026-03-30 12:00'), '2026-Q2');
  t.is(key('quarterly_13weekly', '2021-01-03 12:00'), '2020-Q4');
  t.is(key('quarterly_3monthly', '2026-03-31 23:59'), '2026-Q1');
  t.is(key('quarterly_3monthly', '2026-04-01 00:00'), '2026-Q2');
  t.is(key('quarterly_3monthly', '2025-12-29 12:00'), '2025-Q4');
});

const DAYS = ['2026-01-10 20:00', '2026-01-10 08:00', '2026-01-09 22:00', '2026-01-07 12:00', '2026-01-05 12:00'];

/** Each case: archives (Berlin times), rules, and the decision for each archive, newest first. */
const TABLE: { title: string; archives: string[]; rules: KeepRules; expect: string[] }[] = [
  {
    title: 'daily keeps the newest archive of each of the N latest days that have archives',
    archives: DAYS,
    rules: { daily: 3 },
    expect: ['2026-01-10 20:00 daily #1', '2026-01-10 08:00 -', '2026-01-09 22:00 daily #2', '2026-01-07 12:00 daily #3', '2026-01-05 12:00 -'],
  },
  {
    title: 'a rule that runs out of periods keeps the oldest archive too',
    archives: ['2026-01-10 20:00', '2026-01-10 14:00', '2026-01-10 08:00'],
    rules: { daily: 3 },
    expect: ['2026-01-10 20:00 daily #1', '2026-01-10 14:00 -', '2026-01-10 08:00 daily[oldest] #2'],
  },
  {
    title: 'no oldest when the oldest is kept by the rule itself',
    archives: DAYS,
    rules: { daily: 10 },
    expect: ['2026-01-10 20:00 daily #1', '2026-01-10 08:00 -', '2026-01-09 22:00 daily #2', '2026-01-07 12:00 daily #3', '2026-01-05 12:00 daily #4'],
  },
  {
    title: 'a negative count has no limit and no oldest',
    archives: DAYS,
    rules: { daily: -1 },
    expect: ['2026-01-10 20:00 daily #1', '2026-01-10 08:00 -', '2026-01-09 22:00 daily #2', '2026-01-07 12:00 daily #3', '2026-01-05 12:00 daily #4'],
  },
  {
    title: 'weekly across the ISO year boundary: 2025-12-29 to 2026-01-04 is one week',
    archives: ['2026-01-05 09:00', '2026-01-04 23:30', '2026-01-01 12:00', '2025-12-29 00:30', '2025-12-28 23:30', '2025-12-22 12:00', '2025-12-21 12:00'],
    rules: { weekly: 3 },
    expect: [
      '2026-01-05 09:00 weekly #1',
      '2026-01-04 23:30 weekly #2',
      '2026-01-01 12:00 -',
      '2025-12-29 00:30 -',
      '2025-12-28 23:30 weekly #3',
      '2025-12-22 12:00 -',
      '2025-12-21 12:00 -',
    ],
  },
  {
    title: 'weekly over ISO week 53 of 2020, which ends on 2021-01-03',
    archives: ['2021-01-04 10:00', '2021-01-03 10:00', '2020-12-31 10:00', '2020-12-27 10:00'],
    rules: { weekly: 10 },
    expect: ['2021-01-04 10:00 weekly #1', '2021-01-03 10:00 weekly #2', '2020-12-31 10:00 -', '2020-12-27 10:00 weekly #3'],
  },
  {
    title: 'monthly: months without archives do not count',
    archives: ['2026-06-01 12:00', '2026-03-30 12:00', '2026-03-05 12:00', '2026-01-20 12:00', '2026-01-10 12:00'],
    rules: { monthly: 3 },
    expect: ['2026-06-01 12:00 monthly #1', '2026-03-30 12:00 monthly #2', '2026-03-05 12:00 -', '2026-01-20 12:00 monthly #3', '2026-01-10 12:00 -'],
  },
  {
    title: 'monthly in local time: 00:30 on March 1st in Berlin is February in UTC',
    archives: ['2026-03-01 00:30', '2026-02-28 23:30', '2026-02-28 11:00'],
    rules: { monthly: 2 },
    expect: ['2026-03-01 00:30 monthly #1', '2026-02-28 23:30 monthly #2', '2026-02-28 11:00 -'],
  },
  {
    title: 'yearly, with New Year 00:30 local time',
    archives: ['2025-03-01 12:00', '2024-12-31 23:00', '2024-01-01 00:30', '2023-06-01 12:00'],
    rules: { yearly: 2 },
    expect: ['2025-03-01 12:00 yearly #1', '2024-12-31 23:00 yearly #2', '2024-01-01 00:30 -', '2023-06-01 12:00 -'],
  },
  {
    title: 'yearly short of its count',
    archives: ['2025-03-01 12:00', '2024-12-31 23:00', '2024-01-01 00:30', '2023-06-01 12:00'],
    rules: { yearly: 5 },
    expect: ['2025-03-01 12:00 yearly #1', '2024-12-31 23:00 yearly #2', '2024-01-01 00:30 -', '2023-06-01 12:00 yearly #3'],
  },
  {
    title: 'keep-last counts seconds: two archives in one second are one',
    archives: ['2026-01-10 12:00:05.900', '2026-01-10 12:00:05.100', '2026-01-10 12:00:01', '2026-01-10 11:59:59'],
    rules: { secondly: 2 },
    expect: ['2026-01-10 12:00:05.900 secondly #1', '2026-01-10 12:00:05.100 -', '2026-01-10 12:00:01 secondly #2', '2026-01-10 11:59:59 -'],
  },
  {
    title: 'minutely and hourly',
    archives: ['2026-01-10 12:59:30', '2026-01-10 12:59:10', '2026-01-10 12:58:50', '2026-01-10 12:01:00', '2026-01-10 11:59:00', '2026-01-10 10:30:00'],
    rules: { minutely: 2, hourly: 2 },
    expect: [
      '2026-01-10 12:59:30 minutely #1',
      '2026-01-10 12:59:10 -',
      '2026-01-10 12:58:50 minutely #2',
      '2026-01-10 12:01:00 -',
      '2026-01-10 11:59:00 hourly #1',
      '2026-01-10 10:30:00 hourly #2',
    ],
  },
  {
    title: 'quarters by 13 ISO weeks',
    archives: ['2026-03-30 10:00', '2026-03-29 10:00', '2026-01-01 10:00', '2025-12-29 10:00', '2025-12-28 10:00'],
    rules: { quarterly_13weekly: 10 },
    expect: ['2026-03-30 10:00 quarterly_13weekly #1', '2026-03-29 10:00 quarterly_13weekly #2', '2026-01-01 10:00 -', '2025-12-29 10:00 -', '2025-12-28 10:00 quarterly_13weekly #3'],
  },
  {
    title: 'quarters by 3 months',
    archives: ['2026-03-30 10:00', '2026-03-29 10:00', '2026-01-01 10:00', '2025-12-29 10:00', '2025-12-28 10:00'],
    rules: { quarterly_3monthly: 10 },
    expect: ['2026-03-30 10:00 quarterly_3monthly #1', '2026-03-29 10:00 -', '2026-01-01 10:00 -', '2025-12-29 10:00 quarterly_3monthly #2', '2025-12-28 10:00 quarterly_3monthly[oldest] #3'],
  },
];

for (const c of TABLE) {
  test(`rules: ${c.title}`, (t) => {
    t.deepEqual(decide(c.archives, c.rules), c.expect);
  });
}

test('rules combine in order: an archive kept by an earlier rule uses its period up without counting for the later one', (t) => {
  // One archive a day at noon, 2026-01-01 to 2026-02-10. ISO weeks start on the Mondays Jan 5, 12, 19, 26, Feb 2, 9.
  const archives: string[] = [];
  for (let d = new Date(2026, 0, 1, 12); d <= new Date(2026, 1, 10, 12); d.setDate(d.getDate() + 1)) {
    archives.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} 12:00`);
  }
  const kept = decide(archives.reverse(), { daily: 2, weekly: 2, monthly: 2 }).filter((l) => !l.endsWith(' -'));
  t.deepEqual(kept, [
    '2026-02-10 12:00 daily #1',
    '2026-02-09 12:00 daily #2',
    // Week 7 (Feb 9-10) was used up by the daily rule.
    '2026-02-08 12:00 weekly #1',
    '2026-02-01 12:00 weekly #2',
    // February was used up by the daily rule; January has one, and the oldest makes the second.
    '2026-01-31 12:00 monthly #1',
    '2026-01-01 12:00 monthly[oldest] #2',
  ]);
});

test("borg's documented example: --keep-daily 14 --keep-monthly 6 --keep-yearly 1 over 2015", (t) => {
  // A backup every day of 2015 but 2015-12-19 (docs/misc/prune-example.txt of borg).
  const archives: string[] = [];
  for (let d = new Date(2015, 0, 1, 3); d.getFullYear() === 2015; d.setDate(d.getDate() + 1)) {
    const day = `2015-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    if (day !== '2015-12-19') archives.push(`${day} 03:00`);
  }
  const kept = decide(archives, { daily: 14, monthly: 6, yearly: 1 }, new Date(2016, 0, 1)).filter((l) => !l.endsWith(' -'));
  const daily = ['31', '30', '29', '28', '27', '26', '25', '24', '23', '22', '21', '20', '18', '17'].map((d, i) => `2015-12-${d} 03:00 daily #${i + 1}`);
  const monthly = ['11-30', '10-31', '09-30', '08-31', '07-31', '06-30'].map((d, i) => `2015-${d} 03:00 monthly #${i + 1}`);
  t.deepEqual(kept, [...daily, ...monthly, '2015-01-01 03:00 yearly[oldest] #1']);
});

test('keep-within keeps what is younger than the interval (strictly); it counts for no other rule but uses up periods', (t) => {
  const now = new Date('2026-06-15T12:00:00Z');
  const ago = (hours: number): string => new Date(now.getTime() - hours * 3600_000).toISOString();
  const archives = [ago(1), ago(47.99), ago(48), ago(49), ago(24 * 30), ago(24 * 32)].map((time, i) => ({ id: String(i), time }));
  const reasons = (rules: KeepRules): string[] => applyKeepRules(archives, rules, now).map((d) => (d.kept ? `${d.kept.rule} #${d.kept.number}` : '-'));
  t.deepEqual(reasons({ withinHours: parseInterval('2d') }), ['within #1', 'within #2', '-', '-', '-', '-']);
  t.deepEqual(reasons({ withinHours: parseInterval('1m') }), ['within #1', 'within #2', 'within #3', 'within #4', 'within #5', '-']);
  // In Berlin (CEST) the archives fall on June 15, 13, 13, 13, May 16 and May 14. Within keeps the
  // first two, which use June 15 and 13 up, so the daily rule's one archive is May 16's, not a
  // third one of June 13.
  t.deepEqual(reasons({ withinHours: parseInterval('2d'), daily: 1 }), ['within #1', 'within #2', '-', '-', 'daily #1', '-']);
});

test('parseInterval: borg 1.4 units H, d, w, m (31 days), y (365 days); anything else is one clear error', (t) => {
  t.is(parseInterval('3H'), 3);
  t.is(parseInterval('2d'), 48);
  t.is(parseInterval('1w'), 168);
  t.is(parseInterval('1m'), 744);
  t.is(parseInterval('1y'), 8760);
  for (const bad of ['2', '2S', '2M', '', 'd', '0d', '-1d', '1.5d', 'xd', '2D']) {
    const e = t.throws(() => parseInterval(bad), { instanceOf: InvalidArgumentError }, bad);
    t.regex(e?.message ?? '', /^--keep-within: unexpected interval /);
  }
});

test('hasKeepRule: a count other than 0, or keep-within', (t) => {
  t.false(hasKeepRule({}));
  t.false(hasKeepRule({ daily: 0, weekly: 0 }));
  t.true(hasKeepRule({ daily: -1 }));
  t.true(hasKeepRule({ secondly: 1 }));
  t.true(hasKeepRule({ withinHours: 1 }));
  t.deepEqual([...PERIOD_RULES], ['secondly', 'minutely', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly_13weekly', 'quarterly_3monthly', 'yearly']);
});

/** A Python that has borg's own package (the distribution's borgbackup), or undefined. */
function borgPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import borg.helpers'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

// borg's prune_within and prune_split, run as do_prune runs them, on the cases given as JSON.
const BORG_ORACLE = `
import json, sys
from datetime import datetime, timezone
from borg.helpers import prune_split, prune_within, PRUNING_PATTERNS
class A:
    def __init__(self, id, ts):
        self.id, self.ts = id, ts
out = []
for case in json.load(sys.stdin):
    archives = [A(a['id'], datetime.fromtimestamp(a['ms'] / 1000, timezone.utc)) for a in case['archives']]
    archives.sort(key=lambda a: a.ts, reverse=True)
    kept = {}
    if case['within']:
        prune_within(archives, case['within'], kept)
    for rule in PRUNING_PATTERNS.keys():
        if rule in case['rules']:
            prune_split(archives, rule, case['rules'][rule], kept)
    out.append({k: '%s #%d' % v for k, v in kept.items()})
print(json.dumps(out))
`;

const borgPy = borgPython();
(borgPy === undefined ? test.skip : test)("the rules decide as borg's own prune_split and prune_within on random archives and rules", (t) => {
  const rand = seededRandom(1402);
  const now = Date.now();
  const rules7 = ['secondly', 'minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
  const cases: { archives: { id: string; ms: number }[]; rules: Partial<Record<PeriodRule, number>>; within: number }[] = [];
  for (let c = 0; c < 300; c += 1) {
    // Spreads from seconds to years, so that every rule has periods to tell apart.
    const spread = [120_000, 7_200_000, 4 * 86_400_000, 60 * 86_400_000, 800 * 86_400_000][c % 5] ?? 1;
    const n = 1 + Math.floor(rand() * 40);
    const archives = [];
    for (let i = 0; i < n; i += 1) {
      // Whole minutes plus 30.5 s, so no archive lies within a second of a keep-within limit (whole hours from now).
      const ms = now - Math.floor((rand() * spread) / 60_000) * 60_000 - 30_500 - i;
      archives.push({ id: `a${i}`, ms });
    }
    const rules: Partial<Record<PeriodRule, number>> = {};
    for (const r of rules7) if (rand() < 0.35) rules[r] = Math.floor(rand() * 7) - 1;
    const within = rand() < 0.3 ? 1 + Math.floor(rand() * Math.max(1, spread / 3_600_000)) : 0;
    cases.push({ archives, rules, within });
  }
  const r = spawnSync(borgPy ?? 'python3', ['-c', BORG_ORACLE], { input: JSON.stringify(cases), encoding: 'utf8', env: { ...process.env, TZ: 'Europe/Berlin' } });
  t.is(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as Record<string, string>[];
  cases.forEach((c, i) => {
    const archives = c.archives.map((a) => ({ id: a.id, time: new Date(a.ms).toISOString() }));
    const rules: KeepRules = { ...c.rules, ...(c.within > 0 ? { withinHours: c.within } : {}) };
    const ours: Record<string, string> = {};
    for (const d of applyKeepRules(archives, rules, new Date(now))) if (d.kept) ours[d.archive.id] = `${d.kept.rule} #${d.kept.number}`;
    t.deepEqual(ours, expected[i], `case ${i}: ${JSON.stringify(c)}`);
  });
});
