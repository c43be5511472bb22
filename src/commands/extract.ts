import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { findArchive, loadArchive } from '../archive/archives.js';
import type { ArchiveMeta } from '../archive/archive-object.js';
import { extractArchive } from '../archive/extract.js';
import { extractToStdout, OutputSink, type StdoutExtractOptions } from '../archive/extract-stdout.js';
import { OutputClosedError } from '../broken-pipe.js';
import type { Item } from '../archive/item.js';
import { walkTree } from '../archive/tree-reader.js';
import type { ChunkIndex } from '../native.js';
import { extractMatcher, type PatternMatcher } from '../archive/patterns.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';
import { decodeName } from '../fs-names.js';

/** `hoard extract REPO::ARCHIVE [PATH...]`: restores an archive into the current directory. */
export class ExtractCommand extends HoardCommand {
  static override paths = [['extract']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'extract archive contents',
    details: `
      Restores the archive's items (or only those under the PATHs, or matching the patterns) into
      the current directory, with their metadata. Paths are never written outside the current
      directory: absolute paths and \`..\` are refused, and nothing is written through a symlink.

      --stdout writes the contents of the selected regular files to standard output instead,
      concatenated in archive order, and nothing to disk (e.g. to restore a database dump:
      \`hoard extract --stdout REPO::ARCHIVE path/to/dump | psql\`). A reader that stops early
      (\`| head\`) ends the run quietly.

      --list names each item on stderr; --progress shows the percentage of bytes extracted and
      the current path on a terminal (after a first pass that sums the sizes). PATHs and
      patterns select as \`hoard help patterns\` describes.
    `,
    examples: [
      ['Extract an archive', 'hoard extract /path/to/repo::Monday'],
      ['Extract one folder, dropping its first two path components', 'hoard extract --strip-components 2 /path/to/repo::Monday home/user/src'],
      ['Show what would be extracted, without writing', 'hoard extract --dry-run --list /path/to/repo::Monday'],
      ['Restore a database dump into psql', 'hoard extract --stdout /path/to/repo::db-Monday pg_dump.sql | psql'],
    ],
  });

  list = Option.Boolean('--list', false, { description: 'output verbose list of items (files, dirs, ...)' });
  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not actually change any files' });
  numericIds = Option.Boolean('--numeric-ids,--numeric-owner', false, { description: 'only obey numeric user and group identifiers' });
  nobsdflags = Option.Boolean('--noflags,--nobsdflags', false, { description: 'do not extract/set flags' });
  noacls = Option.Boolean('--noacls', false, { description: 'do not extract/set ACLs' });
  noxattrs = Option.Boolean('--noxattrs', false, { description: 'do not extract/set xattrs' });
  stdout = Option.Boolean('--stdout', false, { description: 'write all extracted data to stdout' });
  sparse = Option.Boolean('--sparse', false, { description: 'create holes in output sparse file from all-zero chunks' });
  stripComponents = Option.String('--strip-components', '0', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]),
    description: 'remove the specified number of leading path elements',
  });
  exclude = Option.Array('-e,--exclude', [], { description: 'exclude paths matching PATTERN' });
  excludeFrom = Option.Array('--exclude-from', [], { description: 'read exclude patterns from EXCLUDEFILE' });
  pattern = Option.Array('--pattern', [], { description: 'include/exclude paths matching PATTERN' });
  patternsFrom = Option.Array('--patterns-from', [], { description: 'read include/exclude patterns from PATTERNFILE' });
  patternOrder = patternOrderOption();
  target = Option.String({ name: 'ARCHIVE' });
  pathArgs = Option.Rest({ name: 'PATH' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    const archive = target.archive;
    if (archive === undefined) throw new UsageError('an archive is required: REPO::ARCHIVE');
    const matcher = await extractMatcher(this.pathArgs, patternOptions(this));
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    // A shared lock: compact (exclusive) must not delete packs while they are read.
    return this.locked(repo.storage, 'shared', () => this.restore(repo, archive, matcher));
  }

  private async restore(repo: Repository, archive: string, matcher: PatternMatcher): Promise<number> {
    await repo.refreshManifest();
    const meta = await loadArchive(repo, findArchive(repo, archive));
    const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    let warnings = 0;
    const included = (p: string): boolean => isIncluded(matcher, p);
    const progress = this.progressSink.percent('extract', 0, (pct, info) => `${pct.toFixed(1).padStart(5)}% Extracting: ${info[0] ?? ''}`);
    if (progress.active) {
      // As borg: the total is the size of what will be extracted, summed by a first walk.
      const root = meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex');
      let total = 0;
      await walkTree(repo, index, root, ({ path, item }) => {
        if (!item.implied && item.type === '-' && included(decodeName(path))) total += item.size;
      });
      progress.total = total;
    }
    let done = 0;
    // What both ways of extracting share: selection, stripping, `--list`, progress and warnings.
    const shared = {
      included,
      mayContain: () => true,
      stripComponents: Number(this.stripComponents),
      onItem: (p: string, item: Item) => {
        if (this.list) {
          progress.clear();
          this.logger.output('hoard.output.list', p);
        }
        done += item.type === '-' ? item.size : 0;
        progress.show(done, [p]);
      },
      onWarning: (message: string) => {
        warnings += 1;
        progress.clear();
        this.log('warning', message);
      },
    };
    try {
      if (this.stdout && !this.dryRun) {
        // The reader went away: nothing more is wanted, and the patterns were not all tried.
        if (!(await this.writeStdout(repo, index, meta, shared))) return warnings > 0 ? 1 : 0;
      } else {
        await extractArchive(repo, index, meta, {
          ...shared,
          sparse: this.sparse,
          numericIds: this.numericIds,
          dryRun: this.dryRun,
          noacls: this.noacls,
          noxattrs: this.noxattrs,
          noflags: this.nobsdflags,
        });
      }
    } finally {
      progress.finish();
    }
    for (const p of matcher.unmatchedIncludes()) {
      warnings += 1;
      this.log('warning', `Include pattern '${p}' never matched.`);
    }
    return warnings > 0 ? 1 : 0;
  }

  /**
   * `--stdout`: the selected files' contents to standard output. Resolves to false if the
   * reader closed the output early (EPIPE), which ends the run without an error: as borg treats
   * a broken pipe on its text output (its binary `--stdout` writes end in a traceback instead).
   */
  private async writeStdout(repo: Repository, index: ChunkIndex, meta: ArchiveMeta, opts: StdoutExtractOptions): Promise<boolean> {
    const sink = new OutputSink(this.context.stdout);
    try {
      await extractToStdout(repo, index, meta, opts, (buffers) => sink.write(buffers));
      await sink.flush();
    } catch (e) {
      if (!(e instanceof OutputClosedError)) throw e;
      this.log('debug', 'the reader closed the output: extraction stopped');
      return false;
    }
    return true;
  }
}
