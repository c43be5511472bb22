import { ExistsError, LockTimeoutError, NotFoundError } from '../errors.js';
import { newWriter, type Writer } from '../native.js';
import type { SyncedIndex } from '../repository/chunk-cache.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { archiveName, locate } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { crashPoint, testPackSize } from '../testonly.js';
import { sealArchive, type ArchiveMeta, type ArchiveStats } from './archive-object.js';
import { isoMicro } from './archive-writer.js';
import type { Item } from './item.js';
import { PackSink } from './pack-sink.js';
import { RecompressBatcher } from './recompress-batcher.js';
import { TagFinder } from './recreate-tags.js';
import { readTrees } from './tree-reader.js';
import { TreeBatch } from './tree-store.js';
import { decodeName, encodeName } from '../fs-names.js';

/** borg's `--recompress` modes. */
export type RecompressMode = 'never' | 'if-different' | 'always';

/** Everything `recreate` is asked for, for each archive. */
export interface RecreateOptions {
  /** `--target`: store the result under this name and keep the original. */
  target?: string;
  /** `--comment`: the new comment (the old one is kept when absent). */
  comment?: string;
  /** `--timestamp`: the new archive time (the old one is kept when absent). */
  timestamp?: Date;
  /** The compression spec (canonical) for new blobs and recompressed chunks. */
  compression: string;
  recompress: RecompressMode;
  /** Whether patterns or PATHs were given (borg's "the matcher is not empty"). */
  selective: boolean;
  /** Whether an archive path stays (patterns and PATHs, tested on each item on its own). */
  included: (archivePath: string) => boolean;
  excludeCaches: boolean;
  excludeIfPresent: string[];
  keepExcludeTags: boolean;
  dryRun: boolean;
  commandLine: string[];
  /** Chunks (hex ids) recompressed so far by this run, shared by its archives. */
  recompressed?: Set<string>;
  /** Called for each item with borg's `--list` status letter and its archive path. */
  onItem: (status: string, archivePath: string) => void;
  /** Called just before the archive is committed; throws to give up (e.g. the lock was broken). */
  beforeCommit?: () => Promise<void>;
}

/** What recreating one archive did. */
export interface RecreateResult {
  /** `skipped`: nothing was asked (borg's rule); `unchanged`: nothing differed, nothing written. */
  outcome: 'skipped' | 'unchanged' | 'recreated' | 'dry-run';
  /** The archive object written (hex), for `recreated`. */
  id?: string;
  meta: ArchiveMeta;
  /** Chunks stored again with the new compression. */
  recompressed: number;
}

/** An item still being rebuilt (a file waiting for its chunks' recompression, a directory its tree). */
type Pending = Promise<Item | undefined>;

/** borg's `--list` status of a kept item. */
function statusOf(item: Item): string {
  switch (item.type) {
    case 'd':
      return 'd';
    case 'l':
      return 's';
    case 'p':
      return 'f';
    case 'c':
    case 'b':
      return item.type;
    default:
      return 'A';
  }
}

/** Whether borg would skip the archive: nothing asked that could change it. */
export function nothingAsked(o: RecreateOptions): boolean {
  return (
    !o.selective &&
    o.recompress === 'never' &&
    o.comment === undefined &&
    o.target === undefined &&
    o.timestamp === undefined &&
    !o.excludeCaches &&
    o.excludeIfPresent.length === 0
  );
}

/**
 * Rebuilds one archive's trees with the items that pass the options, recompressing its chunks
 * when asked, and commits the result under the original name (the old archive object becomes
 * garbage for compact) or under `target`.
 */
export class Recreater {
  private writer: Writer | undefined;
  /** The new trees, stored in batches; their totals are counted once all are stored. */
  private trees: TreeBatch | undefined;
  private sink: PackSink | undefined;
  private batcher: RecompressBatcher | undefined;
  private readonly stats: ArchiveStats = { nfiles: 0, original: 0, compressed: 0, deduplicated: 0, chunks: 0 };
  private items = 0;
  /** Regular files left out, by archive path: a kept hard link to one takes its contents. */
  private readonly leftOut = new Map<string, Item>();
  /** Hard-link masters left out whose contents a kept link took: the link's new path. */
  private readonly moved = new Map<string, Buffer>();
  /** Masters that kept links wait for (left out by the patterns, later in the walk). */
  private readonly awaited = new Map<string, { seen: Promise<Item | undefined>; resolve: (i: Item | undefined) => void }>();
  private tags: TagFinder | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly synced: SyncedIndex,
    private readonly opts: RecreateOptions,
  ) {}

  private start(meta: ArchiveMeta): void {
    const { repo, synced, opts } = this;
    if (!opts.dryRun) {
      const packSize = testPackSize(repo.env);
      this.writer = newWriter(repo.key, synced.index, {
        compression: opts.compression,
        chunkerParams: meta.chunkerParams,
        ...(packSize !== undefined ? { packSize } : {}),
      });
      this.trees = new TreeBatch(this.writer, repo.key, synced.index);
      const recompress = opts.recompress !== 'never';
      this.sink = new PackSink(repo.storage, repo.key, this.writer, undefined, repo.space, recompress);
      if (recompress) this.batcher = new RecompressBatcher(repo.storage, repo.key, synced.index, this.writer, opts.recompress === 'always', opts.recompressed);
    }
    this.tags = new TagFinder(repo, synced.index, opts, this.batcher, this.sink);
  }

  /** A kept regular file: its chunks recompressed, its stored size counted again. */
  private file(item: Item): Pending {
    const chunks = item.chunks ?? Buffer.alloc(0);
    const count = (): Item => {
      if (this.batcher !== undefined) item.csize = locate(this.synced.index, chunks).reduce((n, p) => n + p.length, 0);
      this.stats.nfiles += 1;
      this.stats.original += item.size;
      this.stats.compressed += item.csize ?? 0;
      this.stats.chunks += chunks.length / 32;
      return item;
    };
    if (this.batcher === undefined || chunks.length === 0) return Promise.resolve(count());
    const p = this.batcher.add(chunks).then(count);
    p.catch(() => {});
    return p;
  }

  /**
   * A kept hard link whose master is left out takes the master's contents (the first such link in
   * walk order); later links to that master link to it instead. A master later in the walk is
   * waited for: the walk settles no item before it ends.
   */
  private hardLink(item: Item, path: string): Pending {
    if (item.type !== 'h' || item.link === undefined) return Promise.resolve(item);
    const master = decodeName(item.link);
    const take = (left: Item | undefined): Pending => {
      const moved = this.moved.get(master);
      if (moved !== undefined) return Promise.resolve({ ...item, link: moved });
      if (left === undefined) return Promise.resolve(item);
      this.moved.set(master, encodeName(path));
      const { link: _link, ...rest } = item;
      const file: Item = { ...rest, type: '-', size: left.size };
      if (left.chunks !== undefined) file.chunks = left.chunks;
      if (left.chunkSizes !== undefined) file.chunkSizes = left.chunkSizes;
      if (left.csize !== undefined) file.csize = left.csize;
      return this.file(file);
    };
    const left = this.leftOut.get(master);
    if (left !== undefined || this.moved.has(master) || this.opts.included(master)) return take(left);
    let waiting = this.awaited.get(master);
    if (waiting === undefined) {
      let resolve: (i: Item | undefined) => void = () => {};
      const seen = new Promise<Item | undefined>((r) => {
        resolve = r;
      });
      waiting = { seen, resolve };
      this.awaited.set(master, waiting);
    }
    const p = waiting.seen.then(take);
    p.catch(() => {});
    return p;
  }

  /** A regular file left out: a kept hard link to it may take its contents. */
  private leave(item: Item, path: string): void {
    if (item.type !== '-') return;
    this.leftOut.set(path, item);
    this.awaited.get(path)?.resolve(item);
    this.awaited.delete(path);
  }

  /** Rebuilds the items of one directory (`prefix` its archive path); resolves when its subtrees are read. */
  private async directory(prefix: string, items: Item[]): Promise<Pending[]> {
    const tags = this.tags as TagFinder;
    const withPaths = items.map((item) => ({ item, path: prefix === '' ? decodeName(item.name) : `${prefix}/${decodeName(item.name)}` }));
    const dirs = withPaths.filter((p) => p.item.type === 'd' && p.item.tree !== undefined);
    const subtrees = dirs.length > 0 ? await readTrees(this.repo, this.synced.index, dirs.map((d) => d.item.tree as Buffer)) : [];
    const children = new Map(dirs.map((d, i) => [d.item, subtrees[i] ?? []]));
    const out: Pending[] = [];
    for (const { item, path } of withPaths) {
      if (item.type !== 'd') {
        if (!this.opts.included(path)) {
          this.opts.onItem('x', path);
          this.leave(item, path);
          continue;
        }
        this.items += 1;
        this.opts.onItem(this.opts.dryRun ? '-' : statusOf(item), path);
        out.push(item.type === '-' ? this.file(item) : this.hardLink(item, path));
        continue;
      }
      let below = children.get(item) ?? [];
      const tagged = await tags.tagsIn(below);
      if (tagged !== undefined && !this.opts.keepExcludeTags) {
        this.opts.onItem('x', path);
        continue;
      }
      if (tagged !== undefined) below = tagged;
      const included = item.implied !== true && this.opts.included(path);
      if (included) {
        this.items += 1;
        this.opts.onItem(this.opts.dryRun ? '-' : 'd', path);
      } else if (item.implied !== true) {
        this.opts.onItem('x', path);
      }
      const kids = await this.directory(path, below);
      const p = Promise.all(kids).then(async (all) => {
        const kept = all.filter((i): i is Item => i !== undefined);
        if (!included && kept.length === 0) return undefined;
        const { tree: _tree, ...rest } = item;
        const out: Item = { ...rest, ...(included ? {} : { implied: true }) };
        const tree = this.storeTree(kept);
        if (tree !== undefined) out.tree = tree;
        return out;
      });
      p.catch(() => {});
      out.push(p);
    }
    return out;
  }

  /** The id of the tree of `items` (stored with the others by the end of {@link run}); a dry run stores none. */
  private storeTree(items: Item[]): Buffer | undefined {
    if (items.length === 0) return undefined;
    if (this.trees === undefined) return Buffer.alloc(32);
    const tree = this.trees.store(items);
    this.stats.chunks += tree.parts;
    return tree.id;
  }

  /** Recreates the archive of manifest entry `entry` (its object `meta`). */
  async run(entry: ManifestArchive, meta: ArchiveMeta): Promise<RecreateResult> {
    const { repo, opts } = this;
    if (nothingAsked(opts)) return { outcome: 'skipped', meta, recompressed: 0 };
    const name = opts.target ?? entry.name;
    if (opts.target !== undefined && repo.manifest.archives.some((a) => a.name === opts.target)) {
      throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${opts.target} already exists`);
    }
    const generation = repo.manifest.compactGeneration;
    const began = Date.now();
    this.start(meta);
    let root: Buffer | undefined;
    try {
      const [top] = meta.root === undefined ? [[]] : await readTrees(repo, this.synced.index, [Buffer.from(meta.root, 'hex')]);
      const kids = await this.directory('', top ?? []);
      // A master never met (in a directory its tags left out) leaves its links as they are.
      for (const w of this.awaited.values()) w.resolve(undefined);
      this.batcher?.close();
      const kept = (await Promise.all(kids)).filter((i): i is Item => i !== undefined);
      await this.batcher?.drain();
      root = this.storeTree(kept);
      if (this.trees !== undefined) {
        await this.trees.done();
        this.stats.treesOriginal = this.trees.totals.original;
        this.stats.treesCompressed = this.trees.totals.stored;
      }
      if (this.writer !== undefined) {
        await this.writer.flush();
        this.writer.close();
      }
      await this.sink?.done;
    } catch (e) {
      this.writer?.abort(e instanceof Error ? e.message : String(e));
      await this.sink?.done.catch(() => {});
      throw e;
    }
    const recompressed = this.batcher?.totals.recompressed ?? 0;
    // As borg 1.4, "This archive" leaves the trees (metadata) out.
    this.stats.deduplicated = (this.writer?.totals().stored ?? 0) - (this.trees?.totals.added ?? 0);
    const time = opts.timestamp?.toISOString() ?? meta.time;
    // As borg: --timestamp is the new start, and the end that plus how long this recreate took.
    const run =
      opts.timestamp === undefined
        ? {}
        : { start: isoMicro(opts.timestamp), end: isoMicro(new Date(opts.timestamp.getTime() + (Date.now() - began))) };
    const next: ArchiveMeta = {
      ...meta,
      ...run,
      name,
      items: this.items,
      time,
      comment: opts.comment ?? meta.comment,
      compression: opts.recompress === 'never' ? meta.compression : opts.compression,
      recreateCommandLine: opts.commandLine,
      stats: { ...this.stats },
    };
    delete next.root;
    if (root !== undefined) next.root = root.toString('hex');
    if (opts.dryRun) return { outcome: 'dry-run', meta: next, recompressed };
    const same = next.root === meta.root && recompressed === 0 && next.comment === meta.comment && next.time === meta.time;
    if (opts.target === undefined && same) return { outcome: 'unchanged', meta, recompressed };
    await opts.beforeCommit?.();
    const sealed = await sealArchive(repo.key, repo.key.newSession(), next);
    crashPoint('before-archive');
    await repo.storage.put(archiveName(sealed.id), sealed.data);
    crashPoint('before-manifest');
    await repo.commit((m) => {
      if (m.compactGeneration !== generation) {
        throw new LockTimeoutError('HOARD_COMPACTED', 'the repository was compacted while recreate ran; nothing was committed (run recreate again)');
      }
      if (opts.target !== undefined) {
        if (m.archives.some((a) => a.name === opts.target)) throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${opts.target} already exists`);
        return { archives: [...m.archives, { id: sealed.id, name, time }], compactGeneration: m.compactGeneration };
      }
      if (!m.archives.some((a) => a.id === entry.id)) throw new NotFoundError('HOARD_NO_SUCH_ARCHIVE', `Archive ${entry.name} was deleted or changed while recreate ran`);
      return { archives: m.archives.map((a) => (a.id === entry.id ? { id: sealed.id, name, time } : a)), compactGeneration: m.compactGeneration };
    });
    for (const ix of this.sink?.indexObjects ?? []) this.synced.indexObjects.add(ix);
    return { outcome: 'recreated', id: sealed.id, meta: next, recompressed };
  }
}
