import { Command, Option } from 'clipanion';

import { archiveLine } from '../archive/archives.js';
import { deletedDataReport, removeArchives } from '../archive/deletion.js';
import { type KeepRules, type PeriodRule, applyKeepRules, hasKeepRule, parseInterval } from '../archive/prune-rules.js';
import { prefixGlob, selectArchives } from '../archive/select.js';
import { InvalidArgumentError } from '../errors.js';
import { parseTarget } from '../repository/location.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand, isInt } from './base.js';

const count = { validator: isInt };

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/** `hoard prune REPO`: deletes the archives that no `--keep-*` rule keeps. */
export class PruneCommand extends HoardCommand {
  static override paths = [['prune']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'prune archives according to retention rules',
    details: `
      Deletes every archive (or, with -a/-P, every archive whose name matches) that none of
      the keep rules keeps. Archives outside the filter are never touched and do not count.
      The space comes back with \`hoard compact\`.

      The rules run in this order: --keep-within, --keep-last (the same as --keep-secondly),
      then minutely, hourly (-H), daily (-d), weekly (-w), monthly (-m), quarterly (by
      either --keep-13weekly or --keep-3monthly), and yearly (-y). A rule keeping N walks
      the archives newest first and
      keeps the newest archive of each of the N latest periods that have archives (in local
      time; weeks are ISO weeks). An archive that an earlier rule kept uses its period up
      without counting. A rule that finds fewer than N periods also keeps the oldest archive.
      A negative N means no limit. The keep-within INTERVAL is a number and H, d, w, m (31
      days) or y (365 days); every archive younger than that stays.

      With --list, each archive's decision is printed; with --dry-run, nothing changes. The
      options --force, --save-space and --checkpoint-interval are accepted for borg
      compatibility and do nothing.
    `,
    examples: [
      ['See what 7 daily and 4 weekly archives would keep', 'hoard prune -v --list --dry-run --keep-daily=7 --keep-weekly=4 /path/to/repo'],
      ['Prune only this host\'s archives', "hoard prune --keep-daily=7 --keep-weekly=4 -a '{hostname}-*' /path/to/repo"],
      ['Keep everything of the last 10 days, then one a day for 7 days, one a week for 4 weeks, one a month forever', 'hoard prune --keep-within=10d -d 7 -w 4 --keep-monthly=-1 /path/to/repo'],
    ],
  });

  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not change the repository' });
  force = Option.Counter('--force', 0, { description: 'accepted for borg compatibility (pruning never reads the archives)' });
  stats = Option.Boolean('-s,--stats', false, { description: 'print statistics for the deleted archives' });
  quickStats = Option.Boolean('--quick-stats', false, { description: 'print only deletion statistics, skipping repository-wide statistics' });
  list = Option.Boolean('--list', false, { description: 'output verbose list of archives it keeps/prunes' });
  keepWithin = Option.String('--keep-within', { description: 'keep all archives within this time interval' });
  keepLast = Option.String('--keep-last,--keep-secondly', { ...count, description: 'number of secondly archives to keep' });
  keepMinutely = Option.String('--keep-minutely', { ...count, description: 'number of minutely archives to keep' });
  keepHourly = Option.String('-H,--keep-hourly', { ...count, description: 'number of hourly archives to keep' });
  keepDaily = Option.String('-d,--keep-daily', { ...count, description: 'number of daily archives to keep' });
  keepWeekly = Option.String('-w,--keep-weekly', { ...count, description: 'number of weekly archives to keep' });
  keepMonthly = Option.String('-m,--keep-monthly', { ...count, description: 'number of monthly archives to keep' });
  keep13Weekly = Option.String('--keep-13weekly', { ...count, description: 'number of quarterly archives to keep (13 week strategy)' });
  keep3Monthly = Option.String('--keep-3monthly', { ...count, description: 'number of quarterly archives to keep (3 month strategy)' });
  /** `--keep-13weekly=N` and `--keep-13weekly -N` arrive here (src/cli.ts): clipanion binds no value to a name with digits. */
  keep13WeeklyTwin = Option.String('--keep-thirteen-weekly', { ...count, hidden: true });
  /** Likewise for `--keep-3monthly`. */
  keep3MonthlyTwin = Option.String('--keep-three-monthly', { ...count, hidden: true });
  keepYearly = Option.String('-y,--keep-yearly', { ...count, description: 'number of yearly archives to keep' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  saveSpace = Option.Boolean('--save-space', false, { description: 'accepted for borg compatibility (no-op)' });
  checkpointInterval = Option.String('-c,--checkpoint-interval', { ...count, description: 'accepted for borg compatibility (no-op)' });
  target = Option.String({ required: false, name: 'REPOSITORY' });

  /** The rules the options give. */
  private rules(): KeepRules {
    const weeks13 = this.keep13WeeklyTwin ?? this.keep13Weekly;
    const months3 = this.keep3MonthlyTwin ?? this.keep3Monthly;
    if (weeks13 !== undefined && months3 !== undefined) throw invalid('--keep-13weekly and --keep-3monthly exclude each other');
    const counts: Record<PeriodRule, number | undefined> = {
      secondly: this.keepLast,
      minutely: this.keepMinutely,
      hourly: this.keepHourly,
      daily: this.keepDaily,
      weekly: this.keepWeekly,
      monthly: this.keepMonthly,
      quarterly_13weekly: weeks13,
      quarterly_3monthly: months3,
      yearly: this.keepYearly,
    };
    const rules: { -readonly [K in keyof KeepRules]: KeepRules[K] } = {};
    for (const [rule, n] of Object.entries(counts) as [PeriodRule, number | undefined][]) if (n !== undefined) rules[rule] = Number(n);
    if (this.keepWithin !== undefined) rules.withinHours = parseInterval(this.keepWithin);
    if (!hasKeepRule(rules)) {
      throw invalid(
        'At least one of the "keep-within", "keep-last", "keep-secondly", "keep-minutely", "keep-hourly", "keep-daily", ' +
          '"keep-weekly", "keep-monthly", "keep-13weekly", "keep-3monthly", or "keep-yearly" settings must be specified.',
      );
    }
    return rules;
  }

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    if (target.archive !== undefined) throw invalid(`prune takes a repository, not an archive (${JSON.stringify(this.target)})`);
    if (this.stats && this.quickStats) throw invalid('--stats and --quick-stats are mutually exclusive.');
    if (this.prefix !== undefined && this.globArchives !== undefined) throw invalid('-P/--prefix and -a/--glob-archives exclude each other');
    const rules = this.rules();
    const now = new Date();
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', () => this.prune(repo, rules, now));
  }

  private async prune(repo: Repository, rules: KeepRules, now: Date): Promise<number> {
    await repo.refreshManifest();
    const glob = this.globArchives ?? (this.prefix !== undefined ? prefixGlob(this.prefix) : undefined);
    const matching = selectArchives(repo.manifest.archives, glob !== undefined ? { glob } : {});
    const decisions = applyKeepRules(matching, rules, now);
    const doomed: ManifestArchive[] = decisions.filter((d) => d.kept === undefined).map((d) => d.archive);
    this.log('info', `Repository contains ${repo.manifest.archives.length} normal archives and 0 checkpoint archives.`);
    this.log('info', `Applying rules to the matching ${matching.length} archives and 0 checkpoints...`);
    this.log('info', `Keeping ${matching.length - doomed.length} archives and 0 checkpoints, pruning ${doomed.length} archives and 0 checkpoints.`);
    const report = this.stats || this.quickStats ? await deletedDataReport(repo, doomed, this.context.env, this.quickStats) : undefined;
    if (this.list) {
      let pruned = 0;
      for (const { archive, kept } of decisions) {
        const message =
          kept !== undefined
            ? `Keeping archive (rule: ${kept.rule} #${kept.number}):`
            : this.dryRun
              ? 'Would prune:'
              : `Pruning archive (${++pruned}/${doomed.length}):`;
        this.logger.output('hoard.output.list', `${message.padEnd(44)} ${archiveLine(archive)}`);
      }
    }
    if (!this.dryRun) await removeArchives(repo, doomed);
    if (report !== undefined) this.logger.output('hoard.output.stats', report);
    return 0;
  }
}
