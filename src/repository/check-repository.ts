import { NotFoundError } from '../errors.js';
import { checkPackStructure, newChunkIndex, openIndexObject, packLayout, verifyPackBlobs, type ChunkIndex, type PackLayout, type PackToc } from '../native.js';
import { forEachLimited, named, type CheckReport } from './check-report.js';
import { manifestName, manifestSeq, openManifest } from './manifest.js';
import { indexName, packName } from './objects.js';
import type { Repository } from './repository.js';

/** What the repository part of `check` does. */
export interface RepositoryCheckOptions {
  /** Check manifest generations and every pack's place, size and table, and report garbage (not under `--archives-only`). */
  structure: boolean;
  /** Read every pack whole and verify each of its blobs (`--verify-data`). */
  verifyData: boolean;
}

/** What the repository part found, beside the problems it reported. */
export interface RepositoryCheckResult {
  /** The chunk index of every index object that opened (built afresh, not from the cache). */
  index: ChunkIndex;
  indexObjects: number;
  /** Packs that index objects list. */
  packs: number;
  /** Packs no index object lists, and archive objects the manifest does not list: `compact` removes them. */
  garbagePacks: number;
  garbageArchives: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Bytes read past a pack's expected end, so that a longer pack shows. */
const PAST_END = 1;
/** Pack checks in flight: range reads, or whole packs under `--verify-data`. */
const RANGE_CHECKS = 4;
const WHOLE_CHECKS = 2;

function typeName(t: number): string {
  return t === 0 ? 'chunk' : t === 1 ? 'tree' : `object of type ${t}`;
}

/** Opens every manifest generation; the newest must list each archive name once. */
async function checkManifests(repo: Repository, report: CheckReport): Promise<void> {
  for (const entry of await repo.storage.list('manifest')) {
    const seq = manifestSeq(entry);
    if (seq === undefined) {
      report.info(`manifest/${entry} is not a manifest generation`);
      continue;
    }
    const name = manifestName(seq);
    try {
      await openManifest(repo.key, seq, await repo.storage.get(name));
    } catch (e) {
      report.problem(named(name, e));
    }
  }
  const seen = new Set<string>();
  for (const a of repo.manifest.archives) {
    if (seen.has(a.name)) report.problem(`${manifestName(repo.manifest.seq)} lists archive ${a.name} more than once`);
    seen.add(a.name);
  }
}

/**
 * Checks one pack against the table index object `indexId` lists for it: its magic, size,
 * trailer and table of contents by range reads; under `verify`, the whole pack is read and every
 * blob is opened too.
 */
async function checkPack(repo: Repository, report: CheckReport, indexId: string, p: PackToc, verify: boolean): Promise<void> {
  const hex = p.id.toString('hex');
  const what = `pack ${hex}`;
  const name = packName(hex);
  let layout: PackLayout;
  try {
    layout = packLayout(p.toc);
  } catch (e) {
    report.problem(named(`${what} (listed by index object ${indexId})`, e));
    return;
  }
  const tailLength = layout.tocLength + 12 + PAST_END;
  let head: Buffer;
  let tail: Buffer;
  let whole: Buffer | undefined;
  try {
    if (verify) {
      whole = await repo.storage.get(name);
      head = whole.subarray(0, 8);
      tail = whole.subarray(Math.min(layout.blobsEnd, whole.length), layout.blobsEnd + tailLength);
    } else {
      head = await repo.storage.getRange(name, 0, 8);
      tail = await repo.storage.getRange(name, layout.blobsEnd, tailLength);
    }
  } catch (e) {
    if (e instanceof NotFoundError) report.problem(`${what} is missing (index object ${indexId} lists it)`);
    else report.problem(named(what, e));
    return;
  }
  for (const m of await checkPackStructure(repo.key, p.id, head, tail, p.toc)) report.problem(`${what}: ${m}`);
  if (whole === undefined) return;
  for (const b of await verifyPackBlobs(repo.key, whole, p.toc)) {
    report.problem(`${what} offset ${b.offset}: ${typeName(b.objType)} ${b.id.toString('hex')}: ${b.message}`);
  }
}

/** Reports packs that no index object lists, and archive objects the manifest does not list. */
async function findGarbage(repo: Repository, report: CheckReport, indexed: Set<string>): Promise<{ packs: number; archives: number }> {
  let packs = 0;
  for (const dir of await repo.storage.list('packs')) {
    if (!/^[0-9a-f]{2}$/.test(dir)) {
      report.info(`packs/${dir} is not a pack folder`);
      continue;
    }
    let names: string[];
    try {
      names = await repo.storage.list(`packs/${dir}`);
    } catch (e) {
      report.problem(named(`packs/${dir}`, e));
      continue;
    }
    for (const n of names) {
      if (!HEX64.test(n) || !n.startsWith(dir)) report.info(`packs/${dir}/${n} is not a pack`);
      else if (!indexed.has(n)) {
        packs += 1;
        report.info(`pack ${n} is in no index object: garbage for compact`);
      }
    }
  }
  const listed = new Set(repo.manifest.archives.map((a) => a.id));
  let archives = 0;
  for (const n of await repo.storage.list('archives')) {
    if (!listed.has(n)) {
      archives += 1;
      report.info(`archive object ${n} is not in the manifest: garbage for compact`);
    }
  }
  return { packs, archives };
}

/**
 * The repository part of `check`: every index object opens, and (with `structure`) every pack
 * it lists exists with the size, trailer and table of contents the index object implies; every
 * manifest generation opens; garbage is reported as info. Index objects are handled one at a
 * time, their packs a few at once, so memory does not grow with the repository beyond a set
 * of pack ids. Resolves to the chunk index of the index objects that opened.
 */
export async function checkRepository(repo: Repository, report: CheckReport, opts: RepositoryCheckOptions): Promise<RepositoryCheckResult> {
  const { storage, key } = repo;
  if (opts.structure) await checkManifests(repo, report);
  const index = newChunkIndex();
  const indexed = new Set<string>();
  const names = await storage.list('index');
  const ids = names.filter((n) => HEX64.test(n));
  if (opts.structure) for (const n of names.filter((x) => !HEX64.test(x))) report.info(`index/${n} is not an index object`);
  const step = opts.structure || opts.verifyData ? 'Checking index objects and packs' : 'Reading index objects';
  for (const [done, id] of ids.entries()) {
    report.progress(step, done, ids.length);
    let packs: PackToc[];
    try {
      const data = await storage.get(indexName(id));
      packs = await openIndexObject(key, Buffer.from(id, 'hex'), data);
      await index.addIndexObject(key, Buffer.from(id, 'hex'), data);
    } catch (e) {
      report.problem(named(`index object ${id}`, e));
      continue;
    }
    const fresh = packs.filter((p) => {
      const hex = p.id.toString('hex');
      if (indexed.has(hex)) {
        report.info(`pack ${hex} is listed by more than one index object`);
        return false;
      }
      indexed.add(hex);
      return true;
    });
    if (opts.structure || opts.verifyData) {
      await forEachLimited(fresh, opts.verifyData ? WHOLE_CHECKS : RANGE_CHECKS, (p) => checkPack(repo, report, id, p, opts.verifyData));
    }
  }
  report.progress(step, ids.length, ids.length);
  const garbage = opts.structure ? await findGarbage(repo, report, indexed) : { packs: 0, archives: 0 };
  return { index, indexObjects: ids.length, packs: indexed.size, garbagePacks: garbage.packs, garbageArchives: garbage.archives };
}
