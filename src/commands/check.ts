import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { checkArchives } from '../archive/check-archives.js';
import { findArchive } from '../archive/archives.js';
import { selectArchives } from '../archive/select.js';
import { InvalidArgumentError } from '../errors.js';
import type { PercentProgress } from '../progress.js';
import type { CheckReport } from '../repository/check-report.js';
import { checkRepository } from '../repository/check-repository.js';
import { parseTarget } from '../repository/location.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

const count = t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]);

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `hoard check REPO[::ARCHIVE]`: verifies the repository and its archives without changing anything. */
export class CheckCommand extends HoardCommand {
  static override paths = [['check']];
  static override usage = Command.Usage({
    category: 'Maintenance',
    description: 'verify repository consistency',
    details: `
      The repository part opens every manifest generation and index object, and checks that every
      pack an index object lists exists with the size, trailer and table of contents it implies
      (by range reads). Packs in no index object and archive objects not in the manifest are
      garbage that \`compact\` removes: reported with \`-v\`, not as errors.

      The archive part opens each archive object, every tree reachable from its root, checks
      every item, and that every chunk a file names is in the repository.

      \`--verify-data\` reads every pack whole and opens every blob. Each problem is one line on
      stderr; the exit code is 0 when nothing was found, 1 when problems were found, and 2 when
      the repository cannot be opened. Nothing is changed (\`--repair\` is not supported yet).
    `,
    examples: [
      ['Check a repository and its archives', 'hoard check /path/to/repo'],
      ['Also read and authenticate every blob', 'hoard check --verify-data /path/to/repo'],
      ['Check the last archive only', 'hoard check --archives-only --last 1 /path/to/repo'],
    ],
  });

  repositoryOnly = Option.Boolean('--repository-only', false, { description: 'only perform repository checks' });
  archivesOnly = Option.Boolean('--archives-only', false, { description: 'only perform archives checks' });
  verifyData = Option.Boolean('--verify-data', false, { description: 'read every pack and authenticate every blob (conflicts with --repository-only)' });
  repair = Option.Boolean('--repair', false, { description: 'not supported yet' });
  saveSpace = Option.Boolean('--save-space', false, { description: 'accepted (check writes nothing)' });
  maxDuration = Option.String('--max-duration', { validator: count, description: 'accepted (needs --repository-only); the check is always complete' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: count, description: 'consider first N archives after other filters were applied' });
  last = Option.String('--last', { validator: count, description: 'consider last N archives after other filters were applied' });
  target = Option.String({ required: false, name: 'REPOSITORY_OR_ARCHIVE' });

  /** Checks the options as borg does, before anything is opened. */
  private validate(): void {
    if (this.repair) throw invalid('check --repair is not supported yet');
    if (this.repositoryOnly && this.archivesOnly) throw invalid('--repository-only and --archives-only exclude each other');
    const filters = this.first !== undefined || this.last !== undefined || this.prefix !== undefined || this.globArchives !== undefined;
    if (this.repositoryOnly && (this.verifyData || filters)) {
      throw invalid('--repository-only contradicts --first, --last, -P/--prefix, --glob-archives and --verify-data');
    }
    if (this.maxDuration !== undefined && !this.repositoryOnly) throw invalid('--repository-only is required for --max-duration support');
    if (this.prefix !== undefined && this.globArchives !== undefined) throw invalid('-P/--prefix and -a/--glob-archives exclude each other');
  }

  override async execute(): Promise<number> {
    this.validate();
    const target = parseTarget(this.target, this.context.env);
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    let archives: ManifestArchive[] = [];
    if (!this.repositoryOnly) {
      if (target.archive !== undefined) archives = [findArchive(repo, target.archive)];
      else {
        const prefix = this.prefix;
        archives = selectArchives(prefix === undefined ? repo.manifest.archives : repo.manifest.archives.filter((a) => a.name.startsWith(prefix)), {
          ...(this.globArchives !== undefined ? { glob: this.globArchives } : {}),
          sortBy: this.sortBy,
          ...(this.first !== undefined ? { first: this.first } : {}),
          ...(this.last !== undefined ? { last: this.last } : {}),
        });
      }
    }
    return this.locked(repo.storage, 'shared', () => this.check(repo, archives));
  }

  private async check(repo: Repository, archives: ManifestArchive[]): Promise<number> {
    let problems = 0;
    const sink = this.progressSink;
    const indicators = new Map<string, PercentProgress>();
    const clear = (): void => {
      for (const p of indicators.values()) p.clear();
    };
    const report: CheckReport = {
      problem: (line) => {
        problems += 1;
        clear();
        this.log('error', line);
      },
      info: (line) => {
        clear();
        this.log('info', line);
      },
      progress: (step, done, total) => {
        if (sink.mode === 'off') return;
        // One indicator per part, as borg's msgids: the repository part, then the archives.
        const msgid = step.startsWith('Checking archive') ? 'check.archives' : 'check.repository';
        let p = indicators.get(msgid);
        if (p === undefined) {
          for (const other of indicators.values()) other.finish();
          p = sink.percent(msgid, total, (pct, info) => `${pct.toFixed(1).padStart(5)}% ${info[0] ?? ''}`);
          indicators.set(msgid, p);
        }
        p.total = total;
        p.show(done, [`${step} (${done}/${total})`], done === total);
      },
    };
    const structure = !this.archivesOnly;
    if (structure) this.log('info', 'Starting repository check');
    const before = problems;
    const found = await checkRepository(repo, report, { structure, verifyData: this.verifyData });
    clear();
    if (structure || this.verifyData) {
      const garbage = found.garbagePacks + found.garbageArchives > 0 ? `; garbage for compact: ${plural(found.garbagePacks, 'pack')}, ${plural(found.garbageArchives, 'archive object')}` : '';
      const summary = `Repository check complete: ${plural(found.indexObjects, 'index object')}, ${plural(found.packs, 'pack')}${this.verifyData ? ' (every blob read)' : ''}${garbage}`;
      const n = problems - before;
      this.log(n > 0 ? 'error' : 'info', `${summary}; ${n > 0 ? `${plural(n, 'problem')} found` : 'no problems found'}.`);
    }
    if (!this.repositoryOnly) {
      this.log('info', `Starting archive consistency check of ${plural(archives.length, 'archive')}`);
      const start = problems;
      await checkArchives(repo, found.index, archives, report);
      clear();
      const n = problems - start;
      this.log(n > 0 ? 'error' : 'info', `Archive consistency check complete; ${n > 0 ? `${plural(n, 'problem')} found` : 'no problems found'}.`);
    }
    for (const p of indicators.values()) p.finish();
    return problems > 0 ? 1 : 0;
  }
}
