import type { ChunkIndex } from '../native.js';
import { ObjectType } from '../repository/object-types.js';
import { readMetadata } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import { CACHEDIR_SIGNATURE } from './create.js';
import type { Item } from './item.js';
import type { PackSink } from './pack-sink.js';
import type { RecompressBatcher } from './recompress-batcher.js';
import { decodeName } from '../fs-names.js';

/** The most a chunk decompresses to. */
const MAX_CHUNK = 64 << 20;

/**
 * recreate's `--exclude-caches` and `--exclude-if-present` over an archive: a directory is tagged
 * when one of its items has an `--exclude-if-present` name, or is a regular file `CACHEDIR.TAG`
 * whose contents start with the cache directory signature (read from the repository, once per
 * distinct first chunk).
 */
export class TagFinder {
  private readonly signatures = new Map<string, boolean>();

  constructor(
    private readonly repo: Repository,
    private readonly index: ChunkIndex,
    private readonly opts: { excludeCaches: boolean; excludeIfPresent: string[] },
    private readonly batcher: RecompressBatcher | undefined,
    private readonly sink: PackSink | undefined,
  ) {}

  /** The tag items among a directory's `items`, or undefined when it is not tagged. */
  async tagsIn(items: Item[]): Promise<Item[] | undefined> {
    if (!this.opts.excludeCaches && this.opts.excludeIfPresent.length === 0) return undefined;
    const tags: Item[] = [];
    for (const item of items) {
      const name = decodeName(item.name);
      if (this.opts.excludeIfPresent.includes(name)) tags.push(item);
      else if (this.opts.excludeCaches && name === 'CACHEDIR.TAG' && item.type === '-' && (await this.signed(item))) tags.push(item);
    }
    return tags.length > 0 ? tags : undefined;
  }

  /** Whether a file's contents start with the CACHEDIR.TAG signature. */
  private async signed(item: Item): Promise<boolean> {
    const first = item.chunks?.subarray(0, 32);
    if (first === undefined || first.length < 32 || item.size < CACHEDIR_SIGNATURE.length) return false;
    const hex = first.toString('hex');
    const known = this.signatures.get(hex);
    if (known !== undefined) return known;
    // A chunk already recompressed in this run lies in a new pack: store that pack first.
    if (this.batcher?.has(first)) {
      await this.batcher.drain();
      await this.sink?.settle();
    }
    const [plain] = await readMetadata(this.repo.storage, this.repo.key, this.index, ObjectType.chunk, first, MAX_CHUNK);
    const signed = plain !== undefined && plain.subarray(0, CACHEDIR_SIGNATURE.length).toString('latin1') === CACHEDIR_SIGNATURE;
    this.signatures.set(hex, signed);
    return signed;
  }
}
