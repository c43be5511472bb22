/**
 * The repository part of `check --repair` (docs/format.md section 10.15), under the exclusive
 * lock. Every pack is read whole and salvaged: its blobs are opened by the table that
 * authenticates (its own, else its index object's listing, else its own found by scanning its
 * tail); a damaged pack's good blobs are copied into new packs and the old pack is deleted; blobs
 * that fail are dropped. Then fresh index objects list every surviving pack (packs no index
 * object listed are adopted), the old index objects go (damaged, stale or not), and damaged older
 * manifest generations go. Writes are whole objects through the storage interface, in commit
 * order (new packs, then index objects, then deletions), so a run that dies leaves a repository
 * that the next `check --repair` finishes.
 */
import { LockTimeoutError } from '../errors.js';
import { newChunkIndex, newRepacker, openIndexObject, salvagePack, type ChunkIndex, type PackOut, type PackToc } from '../native.js';
import { forEachLimited, named, type CheckReport } from './check-report.js';
import type { Lock } from './locks.js';
import { manifestName, manifestSeq, openManifest } from './manifest.js';
import { indexName, packName, putPack, writeIndexObjects } from './objects.js';
import type { Repository } from './repository.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** Whole packs in memory at once. */
const SALVAGES = 2;

/** What the repository part of a repair did, beside the problems it reported. */
export interface RepositoryRepairResult {
  /** The chunk index of the index objects as they stand after the repair. */
  index: ChunkIndex;
  /** Index objects after the repair, and packs they list. */
  indexObjects: number;
  packs: number;
  /** Damaged packs whose good blobs were copied into new packs (then deleted). */
  rewritten: number;
  /** Packs deleted with nothing to save, and listed packs that were missing. */
  dropped: number;
  /** Blobs that failed and were dropped. */
  droppedBlobs: number;
  /** Packs no index object listed, listed again. */
  adopted: number;
}

function typeName(t: number): string {
  return t === 0 ? 'chunk' : t === 1 ? 'tree' : `object of type ${t}`;
}

/** Every pack stored, by hex id. */
async function storedPacks(repo: Repository, report: CheckReport): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await repo.storage.list('packs')) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const n of await repo.storage.list(`packs/${dir}`)) {
      if (HEX64.test(n) && n.startsWith(dir)) out.push(n);
      else report.info(`packs/${dir}/${n} is not a pack`);
    }
  }
  return out;
}

/** Damaged manifest generations below the newest (the newest is the archive part's). */
async function damagedGenerations(repo: Repository, report: CheckReport): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await repo.storage.list('manifest')) {
    const seq = manifestSeq(entry);
    if (seq === undefined || seq >= repo.manifest.seq) continue;
    try {
      await openManifest(repo.key, seq, await repo.storage.get(manifestName(seq)));
    } catch (e) {
      report.problem(`${named(manifestName(seq), e)}; it is deleted`);
      out.push(seq);
    }
  }
  return out;
}

/** Repairs packs and index objects (see the module docs); the caller holds the exclusive lock. */
export async function repairRepository(repo: Repository, report: CheckReport, lock: Lock | undefined): Promise<RepositoryRepairResult> {
  const { storage, key } = repo;
  const result: RepositoryRepairResult = { index: newChunkIndex(), indexObjects: 0, packs: 0, rewritten: 0, dropped: 0, droppedBlobs: 0, adopted: 0 };
  const generations = await damagedGenerations(repo, report);

  // What the index objects list; a pack listed twice keeps its first listing.
  const oldIndex = (await storage.list('index')).filter((n) => HEX64.test(n));
  const listed = new Map<string, { toc: PackToc; by: string }>();
  let relist = false;
  for (const id of oldIndex) {
    try {
      for (const p of await openIndexObject(key, Buffer.from(id, 'hex'), await storage.get(indexName(id)))) {
        const hex = p.id.toString('hex');
        if (listed.has(hex)) relist = true;
        else listed.set(hex, { toc: p, by: id });
      }
    } catch (e) {
      report.problem(`${named(`index object ${id}`, e)}; index objects are written afresh`);
      relist = true;
    }
  }

  // Salvage every stored pack.
  const stored = await storedPacks(repo, report);
  const storedSet = new Set(stored);
  const keep: PackToc[] = [];
  const fresh: PackToc[] = [];
  const remove: string[] = [];
  const repacker = newRepacker(key);
  const put = async (p: PackOut): Promise<void> => {
    await putPack(storage, p);
    fresh.push({ id: p.id, toc: p.toc });
  };
  let done = 0;
  await forEachLimited(stored, SALVAGES, async (hex) => {
    report.progress('Salvaging packs', done, stored.length);
    const listing = listed.get(hex);
    const id = Buffer.from(hex, 'hex');
    const data = await storage.get(packName(hex));
    const s = await salvagePack(key, id, data, listing?.toc.toc ?? null);
    done += 1;
    if (s.problems.length === 0 && s.bad.length === 0) {
      if (listing !== undefined) keep.push(listing.toc);
      else {
        keep.push({ id, toc: s.good });
        result.adopted += 1;
        relist = true;
        report.info(`pack ${hex} is in no index object: listed again`);
      }
      return;
    }
    relist = true;
    for (const m of s.problems) report.problem(`pack ${hex}: ${m}`);
    for (const b of s.bad) report.problem(`pack ${hex} offset ${b.offset}: ${typeName(b.objType)} ${b.id.toString('hex')}: ${b.message}; dropped`);
    result.droppedBlobs += s.bad.length;
    remove.push(hex);
    if (s.goodCount > 0) {
      const r = await repacker.copyBlobs(data, s.good);
      for (const p of r.packs) await put(p);
      result.rewritten += 1;
      report.info(`pack ${hex}: ${s.goodCount} sound blobs copied into new packs (table from the ${s.source === 'pack' ? 'pack' : s.source === 'index' ? 'index object' : 'pack, found by scanning'}), ${s.bad.length} dropped`);
    } else {
      result.dropped += 1;
      report.problem(`pack ${hex}: nothing in it can be saved; it is deleted`);
    }
  });
  const last = await repacker.finish();
  if (last !== null) await put(last);
  report.progress('Salvaging packs', stored.length, stored.length);
  for (const [hex, l] of listed) {
    if (storedSet.has(hex)) continue;
    report.problem(`pack ${hex} is missing (index object ${l.by} lists it); its blobs are lost`);
    result.dropped += 1;
    relist = true;
  }

  // Fresh index objects for every surviving pack, then the old ones and the damaged packs go.
  let indexIds = oldIndex;
  if (relist) {
    indexIds = (await writeIndexObjects(storage, key, [...keep, ...fresh])).ids;
    if (lock !== undefined && !(await lock.stillHeld())) {
      throw new LockTimeoutError('HOARD_LOCK_LOST', `the lock on ${repo.location.text} was broken while check --repair ran; nothing was deleted`);
    }
    for (const id of oldIndex) await storage.delete(indexName(id));
    for (const hex of remove) await storage.delete(packName(hex));
  }
  for (const seq of generations) await storage.delete(manifestName(seq));

  for (const id of indexIds) await result.index.addIndexObject(key, Buffer.from(id, 'hex'), await storage.get(indexName(id)));
  result.indexObjects = indexIds.length;
  result.packs = keep.length + fresh.length;
  return result;
}
