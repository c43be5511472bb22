import { Command, Option, UsageError } from 'clipanion';

import { encryptionJson, runTimes } from '../archive/archive-info.js';
import { parseTimestamp } from '../archive/archive-writer.js';
import { commandPaths, delimitedPaths, parseDelimiter } from '../archive/command-input.js';
import { Archiver, archivePathOf, shownPaths, type CreateOptions } from '../archive/create.js';
import { FILES_CHANGED, type FilesChanged } from '../archive/file-batcher.js';
import { repositoryTotals } from '../archive/archives.js';
import { createMatcher, type PatternMatcher } from '../archive/patterns.js';
import { expandPlaceholders } from '../archive/placeholders.js';
import { gidOfGroup, uidOfUser } from '../archive/user-names.js';
import { createJson, createReport } from '../archive/stats-report.js';
import { InvalidArgumentError, LockTimeoutError } from '../errors.js';
import { parseChunkerParams, parseCompression } from '../native.js';
import { checkFilesCacheMode, openFilesCache, saveAfterCommit, saveChunkIndex, syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget, type Target } from '../repository/location.js';
import type { Lock } from '../repository/locks.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand, isInt } from './base.js';
import { patternOptions, patternOrderOption } from './pattern-options.js';
import { commandLineArguments } from '../fs-names.js';

/** borg's default chunker parameters. */
export const DEFAULT_CHUNKER = 'buzhash,19,23,21,4095';

/** `hoard create REPO::ARCHIVE PATH...`: makes a new archive. */
export class CreateCommand extends HoardCommand {
  static override paths = [['create']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'create a backup',
    details: `
      Backs up the PATHs into a new archive. Unchanged data is stored once (deduplication), new
      data is compressed (lz4 by default), encrypted and packed. The archive name may contain
      placeholders such as {hostname} and {now} (see \`hoard help placeholders\`). \`-\` as a PATH
      reads standard input into a file named by --stdin-name.

      --content-from-command stores the standard output of the command the PATHs give (after
      \`--\`) as that one file instead; a command that fails leaves no archive. With
      --paths-from-stdin (or --paths-from-command), exactly the paths listed on standard input
      (or by the command), separated by --paths-delimiter (a newline by default, \`\\0\` for
      NUL), are stored, with no recursion into directories.

      Paths are stored without their leading \`/\`. Exclusions use borg's pattern styles
      (fm:, sh:, re:, pp:, pf:; see \`hoard help patterns\`); -C picks the compression (see
      \`hoard help compression\`).

      --list names each item with its status letter on stderr (--filter picks letters);
      --stats prints borg's statistics after the commit, --json the same as JSON on stdout;
      --progress shows the sizes so far, the file count and the current path on a terminal
      (JSON lines with --log-json).
    `,
    examples: [
      ['Back up two folders', 'hoard create /path/to/repo::Monday ~/src ~/Documents'],
      ['With statistics and a name from the date', 'hoard create --stats /path/to/repo::{hostname}-{now} ~'],
      ['As borgmatic runs it', "hoard create --exclude-caches --one-file-system --list --filter AME- --json /path/to/repo::{hostname}-{now} /home"],
      ['Store a database dump', 'hoard create --content-from-command --stdin-name db.sql /path/to/repo::db-{now} -- pg_dump app'],
      ['Back up the files find lists', "find ~/src -name '*.c' -print0 | hoard create --paths-from-stdin --paths-delimiter '\\0' /path/to/repo::sources"],
      ['Stronger compression, leaving caches out', "hoard create -C zstd,10 -e 'sh:**/.cache' /path/to/repo::{now} ~"],
    ],
  });

  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not create a backup archive' });
  stats = Option.Boolean('-s,--stats', false, { description: 'print statistics for the created archive' });
  quickStats = Option.Boolean('--quick-stats', false, { description: 'print only archive statistics, skipping repository-wide statistics' });
  list = Option.Boolean('--list', false, { description: 'output verbose list of items (files, dirs, ...)' });
  filter = Option.String('--filter', { description: 'only display items with the given status characters' });
  json = Option.Boolean('--json', false, { description: 'output stats as JSON' });
  noCacheSync = Option.Boolean('--no-cache-sync', false, { description: 'accepted for borg compatibility (no-op)' });
  stdinName = Option.String('--stdin-name', 'stdin', { description: 'use NAME in archive for stdin data' });
  stdinUser = Option.String('--stdin-user', 'root', { description: 'set user USER in archive for stdin data (default: root)' });
  stdinGroup = Option.String('--stdin-group', 'root', { description: 'set group GROUP in archive for stdin data (default: root)' });
  stdinMode = Option.String('--stdin-mode', '0660', { description: 'set mode to M in archive for stdin data' });
  exclude = Option.Array('-e,--exclude', [], { description: 'exclude paths matching PATTERN' });
  excludeFrom = Option.Array('--exclude-from', [], { description: 'read exclude patterns from EXCLUDEFILE' });
  pattern = Option.Array('--pattern', [], { description: 'include/exclude paths matching PATTERN' });
  patternsFrom = Option.Array('--patterns-from', [], { description: 'read include/exclude patterns from PATTERNFILE' });
  patternOrder = patternOrderOption();
  excludeCaches = Option.Boolean('--exclude-caches', false, { description: 'exclude directories that contain a CACHEDIR.TAG file' });
  excludeIfPresent = Option.Array('--exclude-if-present', [], { description: 'exclude directories that contain NAME' });
  keepExcludeTags = Option.Boolean('--keep-exclude-tags,--keep-tag-files', false, { description: 'keep tag files of excluded directories' });
  excludeNodump = Option.Boolean('--exclude-nodump', false, { description: 'exclude files flagged NODUMP' });
  excludeDataless = Option.Boolean('--exclude-dataless', false, { description: 'accepted for borg compatibility: macOS dataless files do not exist on Linux (no-op)' });
  oneFileSystem = Option.Boolean('-x,--one-file-system', false, { description: 'stay in the same file system' });
  numericIds = Option.Boolean('--numeric-ids,--numeric-owner', false, { description: 'only store numeric user and group identifiers' });
  noatime = Option.Boolean('--noatime', false, { description: 'do not store atime (the default)' });
  atime = Option.Boolean('--atime', false, { description: 'do store atime' });
  noctime = Option.Boolean('--noctime', false, { description: 'do not store ctime' });
  nobirthtime = Option.Boolean('--nobirthtime', false, { description: 'do not store birthtime' });
  noflags = Option.Boolean('--noflags,--nobsdflags', false, { description: 'do not store flags' });
  noacls = Option.Boolean('--noacls', false, { description: 'do not store ACLs' });
  noxattrs = Option.Boolean('--noxattrs', false, { description: 'do not store extended attributes' });
  sparse = Option.Boolean('--sparse', false, { description: 'accepted for borg compatibility (holes are found by deduplication)' });
  filesCache = Option.String('--files-cache', 'ctime,size,inode', { description: 'files cache operation mode' });
  filesChanged = Option.String('--files-changed', 'ctime', {
    description: 'which time, moved while a file was read, gives it status C and a warning: ctime, mtime or disabled',
  });
  readSpecial = Option.Boolean('--read-special', false, { description: 'open and read block and char device files and fifos' });
  comment = Option.String('--comment', '', { description: 'add a comment text to the archive' });
  timestamp = Option.String('--timestamp', { description: 'manually specify the archive creation date/time (UTC)' });
  checkpointInterval = Option.String('-c,--checkpoint-interval', { validator: isInt, description: 'accepted (index objects are written every few packs)' });
  checkpointVolume = Option.String('--checkpoint-volume', { description: 'accepted (no-op)' });
  chunkerParams = Option.String('--chunker-params', DEFAULT_CHUNKER, { description: 'specify the chunker parameters' });
  compression = Option.String('-C,--compression', 'lz4', { description: 'select compression algorithm' });
  contentFromCommand = Option.Boolean('--content-from-command', false, { description: 'interpret PATH as command and store its stdout' });
  pathsFromStdin = Option.Boolean('--paths-from-stdin', false, { description: 'read DELIM-separated list of paths to back up from stdin' });
  pathsFromCommand = Option.Boolean('--paths-from-command', false, { description: 'interpret PATH as command and treat its output as --paths-from-stdin' });
  pathsDelimiter = Option.String('--paths-delimiter', { description: 'set path delimiter for --paths-from-stdin and --paths-from-command (default: \\n)' });
  target = Option.String({ name: 'ARCHIVE' });
  pathArgs = Option.Rest({ name: 'PATH' });

  /** `--files-changed`, checked. */
  private filesChangedMode(): FilesChanged {
    const mode = FILES_CHANGED.find((v) => v === this.filesChanged);
    if (mode === undefined) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--files-changed: expected ctime, mtime or disabled, got ${JSON.stringify(this.filesChanged)}`);
    }
    return mode;
  }

  override async execute(): Promise<number> {
    const source = this.source();
    const now = new Date();
    const target = parseTarget(this.target, this.context.env, { now });
    if (target.archive === undefined) throw new UsageError('an archive name is required: REPO::ARCHIVE');
    const name = target.archive;
    const compression = parseCompression(this.compression);
    const chunkerParams = parseChunkerParams(this.chunkerParams);
    const stdinMode = Number.parseInt(this.stdinMode, 8);
    if (!Number.isInteger(stdinMode) || stdinMode < 0 || stdinMode > 0o7777) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--stdin-mode ${this.stdinMode} is not an octal mode`);
    }
    if ((this.contentFromCommand || (source === undefined && this.pathArgs.includes('-'))) && archivePathOf(this.stdinName) === '') {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--stdin-name ${JSON.stringify(this.stdinName)} names no file`);
    }
    if (this.stats && this.quickStats) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '--stats and --quick-stats are mutually exclusive.');
    this.filesChangedMode();
    checkFilesCacheMode(this.filesCache);
    const timestamp = this.timestamp === undefined ? undefined : parseTimestamp(this.timestamp);
    const matcher = await createMatcher(patternOptions(this));
    const paths = source === undefined ? [...this.pathArgs, ...matcher.roots] : [];
    if (source === undefined && paths.length === 0) throw new UsageError('give at least one PATH to back up');
    const filter = this.filter === undefined ? undefined : new Set(this.filter);

    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', (lock) => this.backup(repo, lock, { target, name, compression, chunkerParams, stdinMode, timestamp, paths, source, matcher, filter, now }));
  }

  /**
   * What replaces the walk of PATHs, as borg 1.4: a command's output as one file
   * (`--content-from-command`), or the paths listed on standard input or by a command; the
   * PATHs are then the command and its arguments.
   */
  private source(): Pick<CreateOptions, 'contentCommand' | 'listedPaths'> | undefined {
    const modes = [this.contentFromCommand, this.pathsFromStdin, this.pathsFromCommand].filter(Boolean).length;
    if (modes === 0) return undefined;
    if (modes > 1) throw new UsageError('--content-from-command, --paths-from-stdin and --paths-from-command exclude each other');
    const argv = this.pathArgs;
    const env = this.context.env;
    if (this.pathsFromStdin && argv.length > 0) throw new UsageError('Must not pass PATH with --paths-from-stdin.');
    if (!this.pathsFromStdin && argv.length === 0) throw new UsageError('No command given.');
    if (this.contentFromCommand) return { contentCommand: { argv, env } };
    // borg's default delimiter is a newline; an empty one means the default too.
    const given = this.pathsDelimiter === undefined ? Buffer.alloc(0) : parseDelimiter(this.pathsDelimiter);
    const delimiter = given.length === 0 ? Buffer.from('\n') : given;
    if (this.pathsFromCommand) return { listedPaths: commandPaths(argv, env, delimiter) };
    return { listedPaths: delimitedPaths(this.context.stdin as AsyncIterable<Buffer>, delimiter) };
  }

  /**
   * The owner of the file read from standard input or a command, as borg 1.4: `--stdin-user` and
   * `--stdin-group` (default root), which must exist here, with their ids.
   */
  private stdinOwner(): { stdinUser: string; stdinGroup: string; stdinUid: number; stdinGid: number } {
    const stdinUid = uidOfUser(this.stdinUser);
    if (stdinUid === undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `no such user: ${this.stdinUser}`);
    const stdinGid = gidOfGroup(this.stdinGroup);
    if (stdinGid === undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `no such group: ${this.stdinGroup}`);
    return { stdinUser: this.stdinUser, stdinGroup: this.stdinGroup, stdinUid, stdinGid };
  }

  private async backup(
    repo: Repository,
    lock: Lock | undefined,
    a: {
      target: Target;
      name: string;
      compression: string;
      chunkerParams: string;
      stdinMode: number;
      timestamp: Date | undefined;
      paths: string[];
      source: Pick<CreateOptions, 'contentCommand' | 'listedPaths'> | undefined;
      matcher: PatternMatcher;
      filter: Set<string> | undefined;
      now: Date;
    },
  ): Promise<number> {
    const { target, name, compression, chunkerParams, stdinMode, timestamp, paths, source, matcher, filter, now } = a;
    // Only a run that stores standard input or a command's output needs the owner (and its names to exist).
    const stdinOwner = this.contentFromCommand || (source === undefined && paths.includes('-')) ? this.stdinOwner() : {};
    // Read under the lock: the compact generation the run commits against.
    await repo.refreshManifest();
    const synced = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    const files = this.dryRun ? undefined : await openFilesCache(this.context.env, repo.config.id, this.filesCache, now);
    let warnings = 0;
    this.log('info', `Creating archive at "${target.repo.text}::${name}"`);
    const progress = this.progressSink.archive();
    const shown = shownPaths(paths);
    const archiver: Archiver = new Archiver(repo, synced, {
      name,
      paths,
      ...source,
      compression,
      chunkerParams,
      comment: expandPlaceholders(this.comment, { now }),
      ...(timestamp !== undefined ? { timestamp } : {}),
      commandLine: ['hoard', ...commandLineArguments()],
      dryRun: this.dryRun,
      match: (p) => matcher.match(p),
      oneFileSystem: this.oneFileSystem,
      excludeNodump: this.excludeNodump,
      filesChanged: this.filesChangedMode(),
      noflags: this.noflags,
      noxattrs: this.noxattrs,
      noacls: this.noacls,
      excludeCaches: this.excludeCaches,
      excludeIfPresent: this.excludeIfPresent,
      keepExcludeTags: this.keepExcludeTags,
      numericIds: this.numericIds,
      atime: this.atime && !this.noatime,
      noctime: this.noctime,
      nobirthtime: this.nobirthtime,
      readSpecial: this.readSpecial,
      stdinName: this.stdinName,
      stdinMode,
      ...stdinOwner,
      ...(this.list
        ? {
            onItem: (found: string, apath: string) => {
              // As borg: a dry run reads nothing, so every item it would back up has status '-'.
              const status = this.dryRun && found !== 'x' && found !== 'E' ? '-' : found;
              if (filter === undefined || filter.has(status)) {
                progress.clear();
                this.logger.fileStatus(status, shown(apath));
              }
            },
          }
        : {}),
      ...(progress.active ? { onProgress: (apath: string) => progress.show(() => archiver.progressStats(), shown(apath)) } : {}),
      onWarning: (message) => {
        warnings += 1;
        progress.clear();
        this.log('warning', message);
      },
      beforeCommit: async () => {
        if (lock !== undefined && !(await lock.stillHeld())) {
          throw new LockTimeoutError('HOARD_LOCK_LOST', `the lock on ${target.repo.text} was broken while the backup ran; nothing was committed`);
        }
      },
    }, files?.cache);
    let result;
    try {
      result = await archiver.run();
    } finally {
      progress.finish();
    }
    this.log('debug', `the walk read its directories in ${archiver.scanCalls} native calls`);
    const unsaved = await saveAfterCommit(name, [() => (this.dryRun ? undefined : saveChunkIndex(synced)), () => files?.save()]);
    if (unsaved !== undefined) {
      warnings += 1;
      this.log('warning', unsaved);
    }
    const { start, end } = runTimes(result.meta);
    if (this.json && !this.dryRun) {
      const all = this.quickStats ? undefined : await repositoryTotals(repo, synced.index);
      this.out(
        createJson({
          meta: result.meta,
          id: result.id,
          start,
          end,
          all,
          cachePath: synced.file ?? '',
          encryption: encryptionJson(repo),
          repositoryId: repo.config.id,
          location: target.repo.text,
        }),
      );
    } else if ((this.stats || this.quickStats) && !this.dryRun) {
      const all = this.quickStats ? undefined : await repositoryTotals(repo, synced.index);
      this.logger.output('hoard.output.stats', createReport({ repository: target.repo.text, name, id: result.id, start, end, stats: result.stats, all }));
    }
    return warnings > 0 ? 1 : 0;
  }
}
