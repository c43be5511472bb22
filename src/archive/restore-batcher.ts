import { errorFor } from '../errors.js';
import { discardPages, restorePieces, type ChunkIndex, type FetchedRange, type FileAttrs, type Key, type MetadataWarning, type RestorePiece } from '../native.js';
import { fetchRanges, locate, type BlobPlace } from '../repository/objects.js';
import type { Storage } from '../storage/storage.js';

/**
 * Stored bytes of chunks fetched and written per native call (more only when one chunk is
 * larger). What extract holds of fetched data is two slabs of about this.
 */
const BATCH_BYTES = 4 << 20;
/**
 * Bytes of a new fetch buffer: a batch's ranges with room for the gaps merged between them. A
 * batch whose ranges take more (one large chunk, or wide gaps) gets a larger one, which is kept
 * in its place: so every fetch reads into a reused buffer, never into new ones that stay until V8
 * collects them.
 */
const SLAB_BYTES = BATCH_BYTES + (BATCH_BYTES >> 2);
/**
 * Ranges of a batch read together when they lie closer than this: the gaps are read for nothing
 * and take room in the slab.
 */
const BATCH_GAP = 64 << 10;
/**
 * The most bytes of gaps a batch reads (smallest gaps first): so its ranges and gaps fit a slab
 * of `SLAB_BYTES` unless its chunks alone take more. Without it, a batch of a thousand small
 * files scattered over a pack read up to 64 KiB around each, and the slabs grew to 20 MiB and
 * more (and stayed that size).
 */
const GAP_BUDGET = SLAB_BYTES - BATCH_BYTES;
/**
 * Bytes of address space each fetch buffer is made with. Only the pages a fetch writes take
 * memory (a buffer this large is its own mapping, untouched until read into), so a buffer this
 * size holds what the batches put in it and no more, and a batch of one large chunk (up to
 * 8 MiB with the default chunker) fits it too. Slabs made just as large as the batch needed had
 * to be made again, larger, for each larger chunk, and each one dropped stayed allocated until
 * V8's next full collection: 10 to 20 MB of an extract's peak.
 */
const SLAB_SPACE = 16 << 20;
/** Pieces per native call. */
const BATCH_PIECES = 1024;
/** Batches fetched or being written at once. */
const IN_FLIGHT = 2;

/** One file being restored: the first error any of its pieces met. */
interface FileState {
  error?: Error;
  done: (error: Error | undefined, warnings: MetadataWarning[]) => void;
}

interface Queued {
  piece: RestorePiece;
  places: BlobPlace[];
  file: FileState;
  last: boolean;
}

/**
 * Writes file contents from the repository in batches beneath `root`: each batch fetches the pack
 * ranges its chunks need (merging close ones) and hands them with the pieces to the native writer.
 * The next batch is fetched while one is written. A file larger than a batch is written in pieces,
 * each after the one before has been written. A file's metadata, given with it, is set by the
 * native writer once its last piece is written. Batches are written one after another.
 *
 * Other steps of an extract (making directories, links, special files) go in the same order
 * without the caller waiting for them: `beforeBatch` runs a step before the pieces of the batch
 * being gathered are written, `afterQueued` after the pieces queued so far. So the caller goes on
 * walking the archive (and the next batch is fetched) while the pool writes.
 */
export class RestoreBatcher {
  private queue: Queued[] = [];
  private bytes = 0;
  /** Settles when every batch sent so far is written. */
  private written: Promise<void> = Promise.resolve();
  private inFlight: Promise<void>[] = [];
  /**
   * Fetch buffers not in use. Each batch reads its ranges into one and gives it back once written,
   * so memory stays at a few slabs instead of growing with garbage until V8 collects it.
   */
  private slabs: Buffer[] = [];
  /**
   * Slabs a batch filled past `SLAB_BYTES` (a large chunk): their pages past that go back to the
   * system once the batch is written, so a slab does not keep the most any batch ever put in it.
   */
  private overfilled = new WeakSet<Buffer>();
  private failure: unknown;
  /** Steps to run before the pieces of the batch being gathered are written. */
  private before: (() => Promise<void>)[] = [];
  /** Steps to run after them, and the paths (latin1) those steps make. */
  private after: (() => Promise<void>)[] = [];
  private afterPaths = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly key: Key,
    private readonly index: ChunkIndex,
    private readonly root: Buffer,
  ) {}

  /**
   * Queues the file at `path` (relative to the root) with chunks `ids` of plaintext lengths
   * `sizes` and `size` bytes in all, and the metadata `attrs` to set once it is whole; `done` is
   * called then, with the metadata steps that failed, or with the error that stopped it.
   * `located`, if given, returns where the chunks lie (else they are looked up here).
   */
  async add(
    path: Buffer,
    ids: Buffer,
    sizes: Uint32Array,
    size: number,
    sparse: boolean,
    attrs: FileAttrs,
    done: (error: Error | undefined, warnings: MetadataWarning[]) => void,
    located?: () => BlobPlace[],
  ): Promise<void> {
    // A step queued to run after this batch makes something at the same path (possible with
    // --strip-components): what comes later in the archive must win, so that batch goes first.
    if (this.afterPaths.size > 0 && this.afterPaths.has(path.toString('latin1'))) await this.send();
    const places = located !== undefined ? located() : locate(this.index, ids);
    const file: FileState = { done };
    // The chunks' sizes, where the item lists one per chunk, let the native side write a piece's
    // chunks in parallel.
    const sized = sizes.length * 32 === ids.length;
    let start = 0;
    let offset = 0;
    do {
      let end = start;
      let bytes = 0;
      let plain = 0;
      while (end < places.length && (end === start || bytes + (places[end]?.length ?? 0) <= BATCH_BYTES)) {
        bytes += places[end]?.length ?? 0;
        plain += sizes[end] ?? 0;
        end += 1;
      }
      const last = end >= places.length;
      // A later piece of a file must not be written beside the one before it: it goes in the
      // next batch, which is written after this one (batches are written one after another), so
      // the next piece is fetched while this one is written. A batch stays within BATCH_BYTES
      // unless one piece alone is larger.
      if (this.queue.length > 0 && (start > 0 || this.bytes + bytes > BATCH_BYTES)) await this.send();
      const pieceSizes = sized && end - start > 1 ? Buffer.from(sizes.buffer, sizes.byteOffset + start * 4, (end - start) * 4) : undefined;
      const piece: RestorePiece = { path, ids: ids.subarray(start * 32, end * 32), offset, create: start === 0, sparse, ...(pieceSizes !== undefined ? { sizes: pieceSizes } : {}), ...(last ? { finalSize: size, attrs } : {}) };
      this.queue.push({ piece, places: places.slice(start, end), file, last });
      this.bytes += bytes;
      if (this.bytes >= BATCH_BYTES || this.queue.length >= BATCH_PIECES) await this.send();
      offset += plain;
      start = end;
    } while (start < places.length);
  }

  /**
   * Runs `step` (which reports its own problems) before the pieces of the batch being gathered
   * are written, after every batch before it.
   */
  beforeBatch(step: () => Promise<void>): void {
    this.before.push(step);
  }

  /**
   * Runs `step` (which reports its own problems and makes something at `path`) once the pieces
   * queued so far are written.
   */
  async afterQueued(path: Buffer, step: () => Promise<void>): Promise<void> {
    this.after.push(step);
    this.afterPaths.add(path.toString('latin1'));
    if (this.after.length >= BATCH_PIECES) await this.send();
  }

  /** Sends what is queued as a batch; waits while too many batches are in flight. */
  async send(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.queue.length === 0 && this.before.length === 0 && this.after.length === 0) return;
    const batch = this.queue;
    const before = this.before;
    const after = this.after;
    this.queue = [];
    this.before = [];
    this.after = [];
    this.afterPaths = new Set();
    this.bytes = 0;
    // The fetch buffer, taken (in `fetchRanges`, before it first waits) once the ranges are known.
    const used: Buffer[] = [];
    const fetched: Promise<FetchedRange[]> =
      batch.length === 0
        ? Promise.resolve([])
        : fetchRanges(this.storage, this.index, batch.flatMap((q) => q.places), (bytes) => this.slab(bytes, used), BATCH_GAP, GAP_BUDGET);
    fetched.catch(() => {});
    const job = this.written.then(async () => {
      for (const step of before) await step();
      if (batch.length > 0) await this.write(batch, used, await fetched);
      for (const step of after) await step();
    });
    this.written = job.catch((e: unknown) => {
      this.failure ??= e;
    });
    this.inFlight.push(job);
    job.catch(() => {});
    while (this.inFlight.length >= IN_FLIGHT) await this.inFlight.shift();
  }

  /**
   * A spare fetch buffer of at least `bytes`, noted in `used` (a smaller spare is dropped for a
   * larger one).
   */
  private slab(bytes: number, used: Buffer[]): Buffer {
    const spare = this.slabs.pop();
    const slab = spare !== undefined && spare.length >= bytes ? spare : Buffer.allocUnsafeSlow(Math.max(bytes, SLAB_SPACE));
    if (bytes > SLAB_BYTES) this.overfilled.add(slab);
    used.push(slab);
    return slab;
  }

  /** Writes the pieces of `batch` from `fetched` (read into the buffers `used`, which go back to the spares). */
  private async write(batch: Queued[], used: Buffer[], fetched: FetchedRange[]): Promise<void> {
    const results = await restorePieces(this.key, this.index, this.root, batch.map((q) => q.piece), fetched).finally(() => {
      for (const slab of used) {
        if (this.overfilled.delete(slab)) discardPages(slab, SLAB_BYTES);
      }
      this.slabs.push(...used);
    });
    batch.forEach((q, i) => {
      const r = results[i];
      if (q.file.error === undefined && r?.errorCode !== undefined && r.errorCode !== null) {
        q.file.error = errorFor(r.errorCode, r.errorMessage ?? r.errorCode);
      }
      if (q.last) q.file.done(q.file.error, r?.warnings ?? []);
    });
  }

  /** Sends what is queued and waits until everything sent is written. */
  async drain(): Promise<void> {
    await this.send();
    await this.written;
    this.inFlight = [];
    if (this.failure !== undefined) throw this.failure;
  }
}
