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
