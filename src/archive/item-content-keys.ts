/**
 * The `list REPO::ARCHIVE --format` keys that need more than the item: checksums of the content
 * (`{sha256}`, `{xxh64}`, ...) and the unique-chunk keys (`{dsize}`, `{dcsize}`, `{unique_chunks}`),
 * computed as borg 1.4 computes them.
 */
import { createHash } from 'node:crypto';

import { newXxh64, type ChunkIndex } from '../native.js';
import type { Repository } from '../repository/repository.js';
import { loadArchive } from './archives.js';
import { fileContents } from './chunk-contents.js';
import { HASH_KEYS, ITEM_KEYS_NEEDING_CACHE, type FormatValue } from './format.js';
import type { Item } from './item.js';
import { walkTree } from './tree-reader.js';

/** node's names of borg's (Python hashlib's) checksum names; xxh64 is hoard-core's (`newXxh64`). */
const NODE_HASH: Readonly<Record<string, string>> = {
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
  sha3_224: 'sha3-224',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
  sha3_512: 'sha3-512',
};

/** A chunk id as a map key (its 32 bytes as latin1 text). */
function idKey(ids: Buffer, i: number): string {
  return ids.toString('latin1', i * 32, i * 32 + 32);
}

/**
 * How often each file chunk is referenced over every archive of the repository (borg's chunk
 * refcount: once per occurrence in an item, per archive). Walks every archive: slow on large
 * repositories, so only the unique-chunk keys ask for it.
 */
export async function chunkReferenceCounts(repo: Repository, index: ChunkIndex): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const a of repo.manifest.archives) {
    const meta = await loadArchive(repo, a);
    await walkTree(repo, index, meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'), ({ item }) => {
      const ids = item.chunks;
      if (ids === undefined) return;
      for (let i = 0; i < ids.length / 32; i += 1) {
        const k = idKey(ids, i);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    });
  }
  return counts;
}

/** What {@link contentValues} needs: the keys the format uses, and the reference counts when a unique-chunk key is among them. */
export interface ContentKeyContext {
  repo: Repository;
  index: ChunkIndex;
  keys: ReadonlySet<string>;
  refcounts: Map<string, number> | undefined;
}

/** Whether a format with `keys` needs {@link chunkReferenceCounts}. */
export function needsReferenceCounts(keys: ReadonlySet<string>): boolean {
  return [...ITEM_KEYS_NEEDING_CACHE].some((k) => keys.has(k));
}

/**
 * The checksum and unique-chunk values of `item` for the keys `ctx` names. As borg: an item
 * without content (a directory, a link) has empty checksums; a chunk is unique to the item when
 * the repository references it as often as the item does.
 */
export async function contentValues(item: Item, ctx: ContentKeyContext): Promise<Record<string, FormatValue>> {
  const out: Record<string, FormatValue> = {};
  const ids = item.chunks ?? (item.type === '-' ? Buffer.alloc(0) : undefined);
  const hashes = HASH_KEYS.filter((k) => ctx.keys.has(k));
  if (hashes.length > 0) {
    if (ids === undefined) for (const k of hashes) out[k] = '';
    else {
      const hashers = hashes.map((k) => (k === 'xxh64' ? newXxh64() : createHash(NODE_HASH[k] ?? k)));
      const sizes = item.chunkSizes ?? new Uint32Array(0);
      for await (const pieces of fileContents(ctx.repo, ctx.index, ids, sizes)) {
        for (const piece of pieces) for (const h of hashers) h.update(piece);
      }
      hashes.forEach((k, i) => {
        const h = hashers[i];
        out[k] = h === undefined ? '' : 'hexDigest' in h ? h.hexDigest() : h.digest('hex');
      });
    }
  }
  if (ctx.refcounts !== undefined) {
    const chunks = ids ?? Buffer.alloc(0);
    const n = chunks.length / 32;
    const inItem = new Map<string, number>();
    for (let i = 0; i < n; i += 1) inItem.set(idKey(chunks, i), (inItem.get(idKey(chunks, i)) ?? 0) + 1);
    const stored = n > 0 ? ctx.index.locate(chunks).lengths : new Uint32Array(0);
    let dsize = 0;
    let dcsize = 0;
    let unique = 0;
    for (let i = 0; i < n; i += 1) {
      const k = idKey(chunks, i);
      if (ctx.refcounts.get(k) !== inItem.get(k)) continue;
      dsize += item.chunkSizes?.[i] ?? 0;
      dcsize += stored[i] ?? 0;
      unique += 1;
    }
    Object.assign(out, { dsize, dcsize, unique_chunks: unique });
  }
  return out;
}
