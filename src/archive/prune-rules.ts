/**
 * borg's retention rules (`borg prune`), as pure functions: which archives each `--keep-*` rule
 * keeps, given the archives' times and the moment of the run. No I/O; the local time zone is the
 * process's (TZ), as borg reads periods in local time.
 *
 * The rules run in a fixed order: `within`, then `secondly` (`--keep-last`), `minutely`, `hourly`,
 * `daily`, `weekly` (ISO weeks: ISO year and week number), `monthly`, `quarterly_13weekly`,
 * `quarterly_3monthly`, `yearly`. A period rule with count N walks the archives newest first; the
 * first archive of each new period claims that period. If no earlier rule kept it, this rule keeps
 * it (and counts it); if an earlier rule did, the period is used up all the same and nothing is
 * counted. The rule stops once it has kept N. If it ran out of archives short of N, it keeps the
 * oldest archive as well, unless that one is kept already (borg 1.2's `[oldest]` rule). A negative
 * N means no limit. `within` keeps every archive younger than its interval; like any earlier rule,
 * what it keeps does not count towards later rules but uses up their periods.
 */
import { InvalidArgumentError } from '../errors.js';
import { localTime, strftime } from './strftime.js';

/** The period rules, in the order they are applied. */
export const PERIOD_RULES = [
  'secondly',
  'minutely',
  'hourly',
  'daily',
  'weekly',
  'monthly',
  'quarterly_13weekly',
  'quarterly_3monthly',
  'yearly',
] as const;

/** One of borg's period rules (`--keep-last` is `secondly`). */
export type PeriodRule = (typeof PERIOD_RULES)[number];

/** The retention options: a count per period rule (0 or absent: unused; negative: no limit), and `--keep-within` in hours. */
export type KeepRules = { readonly [R in PeriodRule]?: number } & { readonly withinHours?: number };

/** What `prune` needs of an archive: its id and its time (ISO 8601, as the manifest holds it). */
export interface PruneCandidate {
  readonly id: string;
  readonly time: string;
}

/** Why an archive is kept: the rule (`daily`, `within`, `monthly[oldest]`, ...) and its count under that rule, from 1. */
export interface KeepReason {
  readonly rule: string;
  readonly number: number;
}

/** One archive and the decision about it. */
export interface PruneDecision<T extends PruneCandidate> {
  readonly archive: T;
  /** Why it stays; undefined if it is pruned. */
  readonly kept: KeepReason | undefined;
}

const STRFTIME_PERIODS: Partial<Record<PeriodRule, string>> = {
  secondly: '%Y-%m-%d %H:%M:%S',
  minutely: '%Y-%m-%d %H:%M',
  hourly: '%Y-%m-%d %H',
  daily: '%Y-%m-%d',
  weekly: '%G-%V',
  monthly: '%Y-%m',
  yearly: '%Y',
};

/** Milliseconds since the epoch of an archive time; a time that does not parse is an error. */
function epochMs(a: PruneCandidate): number {
  const ms = Date.parse(a.time);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `archive ${a.id} has no valid time (${JSON.stringify(a.time)})`);
  return ms;
}

/**
 * The period of `rule` that the moment `ms` falls in, in local time, as a key: equal keys, same
 * period. Weeks are ISO weeks (Monday to Sunday, numbered within the ISO year); `quarterly_13weekly`
 * groups ISO weeks 1-13, 14-26, 27-39 and 40-53 of the ISO year; `quarterly_3monthly` the calendar
 * quarters.
 */
export function periodKey(rule: PeriodRule, ms: number): string {
  const t = localTime(Math.floor(ms / 1000), 0, false);
  const pattern = STRFTIME_PERIODS[rule];
  if (pattern !== undefined) return strftime(pattern, t);
  if (rule === 'quarterly_13weekly') {
    const week = Number(strftime('%V', t));
    const quarter = week <= 13 ? 1 : week <= 26 ? 2 : week <= 39 ? 3 : 4;
    return `${strftime('%G', t)}-Q${quarter}`;
  }
  return `${t.year}-Q${Math.ceil(t.month / 3)}`;
}

/**
 * borg's `--keep-within` interval: a positive whole number and a unit, `H` (hours), `d` (days),
 * `w` (weeks), `m` (31 days) or `y` (365 days). Returns hours.
 */
export function parseInterval(text: string): number {
  const units: Record<string, number> = { H: 1, d: 24, w: 24 * 7, m: 24 * 31, y: 24 * 365 };
  const unit = text.slice(-1);
  const perUnit = units[unit];
  if (perUnit === undefined) {
    throw new InvalidArgumentError(
      'HOARD_INVALID_ARGUMENT',
      `--keep-within: unexpected interval time unit ${JSON.stringify(unit)} in ${JSON.stringify(text)}: expected one of H, d, w, m, y`,
    );
  }
  const number = text.slice(0, -1);
  const n = /^\s*[+-]?\d+\s*$/.test(number) ? Number(number) : NaN;
  if (!(n > 0) || !Number.isSafeInteger(n * perUnit)) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--keep-within: unexpected interval number ${JSON.stringify(number)}: expected an integer greater than 0`);
  }
  return n * perUnit;
}

/** Whether any rule is given, as borg demands before it prunes. */
export function hasKeepRule(rules: KeepRules): boolean {
  return (rules.withinHours !== undefined && rules.withinHours > 0) || PERIOD_RULES.some((r) => (rules[r] ?? 0) !== 0);
}

/**
 * Applies `rules` to `archives` at the moment `now`. Returns every archive, newest first, with
 * the reason it is kept or undefined if it is to be pruned. Archives of the same time keep the
 * reverse of their order in `archives` (the later listed counts as the newer).
 */
export function applyKeepRules<T extends PruneCandidate>(archives: readonly T[], rules: KeepRules, now: Date): PruneDecision<T>[] {
  const sorted = archives
    .map((archive, i) => ({ archive, ms: epochMs(archive), i }))
    .sort((a, b) => b.ms - a.ms || b.i - a.i);
  const kept = new Map<number, KeepReason>();
  const within = rules.withinHours;
  if (within !== undefined && within > 0) {
    const limit = now.getTime() - within * 3600_000;
    let n = 0;
    for (const s of sorted) if (s.ms > limit) kept.set(s.i, { rule: 'within', number: ++n });
  }
  for (const rule of PERIOD_RULES) {
    const count = rules[rule] ?? 0;
    if (count === 0) continue;
    let n = 0;
    let last: string | undefined;
    let oldest: (typeof sorted)[number] | undefined;
    for (const s of sorted) {
      oldest = s;
      const period = periodKey(rule, s.ms);
      if (period === last) continue;
      last = period;
      if (kept.has(s.i)) continue;
      kept.set(s.i, { rule, number: ++n });
      if (n === count) break;
    }
    if (oldest !== undefined && count > 0 && n < count && !kept.has(oldest.i)) {
      kept.set(oldest.i, { rule: `${rule}[oldest]`, number: ++n });
    }
  }
  return sorted.map((s) => ({ archive: s.archive, kept: kept.get(s.i) }));
}
