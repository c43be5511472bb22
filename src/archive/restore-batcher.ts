import { errorFor } from '../errors.js';
import { restorePieces, type ChunkIndex, type Key, type RestorePiece } from '../native.js';
import { fetchRanges, locate, type BlobPlace } from '../repository/objects.js';
import type { Storage } from '../storage/storage.js';

/** Stored bytes of chunks fetched and written per native call. */
const BATCH_BYTES = 64 << 20;
/** Pieces per native call. */
const BATCH_PIECES = 1024;

/** One file being restored: the first error any of its pieces met. */
interface FileState {
  error?: Error;
  done: (error: Error | undefined) => void;
}

interface Queued {
  piece: RestorePiece;
  places: BlobPlace[];
  file: FileState;
  last: boolean;
}

/**
 * Writes file contents from the repository in batches: each batch fetches the pack ranges its
 * chunks need (merging close ones) and hands them with the pieces to the native writer. A file
 * larger than a batch is written in pieces, each in a later batch than the one before.
 */
export class RestoreBatcher {
  private queue: Queued[] = [];
  private bytes = 0;

  constructor(
    private readonly storage: Storage,
    private readonly key: Key,
    private readonly index: ChunkIndex,
  ) {}

  /**
   * Queues the file at `path` with chunks `ids` of plaintext lengths `sizes` and `size` bytes in
   * all; `done` is called once it is whole, or with the error that stopped it.
   */
  async add(path: Buffer, ids: Buffer, sizes: Uint32Array, size: number, sparse: boolean, done: (error: Error | undefined) => void): Promise<void> {
    const places = locate(this.index, ids);
    const file: FileState = { done };
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
      // A later piece of a file must not be written before (or beside) the one before it.
      if (start > 0) await this.flush();
      const piece: RestorePiece = { path, ids: ids.subarray(start * 32, end * 32), offset, create: start === 0, sparse, ...(last ? { finalSize: size } : {}) };
      this.queue.push({ piece, places: places.slice(start, end), file, last });
      this.bytes += bytes;
      if (this.bytes >= BATCH_BYTES || this.queue.length >= BATCH_PIECES) await this.flush();
      offset += plain;
      start = end;
    } while (start < places.length);
  }

  /** Writes everything queued. */
  async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.bytes = 0;
    const ranges = await fetchRanges(this.storage, this.index, batch.flatMap((q) => q.places));
    const results = await restorePieces(this.key, this.index, batch.map((q) => q.piece), ranges);
    batch.forEach((q, i) => {
      const r = results[i];
      if (q.file.error === undefined && r?.errorCode !== undefined && r.errorCode !== null) {
        q.file.error = errorFor(r.errorCode, r.errorMessage ?? r.errorCode);
      }
      if (q.last) q.file.done(q.file.error);
    });
  }
}
