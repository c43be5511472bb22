import type { ChunkIndex } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';

/** The largest chunk plaintext a reader accepts (a chunk is at most 2^23 bytes). */
const MAX_CHUNK = 1 << 24;
/** Plaintext bytes of chunks read per native call. */
export const CONTENT_BATCH_BYTES = 32 << 20;

/**
 * Fetches and opens file chunks `ids` (32 bytes each) in one batch: the pack ranges are read
 * (close ones merged), then opened, checked and decompressed natively. The plaintexts come
 * back in order; JavaScript only hands them on.
 */
export function readChunks(repo: Repository, index: ChunkIndex, ids: Buffer): Promise<Buffer[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return readMetadata(repo.storage, repo.key, index, ObjectType.chunk, ids, MAX_CHUNK);
}

/**
 * A file's contents in pieces of about {@link CONTENT_BATCH_BYTES}, the next piece fetched
 * while the caller uses one.
 */
export async function* fileContents(repo: Repository, index: ChunkIndex, ids: Buffer, sizes: Uint32Array): AsyncGenerator<Buffer[]> {
  const pieces: Buffer[] = [];
  let start = 0;
  while (start < sizes.length) {
    let end = start;
    let bytes = 0;
    while (end < sizes.length && (end === start || bytes + (sizes[end] ?? 0) <= CONTENT_BATCH_BYTES)) {
      bytes += sizes[end] ?? 0;
      end += 1;
    }
    pieces.push(ids.subarray(start * 32, end * 32));
    start = end;
  }
  let next = pieces.length > 0 ? readChunks(repo, index, pieces[0] as Buffer) : undefined;
  for (let i = 0; i < pieces.length; i += 1) {
    const current = next as Promise<Buffer[]>;
    const following = pieces[i + 1];
    next = following === undefined ? undefined : readChunks(repo, index, following);
    next?.catch(() => {});
    yield await current;
  }
}

/** Chunks per batch of a {@link ContentStream}, at most. */
const STREAM_BATCH_CHUNKS = 2048;

/** What a {@link ContentStream} writes next: literal bytes, or `count` chunks by id. */
type Segment = { bytes: Buffer } | { ids: Buffer; count: number };

/**
 * Writes the contents of many files in order through `write`, with literal bytes between them if
 * asked (export-tar's headers): their chunks are queued and fetched in batches (one native read
 * per batch, across files), the next batch fetched while the one before is written. The
 * plaintext buffers are handed on as they are.
 */
export class ContentStream {
  private segments: Segment[] = [];
  private plain = 0;
  private chunks = 0;
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: Repository,
    private readonly index: ChunkIndex,
    private readonly write: (buffers: Buffer[]) => Promise<void>,
  ) {}

  /** Queues literal bytes, written after what is queued so far. */
  bytes(b: Buffer): void {
    if (b.length > 0) this.segments.push({ bytes: b });
  }

  /** Queues a file's chunks (`ids`, 32 bytes each, of plaintext `sizes`); sends batches as they fill. */
  async add(ids: Buffer, sizes: Uint32Array): Promise<void> {
    let start = 0;
    while (start < sizes.length) {
      let end = start;
      while (end < sizes.length && (end === start || (this.plain + (sizes[end] ?? 0) <= CONTENT_BATCH_BYTES && this.chunks < STREAM_BATCH_CHUNKS))) {
        this.plain += sizes[end] ?? 0;
        this.chunks += 1;
        end += 1;
      }
      this.segments.push({ ids: ids.subarray(start * 32, end * 32), count: end - start });
      start = end;
      if (this.plain >= CONTENT_BATCH_BYTES || this.chunks >= STREAM_BATCH_CHUNKS) await this.send();
    }
  }

  /** Sends what is queued; returns once the batch before it is written (or its write failed). */
  async send(): Promise<void> {
    const segments = this.segments;
    if (segments.length === 0) return;
    this.segments = [];
    this.plain = 0;
    this.chunks = 0;
    const ids = Buffer.concat(segments.flatMap((s) => ('ids' in s ? [s.ids] : [])));
    const fetched = ids.length === 0 ? Promise.resolve([]) : readChunks(this.repo, this.index, ids);
    fetched.catch(() => {});
    const before = this.written;
    this.written = before.then(async () => {
      const plain = await fetched;
      const out: Buffer[] = [];
      let k = 0;
      for (const s of segments) {
        if ('bytes' in s) out.push(s.bytes);
        else for (let n = 0; n < s.count; n += 1) out.push(plain[k++] as Buffer);
      }
      await this.write(out);
    });
    this.written.catch(() => {});
    await before;
  }

  /** Sends the rest and waits until everything is written. */
  async end(): Promise<void> {
    await this.send();
    await this.written;
  }
}
