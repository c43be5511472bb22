import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { checkArchives } from '../archive/check-archives.js';
import { findArchive } from '../archive/archives.js';
import { rebuildManifest } from '../archive/rebuild-manifest.js';
import { repairArchives, type ArchiveRepairResult } from '../archive/repair-archives.js';
import { selectArchives } from '../archive/select.js';
import { InvalidArgumentError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import type { PercentProgress } from '../progress.js';
import type { CheckReport } from '../repository/check-report.js';
import { checkRepository } from '../repository/check-repository.js';
import { saveChunkIndex, syncChunkIndex } from '../repository/chunk-cache.js';
import { confirm } from '../repository/confirm.js';
import { parseTarget } from '../repository/location.js';
import type { Lock } from '../repository/locks.js';
import { manifestName, type ManifestArchive } from '../repository/manifest.js';
import { repairRepository } from '../repository/repair-repository.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

const count = t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]);

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The question `check --repair` asks first (borg's, answered by `HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING`). */
const REPAIR_PROMPT = [
  'This is a potentially dangerous function.',
  'check --repair might lead to data loss (for kinds of corruption it is not',
  'capable of dealing with). BE VERY CAREFUL!',
  '',
  "Type 'YES' if you understand this and want to continue: ",
].join('\n');

/** `hoard check REPO[::ARCHIVE]`: verifies the repository and its archives; `--repair` salvages what it can. */
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
      every item, and that every chunk a file names is in the repository. A damaged newest
      manifest generation is reported and its archive list rebuilt from the archive objects.

      \`--verify-data\` reads every pack whole and opens every blob.

      \`--repair\` (after a confirmation, or \`HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING=YES\`) reads every
      pack whole, copies the sound blobs of damaged packs into new packs, writes the index objects
      afresh, rebuilds a damaged manifest, drops archives whose object is lost, and rebuilds the
      trees of damaged archives: a lost subtree is reported and left empty, each lost file chunk
      is replaced by an all-zero chunk of its size and the file is named and marked broken; once a
      later \`create\` stores the same data again, the next \`check --repair\` heals it.

      Each problem is one line on stderr. Exit codes as borg's: 0 when nothing was found (or
      \`--repair\` repaired what it found), 1 when problems were found, 2 when the repository cannot
      be opened or an option is refused.
    `,
    examples: [
      ['Check a repository and its archives', 'hoard check /path/to/repo'],
      ['Also read and authenticate every blob', 'hoard check --verify-data /path/to/repo'],
      ['Check the last archive only', 'hoard check --archives-only --last 1 /path/to/repo'],
      ['Salvage what can be saved', 'hoard check --repair /path/to/repo'],
    ],
  });

  repositoryOnly = Option.Boolean('--repository-only', false, { description: 'only perform repository checks' });
  archivesOnly = Option.Boolean('--archives-only', false, { description: 'only perform archives checks' });
  verifyData = Option.Boolean('--verify-data', false, { description: 'read every pack and authenticate every blob (conflicts with --repository-only)' });
  repair = Option.Boolean('--repair', false, { description: 'attempt to repair any inconsistencies found' });
  saveSpace = Option.Boolean('--save-space', false, { description: 'accepted; no effect (repair writes whole packs either way)' });
  maxDuration = Option.String('--max-duration', { validator: count, description: 'accepted with --repository-only; the check is always complete' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: count, description: 'consider first N archives after other filters were applied' });
  last = Option.String('--last', { validator: count, description: 'consider last N archives after other filters were applied' });
  target = Option.String({ required: false, name: 'REPOSITORY_OR_ARCHIVE' });

  /** Checks the options as borg does, before anything is opened. */
  private validate(): void {
    if (this.repositoryOnly && this.archivesOnly) throw invalid('--repository-only and --archives-only exclude each other');
    const filters = this.first !== undefined || this.last !== undefined || this.prefix !== undefined || this.globArchives !== undefined;
    if (this.repositoryOnly && (this.verifyData || filters)) {
      throw invalid('--repository-only contradicts --first, --last, -P/--prefix, --glob-archives and --verify-data');
    }
    if (this.repair && this.maxDuration !== undefined) throw invalid('--repair does not allow --max-duration');
    if (this.maxDuration !== undefined && !this.repositoryOnly) throw invalid('--repository-only is required for --max-duration support');
    if (this.prefix !== undefined && this.globArchives !== undefined) throw invalid('-P/--prefix and -a/--glob-archives exclude each other');
  }

  override async execute(): Promise<number> {
    this.validate();
    if (this.repair) await confirm(this.context.env, this.context, REPAIR_PROMPT, 'CHECK_I_KNOW_WHAT_I_AM_DOING', ['YES'], { json: this.logJson });
    const target = parseTarget(this.target, this.context.env);
    const repo = await Repository.open(target.repo, this.context.env, this.context, { tolerateDamagedManifest: true });
    // An archive named on the command line must be known before anything is locked.
    if (target.archive !== undefined && repo.manifestDamage === undefined) findArchive(repo, target.archive);
    return this.locked(repo.storage, this.repair ? 'exclusive' : 'shared', (lock) => this.check(repo, target.archive, lock));
  }

  /** The archives to check: `::ARCHIVE`, or the selection options over the manifest's. */
  private select(repo: Repository, archive: string | undefined): ManifestArchive[] {
    if (this.repositoryOnly) return [];
    if (archive !== undefined) return [findArchive(repo, archive)];
    const prefix = this.prefix;
    return selectArchives(prefix === undefined ? repo.manifest.archives : repo.manifest.archives.filter((a) => a.name.startsWith(prefix)), {
      ...(this.globArchives !== undefined ? { glob: this.globArchives } : {}),
      sortBy: this.sortBy,
      ...(this.first !== undefined ? { first: this.first } : {}),
      ...(this.last !== undefined ? { last: this.last } : {}),
    });
  }

  private async check(repo: Repository, archive: string | undefined, lock: Lock | undefined): Promise<number> {
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
        this.log(this.repair ? 'warning' : 'error', line);
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
    let index: ChunkIndex;
    if (this.repair && structure) {
      this.log('info', 'Starting repository check and repair');
      const before = problems;
      const r = await repairRepository(repo, report, lock);
      clear();
      index = r.index;
      const n = problems - before;
      const what = `${plural(r.indexObjects, 'index object')}, ${plural(r.packs, 'pack')}; ${plural(r.rewritten, 'pack')} rewritten, ${plural(r.dropped, 'pack')} and ${plural(r.droppedBlobs, 'blob')} dropped, ${plural(r.adopted, 'pack')} listed again`;
      this.log(n > 0 ? 'warning' : 'info', `Repository check complete: ${what}; ${n > 0 ? `${plural(n, 'problem')} found and repaired` : 'no problems found'}.`);
    } else {
      if (structure) this.log('info', 'Starting repository check');
      const before = problems;
      const found = await checkRepository(repo, report, { structure, verifyData: this.verifyData });
      clear();
      index = found.index;
      if (structure || this.verifyData) {
        const garbage = found.garbagePacks + found.garbageArchives > 0 ? `; garbage for compact: ${plural(found.garbagePacks, 'pack')}, ${plural(found.garbageArchives, 'archive object')}` : '';
        const summary = `Repository check complete: ${plural(found.indexObjects, 'index object')}, ${plural(found.packs, 'pack')}${this.verifyData ? ' (every blob read)' : ''}${garbage}`;
        const n = problems - before;
        this.log(n > 0 ? 'error' : 'info', `${summary}; ${n > 0 ? `${plural(n, 'problem')} found` : 'no problems found'}.`);
      }
    }
    if (!this.repositoryOnly) await this.checkArchives(repo, archive, index, report, () => problems);
    for (const p of indicators.values()) p.finish();
    if (this.repair) {
      // The client's chunk index is synced with the index objects as they are now.
      await saveChunkIndex(await syncChunkIndex(repo.storage, repo.key, repo.env, repo.config.id));
      return 0;
    }
    return problems > 0 ? 1 : 0;
  }

  /** The archive part: a damaged manifest rebuilt, then each selected archive checked or repaired. */
  private async checkArchives(repo: Repository, archive: string | undefined, index: ChunkIndex, report: CheckReport, count: () => number): Promise<void> {
    const start = count();
    const damaged = repo.manifestDamage;
    let rebuilt = false;
    if (damaged !== undefined) {
      report.problem(`${damaged}; the archive list is rebuilt from the archive objects`);
      const m = await rebuildManifest(repo, report);
      repo.manifest = { ...repo.manifest, archives: m.archives, compactGeneration: m.compactGeneration };
      rebuilt = true;
    }
    let duplicates = false;
    if (damaged === undefined && this.repair) {
      const names = new Set<string>();
      for (const a of repo.manifest.archives) {
        if (names.has(a.name)) duplicates = true;
        names.add(a.name);
      }
      if (duplicates) report.problem(`${manifestName(repo.manifest.seq)} lists an archive name more than once; the first is kept`);
    }
    const archives = this.select(repo, archive);
    this.log('info', `Starting archive consistency check of ${plural(archives.length, 'archive')}`);
    let fixed: ArchiveRepairResult | undefined;
    if (this.repair) fixed = await repairArchives(repo, index, archives, report);
    else await checkArchives(repo, index, archives, report);
    if (fixed !== undefined && (rebuilt || duplicates || fixed.removed.size > 0 || fixed.replaced.size > 0)) {
      const { removed, replaced } = fixed;
      const damagedSeq = repo.manifest.seq;
      const seen = new Set<string>();
      await repo.commit((m) => ({
        archives: m.archives
          .filter((a) => !removed.has(a.id))
          .map((a) => ({ ...a, id: replaced.get(a.id) ?? a.id }))
          .filter((a) => {
            if (seen.has(a.name)) return false;
            seen.add(a.name);
            return true;
          }),
        compactGeneration: m.compactGeneration,
      }));
      if (damaged !== undefined) await repo.storage.delete(manifestName(damagedSeq));
    }
    const n = count() - start;
    const what = n === 0 ? 'no problems found' : this.repair ? `${plural(n, 'problem')} found and repaired` : `${plural(n, 'problem')} found`;
    this.log(n > 0 ? (this.repair ? 'warning' : 'error') : 'info', `Archive consistency check complete; ${what}.`);
  }
}
