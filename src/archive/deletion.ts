/**
 * Deleting archives, as `delete` and `prune` do it: one manifest generation without them (their
 * data stays until `compact`), and borg's "Deleted data" table for `--stats`.
 */
import { newMarks } from '../native.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import type { ManifestArchive } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { archiveTotals } from './archives.js';
import { markArchives } from './marking.js';
import { statsTable } from './stats-report.js';

const RULE = '-'.repeat(78);

/**
 * Removes `archives` from the repository: one new manifest generation without them, made from the
 * newest generation (so archives that another client added meanwhile stay). Nothing is written
 * when the list is empty. The caller holds the shared lock.
 */
export async function removeArchives(repo: Repository, archives: readonly ManifestArchive[]): Promise<void> {
  if (archives.length === 0) return;
  const ids = new Set(archives.map((a) => a.id));
  await repo.commit((m) => ({ archives: m.archives.filter((a) => !ids.has(a.id)), compactGeneration: m.compactGeneration }));
}

/**
 * borg's `--stats` table of a deletion, computed before it: "Deleted data" (negative sizes; the
 * deduplicated size is what only `chosen` reference, which `compact` would free), then, unless
 * `quick` (borg's `--quick-stats`), "All archives" and the chunk index as they are without `chosen`.
 * Marks every archive of the repository's current manifest.
 */
export async function deletedDataReport(repo: Repository, chosen: readonly ManifestArchive[], env: NodeJS.ProcessEnv, quick = false): Promise<string> {
  const ids = new Set(chosen.map((a) => a.id));
  const staying = repo.manifest.archives.filter((a) => !ids.has(a.id));
  const { index } = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const marks = newMarks(index);
  // Owner 0: the archives to delete; owner 1: the ones that stay.
  await markArchives(repo, index, marks, [...chosen], () => 0);
  await markArchives(repo, index, marks, staying, () => 1);
  const totals = marks.totals(2);
  const gone = await archiveTotals(repo, chosen);
  const kept = quick ? { original: 0, compressed: 0, chunks: 0 } : await archiveTotals(repo, staying);
  const freed = totals.owners[0]?.bytes ?? 0;
  const stayUnique = totals.owners[1] ?? { blobs: 0, bytes: 0 };
  const table = statsTable(
    { original: -gone.original, compressed: -gone.compressed, deduplicated: -freed },
    {
      original: kept.original,
      compressed: kept.compressed,
      deduplicated: stayUnique.bytes + totals.shared.bytes,
      uniqueChunks: stayUnique.blobs + totals.shared.blobs,
      totalChunks: kept.chunks,
    },
    'Deleted data:',
  );
  // The header and the "Deleted data" row; borg's --quick-stats skips the repository-wide rows.
  return [RULE, ...(quick ? table.slice(0, 2) : table), RULE].join('\n');
}
