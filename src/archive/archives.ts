import { NotFoundError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { archiveName } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { openArchive, type ArchiveMeta } from './archive-object.js';
import { formatTime } from './format.js';
import type { RepositoryTotals } from './stats-report.js';

/** The manifest entry of archive `name`; borg's one-line error if there is none. */
export function findArchive(repo: Repository, name: string): ManifestArchive {
  const a = repo.manifest.archives.find((x) => x.name === name);
  if (a === undefined) throw new NotFoundError('HOARD_NO_SUCH_ARCHIVE', `Archive ${name} does not exist`);
  return a;
}

/** Reads and opens an archive object. */
export async function loadArchive(repo: Repository, entry: ManifestArchive): Promise<ArchiveMeta> {
  return openArchive(repo.key, entry.id, await repo.storage.get(archiveName(entry.id)));
}

/** What archives hold, as "All archives" and "Deleted data" count it: files and trees, references. */
export interface ArchiveTotals {
  original: number;
  compressed: number;
  chunks: number;
}

/**
 * The totals of `archives` from their own stats: their files' bytes and their trees' (item
 * metadata, as borg counts it there), stored bytes counted per reference, and references.
 */
export async function archiveTotals(repo: Repository, archives: readonly ManifestArchive[]): Promise<ArchiveTotals> {
  const out: ArchiveTotals = { original: 0, compressed: 0, chunks: 0 };
  for (const a of archives) {
    const { stats } = await loadArchive(repo, a);
    out.original += stats.original + (stats.treesOriginal ?? 0);
    out.compressed += stats.compressed + (stats.treesCompressed ?? 0);
    out.chunks += stats.chunks;
  }
  return out;
}

/** Totals over every archive ({@link archiveTotals}) and the chunk index (unique blobs). */
export async function repositoryTotals(repo: Repository, index: ChunkIndex): Promise<RepositoryTotals> {
  const { original, compressed, chunks } = await archiveTotals(repo, repo.manifest.archives);
  return {
    original,
    compressed,
    deduplicated: index.storedBytes,
    uniqueOriginal: index.plainBytes,
    uniqueChunks: index.size,
    totalChunks: chunks,
  };
}

/** An archive as borg names it in messages: name (padded to 36), time and id. */
export function archiveLine(a: ManifestArchive): string {
  return `${a.name.padEnd(36)} ${formatTime(new Date(a.time))} [${a.id}]`;
}
