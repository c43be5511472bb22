import { errorFor } from '../errors.js';
import { decodeName } from '../fs-names.js';
import { lstatPath, scanDirectories, scanEntries, type FsEntry, type ScanBatch, type ScanOptions } from '../native.js';

/** One directory entry with its metadata as the walk sees it (`errorCode` set when it could not be read). */
export type ScannedEntry = FsEntry;

/** Joins a directory path and an entry name, both raw bytes (one new buffer, called per entry). */
export function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  const slash = dir[dir.length - 1] === 0x2f ? 0 : 1;
  const out = Buffer.allocUnsafe(dir.length + slash + name.length);
  dir.copy(out, 0);
  if (slash === 1) out[dir.length] = 0x2f;
  name.copy(out, dir.length + slash);
  return out;
}

/** The metadata of one path (not following a final symlink); errors are reported in the entry. */
export async function statPath(p: Buffer, options: ScanOptions): Promise<ScannedEntry> {
  try {
    return await lstatPath(p, options);
  } catch (e) {
    const slash = p.lastIndexOf(0x2f);
    return {
      name: p.subarray(slash + 1),
      mode: 0,
      uid: 0,
      gid: 0,
      ino: 0n,
      dev: 0,
      nlink: 0,
      size: 0,
      rdev: 0,
      blocks: 0,
      mtimeNs: 0n,
      ctimeNs: 0n,
      errorCode: (e as { code?: string }).code ?? 'HOARD_IO',
      errorMessage: e instanceof Error ? e.message : String(e),
    };
  }
}

/** The most directories one `scanDirectories` call reads. */
export const BATCH_DIRS = 32;
/** A batch stops after the directory that brings its entries to this many. */
export const BATCH_ENTRIES = 512;
/**
 * Entries read ahead but not yet taken by the walk, past which no batch is started unless the
 * walk waits for a directory: what bounds the read-ahead's memory.
 */
export const AHEAD_ENTRIES = 2 * BATCH_ENTRIES;
/** The most directories a batch reads past {@link AHEAD_ENTRIES}: those the walk waits for, and the next in the queue. */
export const FULL_BATCH_DIRS = 16;

/** A directory as the walk takes it: its entries, and its subdirectories already being read. */
export interface ScannedDir {
  entries: ScannedEntry[];
  /** The subdirectory at each entry index that the walk will enter, being read ahead (see {@link DirReader}). */
  ahead: Map<number, AheadDir>;
}

/** A directory that a {@link DirScanner} reads ahead of the walk. */
export interface AheadDir {
  readonly path: Buffer;
  readonly apath: string;
  /** The directory's own device. */
  readonly dev: number;
  /** 0 waiting, 1 being read, 2 read. */
  state: 0 | 1 | 2;
  /** The walk waits for it: it is read whatever the read-ahead holds already. */
  wanted: boolean;
  /** The batch that read it, until the walk takes its entries (`from` to `to` there). */
  batch?: ScanBatch;
  from: number;
  to: number;
  /** Its subdirectories being read ahead, by entry index (none: undefined). */
  ahead?: Map<number, AheadDir>;
  /** Why it could not be read. */
  error?: Error;
  /** Wakes the walk waiting for it. */
  waiter?: () => void;
}

/**
 * What the walk decides for the subdirectories of a directory read ahead: `enters` whether the
 * walk will read the directory entry with `mode`, `dev`, `flags` (0 if none) and archive path
 * `apath` below a directory on device `parentDev`; `mayExclude` whether an entry may be a tag
 * file that excludes its directory (that directory's subdirectories are then read only when the
 * walk asks for them).
 */
export interface DirReader {
  enters(mode: number, dev: number, flags: number, apath: string, parentDev: number): boolean;
  mayExclude(name: Buffer, mode: number): boolean;
}

/**
 * Reads the directories of a walk ahead of it, several per native call: each directory read
 * queues the subdirectories the walk will enter (as {@link DirReader} decides), and a batch takes
 * the queued directories the walk reaches first (depth first, as the walk goes), up to
 * {@link BATCH_DIRS} directories or {@link BATCH_ENTRIES} entries. The walk still takes each
 * directory on its own, in its order: a directory that cannot be read fails alone, when the walk
 * takes it. Past {@link AHEAD_ENTRIES} entries waiting to be taken (packed), a batch starts only
 * when the walk waits, and reads what it waits for and the few directories next in the queue
 * ({@link FULL_BATCH_DIRS}).
 */
export class DirScanner {
  /** Directories to read, the next one last. */
  private readonly stack: AheadDir[] = [];
  private busy = false;
  /** Entries read and not yet taken by the walk. */
  private backlog = 0;
  /** Directories the walk waits for that are not being read yet. */
  private wanted = 0;
  /** Native calls made. */
  calls = 0;

  constructor(
    private readonly options: ScanOptions,
    private readonly reader: DirReader,
  ) {}

  /** Reads a directory the walk found no read-ahead for (a path given, or below a tagged directory). */
  scan(path: Buffer, apath: string, dev: number): Promise<ScannedDir> {
    return this.take(this.ahead(path, apath, dev));
  }

  /** The entries of `d` once read (the walk waits for them now); rejects if it could not be read. */
  async take(d: AheadDir): Promise<ScannedDir> {
    if (d.state === 0 && !d.wanted) {
      d.wanted = true;
      this.wanted += 1;
      // First in the next batch, wherever it was queued (its old place is skipped).
      this.stack.push(d);
    }
    this.pump();
    if (d.state !== 2) {
      await new Promise<void>((resolve) => {
        d.waiter = resolve;
      });
    }
    if (d.error !== undefined) throw d.error;
    const b = d.batch;
    const ahead = d.ahead ?? new Map<number, AheadDir>();
    if (b === undefined) return { entries: [], ahead };
    // Objects only now, so that what waits to be taken holds packed columns only.
    const entries = scanEntries(b.entries, d.from, d.to);
    this.backlog -= d.to - d.from;
    d.batch = undefined;
    d.ahead = undefined;
    this.pump();
    return { entries, ahead };
  }

  private ahead(path: Buffer, apath: string, dev: number): AheadDir {
    return { path, apath, dev, state: 0, wanted: false, from: 0, to: 0 };
  }

  /** Marks `d` read (or failed with `error`) and wakes the walk if it waits for it. */
  private settle(d: AheadDir, error?: Error): void {
    d.state = 2;
    if (error !== undefined) d.error = error;
    const w = d.waiter;
    d.waiter = undefined;
    w?.();
  }

  /** Starts a batch if none is running and the walk waits or the read-ahead has room. */
  private pump(): void {
    const full = this.backlog >= AHEAD_ENTRIES;
    if (this.busy || (full && this.wanted === 0)) return;
    const batch: AheadDir[] = [];
    const add = (d: AheadDir): void => {
      d.state = 1;
      if (d.wanted) this.wanted -= 1;
      batch.push(d);
    };
    if (full) {
      // What the walk waits for (its places in the queue are skipped later), with the few next
      // in the queue: as the walk goes, those come next, before what filled the read-ahead
      // (siblings of folders further up, which the walk reaches last).
      for (let i = this.stack.length - 1; i >= 0 && batch.length < BATCH_DIRS; i -= 1) {
        const d = this.stack[i] as AheadDir;
        if (d.state === 0 && d.wanted) add(d);
      }
    }
    const most = full ? FULL_BATCH_DIRS : BATCH_DIRS;
    while (batch.length < most && this.stack.length > 0) {
      const d = this.stack.pop() as AheadDir;
      if (d.state === 0) add(d);
    }
    if (batch.length === 0) return;
    this.busy = true;
    this.calls += 1;
    scanDirectories(
      batch.map((d) => d.path),
      this.options,
      BATCH_ENTRIES,
    ).then(
      (b) => this.finish(batch, b),
      (e: unknown) => {
        for (const d of batch) this.settle(d, e instanceof Error ? e : new Error(String(e)));
        this.busy = false;
        this.pump();
      },
    );
  }

  /** Settles the directories a batch read and queues their subdirectories; queues the rest again. */
  private finish(batch: AheadDir[], b: ScanBatch): void {
    const read = Math.min(b.dirs, batch.length);
    // Not read (the batch's entry budget ran out): back in the queue, the first on top.
    for (let i = batch.length - 1; i >= read; i -= 1) {
      const d = batch[i] as AheadDir;
      d.state = 0;
      if (d.wanted) this.wanted += 1;
      this.stack.push(d);
    }
    const errors = new Map(b.errors.map((e) => [e.index, e]));
    for (let i = read - 1; i >= 0; i -= 1) {
      const d = batch[i] as AheadDir;
      const err = errors.get(i);
      if (err !== undefined) {
        this.settle(d, errorFor(err.code, err.message));
        continue;
      }
      d.batch = b;
      d.from = i > 0 ? (b.dirEnds[i - 1] ?? 0) : 0;
      d.to = b.dirEnds[i] ?? d.from;
      this.backlog += d.to - d.from;
      this.queueSubdirectories(d, b);
      this.settle(d);
    }
    this.busy = false;
    this.pump();
  }

  /**
   * Queues the subdirectories of `d` (read in `b`) that the walk will enter, the first on top,
   * and keeps them by entry index for the walk.
   */
  private queueSubdirectories(d: AheadDir, b: ScanBatch): void {
    const { stats, names, nameEnds } = b.entries;
    const nameOf = (i: number): Buffer => names.subarray(i > 0 ? (nameEnds[i - 1] ?? 0) : 0, nameEnds[i] ?? 0);
    const dirs: number[] = [];
    for (let i = d.from; i < d.to; i += 1) {
      const mode = stats[10 * i] ?? 0;
      if (this.reader.mayExclude(nameOf(i), mode)) return;
      if ((mode & 0o170000) === 0o040000) dirs.push(i);
    }
    const subs: AheadDir[] = [];
    for (const i of dirs) {
      const name = nameOf(i);
      const dev = stats[10 * i + 3] ?? 0;
      // The walk's own archive paths (create.ts), so that patterns decide alike.
      const text = decodeName(name);
      const apath = d.apath === '' ? text : `${d.apath}/${text}`;
      if (!this.reader.enters(stats[10 * i] ?? 0, dev, stats[10 * i + 8] ?? 0, apath, d.dev)) continue;
      const sub = this.ahead(joinPath(d.path, name), apath, dev);
      d.ahead ??= new Map();
      d.ahead.set(i - d.from, sub);
      subs.push(sub);
    }
    for (let j = subs.length - 1; j >= 0; j -= 1) this.stack.push(subs[j] as AheadDir);
  }
}
