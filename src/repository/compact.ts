/**
 * `compact`: frees the space of blobs no archive references (DESIGN.md section 2; the rules are
 * in docs/format.md section 10.12). Mark, then sweep, under the exclusive lock:
 *
 * 1. Commit a manifest generation with the compact generation raised, so that a writer that read
 *    an older one refuses to commit (its chunk index may name blobs this run deletes).
 * 2. Read every index object into a fresh chunk index (the repository's, never the cache's).
 * 3. Mark every blob reachable from every archive of that generation.
 * 4. Per pack its table lists: no live blob, delete it; dead share above the threshold, copy its
 *    live blobs verbatim into new packs and delete it; else keep it.
 * 5. Store the new packs, then index objects listing every surviving pack, then delete the old
 *    index objects, then the dead and rewritten packs, then garbage (packs no index object lists,
 *    archive objects no manifest lists) and all but the newest manifest generations.
 *
 * Every step leaves a consistent repository if the run dies there: until the old index objects go,
 * both old and new list valid places; after, the old packs are unlisted garbage that the next run
 * deletes. An object younger than the oldest live lock is never deleted: a writer that holds (or
 * held, before its lock was broken) a lock may still commit what it wrote.
 */
import { LockTimeoutError } from '../errors.js';
import { markArchives } from '../archive/marking.js';
import { newChunkIndex, newMarks, newRepacker, openIndexObject, type PackOut, type PackToc } from '../native.js';
import type { ObjectInfo, Storage } from '../storage/storage.js';
import type { Lock } from './locks.js';
import { listLocks } from './locks.js';
import { manifestName, manifestSeq } from './manifest.js';
import { archiveName, indexName, packName, putPack, writeIndexObjects } from './objects.js';
import type { Repository } from './repository.js';
import { headroomFor } from './space.js';

/** Manifest generations compact keeps: a reader that chose one a moment ago still finds it. */
export const KEEP_MANIFESTS = 10;

const HEX64 = /^[0-9a-f]{64}$/;

/** How compact runs. */
export interface CompactOptions {
  /** Rewrite a pack when more than this percentage of its blob bytes is dead. */
  threshold: number;
  /** The exclusive lock held (undefined with `--bypass-lock`); checked before anything is deleted. */
  lock: Lock | undefined;
  /** Only find out what would be freed: nothing is written or deleted. */
  dryRun?: boolean;
  /** Receives log lines. */
  log: (level: 'debug' | 'info' | 'warning', line: string) => void;
}

/** What compact did. */
export interface CompactResult {
  /** Bytes deleted minus bytes written (with `dryRun`, the unreferenced bytes a run would free). */
  freed: number;
  /** Packs deleted for holding no live blob. */
  deletedPacks: number;
  /** Packs whose live blobs were copied into new packs, then deleted. */
  rewrittenPacks: number;
  /** New packs written by those copies. */
  newPacks: number;
  /** Packs no index object listed, deleted. */
  garbagePacks: number;
  /** Archive objects no manifest generation listed, deleted. */
  garbageArchives: number;
  /** Old index objects deleted, and new ones written. */
  indexObjectsDeleted: number;
  indexObjectsWritten: number;
  /** Old manifest generations deleted. */
  manifests: number;
  /** Objects left alone for being younger than the oldest live lock. */
  spared: number;
  /** Temporary files of interrupted writes removed (older than the oldest live lock). */
  temporaries: number;
  /** File chunks the archives reference that the repository lacks. */
  missing: number;
  /** True when the repository is append-only: nothing was done. */
  appendOnly: boolean;
}

/** When the oldest live lock was first asked for (ms), or `now` when there is none. */
async function sparingCutoff(storage: Storage, now: number): Promise<number> {
  let cutoff = now;
  for (const l of await listLocks(storage)) {
    const t = l.holder === undefined ? Number.NaN : Date.parse(l.holder.created);
    if (Number.isFinite(t)) cutoff = Math.min(cutoff, t);
  }
  return cutoff;
}

/** Every pack in the repository, by hex id. */
async function storedPacks(storage: Storage): Promise<Map<string, ObjectInfo>> {
  const out = new Map<string, ObjectInfo>();
  for (const dir of await storage.list('packs')) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const info of await storage.listInfo(`packs/${dir}`)) {
      if (HEX64.test(info.name) && info.name.startsWith(dir)) out.set(info.name, info);
    }
  }
  return out;
}

/** Compacts the repository (see the module docs); the caller holds the exclusive lock. */
export async function compactRepository(repo: Repository, opts: CompactOptions): Promise<CompactResult> {
  const result: CompactResult = {
    freed: 0,
    deletedPacks: 0,
    rewrittenPacks: 0,
    newPacks: 0,
    garbagePacks: 0,
    garbageArchives: 0,
    indexObjectsDeleted: 0,
    indexObjectsWritten: 0,
    manifests: 0,
    spared: 0,
    temporaries: 0,
    missing: 0,
    appendOnly: repo.config.appendOnly,
  };
  if (repo.config.appendOnly) {
    opts.log('info', 'The repository is append-only: compact deletes nothing.');
    return result;
  }
  const { storage, key } = repo;
  const cutoff = await sparingCutoff(storage, Date.now());
  let deleted = 0;
  let written = 0;

  // 1. From now on a writer that read an older compact generation cannot commit.
  await repo.refreshManifest();
  const manifest = opts.dryRun
    ? repo.manifest
    : await repo.commit((m) => ({ archives: m.archives, compactGeneration: m.compactGeneration + 1 }));
  opts.log('debug', `compact generation ${manifest.compactGeneration}, manifest generation ${manifest.seq}`);

  // 2. The chunk index exactly as the index objects define it, and every pack's table.
  const indexObjects = (await storage.listInfo('index')).filter((i) => HEX64.test(i.name));
  const index = newChunkIndex();
  const listed = new Map<string, PackToc>();
  for (const info of indexObjects) {
    const id = Buffer.from(info.name, 'hex');
    const data = await storage.get(indexName(info.name));
    await index.addIndexObject(key, id, data);
    for (const p of await openIndexObject(key, id, data)) {
      const hex = p.id.toString('hex');
      if (!listed.has(hex)) listed.set(hex, p);
    }
  }

  // 3. Mark.
  const marks = newMarks(index);
  const counted = await markArchives(repo, index, marks, manifest.archives, () => 0);
  result.missing = counted.missing;
  if (counted.missing > 0) {
    opts.log('warning', `${counted.missing} chunks that archives reference are missing from the repository (run check)`);
  }
  opts.log('debug', `marked ${manifest.archives.length} archives: ${counted.trees} trees read`);

  // 4. Decide per pack.
  const stored = await storedPacks(storage);
  const tables = [...listed.entries()];
  const usage = marks.packUsage(tables.map(([, p]) => p));
  const keep: PackToc[] = [];
  /** Dead bytes of each kept pack (see the relisting below). */
  const keptDead = new Map<PackToc, number>();
  const drop: string[] = [];
  const rewrite: string[] = [];
  let missingDead = 0;
  tables.forEach(([hex, toc], i) => {
    const u = usage[i];
    const info = stored.get(hex);
    if (u === undefined) return;
    if (info === undefined) {
      if (u.live.blobs > 0) {
        opts.log('warning', `pack ${hex} is listed but missing from the repository (run check)`);
        keep.push(toc);
      } else {
        missingDead += 1;
      }
      return;
    }
    const dead = u.all.bytes - u.live.bytes;
    keptDead.set(toc, dead);
    if (info.modified >= cutoff) {
      if (dead > 0) result.spared += 1;
      keep.push(toc);
    } else if (u.live.blobs === 0) {
      drop.push(hex);
    } else if (dead * 100 > opts.threshold * u.all.bytes) {
      rewrite.push(hex);
    } else {
      keep.push(toc);
    }
  });
  const garbage: string[] = [];
  for (const [hex, info] of stored) {
    if (listed.has(hex)) continue;
    if (info.modified < cutoff) garbage.push(hex);
    else result.spared += 1;
  }
  opts.log('debug', `${tables.length} packs listed: ${drop.length} dead, ${rewrite.length} to rewrite; ${garbage.length} unlisted`);
  if (opts.dryRun) {
    const size = (hex: string): number => stored.get(hex)?.size ?? 0;
    const deadOf = (hex: string): number => {
      const i = tables.findIndex(([h]) => h === hex);
      const u = usage[i];
      return u === undefined ? 0 : u.all.bytes - u.live.bytes;
    };
    result.freed = [...drop, ...garbage].reduce((n, h) => n + size(h), 0) + rewrite.reduce((n, h) => n + deadOf(h), 0);
    result.deletedPacks = drop.length;
    result.rewrittenPacks = rewrite.length;
    result.garbagePacks = garbage.length;
    return result;
  }

  // 5a. Copy the live blobs of the packs to rewrite into new packs, as far as the free space
  // allows (less the headroom for the new index objects): the others stay as they are until a
  // run after this one, which finds the space that this run's dead packs leave.
  const liveOf = (hex: string): number => usage[tables.findIndex(([h]) => h === hex)]?.live.bytes ?? 0;
  const free = rewrite.length > 0 ? await storage.freeSpace() : undefined;
  if (free !== undefined) {
    let budget = free - (await headroomFor(storage));
    const fits = rewrite.filter((hex) => {
      const need = liveOf(hex);
      if (need > budget) return false;
      budget -= need;
      return true;
    });
    if (fits.length < rewrite.length) {
      opts.log('warning', `not enough free space to rewrite ${rewrite.length - fits.length} of ${rewrite.length} packs now: they stay as they are (run compact again)`);
      for (const hex of rewrite) {
        const toc = listed.get(hex);
        if (!fits.includes(hex) && toc !== undefined) keep.push(toc);
      }
      rewrite.splice(0, rewrite.length, ...fits);
    }
  }
  const fresh: PackToc[] = [];
  if (rewrite.length > 0) {
    const repacker = newRepacker(key);
    const store = async (p: PackOut): Promise<void> => {
      await putPack(storage, p);
      fresh.push({ id: p.id, toc: p.toc });
      written += p.size;
    };
    for (const hex of rewrite) {
      const r = await repacker.copyLive(marks, Buffer.from(hex, 'hex'), await storage.get(packName(hex)));
      for (const p of r.packs) await store(p);
      opts.log('debug', `pack ${hex}: ${r.blobs} live blobs (${r.bytes} bytes) copied`);
    }
    const last = await repacker.finish();
    if (last !== null) await store(last);
    result.newPacks = fresh.length;
  }

  // 5b. Index objects for every surviving pack, written before the old ones go.
  const relist = drop.length > 0 || rewrite.length > 0 || missingDead > 0 || indexObjects.length > 1;
  if (relist) {
    // The first listed copy of a blob is the one a chunk index places. A kept pack may still
    // hold dead copies of blobs that are live elsewhere (recreate's replaced chunks, when the old
    // pack stays for its other blobs): packs without dead bytes (the new ones have none) go
    // first, so that the live copy stays the placed one.
    const survivors = [...keep, ...fresh].sort((a, b) => (keptDead.get(a) ?? 0) - (keptDead.get(b) ?? 0));
    const listed = await writeIndexObjects(storage, key, survivors);
    written += listed.bytes;
    result.indexObjectsWritten += listed.ids.length;
  }

  // Nothing is deleted by a run that lost its lock.
  if (opts.lock !== undefined && !(await opts.lock.stillHeld())) {
    throw new LockTimeoutError('HOARD_LOCK_LOST', `the lock on ${repo.location.text} was broken while compact ran; nothing was deleted`);
  }
  const remove = async (name: string, size: number): Promise<void> => {
    await storage.delete(name);
    deleted += size;
  };

  // 5c. The old index objects, then the packs they alone listed.
  if (relist) {
    for (const info of indexObjects) await remove(indexName(info.name), info.size);
    result.indexObjectsDeleted = indexObjects.length;
    for (const hex of [...drop, ...rewrite]) await remove(packName(hex), stored.get(hex)?.size ?? 0);
    result.deletedPacks = drop.length;
    result.rewrittenPacks = rewrite.length;
  }

  // 5d. Garbage of interrupted runs: unlisted packs, archive objects no manifest lists.
  for (const hex of garbage) await remove(packName(hex), stored.get(hex)?.size ?? 0);
  result.garbagePacks = garbage.length;
  const newest = await repo.refreshManifest();
  const live = new Set([...manifest.archives, ...newest.archives].map((a) => a.id));
  for (const info of await storage.listInfo('archives')) {
    if (!HEX64.test(info.name) || live.has(info.name)) continue;
    if (info.modified >= cutoff) {
      result.spared += 1;
      continue;
    }
    await remove(archiveName(info.name), info.size);
    result.garbageArchives += 1;
  }

  // 5e. Old manifest generations.
  const generations = (await storage.listInfo('manifest'))
    .map((info) => ({ info, seq: manifestSeq(info.name) }))
    .filter((g): g is { info: ObjectInfo; seq: number } => g.seq !== undefined)
    .sort((a, b) => a.seq - b.seq);
  for (const g of generations.slice(0, Math.max(0, generations.length - KEEP_MANIFESTS))) {
    if (g.seq >= newest.seq) continue;
    await remove(manifestName(g.seq), g.info.size);
    result.manifests += 1;
  }

  // 5f. Temporary files that killed writes left (a live writer's are younger than the cutoff).
  const swept = await storage.sweepTemporary(cutoff);
  result.temporaries = swept.count;
  deleted += swept.bytes;

  result.freed = deleted - written;
  return result;
}
