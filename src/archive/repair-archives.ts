/**
 * The archive part of `check --repair` (docs/format.md section 10.15). Each selected archive is
 * walked tree by tree, depth first, and rebuilt where something is lost:
 *
 * - an archive object that does not open: the archive leaves the manifest;
 * - a tree that does not open or decode: the directory's contents are lost (the directory stays,
 *   empty); a lost `next` part loses the items it held;
 * - a malformed item (name, type, chunk list, link): the item is dropped;
 * - a file chunk the chunk index lacks: replaced by an all-zero chunk of the same size, and the
 *   file keeps its original chunk list in `chunksHealthy` (borg's `chunks_healthy`);
 * - a file with `chunksHealthy` whose original chunks are back (a later `create` stored the same
 *   data again): healed, its chunk list is the original again and `chunksHealthy` goes.
 *
 * Changed trees are stored again (new ids) up to the root, then a new archive object; the caller
 * commits one manifest generation with the new archive ids. Unchanged trees are not rewritten.
 */
import { HoardError, NotFoundError } from '../errors.js';
import { newWriter, type ChunkIndex, type Writer } from '../native.js';
import { named, type CheckReport } from '../repository/check-report.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { ObjectType } from '../repository/object-types.js';
import { NOT_STORED, archiveName, readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { sealArchive } from './archive-object.js';
import { loadArchive } from './archives.js';
import { MAX_TREE, decodeTree, isRootSelf, treeParts, type Item, type Tree } from './item.js';
import { storeTree } from './tree-store.js';
import { PackSink } from './pack-sink.js';
import { decodeName } from '../fs-names.js';

/** Directories nest no deeper than this: deeper means a cycle. */
const MAX_DEPTH = 2048;
const ITEM_TYPES = new Set(['-', 'd', 'l', 'h', 'p', 'c', 'b', 's']);

/** What the archive part of a repair changed, for the manifest commit. */
export interface ArchiveRepairResult {
  /** Archives to drop from the manifest (by id): their archive object does not open. */
  removed: Set<string>;
  /** Archives whose object was stored again: old id -> new id. */
  replaced: Map<string, string>;
  /** Files found with missing chunks (replaced by zeros), and files healed. */
  brokenFiles: number;
  healedFiles: number;
}

function join(dir: string, name: Buffer): string {
  const n = decodeName(name);
  return dir === '' ? n : `${dir}/${n}`;
}

/** Whether `name` is a plain name: not empty, `.` or `..`, without `/` or NUL. */
function plainName(name: Buffer): boolean {
  return name.length > 0 && !name.equals(Buffer.from('.')) && !name.equals(Buffer.from('..')) && !name.includes(0x2f) && !name.includes(0);
}

/** Rebuilds archives as the module docs say. */
class ArchiveRepairer {
  private readonly writer: Writer;
  private readonly sink: PackSink;
  private readonly zeros = new Map<number, Buffer>();
  brokenFiles = 0;
  healedFiles = 0;

  constructor(
    private readonly repo: Repository,
    private readonly index: ChunkIndex,
    private readonly report: CheckReport,
  ) {
    this.writer = newWriter(repo.key, index, { compression: 'lz4', chunkerParams: 'default' });
    this.sink = new PackSink(repo.storage, repo.key, this.writer);
  }

  /** The id of an all-zero chunk of `size` bytes, stored once per size. */
  private async zeroChunk(size: number): Promise<Buffer> {
    const known = this.zeros.get(size);
    if (known !== undefined) return known;
    const stored = await this.writer.storeObjects(this.repo.key, ObjectType.chunk, [Buffer.alloc(size)]);
    const id = Buffer.from(stored.ids.subarray(0, 32));
    this.zeros.set(size, id);
    return id;
  }

  /** Which of `ids` (32 bytes each) the chunk index holds. */
  private present(ids: Buffer): boolean[] {
    const where = this.index.locate(ids);
    return Array.from(where.packs, (p) => p !== NOT_STORED);
  }

  /** Reads one tree object; undefined (reported) when it does not open or decode. */
  private async readTree(id: Buffer, what: string): Promise<Tree | undefined> {
    try {
      const [plain] = await readMetadata(this.repo.storage, this.repo.key, this.index, ObjectType.tree, id, MAX_TREE);
      return decodeTree(plain ?? Buffer.alloc(0), 'it');
    } catch (e) {
      const m = e instanceof HoardError ? e.message : `it is malformed (${e instanceof Error ? e.message : String(e)})`;
      this.report.problem(`${what} (${id.toString('hex')}): ${m}`);
      return undefined;
    }
  }

  /** A regular file's item, repaired: undefined when its chunk list is malformed (dropped). */
  private async file(archive: string, path: string, item: Item): Promise<{ item: Item | undefined; changed: boolean }> {
    const ids = item.chunks ?? Buffer.alloc(0);
    const sizes = item.chunkSizes ?? new Uint32Array(0);
    const healthy = item.chunksHealthy;
    const n = ids.length / 32;
    const problem = (m: string): void => this.report.problem(`archive ${archive}: ${path}: ${m}`);
    if (!Buffer.isBuffer(ids) || ids.length % 32 !== 0 || sizes.length !== n || (healthy !== undefined && (!Buffer.isBuffer(healthy) || healthy.length !== ids.length))) {
      problem('the chunk list is malformed; the file is dropped');
      return { item: undefined, changed: true };
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    let changed = false;
    if (total !== item.size) {
      problem(`the size is ${item.size} bytes, its chunks hold ${total}; the size is set to ${total}`);
      item.size = total;
      changed = true;
    }
    if (n === 0) return { item, changed };
    const original = healthy ?? ids;
    const have = this.present(original);
    const out = Buffer.alloc(ids.length);
    let missing = 0;
    for (let i = 0; i < n; i += 1) {
      if (have[i] === true) original.copy(out, i * 32, i * 32, i * 32 + 32);
      else {
        missing += 1;
        (await this.zeroChunk(sizes[i] ?? 0)).copy(out, i * 32);
      }
    }
    if (healthy !== undefined && missing === 0) {
      this.healedFiles += 1;
      this.report.info(`archive ${archive}: ${path}: healed, every original chunk is back`);
      item.chunks = out;
      delete item.chunksHealthy;
      return { item, changed: true };
    }
    if (missing > 0 && healthy === undefined) {
      this.brokenFiles += 1;
      problem(`${missing} missing chunks (of ${n}), replaced by all-zero chunks`);
      item.chunksHealthy = ids;
    } else if (missing > 0) {
      this.brokenFiles += 1;
      this.report.info(`archive ${archive}: ${path}: still ${missing} missing chunks (of ${n}), all-zero in their place`);
    }
    if (!out.equals(ids)) {
      item.chunks = out;
      changed = true;
    }
    return { item, changed };
  }

  /** Repairs the directory tree `id` (with its `next` parts); resolves to its id afterwards. */
  async tree(archive: string, dir: string, id: Buffer, depth: number): Promise<{ id: Buffer | undefined; changed: boolean }> {
    const where = dir === '' ? 'the root tree' : `the tree of ${dir}`;
    const what = `archive ${archive}: ${where}`;
    if (depth > MAX_DEPTH) {
      this.report.problem(`${what}: directories nest deeper than ${MAX_DEPTH} levels; its contents are lost`);
      return { id: undefined, changed: true };
    }
    const items: Item[] = [];
    let changed = false;
    // The tree objects still to read: the first, then a chain's `next` or a head's pieces.
    const pending: { id: Buffer; piece: boolean }[] = [{ id, piece: false }];
    let parts = 0;
    while (pending.length > 0) {
      const part = pending.shift() as { id: Buffer; piece: boolean };
      const t = await this.readTree(part.id, parts === 0 ? what : `${what}, part ${parts + 1}`);
      parts += 1;
      if (t === undefined || (part.piece && (t.version !== 1 || t.next !== undefined))) {
        if (t !== undefined) this.report.problem(`${what}, part ${parts} (${part.id.toString('hex')}): a piece of a split tree is not a plain tree object`);
        const lost = parts === 1 ? 'the directory is lost' : part.piece ? `the items of part ${parts} are lost` : 'the rest of the directory is lost';
        this.report.problem(`${what}: ${lost}`);
        changed = true;
        continue;
      }
      items.push(...t.items);
      if (t.next !== undefined) pending.push({ id: t.next, piece: false });
      for (const p of treeParts(t)) pending.push({ id: p, piece: true });
    }
    const kept: Item[] = [];
    for (const item of items) {
      const path = join(dir, item.name);
      const drop = (m: string): void => {
        this.report.problem(`archive ${archive}: ${path}: ${m}; the item is dropped`);
        changed = true;
      };
      if (!plainName(item.name) && !isRootSelf(item, depth)) drop('the item name is not a plain name');
      else if (!ITEM_TYPES.has(item.type)) drop(`unknown item type ${JSON.stringify(item.type)}`);
      else if (item.type === 'h' && !Buffer.isBuffer(item.link)) drop('the hard link names no target');
      else if (item.type === 'l' && !Buffer.isBuffer(item.target)) drop('the symlink has no target');
      else if (item.type === '-') {
        const r = await this.file(archive, path, item);
        if (r.changed) changed = true;
        if (r.item !== undefined) kept.push(r.item);
      } else if (item.type === 'd' && item.tree !== undefined) {
        if (!Buffer.isBuffer(item.tree) || item.tree.length !== 32) {
          this.report.problem(`archive ${archive}: ${path}: the directory names a malformed tree id; its contents are lost`);
          delete item.tree;
          changed = true;
        } else {
          const sub = await this.tree(archive, path, item.tree, depth + 1);
          if (sub.changed) {
            changed = true;
            if (sub.id === undefined) delete item.tree;
            else item.tree = sub.id;
          }
        }
        kept.push(item);
      } else kept.push(item);
    }
    // Sorted by name, each name once (the first is kept).
    const sorted = [...kept].sort((a, b) => Buffer.compare(a.name, b.name));
    const unique = sorted.filter((it, i) => i === 0 || !(sorted[i - 1] as Item).name.equals(it.name));
    if (unique.length !== kept.length || unique.some((it, i) => it !== kept[i])) {
      this.report.problem(`${what}: items were not sorted by name, or a name repeated; sorted, the first of each name kept`);
      changed = true;
    }
    if (!changed) return { id, changed: false };
    return { id: await this.store(unique), changed: true };
  }

  /** Stores a directory's items as a tree (split into pieces when large); its id. */
  private async store(items: Item[]): Promise<Buffer | undefined> {
    return (await storeTree(this.writer, this.repo.key, this.index, items)).id;
  }

  /** Stores what is still in the writer: its last pack and index object. */
  async finish(): Promise<void> {
    await this.writer.flush();
    this.writer.close();
    await this.sink.done;
  }

  /** Gives up: the writer stops and nothing more is stored. */
  async abort(e: unknown): Promise<void> {
    this.writer.abort(e instanceof Error ? e.message : String(e));
    await this.sink.done.catch(() => {});
  }
}

/**
 * Repairs `archives` (see the module docs) with `index`, the chunk index after the repository's
 * repair. New trees and zero chunks go into new packs and index objects, then the new archive
 * objects are stored; the manifest is the caller's.
 */
export async function repairArchives(repo: Repository, index: ChunkIndex, archives: ManifestArchive[], report: CheckReport): Promise<ArchiveRepairResult> {
  const result: ArchiveRepairResult = { removed: new Set(), replaced: new Map(), brokenFiles: 0, healedFiles: 0 };
  const repairer = new ArchiveRepairer(repo, index, report);
  const sealed: { old: string; id: string; data: Buffer }[] = [];
  try {
    for (const [i, entry] of archives.entries()) {
      report.progress(`Repairing archive ${entry.name}`, i, archives.length);
      let meta;
      try {
        meta = await loadArchive(repo, entry);
      } catch (e) {
        const m = e instanceof NotFoundError ? `archive object ${entry.id} is missing` : named(`archive object ${entry.id}`, e);
        report.problem(`archive ${entry.name}: ${m}; the archive is removed from the manifest`);
        result.removed.add(entry.id);
        continue;
      }
      let changed = false;
      if (meta.name !== entry.name) {
        report.problem(`archive ${entry.name}: archive object ${entry.id} names itself ${meta.name}; stored again as ${entry.name}`);
        meta.name = entry.name;
        changed = true;
      }
      if (meta.root !== undefined) {
        if (!/^[0-9a-f]{64}$/.test(meta.root)) {
          report.problem(`archive ${entry.name}: archive object ${entry.id} names a malformed root tree; the archive's contents are lost`);
          delete meta.root;
          changed = true;
        } else {
          const r = await repairer.tree(entry.name, '', Buffer.from(meta.root, 'hex'), 0);
          if (r.changed) {
            changed = true;
            if (r.id === undefined) delete meta.root;
            else meta.root = r.id.toString('hex');
          }
        }
      }
      if (changed) {
        const s = await sealArchive(repo.key, repo.key.newSession(), meta);
        sealed.push({ old: entry.id, ...s });
      }
    }
    await repairer.finish();
  } catch (e) {
    await repairer.abort(e);
    throw e;
  }
  report.progress('Repairing archives', archives.length, archives.length);
  // Commit order: packs and index objects (above), archive objects, then the caller's manifest.
  for (const s of sealed) {
    await repo.storage.put(archiveName(s.id), s.data);
    result.replaced.set(s.old, s.id);
  }
  result.brokenFiles = repairer.brokenFiles;
  result.healedFiles = repairer.healedFiles;
  return result;
}
