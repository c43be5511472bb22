import type { ChunkIndex, Key, Writer } from '../native.js';
import { fetchRanges, locate, type BlobPlace } from '../repository/objects.js';
import type { Storage } from '../storage/storage.js';

/** Stored bytes of chunks fetched and recompressed per native call. */
const BATCH_BYTES = 32 << 20;
/** Chunks per native call. */
const BATCH_CHUNKS = 4096;

/** What recompression did so far. */
export interface RecompressTotals {
  /** Chunks stored again under the new codec. */
  recompressed: number;
  /** Chunks left as they were (`if-different`, same codec). */
  kept: number;
  /** Stored bytes of the old copies of the recompressed chunks, and of their new copies. */
  oldStored: number;
  newStored: number;
}

interface Batch {
  ids: Buffer[];
  places: BlobPlace[];
  bytes: number;
  /** Settles when the batch is done. */
  done: Promise<void>;
  settle: (job: Promise<void>) => void;
}

function batch(): Batch {
  let settle: (job: Promise<void>) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (job) => job.then(resolve, reject);
  });
  // Awaited by the files of the batch; a failure must not count as unhandled before that.
  done.catch(() => {});
  return { ids: [], places: [], bytes: 0, done, settle };
}

/**
 * Recompresses the chunks of recreated files in batches (recreate `--recompress`): each batch
 * fetches the pack ranges of its chunks and hands them to `Writer.recompressChunks`, which stores
 * the new copies. Every chunk is handled once per run (`seen`: its place moves to a pack that may
 * not be stored yet, so it must not be fetched again, and `always` must not store it twice).
 * Batches run one after the other.
 */
export class RecompressBatcher {
  /** Totals of the batches done. */
  readonly totals: RecompressTotals = { recompressed: 0, kept: 0, oldStored: 0, newStored: 0 };
  private open: Batch = batch();
  private last: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closed = false;

  constructor(
    private readonly storage: Storage,
    private readonly key: Key,
    private readonly index: ChunkIndex,
    private readonly writer: Writer,
    private readonly always: boolean,
    /** Chunks (hex ids) handed over in this run, shared by the archives of one recreate. */
    private readonly seen = new Set<string>(),
  ) {}

  /** Whether chunk `id` was handed over already (its stored copy may be moving). */
  has(id: Buffer): boolean {
    return this.seen.has(id.toString('hex'));
  }

  /**
   * Queues the chunks `ids` (32 bytes each) of one file; resolves once every one of them is
   * recompressed or kept (including those an earlier file queued).
   */
  add(ids: Buffer): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    for (let i = 0; i < ids.length; i += 32) {
      const id = ids.subarray(i, i + 32);
      const hex = id.toString('hex');
      if (this.seen.has(hex)) continue;
      this.seen.add(hex);
      const [place] = locate(this.index, id);
      if (place === undefined) continue;
      this.open.ids.push(id);
      this.open.places.push(place);
      this.open.bytes += place.length;
      if (this.open.bytes >= BATCH_BYTES || this.open.ids.length >= BATCH_CHUNKS) this.send();
    }
    if (this.closed) this.send();
    // Batches finish in order: the newest one covers every chunk queued before it.
    return this.open.ids.length > 0 ? this.open.done : this.last;
  }

  /** Sends the open batch. */
  send(): void {
    const b = this.open;
    if (b.ids.length === 0) return;
    this.open = batch();
    const job = this.last.then(async () => {
      const ranges = await fetchRanges(this.storage, this.index, b.places);
      const t = await this.writer.recompressChunks(this.key, this.index, Buffer.concat(b.ids), ranges, this.always);
      this.totals.recompressed += t.recompressed;
      this.totals.kept += t.kept;
      this.totals.oldStored += t.oldStored;
      this.totals.newStored += t.newStored;
    });
    this.last = job.catch((e: unknown) => {
      this.failure ??= e;
      throw e;
    });
    this.last.catch(() => {});
    b.settle(this.last);
  }

  /** Sends what is queued; from now on every `add` is sent at once (the walk has ended). */
  close(): void {
    this.closed = true;
    this.send();
  }

  /** Sends what is queued and waits until every batch is done. */
  async drain(): Promise<void> {
    this.send();
    await this.last;
  }
}
