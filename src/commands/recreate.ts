import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { findArchive, loadArchive, repositoryTotals } from '../archive/archives.js';
import type { ArchiveMeta } from '../archive/archive-object.js';
import { extractMatcher } from '../archive/patterns.js';
import { Recreater, type RecompressMode, type RecreateOptions } from '../archive/recreate.js';
import { selectArchives } from '../archive/select.js';
import { createReport } from '../archive/stats-report.js';
import { InvalidArgumentError, LockTimeoutError } from '../errors.js';
import { parseChunkerParams, parseCompression } from '../native.js';
import { saveAfterCommit, saveChunkIndex, syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget, type Target } from '../repository/location.js';
import type { Lock } from '../repository/locks.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand, isInt } from './base.js';
import { parseTimestamp } from '../archive/archive-writer.js';
import { expandPlaceholders } from '../archive/placeholders.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';
import { checkArchiveName } from './rename.js';
import { commandLineArguments } from '../fs-names.js';

const MODES = new Set(['if-different', 'always', 'never']);

/** `hoard recreate REPO[::ARCHIVE] [PATH...]`: rewrites archives without some items, or with new compression. */
export class RecreateCommand extends HoardCommand {
  static override paths = [['recreate']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'recreate archives',
    details: `
      Rewrites archives (the one named, those -a selects, or all of them) keeping only the items
      the PATHs and patterns select, or with new compression. Without --target each archive is
      replaced under its name and the space of what it no longer holds is freed by
      \`hoard compact\`; with --target the result is a new archive and the original stays.

      -C with --recompress (if-different, always; never is the default) stores the archives'
      chunks again with the new compression. --exclude-caches and --exclude-if-present look for
      the tag files in the archive. An archive for which nothing is asked is skipped, and one in
      which nothing changed is left as it is.

      Re-chunking (--chunker-params other than the archive's) is not supported yet.
      --checkpoint-interval is accepted and does nothing.
    `,
    examples: [
      ['Remove a directory from every archive', "hoard recreate /path/to/repo -e 'home/*/junk'"],
      ['Recompress one archive with zstd', 'hoard recreate -C zstd,10 --recompress always /path/to/repo::Monday'],
      ['Keep the original, write the result as a new archive', "hoard recreate --target Monday-small -e '*.iso' /path/to/repo::Monday"],
    ],
  });

  list = Option.Boolean('--list', false, { description: 'output verbose list of items (files, dirs, ...)' });
  filter = Option.String('--filter', { description: 'only display items with the given status characters' });
  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not change anything' });
  stats = Option.Boolean('-s,--stats', false, { description: 'print statistics at end' });
  exclude = Option.Array('-e,--exclude', [], { description: 'exclude paths matching PATTERN' });
  excludeFrom = Option.Array('--exclude-from', [], { description: 'read exclude patterns from EXCLUDEFILE' });
  pattern = Option.Array('--pattern', [], { description: 'include/exclude paths matching PATTERN' });
  patternsFrom = Option.Array('--patterns-from', [], { description: 'read include/exclude patterns from PATTERNFILE' });
  patternOrder = patternOrderOption();
  excludeCaches = Option.Boolean('--exclude-caches', false, { description: 'exclude directories that contain a CACHEDIR.TAG file' });
  excludeIfPresent = Option.Array('--exclude-if-present', [], { description: 'exclude directories that contain NAME' });
  keepExcludeTags = Option.Boolean('--keep-exclude-tags,--keep-tag-files', false, { description: 'keep tag files of excluded directories' });
  targetName = Option.String('--target', { description: 'create a new archive with the name ARCHIVE, do not replace the existing archive' });
  checkpointInterval = Option.String('-c,--checkpoint-interval', { validator: isInt, description: 'accepted for borg compatibility (no-op)' });
  comment = Option.String('--comment', { description: 'add a comment text to the archive' });
  timestamp = Option.String('--timestamp', { description: 'manually specify the archive creation date/time (UTC)' });
  compression = Option.String('-C,--compression', 'lz4', { description: 'select compression algorithm' });
  recompress = Option.String('--recompress', { tolerateBoolean: true, description: 'recompress data chunks: if-different (the default MODE), always or never' });
  chunkerParams = Option.String('--chunker-params', { description: 'rechunk with these chunker parameters (not supported yet)' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider first N archives' });
  last = Option.String('--last', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider last N archives' });
  target = Option.String({ name: 'REPOSITORY_OR_ARCHIVE' });
  pathArgs = Option.Rest({ name: 'PATH' });

  /** borg's `--recompress [MODE]`: argparse takes the next word as MODE, clipanion only `=MODE`. */
  private recompressMode(): { mode: RecompressMode; target: string; paths: string[] } {
    let target = this.target;
    const paths = [...this.pathArgs];
    let value = this.recompress;
    if (value === true) {
      if (MODES.has(target) && paths.length > 0) {
        value = target;
        target = paths.shift() as string;
      } else if (paths[0] !== undefined && MODES.has(paths[0])) {
        value = paths.shift() as string;
      } else {
        value = 'if-different';
      }
    }
    const mode = value === undefined || value === false ? 'never' : value;
    if (!MODES.has(mode)) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--recompress ${mode}: use if-different, always or never`);
    return { mode: mode as RecompressMode, target, paths };
  }

  override async execute(): Promise<number> {
    const { mode, target: given, paths } = this.recompressMode();
    const target = parseTarget(given, this.context.env);
    const compression = parseCompression(this.compression);
    const chunkerParams = this.chunkerParams === undefined ? undefined : parseChunkerParams(this.chunkerParams === 'default' ? 'buzhash,19,23,21,4095' : this.chunkerParams);
    // As borg's archive name validator: placeholders expand first.
    const targetName = this.targetName === undefined ? undefined : expandPlaceholders(this.targetName);
    if (targetName !== undefined) checkArchiveName(targetName);
    const timestamp = this.timestamp === undefined ? undefined : parseTimestamp(this.timestamp);
    const filtered = this.prefix !== undefined || this.globArchives !== undefined || this.first !== undefined || this.last !== undefined;
    if (filtered && target.archive !== undefined) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'archive filters (-a, -P, --first, --last) and an archive name cannot be combined');
    }
    const options = patternOptions(this);
    const matcher = await extractMatcher(paths, options);
    const filter = this.filter === undefined ? undefined : new Set(this.filter);
    const opts: Omit<RecreateOptions, 'beforeCommit'> = {
      ...(targetName !== undefined ? { target: targetName } : {}),
      ...(this.comment !== undefined ? { comment: expandPlaceholders(this.comment) } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
      compression,
      recompress: mode,
      selective: options.length > 0 || paths.length > 0,
      included: (p) => isIncluded(matcher, p),
      excludeCaches: this.excludeCaches,
      excludeIfPresent: this.excludeIfPresent,
      keepExcludeTags: this.keepExcludeTags,
      dryRun: this.dryRun,
      commandLine: ['hoard', ...commandLineArguments()],
      recompressed: new Set<string>(),
      onItem: (status, p) => {
        if (this.list && (filter === undefined || filter.has(status))) this.logger.fileStatus(status, p);
      },
    };
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', (lock) => this.recreate(repo, lock, target, opts, chunkerParams));
  }

  /** The archives to recreate: the one named, or those the filters select (all without filters). */
  private choose(repo: Repository, target: Target): ManifestArchive[] {
    if (target.archive !== undefined) return [findArchive(repo, target.archive)];
    const glob = this.globArchives ?? (this.prefix !== undefined ? `${this.prefix.replace(/[[\]*?]/g, '[$&]')}*` : undefined);
    return selectArchives(repo.manifest.archives, {
      ...(glob !== undefined ? { glob } : {}),
      sortBy: this.sortBy,
      ...(this.first !== undefined ? { first: Number(this.first) } : {}),
      ...(this.last !== undefined ? { last: Number(this.last) } : {}),
    });
  }

  private async recreate(
    repo: Repository,
    lock: Lock | undefined,
    target: Target,
    opts: Omit<RecreateOptions, 'beforeCommit'>,
    chunkerParams: string | undefined,
  ): Promise<number> {
    await repo.refreshManifest();
    const chosen = this.choose(repo, target);
    if (opts.target !== undefined && chosen.length !== 1) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--target needs exactly one archive, but ${chosen.length} are selected`);
    }
    // Every check that can fail is made before the first archive is changed.
    const metas: ArchiveMeta[] = [];
    for (const a of chosen) {
      const meta = await loadArchive(repo, a);
      if (chunkerParams !== undefined && chunkerParams !== meta.chunkerParams) {
        throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--chunker-params ${this.chunkerParams ?? ''}: re-chunking archive ${a.name} (made with ${meta.chunkerParams}) is not supported yet`);
      }
      metas.push(meta);
    }
    const synced = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    const beforeCommit = async (): Promise<void> => {
      if (lock !== undefined && !(await lock.stillHeld())) {
        throw new LockTimeoutError('HOARD_LOCK_LOST', `the lock on ${target.repo.text} was broken while recreate ran; nothing more was committed`);
      }
    };
    let warnings = 0;
    for (const [i, a] of chosen.entries()) {
      const meta = metas[i] as ArchiveMeta;
      const start = new Date();
      this.log('info', `Processing ${a.name}`);
      const r = await new Recreater(repo, synced, { ...opts, beforeCommit }).run(a, meta);
      if (r.outcome === 'skipped') this.log('info', `Skipped archive ${a.name}: Nothing to do. Archive was not processed.`);
      else if (r.outcome === 'unchanged') this.log('info', `Archive ${a.name}: nothing changed, kept as it is.`);
      const unsaved = r.outcome === 'recreated' ? await saveAfterCommit(r.meta.name, [() => saveChunkIndex(synced)]) : undefined;
      if (unsaved !== undefined) {
        warnings += 1;
        this.log('warning', unsaved);
      }
      if (this.stats && r.outcome === 'recreated' && r.id !== undefined) {
        const all = await repositoryTotals(repo, synced.index);
        this.logger.output('hoard.output.stats', createReport({ repository: target.repo.text, name: r.meta.name, id: r.id, start, end: new Date(), stats: r.meta.stats, all }));
      }
    }
    return warnings > 0 ? 1 : 0;
  }
}
