import { CorruptDataError, HoardError, errorFor } from '../errors.js';
import { osPath } from '../fs-names.js';
import { readObjects, sealIndexObject, type ChunkIndex, type FetchedRange, type Key, type Locations, type PackOut, type PackToc } from '../native.js';
import type { Storage } from '../storage/storage.js';

/** The object name of pack `id` (hex): `packs/<first two hex digits>/<id>`. */
export function packName(id: string): string {
  return `packs/${id.slice(0, 2)}/${id}`;
}

/** The object name of index object `id` (hex). */
export function indexName(id: string): string {
  return `index/${id}`;
}

/** The object name of archive object `id` (hex). */
export function archiveName(id: string): string {
  return `archives/${id}`;
}

/** Pack ranges fetched together when they lie closer than this. */
const MERGE_GAP = 1 << 20;
/** Pack range fetches in flight at once. */
const FETCHES = 4;

/** The chunk index's pack number for a blob it lacks, or one still being stored (`ChunkIndex.locate`). */
export const NOT_STORED = 0xffffffff;

/** A blob's place: pack number (in the chunk index), offset and length. */
export interface BlobPlace {
  pack: number;
  offset: number;
  length: number;
}

/** Where each of `ids` (32 bytes each) lies; throws naming the first that the index lacks. */
export function locate(index: ChunkIndex, ids: Buffer): BlobPlace[] {
  return placesOf(index.locate(ids), ids, 0, ids.length / 32);
}

/**
 * The places of ids `from` to `to` (exclusive) of `ids` from `loc`, the chunk index's answer for
 * all of `ids` (one native call for many files costs what one call per file cost each); throws
 * naming the first of them that the index lacks.
 */
export function placesOf(loc: Locations, ids: Buffer, from: number, to: number): BlobPlace[] {
  const out: BlobPlace[] = [];
  for (let i = from; i < to; i += 1) {
    const pack = loc.packs[i] ?? NOT_STORED;
    if (pack === NOT_STORED) {
      const id = ids.subarray(i * 32, i * 32 + 32).toString('hex');
      throw new CorruptDataError('HOARD_CORRUPT', `object ${id} is missing from the repository`);
    }
    out.push({ pack, offset: loc.offsets[i] ?? 0, length: loc.lengths[i] ?? 0 });
  }
  return out;
}

/** A byte range of one pack: [offset, end). */
export interface PackRange {
  pack: number;
  offset: number;
  end: number;
}

/**
 * The ranges to read for `places`: blobs that overlap or touch are always read together, and two
 * ranges of one pack at most `gap` bytes apart are read as one (the gap read for nothing), the
 * smallest gaps first, as long as all the gaps so read come to at most `budget` bytes. In pack
 * and offset order.
 */
export function mergeRanges(places: readonly BlobPlace[], gap: number, budget = Infinity): PackRange[] {
  const sorted = [...places].sort((a, b) => a.pack - b.pack || a.offset - b.offset);
  const tight: PackRange[] = [];
  for (const p of sorted) {
    const last = tight[tight.length - 1];
    if (last !== undefined && last.pack === p.pack && p.offset <= last.end) last.end = Math.max(last.end, p.offset + p.length);
    else tight.push({ pack: p.pack, offset: p.offset, end: p.offset + p.length });
  }
  const gapBefore = (i: number): number => (tight[i]?.offset ?? 0) - (tight[i - 1]?.end ?? 0);
  const joins: number[] = [];
  for (let i = 1; i < tight.length; i += 1) {
    if (tight[i]?.pack === tight[i - 1]?.pack && gapBefore(i) <= gap) joins.push(i);
  }
  joins.sort((i, j) => gapBefore(i) - gapBefore(j));
  const joined = new Set<number>();
  let spent = 0;
  for (const i of joins) {
    if (spent + gapBefore(i) > budget) break;
    spent += gapBefore(i);
    joined.add(i);
  }
  const out: PackRange[] = [];
  tight.forEach((r, i) => {
    const last = out[out.length - 1];
    if (last !== undefined && joined.has(i)) last.end = r.end;
    else out.push(r);
  });
  return out;
}

/**
 * Fetches the pack ranges that hold `places`, merging blobs that lie closer than `gap` in one pack
 * into one read (see `mergeRanges`: at most `gapBudget` bytes of gaps in all), with a few reads
 * in flight. Given `slabFor`, which is called once with the bytes the merged ranges take and
 * returns a buffer, the ranges are read into consecutive parts of that buffer, as far as they
 * fit, instead of into new buffers (the caller reuses it once the ranges are no longer needed).
 */
export async function fetchRanges(
  storage: Storage,
  index: ChunkIndex,
  places: BlobPlace[],
  slabFor?: (bytes: number) => Buffer,
  gap = MERGE_GAP,
  gapBudget = Infinity,
): Promise<FetchedRange[]> {
  const wanted = mergeRanges(places, gap, gapBudget);
  // One storage call per pack, a few packs at once.
  const byPack = new Map<number, { offset: number; end: number }[]>();
  for (const w of wanted) {
    const list = byPack.get(w.pack);
    if (list === undefined) byPack.set(w.pack, [w]);
    else list.push(w);
  }
  const packs = [...byPack.entries()];
  // Each range's part of the slab, in the order of `wanted`.
  const parts = new Map<{ offset: number; end: number }, Buffer>();
  const slab = slabFor?.(wanted.reduce((n, w) => n + w.end - w.offset, 0));
  if (slab !== undefined) {
    let at = 0;
    for (const w of wanted) {
      const length = w.end - w.offset;
      if (at + length > slab.length) break;
      parts.set(w, slab.subarray(at, at + length));
      at += length;
    }
  }
  const out: FetchedRange[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < packs.length) {
      const entry = packs[next];
      next += 1;
      if (entry === undefined) continue;
      const [pack, list] = entry;
      const name = packName(index.packId(pack).toString('hex'));
      const into = slab === undefined ? undefined : list.map((w) => parts.get(w) ?? Buffer.alloc(0));
      const got = await storage.getRanges(name, list.map((w) => ({ offset: w.offset, length: w.end - w.offset })), into);
      list.forEach((w, i) => {
        const data = got[i];
        if (data === undefined || data.length !== w.end - w.offset) throw new CorruptDataError('HOARD_CORRUPT', `${name} is shorter than the index says`);
        out.push({ pack, offset: w.offset, data });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCHES, packs.length) }, worker));
  return out;
}

/**
 * Fetches and opens metadata objects of `type` (e.g. trees), each at most `limit` bytes; ranges
 * closer than `gap` are read together.
 */
export async function readMetadata(
  storage: Storage,
  key: Key,
  index: ChunkIndex,
  type: number,
  ids: Buffer,
  limit: number,
  gap = MERGE_GAP,
): Promise<Buffer[]> {
  const ranges = await fetchRanges(storage, index, locate(index, ids), undefined, gap);
  return readObjects(key, index, type, ids, ranges, limit).catch((e: unknown) => {
    if (e instanceof HoardError) throw errorFor(e.code, e.message);
    throw e;
  });
}

/**
 * Stores a finished pack under `packs/` through `target` (a storage backend, or a space guard in
 * front of one). Its bytes go from native memory to the backend's temporary file without
 * becoming a JavaScript buffer, and are freed as soon as that file is durable.
 */
export function putPack(target: Pick<Storage, 'putFrom'>, pack: PackOut): Promise<void> {
  return target.putFrom(packName(pack.id.toString('hex')), pack.size, (temp) => pack.bytes.writeTo(osPath(temp)));
}

/** The most table entries one index object that compact or repair writes lists. */
const ENTRIES_PER_INDEX = 1 << 20;

/** Table entries in a `PackToc.toc` (its first four bytes count them). */
function entryCount(p: PackToc): number {
  return p.toc.length >= 4 ? p.toc.readUInt32LE(0) : 0;
}

/**
 * Lists `packs`, in this order, in as few new index objects as hold them (at most 2^20 table
 * entries each), stored under `index/`; returns their hex ids and their bytes in all. Compact and
 * repair write the whole listing this way before they delete the old index objects.
 */
export async function writeIndexObjects(storage: Storage, key: Key, packs: readonly PackToc[]): Promise<{ ids: string[]; bytes: number }> {
  const ids: string[] = [];
  let bytes = 0;
  for (let i = 0; i < packs.length; ) {
    const batch: PackToc[] = [];
    let entries = 0;
    while (i < packs.length) {
      const p = packs[i];
      if (p === undefined || (batch.length > 0 && entries + entryCount(p) > ENTRIES_PER_INDEX)) break;
      batch.push(p);
      entries += entryCount(p);
      i += 1;
    }
    const obj = await sealIndexObject(key, batch);
    const id = obj.id.toString('hex');
    await storage.put(indexName(id), obj.data);
    ids.push(id);
    bytes += obj.data.length;
  }
  return { ids, bytes };
}
