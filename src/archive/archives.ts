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

/** Totals over every archive (their own stats) and the chunk index (unique blobs). */
export async function repositoryTotals(repo: Repository, index: ChunkIndex): Promise<RepositoryTotals> {
  const totals: RepositoryTotals = { original: 0, compressed: 0, deduplicated: index.storedBytes, uniqueChunks: index.size, totalChunks: 0 };
  for (const a of repo.manifest.archives) {
    const meta = await loadArchive(repo, a);
    totals.original += meta.stats.original;
    totals.compressed += meta.stats.compressed;
    totals.totalChunks += meta.stats.chunks;
  }
  return totals;
}

/** An archive as borg names it in messages: name (padded to 36), time and id. */
export function archiveLine(a: ManifestArchive): string {
  return `${a.name.padEnd(36)} ${formatTime(new Date(a.time))} [${a.id}]`;
}
