import { closeSync, createWriteStream, openSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { findArchive, loadArchive } from '../archive/archives.js';
import { exportTar } from '../archive/export-tar.js';
import { extractMatcher } from '../archive/patterns.js';
import { startOutputFilter, tarFilterFor, writeAll, type OutputFilter } from '../archive/tar-filter.js';
import { parseTarFormat } from '../archive/tar-header.js';
import { IoError } from '../errors.js';
import { encodeName } from '../fs-names.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';

/** `hoard export-tar REPO::ARCHIVE FILE [PATH...]`: an archive as a tarball. */
export class ExportTarCommand extends HoardCommand {
  static override paths = [['export-tar']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'create tarball from archive',
    details: `
      Writes the archive's items (or those under the PATHs, or matching the patterns) as a tar
      stream to FILE, or to standard output for \`-\`. \`--tar-filter=auto\` (the default) pipes the
      stream through a compressor chosen by FILE's extension: .tar.gz/.tgz gzip, .tar.bz2/.tbz
      bzip2, .tar.xz/.txz xz, .tar.lz4 lz4, .tar.zst/.tar.zstd zstd. \`--tar-format\` is GNU (the
      default: GNU long names, as borg 1.4 writes), PAX (pax headers with nanosecond times,
      atime, ctime and xattrs) or BORG (written as PAX). Hard links become link members; sparse
      files are written dense.
    `,
    examples: [
      ['Export an archive as a gzip-compressed tarball', 'hoard export-tar /path/to/repo::Monday Monday.tar.gz'],
      ['Write a tar stream to standard output', 'hoard export-tar /path/to/repo::Monday - | tar -tv'],
    ],
  });

  tarFilter = Option.String('--tar-filter', 'auto', { description: 'filter program to pipe data through' });
  list = Option.Boolean('--list', false, { description: 'output verbose list of items (files, dirs, ...)' });
  tarFormat = Option.String('--tar-format', 'GNU', { description: 'select tar format: GNU, PAX or BORG' });
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
  file = Option.String({ name: 'FILE' });
  pathArgs = Option.Rest({ name: 'PATH' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    const archive = target.archive;
    if (archive === undefined) throw new UsageError('an archive is required: REPO::ARCHIVE');
    const format = parseTarFormat(this.tarFormat);
    const filter = tarFilterFor(this.tarFilter, this.file, false);
    const matcher = await extractMatcher(this.pathArgs, patternOptions(this));
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', async () => {
      await repo.refreshManifest();
      const meta = await loadArchive(repo, findArchive(repo, archive));
      const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
      // The output: FILE (or standard output), through the filter when there is one.
      let fd: number | undefined;
      let fileStream: Writable | undefined;
      let filterProc: OutputFilter | undefined;
      let out: Writable;
      if (filter !== undefined) {
        let sink: number | Writable = this.context.stdout;
        if (this.file !== '-') {
          try {
            fd = openSync(encodeName(this.file), 'w', 0o666);
          } catch (e) {
            throw new IoError('HOARD_IO', `${this.file}: ${(e as Error).message}`);
          }
          sink = fd;
        }
        filterProc = startOutputFilter(filter, sink);
        out = filterProc.input;
      } else if (this.file === '-') {
        out = this.context.stdout;
      } else {
        fileStream = createWriteStream(encodeName(this.file), { mode: 0o666 });
        await Promise.race([
          once(fileStream, 'open'),
          once(fileStream, 'error').then(([e]: unknown[]) => {
            throw new IoError('HOARD_IO', `${this.file}: ${(e as Error).message}`);
          }),
        ]);
        out = fileStream;
      }
      let warnings = 0;
      try {
        await this.write(exportTar(
          repo,
          index,
          meta,
          {
            format,
            included: (p) => isIncluded(matcher, p),
            stripComponents: Number(this.stripComponents),
            onItem: (p) => {
              if (this.list) this.logger.output('hoard.output.list', p);
            },
            onWarning: (message) => {
              warnings += 1;
              this.log('warning', message);
            },
          },
          (buffers) => writeAll(out, buffers),
        ), filterProc);
        if (filterProc !== undefined) await filterProc.finish();
        if (fileStream !== undefined) {
          fileStream.end();
          await once(fileStream, 'finish');
        }
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      for (const p of matcher.unmatchedIncludes()) {
        warnings += 1;
        this.log('warning', `Include pattern '${p}' never matched.`);
      }
      return warnings > 0 ? 1 : 0;
    });
  }

  /** Waits for the export; if it fails while a filter runs, the filter's failure (the cause) is reported. */
  private async write(exporting: Promise<void>, filterProc: OutputFilter | undefined): Promise<void> {
    try {
      await exporting;
    } catch (e) {
      if (filterProc !== undefined) await filterProc.finish();
      throw e;
    }
  }
}
