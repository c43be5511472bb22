import type { ChunkIndex } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { MAX_TREE, decodeTree, type Item } from './item.js';

/** An item with its archive path (raw bytes, `/`-separated, no leading slash). */
export interface PathItem {
  path: Buffer;
  item: Item;
}

/** Reads whole trees (following `next` chains) for many ids at once; items per id, in order. */
export async function readTrees(repo: Repository, index: ChunkIndex, ids: Buffer[]): Promise<Item[][]> {
  const out: Item[][] = ids.map(() => []);
  let todo = ids.map((id, i) => ({ id, i }));
  while (todo.length > 0) {
    const blobs = await readMetadata(repo.storage, repo.key, index, ObjectType.tree, Buffer.concat(todo.map((t) => t.id)), MAX_TREE);
    const next: { id: Buffer; i: number }[] = [];
    blobs.forEach((b, k) => {
      const t = todo[k];
      if (t === undefined) return;
      const tree = decodeTree(b, `tree ${t.id.toString('hex')}`);
      out[t.i]?.push(...tree.items);
      if (tree.next) next.push({ id: tree.next, i: t.i });
    });
    todo = next;
  }
  return out;
}

/**
 * Visits every item of the tree `root` depth first, parents before children, in name order.
 * `descend` may refuse a directory (its subtree is then not read). Subdirectories' trees are
 * read together, one fetch per directory level rather than per directory.
 */
export async function walkTree(
  repo: Repository,
  index: ChunkIndex,
  root: Buffer | undefined,
  visit: (p: PathItem) => Promise<void> | void,
  descend: (p: PathItem) => boolean = () => true,
): Promise<void> {
  if (root === undefined) return;
  const [top] = await readTrees(repo, index, [root]);
  const walk = async (prefix: Buffer, items: Item[]): Promise<void> => {
    const withPaths = items.map((item) => ({ item, path: prefix.length === 0 ? item.name : Buffer.concat([prefix, Buffer.from('/'), item.name]) }));
    const dirs = withPaths.filter((p) => p.item.type === 'd' && p.item.tree !== undefined && descend(p));
    const subtrees = dirs.length > 0 ? await readTrees(repo, index, dirs.map((d) => d.item.tree as Buffer)) : [];
    const byPath = new Map<PathItem, Item[]>(dirs.map((d, i) => [d, subtrees[i] ?? []]));
    for (const p of withPaths) {
      await visit(p);
      const sub = byPath.get(p);
      if (sub !== undefined) await walk(p.path, sub);
    }
  };
  await walk(Buffer.alloc(0), top ?? []);
}
