import { closeSync, openSync } from 'node:fs';

import { Command, Option, UsageError } from 'clipanion';

import { encryptionJson, runTimes } from '../archive/archive-info.js';
import { repositoryTotals } from '../archive/archives.js';
import { parseTimestamp } from '../archive/archive-writer.js';
import { importTar } from '../archive/import-tar.js';
import { expandPlaceholders } from '../archive/placeholders.js';
import { tarFilterFor } from '../archive/tar-filter.js';
import { createJson, createReport } from '../archive/stats-report.js';
import { InvalidArgumentError, IoError, LockTimeoutError } from '../errors.js';
import { parseChunkerParams, parseCompression } from '../native.js';
import { saveAfterCommit, saveChunkIndex, syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand, isInt } from './base.js';
import { DEFAULT_CHUNKER } from './create.js';
import { commandLineArguments, encodeName } from '../fs-names.js';

/** `hoard import-tar REPO::ARCHIVE TARFILE`: a new archive from a tarball. */
export class ImportTarCommand extends HoardCommand {
  static override paths = [['import-tar']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'create a backup archive from a tarball',
    details: `
      Reads a tar stream (ustar, GNU with long names, or POSIX pax) from TARFILE, or standard
      input for \`-\`, and stores its members as a new archive, deduplicated, compressed and
      encrypted as \`create\` stores files. \`--tar-filter=auto\` (the default) decompresses by
      TARFILE's extension: .tar.gz/.tgz gzip -d, .tar.bz2/.tbz bzip2 -d, .tar.xz/.txz xz -d,
      .tar.lz4 lz4 -d, .tar.zst/.tar.zstd zstd -d. Leading \`/\` and \`..\` are taken out of member
      names. A malformed tarball is an error and no archive is written.
    `,
    examples: [
      ['Import a gzip-compressed tarball', 'hoard import-tar /path/to/repo::Monday Monday.tar.gz'],
      ['Import a tar stream from standard input', 'tar -c ~/src | hoard import-tar /path/to/repo::src -'],
    ],
  });

  tarFilter = Option.String('--tar-filter', 'auto', { description: 'filter program to pipe data through' });
  stats = Option.Boolean('-s,--stats', false, { description: 'print statistics for the created archive' });
  quickStats = Option.Boolean('--quick-stats', false, { description: 'print only archive statistics, skipping repository-wide statistics' });
  list = Option.Boolean('--list', false, { description: 'output verbose list of items (files, dirs, ...)' });
  filter = Option.String('--filter', { description: 'only display items with the given status characters' });
  json = Option.Boolean('--json', false, { description: 'output stats as JSON (implies --stats)' });
  ignoreZeros = Option.Boolean('--ignore-zeros', false, { description: 'ignore zero-filled blocks in the input tarball' });
  comment = Option.String('--comment', '', { description: 'add a comment text to the archive' });
  timestamp = Option.String('--timestamp', { description: 'manually specify the archive creation date/time (UTC)' });
  checkpointInterval = Option.String('-c,--checkpoint-interval', { validator: isInt, description: 'accepted (index objects are written every few packs)' });
  chunkerParams = Option.String('--chunker-params', DEFAULT_CHUNKER, { description: 'specify the chunker parameters' });
  compression = Option.String('-C,--compression', 'lz4', { description: 'select compression algorithm' });
  target = Option.String({ name: 'ARCHIVE' });
  file = Option.String({ name: 'TARFILE' });

  override async execute(): Promise<number> {
    if (this.stats && this.quickStats) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '--stats and --quick-stats are mutually exclusive.');
    const now = new Date();
    const target = parseTarget(this.target, this.context.env, { now });
    if (target.archive === undefined) throw new UsageError('an archive name is required: REPO::ARCHIVE');
    const name = target.archive;
    const compression = parseCompression(this.compression);
    const chunkerParams = parseChunkerParams(this.chunkerParams);
    const timestamp = this.timestamp === undefined ? undefined : parseTimestamp(this.timestamp);
    const filter = tarFilterFor(this.tarFilter, this.file, true);
    const shown = this.filter === undefined ? undefined : new Set(this.filter);
    let fd = 0;
    if (this.file !== '-') {
      try {
        fd = openSync(encodeName(this.file), 'r');
      } catch (e) {
        throw new IoError('HOARD_IO', `${this.file}: ${(e as Error).message}`);
      }
    }
    try {
      const repo = await Repository.open(target.repo, this.context.env, this.context);
      return await this.locked(repo.storage, 'shared', async (lock) => {
        await repo.refreshManifest();
        const synced = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
        let warnings = 0;
        const result = await importTar(repo, synced, {
          name,
          compression,
          chunkerParams,
          comment: expandPlaceholders(this.comment, { now }),
          ...(timestamp !== undefined ? { timestamp } : {}),
          commandLine: ['hoard', ...commandLineArguments()],
          fd,
          ...(filter !== undefined ? { filter } : {}),
          ignoreZeros: this.ignoreZeros,
          onItem: (status, p) => {
            if (this.list && (shown === undefined || shown.has(status))) this.logger.fileStatus(status, p);
          },
          onWarning: (message) => {
            warnings += 1;
            this.log('warning', message);
          },
          beforeCommit: async () => {
            if (lock !== undefined && !(await lock.stillHeld())) {
              throw new LockTimeoutError('HOARD_LOCK_LOST', `the lock on ${target.repo.text} was broken while the import ran; nothing was committed`);
            }
          },
        });
        const unsaved = await saveAfterCommit(name, [() => saveChunkIndex(synced)]);
        if (unsaved !== undefined) {
          warnings += 1;
          this.log('warning', unsaved);
        }
        const { start, end } = runTimes(result.meta);
        if (this.json || this.stats || this.quickStats) {
          const all = this.quickStats ? undefined : await repositoryTotals(repo, synced.index);
          if (this.json) {
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
          } else {
            this.logger.output('hoard.output.stats', createReport({ repository: target.repo.text, name, id: result.id, start, end, stats: result.meta.stats, all }));
          }
        }
        return warnings > 0 ? 1 : 0;
      });
    } finally {
      if (fd !== 0) closeSync(fd);
    }
  }
}
