import { HoardError, NotFoundError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import { named, type CheckReport } from '../repository/check-report.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { ObjectType } from '../repository/object-types.js';
import { NOT_STORED, readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { loadArchive } from './archives.js';
import { MAX_TREE, decodeTree, isRootSelf, treeParts, type Item, type Tree } from './item.js';
import { decodeName } from '../fs-names.js';

/** A tree still to read: its id, the archive path of its directory, and how deep that lies. */
interface PendingTree {
  id: Buffer;
  path: Buffer;
  depth: number;
  /** A piece of a split directory (its head listed it). */
  piece?: boolean;
}

/** Trees read in one fetch. */
const TREE_BATCH = 32;
/** Directories nest no deeper than this (PATH_MAX allows about 2048 levels): deeper means a cycle. */
const MAX_DEPTH = 2048;
const ITEM_TYPES = new Set(['-', 'd', 'l', 'h', 'p', 'c', 'b', 's']);

function join(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 0 ? name : Buffer.concat([dir, Buffer.from('/'), name]);
}

function treeWhat(archive: string, t: PendingTree): string {
  const dir = t.path.length === 0 ? 'the root tree' : `the tree of ${decodeName(t.path)}`;
  const where = t.piece === true ? `a piece of ${dir}` : dir;
  return `archive ${archive}: ${where} (${t.id.toString('hex')})`;
}

/** Whether `name` is a plain name: not empty, `.` or `..`, without `/` or NUL. */
function plainName(name: Buffer): boolean {
  return name.length > 0 && !name.equals(Buffer.from('.')) && !name.equals(Buffer.from('..')) && !name.includes(0x2f) && !name.includes(0);
}

/** Checks one archive's items, one tree at a time; holds only the trees still to read. */
class ArchiveChecker {
  constructor(
    private readonly repo: Repository,
    private readonly index: ChunkIndex,
    private readonly archive: string,
    private readonly report: CheckReport,
  ) {}

  /** Reads `batch` together; where that fails, one by one, reporting each tree that does not open or decode. */
  private async read(batch: PendingTree[]): Promise<(Tree | undefined)[]> {
    const decode = (t: PendingTree, plain: Buffer): Tree | undefined => {
      try {
        return decodeTree(plain, 'it');
      } catch (e) {
        // A tree that authenticated but does not decode may break the decoder in any way.
        const m = e instanceof HoardError ? e.message : `it is malformed (${e instanceof Error ? e.message : String(e)})`;
        this.report.problem(`${treeWhat(this.archive, t)}: ${m}`);
        return undefined;
      }
    };
    const read = (ts: PendingTree[]): Promise<Buffer[]> =>
      readMetadata(this.repo.storage, this.repo.key, this.index, ObjectType.tree, Buffer.concat(ts.map((t) => t.id)), MAX_TREE);
    try {
      const plains = await read(batch);
      return batch.map((t, i) => decode(t, plains[i] ?? Buffer.alloc(0)));
    } catch {
      const out: (Tree | undefined)[] = [];
      for (const t of batch) {
        try {
          const [plain] = await read([t]);
          out.push(decode(t, plain ?? Buffer.alloc(0)));
        } catch (e) {
          this.report.problem(named(treeWhat(this.archive, t), e));
          out.push(undefined);
        }
      }
      return out;
    }
  }

  /** Checks the items of one tree object; returns the trees they lead to. */
  private items(t: PendingTree, tree: Tree): PendingTree[] {
    const out: PendingTree[] = [];
    const files: { path: Buffer; ids: Buffer }[] = [];
    if (t.piece === true && (tree.version !== 1 || tree.next !== undefined)) {
      this.report.problem(`${treeWhat(this.archive, t)}: a piece of a split tree is not a plain tree object`);
      return out;
    }
    let previous: Buffer | undefined;
    let unsorted = false;
    for (const item of tree.items) {
      const p = join(t.path, item.name);
      const problem = (m: string): void => this.report.problem(`archive ${this.archive}: ${decodeName(p)}: ${m}`);
      if (!plainName(item.name) && !isRootSelf(item, t.depth)) problem('the item name is not a plain name');
      if (previous !== undefined && Buffer.compare(previous, item.name) >= 0) unsorted = true;
      previous = item.name;
      if (!ITEM_TYPES.has(item.type)) {
        problem(`unknown item type ${JSON.stringify(item.type)}`);
        continue;
      }
      if (item.type === '-') this.file(p, item, problem, files);
      else if (item.type === 'd' && item.tree !== undefined) {
        if (!Buffer.isBuffer(item.tree) || item.tree.length !== 32) problem('the directory names a malformed tree id');
        else if (t.depth + 1 > MAX_DEPTH) problem(`directories nest deeper than ${MAX_DEPTH} levels`);
        else out.push({ id: item.tree, path: p, depth: t.depth + 1 });
      } else if (item.type === 'h' && !Buffer.isBuffer(item.link)) problem('the hard link names no target');
      else if (item.type === 'l' && !Buffer.isBuffer(item.target)) problem('the symlink has no target');
    }
    if (unsorted) this.report.problem(`${treeWhat(this.archive, t)}: items are not sorted by name, or a name repeats`);
    this.missingChunks(files);
    if (tree.next !== undefined) out.push({ id: tree.next, path: t.path, depth: t.depth });
    for (const id of treeParts(tree)) out.push({ id, path: t.path, depth: t.depth, piece: true });
    return out;
  }

  /** Checks a regular file's chunk list against its size; collects its chunk ids. */
  private file(p: Buffer, item: Item, problem: (m: string) => void, files: { path: Buffer; ids: Buffer }[]): void {
    const ids = item.chunks ?? Buffer.alloc(0);
    const sizes = item.chunkSizes ?? new Uint32Array(0);
    if (!Buffer.isBuffer(ids) || ids.length % 32 !== 0) {
      problem('the chunk list is malformed');
      return;
    }
    if (sizes.length !== ids.length / 32) {
      problem(`${ids.length / 32} chunks but ${sizes.length} chunk sizes`);
    } else {
      const total = sizes.reduce((a, b) => a + b, 0);
      if (total !== item.size) problem(`the size is ${item.size} bytes, its chunks hold ${total}`);
    }
    if (ids.length > 0) files.push({ path: p, ids });
    const healthy = item.chunksHealthy;
    if (healthy !== undefined) {
      if (!Buffer.isBuffer(healthy) || healthy.length !== ids.length) problem('the broken-file mark (chunksHealthy) is malformed');
      else {
        const back = this.index.hasAll(healthy);
        this.report.info(`archive ${this.archive}: ${decodeName(p)}: a broken file (all-zero chunks stand in for lost ones)${back ? '; its data is back: check --repair heals it' : ''}`);
      }
    }
  }

  /** Reports the files of one tree whose chunks the chunk index lacks (one crossing per tree). */
  private missingChunks(files: { path: Buffer; ids: Buffer }[]): void {
    if (files.length === 0) return;
    const where = this.index.locate(Buffer.concat(files.map((f) => f.ids)));
    let at = 0;
    for (const f of files) {
      const n = f.ids.length / 32;
      const missing: number[] = [];
      for (let i = 0; i < n; i += 1) if (where.packs[at + i] === NOT_STORED) missing.push(i);
      at += n;
      const first = missing[0];
      if (first === undefined) continue;
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more of its ${n} chunks)` : '';
      const id = f.ids.subarray(first * 32, first * 32 + 32).toString('hex');
      this.report.problem(`archive ${this.archive}: ${decodeName(f.path)}: chunk ${id} is missing from the repository${more}`);
    }
  }

  /** Walks every tree from `root`, depth first. */
  async run(root: Buffer): Promise<void> {
    const stack: PendingTree[] = [{ id: root, path: Buffer.alloc(0), depth: 0 }];
    while (stack.length > 0) {
      const batch = stack.splice(Math.max(0, stack.length - TREE_BATCH)).reverse();
      const trees = await this.read(batch);
      const found: PendingTree[] = [];
      batch.forEach((t, i) => {
        const tree = trees[i];
        if (tree !== undefined) found.push(...this.items(t, tree));
      });
      // Pushed in reverse, so that the first found is read first.
      for (let i = found.length - 1; i >= 0; i -= 1) stack.push(found[i] as PendingTree);
    }
  }
}

/**
 * The archive part of `check`: each archive's object opens, matches its id and name; every tree
 * reachable from its root opens and decodes; every item is well formed, every file's size agrees
 * with its chunk sizes, and every chunk it names is in `index`.
 */
export async function checkArchives(repo: Repository, index: ChunkIndex, archives: ManifestArchive[], report: CheckReport): Promise<void> {
  for (const [i, entry] of archives.entries()) {
    report.progress(`Checking archive ${entry.name}`, i, archives.length);
    let root: string | undefined;
    try {
      const meta = await loadArchive(repo, entry);
      if (meta.name !== entry.name) report.problem(`archive ${entry.name}: archive object ${entry.id} names itself ${meta.name}`);
      root = meta.root;
    } catch (e) {
      if (e instanceof NotFoundError) report.problem(`archive ${entry.name}: archive object ${entry.id} is missing`);
      else report.problem(`archive ${entry.name}: ${named(`archive object ${entry.id}`, e)}`);
      continue;
    }
    if (root === undefined) continue;
    if (!/^[0-9a-f]{64}$/.test(root)) {
      report.problem(`archive ${entry.name}: archive object ${entry.id} names a malformed root tree`);
      continue;
    }
    await new ArchiveChecker(repo, index, entry.name, report).run(Buffer.from(root, 'hex'));
  }
  report.progress('Checking archives', archives.length, archives.length);
}
