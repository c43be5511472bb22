import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import { formatTime } from './format.js';
import { statsTable, type RepositoryTotals } from './stats-report.js';

/** One archive's `info`: its metadata, id and deduplicated size (what it alone references). */
export interface ArchiveInfo {
  id: string;
  meta: ArchiveMeta;
  deduplicated: number;
}

/** A time the archive object records (UTC, microseconds, no zone) as a Date. */
export function utc(text: string): Date {
  return new Date(/[zZ]$/.test(text) ? text : `${text}Z`);
}

/** The run's start and end as the archive keeps them (moved by `--timestamp`). */
export function runTimes(meta: ArchiveMeta): { start: Date; end: Date } {
  return { start: utc(meta.start), end: utc(meta.end) };
}

/** Seconds between the archive's start and end. */
function durationSeconds(meta: ArchiveMeta): number {
  const micros = (text: string): number => {
    const m = /\.(\d{1,6})/.exec(text);
    return Math.floor(utc(text).getTime() / 1000) * 1e6 + (m?.[1] === undefined ? 0 : Number(m[1].padEnd(6, '0')));
  };
  return Math.max(0, (micros(meta.end) - micros(meta.start)) / 1e6);
}

/** borg's duration text: `5.66 seconds`, `2 minutes 3.00 seconds`, `1 hours 0 minutes ...`. */
export function formatDuration(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const h = Math.floor(seconds / 3600) % 24;
  const m = Math.floor(seconds / 60) % 60;
  let text = `${(seconds % 60).toFixed(2)} seconds`;
  if (m) text = `${m} minutes ${text}`;
  if (h) text = `${h} hours ${text}`;
  if (days) text = `${days} days ${text}`;
  return text;
}

/** A command line as a shell would take it back: words with special characters single-quoted. */
export function shellJoin(words: string[]): string {
  return words.map((w) => (w !== '' && /^[A-Za-z0-9@%+=:,./_-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`)).join(' ');
}

/** Chunker parameters as borg's JSON gives them: `["buzhash", 19, 23, 21, 4095]`. */
export function chunkerParamsJson(text: string): (string | number)[] {
  return text.split(',').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** One archive as `info --json` lists it, with borg's keys. */
export function archiveInfoJson(a: ArchiveInfo): Record<string, unknown> {
  const { meta } = a;
  return {
    chunker_params: chunkerParamsJson(meta.chunkerParams),
    command_line: meta.commandLine,
    comment: meta.comment,
    duration: durationSeconds(meta),
    end: meta.end,
    hostname: meta.hostname,
    id: a.id,
    limits: { max_archive_size: 0 },
    name: meta.name,
    start: meta.start,
    stats: {
      compressed_size: meta.stats.compressed,
      deduplicated_size: a.deduplicated,
      nfiles: meta.stats.nfiles,
      original_size: meta.stats.original,
    },
    username: meta.username,
  };
}

/** One archive as `info` prints it, in borg's layout, with the repository's totals below. */
export function archiveInfoText(a: ArchiveInfo, name: string, all: RepositoryTotals): string {
  const { meta } = a;
  return [
    `Archive name: ${name}`,
    `Archive fingerprint: ${a.id}`,
    `Comment: ${meta.comment}`,
    `Hostname: ${meta.hostname}`,
    `Username: ${meta.username}`,
    `Time (start): ${formatTime(utc(meta.start))}`,
    `Time (end): ${formatTime(utc(meta.end))}`,
    `Duration: ${formatDuration(durationSeconds(meta))}`,
    `Number of files: ${meta.stats.nfiles}`,
    `Command line: ${shellJoin(meta.commandLine)}`,
    'Utilization of max. archive size: 0%',
    '-'.repeat(78),
    ...statsTable({ original: meta.stats.original, compressed: meta.stats.compressed, deduplicated: a.deduplicated }, all),
  ].join('\n');
}

/** The repository's totals as `info REPO` prints them: the "All archives" and "Chunk index" rows. */
export function repositoryStatsText(all: RepositoryTotals): string {
  const [header, , ...rest] = statsTable({ original: 0, compressed: 0, deduplicated: 0 }, all);
  return [header ?? '', ...rest].join('\n');
}

/** The `encryption` object of borg's JSON: `mode`, and `keyfile` (its path) for a key in a key file. */
export function encryptionJson(repo: Pick<Repository, 'config' | 'keyLocation'>): Record<string, string> {
  const { config, keyLocation } = repo;
  return { mode: config.encryption, ...(config.keyStorage === 'keyfile' && keyLocation !== undefined ? { keyfile: keyLocation } : {}) };
}
