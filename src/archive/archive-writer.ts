/**
 * What every command that makes an archive shares (create, import-tar): the native writer and
 * its pack sink, storing trees, counting an archive's totals, and committing the archive object
 * and the manifest in order.
 */
import { statSync } from 'node:fs';
import * as os from 'node:os';

import { ExistsError, InvalidArgumentError, LockTimeoutError } from '../errors.js';
import { newWriter, type FilesCache, type StoredFile, type Writer } from '../native.js';
import type { SyncedIndex } from '../repository/chunk-cache.js';
import { archiveName } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { crashPoint, testPackSize } from '../testonly.js';
import { sealArchive, type ArchiveMeta, type ArchiveStats } from './archive-object.js';
import type { Item } from './item.js';
import { PackSink } from './pack-sink.js';
import { TreeBatch } from './tree-store.js';
import { encodeName, osPath } from '../fs-names.js';

/** How an archive's data is cut and compressed. */
export interface ArchiveWriterOptions {
  compression: string;
  chunkerParams: string;
  /** Called after each pack is stored, with its size. */
  onPack?: (bytes: number) => void;
}

/** Microsecond ISO time as borg prints it, in UTC, without zone. */
export function isoMicro(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000`;
}

/**
 * borg's `--timestamp`: the modification time of the file or folder it names, else an ISO 8601
 * date and time (UTC unless it names a zone), or borg's year and day of the year (`2024-366`).
 */
export function parseTimestamp(text: string): Date {
  const st = statSync(encodeName(text), { throwIfNoEntry: false });
  if (st !== undefined) return st.mtime;
  const ordinal = /^(\d{4})-(\d{3})$/.exec(text);
  if (ordinal) {
    const year = Number(ordinal[1]);
    const day = Number(ordinal[2]);
    const d = new Date(Date.UTC(year, 0, day));
    if (day < 1 || d.getUTCFullYear() !== year) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--timestamp ${text}: ${year} has no day ${day}`);
    return d;
  }
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--timestamp ${text} is not a date (use yyyy-mm-ddThh:mm:ss)`);
  // Python's datetime, which borg parses with, has years 1 to 9999; archives sort by the year's text.
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--timestamp ${text}: the year must be from 1 to 9999, as borg's`);
  return d;
}

/** Refuses an archive name the repository has already (borg's message). */
export function checkNewArchiveName(repo: Repository, name: string): void {
  if (repo.manifest.archives.some((a) => a.name === name)) throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${name} already exists`);
}

/** The native writer of one new archive, its pack sink and its totals. */
export class ArchiveWriter {
  /** The native pipeline: store files and objects through it. */
  readonly writer: Writer;
  /** The archive's totals so far. */
  readonly stats: ArchiveStats = { nfiles: 0, original: 0, compressed: 0, deduplicated: 0, chunks: 0 };
  private readonly sink: PackSink;
  /** The trees, stored in batches. */
  private readonly trees: TreeBatch;
  /** The compact generation the run started under: it must not move before the commit. */
  private readonly generation: number;

  constructor(
    private readonly repo: Repository,
    private readonly synced: SyncedIndex,
    opts: ArchiveWriterOptions,
    filesCache?: FilesCache,
  ) {
    const packSize = testPackSize(repo.env);
    const staging = repo.storage.stagingFolder?.('packs');
    this.generation = repo.manifest.compactGeneration;
    this.writer = newWriter(
      repo.key,
      synced.index,
      {
        compression: opts.compression,
        chunkerParams: opts.chunkerParams,
        ...(packSize !== undefined ? { packSize } : {}),
        // Packs are built in files beside their objects where the backend has such a place.
        ...(staging !== undefined ? { staging: osPath(staging), stagingReserve: repo.space.stagingReserve } : {}),
      },
      filesCache,
    );
    this.sink = new PackSink(repo.storage, repo.key, this.writer, opts.onPack, repo.space);
    this.trees = new TreeBatch(this.writer, repo.key, synced.index);
  }

  /**
   * Stores a tree for `items` (split into pieces under a head when large) and returns its id at
   * once: the tree is stored with a batch of others ({@link TreeBatch}), by {@link finish} at the
   * latest.
   */
  storeTree(items: Item[]): Buffer | undefined {
    const tree = this.trees.store(items);
    this.stats.chunks += tree.parts;
    return tree.id;
  }

  /** Puts a stored file's contents into its item and counts them. */
  addFile(item: Item, r: StoredFile): void {
    item.size = r.size;
    item.chunks = r.ids;
    item.chunkSizes = r.sizes;
    item.csize = r.stored;
    this.stats.nfiles += 1;
    this.stats.original += r.size;
    this.stats.compressed += r.stored;
    this.stats.chunks += r.sizes.length;
  }

  /** Stores the last pack and waits until every pack and index object is stored. */
  async finish(): Promise<void> {
    try {
      await this.trees.done();
      await this.writer.flush();
      this.writer.close();
      await this.sink.done;
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.stats.treesOriginal = this.trees.totals.original;
    this.stats.treesCompressed = this.trees.totals.stored;
    this.stats.deduplicated = this.deduplicated;
  }

  /**
   * The stored bytes of the file chunks this run added so far: as borg 1.4 counts "This
   * archive", the trees (the archive's metadata) are left out.
   */
  get deduplicated(): number {
    return this.writer.totals().stored - this.trees.totals.added;
  }

  /** What stopped the pack sink (a pack or index object that could not be stored), if anything. */
  get failure(): unknown {
    return this.sink.failure;
  }

  /** Stops the writer after a failure; what was stored stays as garbage for compact. */
  abort(e: unknown): void {
    this.writer.abort(e instanceof Error ? e.message : String(e));
    this.sink.done.catch(() => {});
  }

  /** Waits for the sink to settle after {@link abort}. */
  async aborted(): Promise<void> {
    await this.sink.done.catch(() => {});
  }

  /**
   * Commits the archive: its object, then a manifest generation naming it (which fails if the
   * name was taken or the repository compacted meanwhile). Call after {@link finish}.
   */
  async commit(meta: ArchiveMeta, beforeCommit?: () => Promise<void>): Promise<string> {
    const { repo } = this;
    await beforeCommit?.();
    const sealed = await sealArchive(repo.key, repo.key.newSession(), meta);
    crashPoint('before-archive');
    await repo.space.put(archiveName(sealed.id), sealed.data);
    crashPoint('before-manifest');
    await repo.commit((m) => {
      if (m.archives.some((a) => a.name === meta.name)) {
        throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${meta.name} already exists`);
      }
      if (m.compactGeneration !== this.generation) {
        throw new LockTimeoutError('HOARD_COMPACTED', 'the repository was compacted while the backup ran; nothing was committed (run create again)');
      }
      return { archives: [...m.archives, { id: sealed.id, name: meta.name, time: meta.time }], compactGeneration: m.compactGeneration };
    }, { grows: true });
    for (const ix of this.sink.indexObjects) this.synced.indexObjects.add(ix);
    return sealed.id;
  }
}

/**
 * The archive object's fields for a run: host, user, times, and what made it. With `timestamp`
 * (`--timestamp`), as borg: the archive's time and start are it, and its end as much later as the
 * run took.
 */
export function archiveMeta(a: {
  name: string;
  root: Buffer | undefined;
  items: number;
  start: Date;
  end: Date;
  timestamp?: Date;
  commandLine: string[];
  comment: string;
  chunkerParams: string;
  compression: string;
  stats: ArchiveStats;
}): ArchiveMeta {
  const shift = a.timestamp === undefined ? 0 : a.timestamp.getTime() - a.start.getTime();
  return {
    version: 1,
    name: a.name,
    ...(a.root !== undefined ? { root: a.root.toString('hex') } : {}),
    items: a.items,
    hostname: os.hostname(),
    username: os.userInfo().username,
    start: isoMicro(new Date(a.start.getTime() + shift)),
    end: isoMicro(new Date(a.end.getTime() + shift)),
    time: (a.timestamp ?? a.start).toISOString(),
    commandLine: a.commandLine,
    comment: a.comment,
    chunkerParams: a.chunkerParams,
    compression: a.compression,
    stats: { ...a.stats },
  };
}
