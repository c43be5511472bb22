import { storedFiles, type ScanOptions, type StoredFile, type Writer } from '../native.js';

/** borg's `create --files-changed`: which time, moved while a file was read, marks it `C`. */
export type FilesChanged = (typeof FILES_CHANGED)[number];

/** The values of `--files-changed`. */
export const FILES_CHANGED = ['ctime', 'mtime', 'disabled'] as const;

/** A file's stat as the walk saw it, for the files cache. */
export interface FileStat {
  ino: bigint;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * The stats of a batch as `Writer.storeFiles` takes them: per file inode, size, mtime ns and
 * ctime ns, 64-bit little endian each, in one buffer (not one per file).
 */
function packStats(stats: FileStat[]): Buffer {
  const b = Buffer.allocUnsafe(32 * stats.length);
  // A DataView stores a bigint modulo 2^64 and a size in two halves without making new bigints
  // (Buffer.writeBigUInt64LE made several per call: 24 MB of garbage on /usr/lib).
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < stats.length; i += 1) {
    const s = stats[i] as FileStat;
    const at = 32 * i;
    v.setBigUint64(at, s.ino, true);
    v.setUint32(at + 8, s.size % 0x1_0000_0000, true);
    v.setUint32(at + 12, Math.floor(s.size / 0x1_0000_0000), true);
    v.setBigUint64(at + 16, s.mtimeNs, true);
    v.setBigUint64(at + 24, s.ctimeNs, true);
  }
  return b;
}

/** Files per native call. */
const BATCH_FILES = 256;
/** Bytes of file data per native call. */
const BATCH_BYTES = 64 << 20;
/** Native calls in flight, so the pool has the next batch while JavaScript handles one. */
const IN_FLIGHT = 2;
/**
 * Files queued or in flight before `room` makes the walk wait (until half of them are done). Four
 * batches of small files: the walk reads directories on a thread of its own, so it refills the
 * queue long before the pool has stored what is in flight, and a longer queue only holds more
 * items in V8's heap (8192 cost 15 to 45 MB more peak RSS and more GC time).
 */
const WINDOW = 1024;

interface Pending {
  path: Buffer;
  /** For the files cache; its size also counts toward the batch's bytes. */
  stat: FileStat;
  /** Whether the worker reads the file's flags, xattrs and ACLs (the scan deferred them). */
  meta: boolean;
  resolve: (r: StoredFile) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers files from the walk into batches for `Writer.storeFiles`, so the boundary is crossed
 * per batch, not per file, and many small files from many directories share one call.
 */
export class FileBatcher {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private running = 0;
  private outstanding = 0;
  private waiters: (() => void)[] = [];

  /**
   * `meta`: what to read of the files whose scan deferred their flags, xattrs and ACLs (see
   * {@link add}). `filesChanged`: see {@link FilesChanged}.
   */
  constructor(
    private readonly writer: Writer,
    private readonly meta?: ScanOptions,
    private readonly filesChanged: FilesChanged = 'ctime',
  ) {}

  /**
   * Queues a file with its stat; resolves with what storing it produced. With `meta` (a file the
   * scan marked `deferred`), the worker also reads its flags, xattrs and ACLs, as the batcher's
   * options ask, through the descriptor it reads the file with.
   */
  add(path: Buffer, stat: FileStat, meta = false): Promise<StoredFile> {
    this.outstanding += 1;
    const p = new Promise<StoredFile>((resolve, reject) => {
      this.queue.push({ path, stat, meta, resolve, reject });
    });
    this.queuedBytes += stat.size;
    if (this.queue.length >= BATCH_FILES || this.queuedBytes >= BATCH_BYTES) this.pump();
    return p;
  }

  /** Waits while too many files are queued (bounded memory), sending what is queued. */
  async room(): Promise<void> {
    if (this.outstanding < WINDOW) return;
    this.flush();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Sends every queued file, whatever the batch size. */
  flush(): void {
    while (this.queue.length > 0 && this.running < IN_FLIGHT) this.send();
  }

  private pump(): void {
    while (this.running < IN_FLIGHT && (this.queue.length >= BATCH_FILES || this.queuedBytes >= BATCH_BYTES)) this.send();
  }

  private send(): void {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < BATCH_FILES && (batch.length === 0 || bytes < BATCH_BYTES)) {
      const p = this.queue.shift();
      if (p === undefined) break;
      batch.push(p);
      bytes += p.stat.size;
    }
    this.queuedBytes -= bytes;
    this.running += 1;
    const metaFor = this.meta !== undefined && batch.some((p) => p.meta) ? Buffer.from(batch.map((p) => (p.meta ? 1 : 0))) : undefined;
    this.writer.storeFiles(batch.map((p) => p.path), packStats(batch.map((p) => p.stat)), metaFor && this.meta, metaFor, this.filesChanged).then(
      (packed) => {
        const results = storedFiles(packed);
        batch.forEach((p, i) => {
          const r = results[i];
          if (r === undefined) p.reject(new Error('missing result'));
          else p.resolve(r);
        });
        this.done(batch.length);
      },
      (e: unknown) => {
        for (const p of batch) p.reject(e);
        this.done(batch.length);
      },
    );
  }

  private done(n: number): void {
    this.running -= 1;
    this.outstanding -= n;
    // Keep the pool busy: send what is queued, full batch or not, whenever a call returns.
    this.flush();
    if (this.outstanding < WINDOW / 2) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }
}
