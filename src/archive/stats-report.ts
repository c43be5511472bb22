import type { ArchiveMeta, ArchiveStats } from './archive-object.js';
import { isoMicro } from './archive-writer.js';
import { formatSize } from '../units.js';
import { formatTime } from './format.js';

const RULE = '-'.repeat(78);
/** Totals over all archives of a repository, for the "All archives" and "Chunk index" lines. */
export interface RepositoryTotals {
  original: number;
  compressed: number;
  /** Stored bytes of all unique blobs. */
  deduplicated: number;
  /** Plaintext bytes of all unique blobs (borg's `unique_size`). */
  uniqueOriginal: number;
  uniqueChunks: number;
  totalChunks: number;
}

/**
 * The size table of borg's `--stats`: this archive (or the row `label` names, e.g. `delete`'s
 * "Deleted data:" with negative sizes), all archives and the chunk index; without `all` (borg's
 * `--quick-stats`), only the header and that row.
 */
export function statsTable(
  stats: Pick<ArchiveStats, 'original' | 'compressed' | 'deduplicated'>,
  all: Omit<RepositoryTotals, 'uniqueOriginal'> | undefined,
  label = 'This archive:',
): string[] {
  const col = (s: string): string => s.padStart(20);
  const head = [
    '                       Original size      Compressed size    Deduplicated size',
    `${label.padEnd(16)}${col(formatSize(stats.original))} ${col(formatSize(stats.compressed))} ${col(formatSize(stats.deduplicated))}`,
  ];
  if (all === undefined) return head;
  return [
    ...head,
    `${'All archives:'.padEnd(16)}${col(formatSize(all.original))} ${col(formatSize(all.compressed))} ${col(formatSize(all.deduplicated))}`,
    '',
    '                       Unique chunks         Total chunks',
    `${'Chunk index:'.padEnd(16)}${col(String(all.uniqueChunks))} ${col(String(all.totalChunks))}`,
  ];
}

/** borg's `create --stats` report (`--quick-stats` without `all`: no repository-wide rows). */
export function createReport(o: {
  repository: string;
  name: string;
  id: string;
  start: Date;
  end: Date;
  stats: ArchiveStats;
  all: RepositoryTotals | undefined;
}): string {
  return [
    RULE,
    `Repository: ${o.repository}`,
    `Archive name: ${o.name}`,
    `Archive fingerprint: ${o.id}`,
    `Time (start): ${formatTime(o.start)}`,
    `Time (end):   ${formatTime(o.end)}`,
    `Duration: ${((o.end.getTime() - o.start.getTime()) / 1000).toFixed(2)} seconds`,
    `Number of files: ${o.stats.nfiles}`,
    'Utilization of max. archive size: 0%',
    RULE,
    ...statsTable(o.stats, o.all),
    RULE,
  ].join('\n');
}

/** The `cache.stats` object of borg's JSON. */
export function cacheStatsJson(all: RepositoryTotals): Record<string, number> {
  return {
    total_chunks: all.totalChunks,
    total_csize: all.compressed,
    total_size: all.original,
    total_unique_chunks: all.uniqueChunks,
    unique_csize: all.deduplicated,
    unique_size: all.uniqueOriginal,
  };
}

/** borg's `create --json` (and `import-tar --json`) object for a new archive; without `all` (`--quick-stats`), no `cache` member, as borg. */
export function createJson(o: {
  meta: ArchiveMeta;
  id: string;
  start: Date;
  end: Date;
  all: RepositoryTotals | undefined;
  cachePath: string;
  /** The `encryption` object (`encryptionJson`). */
  encryption: Record<string, string>;
  repositoryId: string;
  location: string;
}): string {
  return JSON.stringify(
    {
      archive: {
        command_line: o.meta.commandLine,
        duration: (o.end.getTime() - o.start.getTime()) / 1000,
        end: o.meta.end,
        id: o.id,
        limits: { max_archive_size: 0 },
        name: o.meta.name,
        start: o.meta.start,
        stats: {
          compressed_size: o.meta.stats.compressed,
          deduplicated_size: o.meta.stats.deduplicated,
          nfiles: o.meta.stats.nfiles,
          original_size: o.meta.stats.original,
        },
      },
      ...(o.all === undefined
        ? {}
        : { cache: { path: o.cachePath, stats: cacheStatsJson(o.all) } }),
      encryption: o.encryption,
      repository: { id: o.repositoryId, last_modified: isoMicro(o.end), location: o.location },
    },
    null,
    4,
  );
}
