import { CorruptDataError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { MAX_TREE, decodeTree, treeParts, type Item } from './item.js';

/** An item with its archive path (raw bytes, `/`-separated, no leading slash). */
export interface PathItem {
  path: Buffer;
  item: Item;
}

/**
 * Tree blobs read together when they lie closer than this in a pack. Trees are stored between the
 * contents of files, so merging across the 1 MiB that suits file contents read about 50 KiB of
 * other blobs per tree (100 MB to walk 23,000 items of /usr/lib).
 */
const TREE_GAP = 16 << 10;

/**
 * Reads whole trees for many ids at once (a split directory's pieces together, an old
 * repository's `next` chains link by link); items per id, in order.
 */
export async function readTrees(repo: Repository, index: ChunkIndex, ids: Buffer[]): Promise<Item[][]> {
  const out: Item[][] = ids.map(() => []);
  let todo = ids.map((id, i) => ({ id, i, piece: false }));
  while (todo.length > 0) {
    const blobs = await readMetadata(repo.storage, repo.key, index, ObjectType.tree, Buffer.concat(todo.map((t) => t.id)), MAX_TREE, TREE_GAP);
    const next: { id: Buffer; i: number; piece: boolean }[] = [];
    blobs.forEach((b, k) => {
      const t = todo[k];
      if (t === undefined) return;
      const what = `tree ${t.id.toString('hex')}`;
      const tree = decodeTree(b, what);
      if (t.piece && (tree.version !== 1 || tree.next !== undefined)) throw new CorruptDataError('HOARD_CORRUPT', `${what} is a piece of a split tree but not a plain tree object`);
      out[t.i]?.push(...tree.items);
      if (tree.next) next.push({ id: tree.next, i: t.i, piece: false });
      for (const id of treeParts(tree)) next.push({ id, i: t.i, piece: true });
    });
    todo = next;
  }
  return out;
}

/**
 * Subdirectories whose trees one fetch reads together. Reading a whole level at once held every
 * sibling's items (and the path of each) until the walk had gone through all of them; groups
 * keep what a walk holds to a few groups per level of the path it is on.
 */
const TREES_PER_READ = 64;

/**
 * Visits every item of the tree `root` depth first, parents before children, in name order.
 * `descend` may refuse a directory (its subtree is then not read); it is asked for every
 * subdirectory of a directory before any item of that directory is visited. Subdirectories'
 * trees are read in groups of up to `TREES_PER_READ` siblings, one fetch per group. A
 * directory's first group is read as soon as the walk enters the directory, while it visits the
 * items before that group's first member, and each next group as soon as the walk descends into
 * the group before it: so the walk seldom waits for a read (about 5,000 of them on /usr/lib). It
 * holds at most two groups per level of its path. `enter`, if given, is called with each
 * directory's items (the root's too) before any of them is visited.
 */
export async function walkTree(
  repo: Repository,
  index: ChunkIndex,
  root: Buffer | undefined,
  visit: (p: PathItem) => Promise<void> | void,
  descend: (p: PathItem) => boolean = () => true,
  enter?: (items: readonly Item[]) => void,
): Promise<void> {
  if (root === undefined) return;
  const [top] = await readTrees(repo, index, [root]);
  const slash = Buffer.from('/');
  const walk = async (prefix: Buffer, items: Item[]): Promise<void> => {
    enter?.(items);
    const pathOf = (item: Item): Buffer => (prefix.length === 0 ? item.name : Buffer.concat([prefix, slash, item.name]));
    // Which directories are descended into, asked before any visit (as documented).
    const descended = items.map((item) => item.type === 'd' && item.tree !== undefined && descend({ item, path: pathOf(item) }));
    /** The read of the group of up to TREES_PER_READ descended siblings from index `from` on. */
    const readGroup = (from: number): { members: number[]; trees: Promise<Item[][]> } | undefined => {
      const members: number[] = [];
      for (let j = from; j < items.length && members.length < TREES_PER_READ; j += 1) if (descended[j]) members.push(j);
      if (members.length === 0) return undefined;
      const trees = readTrees(repo, index, members.map((j) => items[j]?.tree as Buffer));
      // Awaited when the walk reaches the group; until then a failure must not go unhandled.
      trees.catch(() => {});
      return { members, trees };
    };
    let next = readGroup(0);
    let group = new Map<number, Item[]>();
    for (let i = 0; i < items.length; i += 1) {
      const item = items[i] as Item;
      const p = { item, path: pathOf(item) };
      await visit(p);
      if (!descended[i]) continue;
      let sub = group.get(i);
      if (sub === undefined && next !== undefined) {
        const { members, trees } = next;
        const read = await trees;
        group = new Map(members.map((j, k) => [j, read[k] ?? []]));
        sub = group.get(i);
        const last = members[members.length - 1];
        next = last === undefined ? undefined : readGroup(last + 1);
      }
      group.delete(i);
      await walk(p.path, sub ?? []);
    }
  };
  await walk(Buffer.alloc(0), top ?? []);
}

/** Finds items by path in one archive, descending its trees; keeps the trees it read for a while. */
export class PathLookup {
  private readonly cache = new Map<string, Item[]>();

  constructor(
    private readonly repo: Repository,
    private readonly index: ChunkIndex,
    private readonly root: Buffer | undefined,
  ) {}

  /** The item at archive path `path` (raw bytes, `/`-separated), or undefined. */
  async find(path: Buffer): Promise<Item | undefined> {
    let tree = this.root;
    let found: Item | undefined;
    let start = 0;
    for (let i = 0; i <= path.length; i += 1) {
      if (i !== path.length && path[i] !== 0x2f) continue;
      const part = path.subarray(start, i);
      start = i + 1;
      if (tree === undefined) return undefined;
      const key = tree.toString('hex');
      let items = this.cache.get(key);
      if (items === undefined) {
        [items = []] = await readTrees(this.repo, this.index, [tree]);
        if (this.cache.size >= 256) this.cache.clear();
        this.cache.set(key, items);
      }
      found = items.find((it) => it.name.equals(part));
      if (found === undefined) return undefined;
      tree = found.type === 'd' ? found.tree : undefined;
    }
    return found;
  }
}
