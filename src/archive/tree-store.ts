import { createHmac } from 'node:crypto';

import type { Key, Writer } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { TREE_COMPRESSION, TREE_ITEMS, encodeTree, type Item } from './item.js';

/** A stored tree: its id (absent for no items) and how many tree objects it took. */
export interface StoredTree {
  id: Buffer | undefined;
  parts: number;
}

/** A directory with more items than this is split into pieces under a head. */
export const SPLIT_ITEMS = 512;
/** Fewest items in a piece (but the last). */
const PIECE_MIN = 64;
/** A piece ends after an item whose name's cut hash has these bits clear: 256 items on average. */
const PIECE_MASK = 0xff;

/** The secret the cut hash is keyed with: the chunk id of this text (so keyed in keyed modes). */
const CUT_SEED_TEXT = 'hoard tree pieces';

/**
 * Cuts a directory's items (sorted by name) into pieces, by content: a piece ends after an item
 * whose keyed name hash has its low 8 bits clear once it holds {@link PIECE_MIN} items, or when
 * it holds {@link TREE_ITEMS}. A cut depends only on the names since the previous cut, so a changed,
 * added or removed item changes only its own piece (and at most the next one).
 */
export function splitItems(key: Key, items: Item[]): Item[][] {
  const seed = key.chunkId(Buffer.from(CUT_SEED_TEXT));
  const pieces: Item[][] = [];
  let start = 0;
  for (let i = 0; i < items.length; i += 1) {
    const n = i + 1 - start;
    if (n >= TREE_ITEMS || (n >= PIECE_MIN && (createHmac('sha256', seed).update((items[i] as Item).name).digest().readUInt32LE(0) & PIECE_MASK) === 0)) {
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
export async function storeTree(writer: Writer, key: Key, items: Item[]): Promise<StoredTree> {
  if (items.length === 0) return { id: undefined, parts: 0 };
  const pieces = items.length > SPLIT_ITEMS ? splitItems(key, items) : [items];
  const stored = await writer.storeObjects(key, ObjectType.tree, pieces.map((p) => encodeTree({ version: 1, items: p })), TREE_COMPRESSION);
  if (pieces.length === 1) return { id: Buffer.from(stored.ids.subarray(0, 32)), parts: 1 };
  const head = await writer.storeObjects(key, ObjectType.tree, [encodeTree({ version: 2, items: [], parts: stored.ids })], TREE_COMPRESSION);
  return { id: Buffer.from(head.ids.subarray(0, 32)), parts: pieces.length + 1 };
}
