import { hkdfSync } from 'node:crypto';

import type { ChunkIndex, Key, Writer } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { NOT_STORED } from '../repository/objects.js';
import { TREE_COMPRESSION, TREE_ITEMS, encodeTree, type Item } from './item.js';

/** A stored tree: its id (absent for no items) and how many tree objects it took. */
export interface StoredTree {
  id: Buffer | undefined;
  parts: number;
}

/**
 * What trees took: their encoded bytes, and the stored bytes of their objects, those the
 * repository had already included (an archive's `treesOriginal` and `treesCompressed`); and the
 * stored bytes of the objects this batch added, which an archive's deduplicated size leaves out.
 */
export interface TreeTotals {
  original: number;
  stored: number;
  added: number;
}

/** A directory with more items than this is split into pieces under a head. */
export const SPLIT_ITEMS = 512;
/** Fewest items in a piece (but the last). */
const PIECE_MIN = 64;
/** A piece ends after an item whose name's cut hash has these bits clear: 256 items on average. */
const PIECE_MASK = 0xff;

/** The info of the cut table's HKDF (docs/format.md section 10.9). */
const CUT_TABLE_INFO = 'hoard tree pieces';
const cutTables = new WeakMap<Key, Uint32Array>();

/**
 * The cut table of `key`: 256 u32 (LE) from HKDF-SHA256 over the chunk id of the info text (so
 * secret in keyed modes), like the data chunker's table.
 */
function cutTable(key: Key): Uint32Array {
  let t = cutTables.get(key);
  if (t === undefined) {
    const seed = key.chunkId(Buffer.from(CUT_TABLE_INFO));
    const bytes = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), CUT_TABLE_INFO, 1024));
    t = new Uint32Array(256);
    for (let i = 0; i < 256; i += 1) t[i] = bytes.readUInt32LE(i * 4);
    cutTables.set(key, t);
  }
  return t;
}

/** The cut hash of a name: a rotate-xor over its bytes through the table, then a 32-bit mix. */
function cutHash(table: Uint32Array, name: Buffer): number {
  let h = 0;
  for (const b of name) h = ((h << 1) | (h >>> 31)) ^ (table[b] as number);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Cuts a directory's items (sorted by name) into pieces, by content: a piece ends after an item
 * whose keyed name hash has its low 8 bits clear once it holds {@link PIECE_MIN} items, or when
 * it holds {@link TREE_ITEMS}. A cut depends on the names, not on positions, so a changed, added
 * or removed item changes its own piece (and seldom the next one), not those after it.
 */
export function splitItems(key: Key, items: Item[]): Item[][] {
  const table = cutTable(key);
  const pieces: Item[][] = [];
  let start = 0;
  for (let i = 0; i < items.length; i += 1) {
    const n = i + 1 - start;
    if (n >= TREE_ITEMS || (n >= PIECE_MIN && (cutHash(table, (items[i] as Item).name) & PIECE_MASK) === 0)) {
      pieces.push(items.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < items.length) pieces.push(items.slice(start));
  return pieces;
}

/**
 * Stores a directory's items (sorted by name) as a tree through `writer`: one tree object, or,
 * above {@link SPLIT_ITEMS} items, its pieces ({@link splitItems}) and a head listing them. A
 * changed item then stores its piece and the head again, not the whole directory. Objects the
 * repository has already are not stored again.
 */
export async function storeTree(writer: Writer, key: Key, index: ChunkIndex, items: Item[]): Promise<StoredTree> {
  const batch = new TreeBatch(writer, key, index);
  const tree = batch.store(items);
  await batch.done();
  return tree;
}

/** Encoded trees per `storeObjects` call of a {@link TreeBatch}. */
const BATCH_TREES = 64;
/** Encoded bytes per `storeObjects` call of a {@link TreeBatch}. */
const BATCH_BYTES = 1 << 20;

/**
 * Stores the trees of a walk in batches: {@link store} encodes a directory's tree (its pieces
 * and head, as {@link storeTree}) and computes their ids at once (a tree's id is the chunk id of
 * its bytes, so a parent needs no stored child to name it), and queues the objects; every
 * {@link BATCH_TREES} objects or {@link BATCH_BYTES} bytes go to the writer in one
 * `storeObjects` call. So a create pays one native call and one promise per batch of trees,
 * not per directory. {@link done} sends the rest and waits until every tree is stored: call it
 * before the writer's last flush, so that the trees are in packs before the archive names them.
 * {@link totals} counts what the trees took, once {@link done} has resolved.
 */
export class TreeBatch {
  /** The trees' encoded and stored bytes; the stored ones complete once {@link done} resolved. */
  readonly totals: TreeTotals = { original: 0, stored: 0, added: 0 };
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private failed: { error: unknown } | undefined;
  /** Ids of stored trees whose objects another call was still storing when theirs returned. */
  private unsettled: Buffer[] = [];
  /** Whether this batch added each of {@link unsettled} (1) or found it stored (0). */
  private unsettledAdded: number[] = [];

  constructor(
    private readonly writer: Writer,
    private readonly key: Key,
    private readonly index: ChunkIndex,
  ) {}

  /** Queues the tree of `items` (sorted by name); returns its id at once (absent for no items). */
  store(items: Item[]): StoredTree {
    if (this.failed !== undefined) throw this.failed.error;
    if (items.length === 0) return { id: undefined, parts: 0 };
    const pieces = items.length > SPLIT_ITEMS ? splitItems(this.key, items) : [items];
    const encoded = pieces.map((p) => encodeTree({ version: 1, items: p }));
    const ids = encoded.map((e) => this.key.chunkId(e));
    for (const e of encoded) this.add(e);
    if (pieces.length === 1) return { id: ids[0], parts: 1 };
    const head = encodeTree({ version: 2, items: [], parts: Buffer.concat(ids) });
    this.add(head);
    return { id: this.key.chunkId(head), parts: pieces.length + 1 };
  }

  /** Sends what is queued, then waits for every call; rejects with the first failure. */
  async done(): Promise<void> {
    this.send();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failed !== undefined) throw this.failed.error;
    const late = Buffer.concat(this.unsettled);
    const lateAdded = Uint8Array.from(this.unsettledAdded);
    this.unsettled = [];
    this.unsettledAdded = [];
    this.count(late, lateAdded);
  }

  /**
   * Adds the stored lengths of `ids` (32 bytes each) to the totals, and to `added` those this
   * batch stored (`added[i]` 1); keeps those not yet stored.
   */
  private count(ids: Buffer, added: Uint8Array): void {
    if (ids.length === 0) return;
    const where = this.index.locate(ids);
    for (let i = 0; i < ids.length / 32; i += 1) {
      if (where.packs[i] === NOT_STORED) {
        this.unsettled.push(ids.subarray(i * 32, i * 32 + 32));
        this.unsettledAdded.push(added[i] ?? 0);
        continue;
      }
      const length = where.lengths[i] ?? 0;
      this.totals.stored += length;
      if (added[i] === 1) this.totals.added += length;
    }
  }

  private add(encoded: Buffer): void {
    this.queue.push(encoded);
    this.queuedBytes += encoded.length;
    this.totals.original += encoded.length;
    if (this.queue.length >= BATCH_TREES || this.queuedBytes >= BATCH_BYTES) this.send();
  }

  private send(): void {
    if (this.queue.length === 0) return;
    const objects = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    const call: Promise<unknown> = this.writer.storeObjects(this.key, ObjectType.tree, objects, TREE_COMPRESSION).then(
      (stored) => {
        this.inFlight.delete(call);
        this.count(stored.ids, stored.added);
      },
      (e: unknown) => {
        this.inFlight.delete(call);
        this.failed ??= { error: e };
      },
    );
    this.inFlight.add(call);
  }
}
