import { HoardError } from '../errors.js';
import { messageOf, type CheckReport } from '../repository/check-report.js';
import { manifestName, manifestSeq, openManifest, type ManifestArchive } from '../repository/manifest.js';
import { archiveName } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { openArchive } from './archive-object.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** The archive list and compact generation of a rebuilt manifest. */
export interface RebuiltManifest {
  archives: ManifestArchive[];
  compactGeneration: number;
}

/**
 * Rebuilds the archive list of a damaged newest manifest generation from the archive objects in
 * the repository (borg's rebuild_manifest): every archive object that opens is listed under the
 * name it gives itself, by time; where two name themselves alike, the newer is kept. So an archive
 * deleted (or renamed) since the last `compact` comes back. The compact generation is one above the
 * highest of the older generations that open, so a writer that read any of them cannot commit.
 */
export async function rebuildManifest(repo: Repository, report: CheckReport): Promise<RebuiltManifest> {
  let compactGeneration = 0;
  for (const entry of await repo.storage.list('manifest')) {
    const seq = manifestSeq(entry);
    if (seq === undefined || seq >= repo.manifest.seq) continue;
    try {
      const m = await openManifest(repo.key, seq, await repo.storage.get(manifestName(seq)));
      compactGeneration = Math.max(compactGeneration, m.compactGeneration + 1);
    } catch (e) {
      if (!(e instanceof HoardError || e instanceof SyntaxError)) throw e;
    }
  }
  const byName = new Map<string, ManifestArchive>();
  for (const id of (await repo.storage.list('archives')).filter((n) => HEX64.test(n))) {
    try {
      const meta = await openArchive(repo.key, id, await repo.storage.get(archiveName(id)));
      const found: ManifestArchive = { id, name: meta.name, time: meta.time };
      const other = byName.get(meta.name);
      if (other === undefined || Date.parse(other.time) < Date.parse(found.time)) byName.set(meta.name, found);
    } catch (e) {
      report.info(`archive object ${id} is not listed again: ${messageOf(e)}`);
    }
  }
  const archives = [...byName.values()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.name.localeCompare(b.name));
  for (const a of archives) report.info(`manifest: archive ${a.name} (${a.id}) found again`);
  return { archives, compactGeneration };
}
