import type { Key, Writer } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { TREE_ITEMS, encodeTree, type Item } from './item.js';

/** A stored tree: the first part's id (absent for no items) and how many parts it took. */
export interface StoredTree {
  id: Buffer | undefined;
  parts: number;
}

/**
 * Stores a directory's items (sorted by name) as a tree through `writer`, split into a chain of
 * parts of at most {@link TREE_ITEMS} items, the last part first so that each names its `next`.
 * A part the repository has already is not stored again.
 */
export async function storeTree(writer: Writer, key: Key, items: Item[]): Promise<StoredTree> {
  let next: Buffer | undefined;
  let parts = 0;
  for (let end = items.length; end > 0; end -= TREE_ITEMS) {
    const start = Math.max(0, end - TREE_ITEMS);
    const part = encodeTree({ version: 1, items: items.slice(start, end), ...(next ? { next } : {}) });
    const stored = await writer.storeObjects(key, ObjectType.tree, [part]);
    next = stored.ids.subarray(0, 32);
    parts += 1;
  }
  return { id: next, parts };
}
