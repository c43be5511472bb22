import { CorruptDataError } from '../errors.js';
import type { ChunkIndex, Marks } from '../native.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { ObjectType } from '../repository/object-types.js';
import { readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { loadArchive } from './archives.js';
import { MAX_TREE, decodeTree, treeParts } from './item.js';

/** Tree objects read (and their items' chunks marked) together, in one fetch. */
const TREES_PER_BATCH = 64;

/** What marking found. */
export interface MarkCount {
  /** Tree objects read. */
  trees: number;
  /** File chunks the chunk index lacks (the repository lost them; `check` names them). */
  missing: number;
}

function missingTree(id: Buffer): CorruptDataError {
  return new CorruptDataError('HOARD_CORRUPT', `tree ${id.toString('hex')} is missing from the repository`);
}

/**
 * Marks every blob reachable from tree `root` as referenced by `owner`: the tree objects (with
 * the `next` parts of large directories), the chunks of every file, and, of a broken file, the
 * original chunks its `chunksHealthy` names that the repository has. Trees are read a batch at
 * a time, depth first, so memory holds one batch of trees and the ids still to visit, never a
 * whole archive. A tree whose mark did not change (this owner, or every owner, marked it already)
 * is not read again: everything under it is marked the same way. A missing tree is an error (what
 * lies under it cannot be known); missing file chunks are counted. With `treeMarks`, the tree
 * objects are marked there too (alone), so that an archive's share of trees can be told apart
 * from its share of file chunks.
 */
export async function markTree(repo: Repository, index: ChunkIndex, marks: Marks, root: Buffer, owner: number, treeMarks?: Marks): Promise<MarkCount> {
  const count: MarkCount = { trees: 0, missing: 0 };
  treeMarks?.mark(root, owner);
  const first = marks.mark(root, owner)[0];
  if (first === 2) throw missingTree(root);
  if (first !== 1) return count;
  const todo: Buffer[] = [root];
  while (todo.length > 0) {
    const batch = todo.splice(Math.max(0, todo.length - TREES_PER_BATCH));
    const blobs = await readMetadata(repo.storage, repo.key, index, ObjectType.tree, Buffer.concat(batch), MAX_TREE);
    count.trees += blobs.length;
    const chunks: Buffer[] = [];
    const healthy: Buffer[] = [];
    const trees: Buffer[] = [];
    blobs.forEach((blob, i) => {
      const tree = decodeTree(blob, `tree ${batch[i]?.toString('hex') ?? ''}`);
      for (const item of tree.items) {
        if (item.chunks !== undefined && item.chunks.length > 0) chunks.push(item.chunks);
        if (item.chunksHealthy !== undefined && item.chunksHealthy.length > 0) healthy.push(item.chunksHealthy);
        if (item.tree !== undefined) trees.push(item.tree);
      }
      if (tree.next !== undefined) trees.push(tree.next);
      trees.push(...treeParts(tree));
    });
    if (chunks.length > 0) {
      for (const flag of marks.mark(Buffer.concat(chunks), owner)) if (flag === 2) count.missing += 1;
    }
    // A broken file's original chunks that are stored (again) are live too, so that a repair can
    // heal it after a compact; the ones still lost are known, not counted as missing.
    if (healthy.length > 0) marks.mark(Buffer.concat(healthy), owner);
    if (trees.length > 0) {
      treeMarks?.mark(Buffer.concat(trees), owner);
      const flags = marks.mark(Buffer.concat(trees), owner);
      trees.forEach((id, i) => {
        if (flags[i] === 2) throw missingTree(id);
        if (flags[i] === 1) todo.push(id);
      });
    }
  }
  return count;
}

/**
 * Marks the blobs of each of `archives` with the owner `ownerOf` gives it (its position in the
 * list by default); their archive objects are read one at a time. `treeMarks`: see
 * {@link markTree}.
 */
export async function markArchives(
  repo: Repository,
  index: ChunkIndex,
  marks: Marks,
  archives: ManifestArchive[],
  ownerOf: (i: number) => number = (i) => i,
  treeMarks?: Marks,
): Promise<MarkCount> {
  const total: MarkCount = { trees: 0, missing: 0 };
  for (let i = 0; i < archives.length; i += 1) {
    const entry = archives[i];
    if (entry === undefined) continue;
    const meta = await loadArchive(repo, entry);
    if (meta.root === undefined) continue;
    const c = await markTree(repo, index, marks, Buffer.from(meta.root, 'hex'), ownerOf(i), treeMarks);
    total.trees += c.trees;
    total.missing += c.missing;
  }
  return total;
}
