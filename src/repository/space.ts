/**
 * The repository's space limits (DESIGN.md section 2; docs/format.md section 10.13).
 *
 * Writes that grow the repository (a backup's packs, index objects, archive object and manifest
 * generation) go through a {@link SpaceGuard}. Before each, it checks that after the write
 * - the repository stays within `storageQuota` (if set): its size is measured once by listing
 *   its objects, then this writer's own writes are added; and
 * - the file system keeps `additionalFreeSpace` plus {@link headroomFor} free.
 * Either failing throws one clear error (exit code 2) before anything of that object is written.
 *
 * Writes that shrink the repository (the manifest generations of delete and prune, compact's
 * copies and index objects, lock objects, `config`) do not go through it: the headroom and the
 * reserve are there for them, so they work on a repository that a backup filled up.
 */
import { InsufficientSpaceError, StorageQuotaError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { formatSize } from '../units.js';
import type { RepositoryConfig } from './config.js';

/** What a growing write always leaves free besides the index objects' size: a manifest generation, lock objects. */
export const HEADROOM = 1 << 20;
/** The index objects' size assumed for {@link SpaceGuard.stagingReserve} until it is measured. */
const STAGING_INDEX_ROOM = 16 << 20;

/** The folders whose objects count towards the repository's size (locks do not). */
const COUNTED = ['index', 'archives', 'manifest', 'keys'];

/** The repository's size in bytes: `config`, keys, manifest generations, packs, index and archive objects. */
export async function repositorySize(storage: Storage): Promise<number> {
  let total = 0;
  const add = async (dir: string): Promise<void> => {
    for (const info of await storage.listInfo(dir)) total += info.size;
  };
  for (const d of await storage.list('packs')) await add(`packs/${d}`);
  for (const d of COUNTED) await add(d);
  for (const info of await storage.listInfo('')) if (info.name === 'config') total += info.size;
  return total;
}

/**
 * The free space a growing write must leave besides `additionalFreeSpace`: {@link HEADROOM} plus
 * the size of the index objects, which `compact` writes anew (listing the packs that stay) before
 * it deletes the old ones.
 */
export async function headroomFor(storage: Storage): Promise<number> {
  const index = await storage.listInfo('index');
  return HEADROOM + index.reduce((n, i) => n + i.size, 0);
}

/**
 * Admits the growing writes of one run: {@link SpaceGuard.put}, {@link SpaceGuard.putFrom} and
 * {@link SpaceGuard.write} check the limits, one write at a time, counting the writes still in
 * flight, then write.
 */
export class SpaceGuard {
  /** Bytes admitted whose writes have not finished. */
  private pending = 0;
  /** The repository's size (measured at the first write when a quota is set) plus what this run stored. */
  private used: number | undefined;
  private headroom: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly storage: Storage,
    private readonly config: Pick<RepositoryConfig, 'storageQuota' | 'additionalFreeSpace'>,
    /** The repository as messages name it. */
    private readonly location: string,
  ) {}

  /**
   * Bytes a writer that builds packs in staging files on the repository's file system must leave
   * free besides them (`WriterOptions.stagingReserve`): the headroom (with room for the index
   * objects while their size is not yet measured) and `additional_free_space`. Where less would
   * stay free, packs are built in memory and meet {@link SpaceGuard.putFrom} before any byte is
   * written.
   */
  get stagingReserve(): number {
    return (this.headroom ?? STAGING_INDEX_ROOM) + this.config.additionalFreeSpace;
  }

  /** Stores `data` as `name` (an atomic put) if the limits admit it. */
  put(name: string, data: Buffer): Promise<void> {
    return this.write(data.length, () => this.storage.put(name, data));
  }

  /**
   * Stores `size` bytes that `fill` writes to the backend's temporary file as `name` (see
   * {@link Storage.putFrom}) if the limits admit them: checked before `fill` runs.
   */
  putFrom(name: string, size: number, fill: (tempPath: string) => Promise<void>): Promise<void> {
    return this.write(size, () => this.storage.putFrom(name, size, fill));
  }

  /** Runs `store`, which writes about `bytes`, if the limits admit them; throws before it otherwise. */
  async write<T>(bytes: number, store: () => Promise<T>): Promise<T> {
    const admitted = this.queue.then(() => this.admit(bytes));
    this.queue = admitted.catch(() => undefined);
    await admitted;
    try {
      const out = await store();
      if (this.used !== undefined) this.used += bytes;
      return out;
    } finally {
      this.pending -= bytes;
    }
  }

  /** Checks the quota and the free space for `bytes` more; counts them as pending if they fit. */
  private async admit(bytes: number): Promise<void> {
    const { storageQuota, additionalFreeSpace } = this.config;
    if (storageQuota > 0) {
      this.used ??= await repositorySize(this.storage);
      const after = this.used + this.pending + bytes;
      if (after > storageQuota) {
        throw new StorageQuotaError(
          'HOARD_QUOTA_EXCEEDED',
          `The storage quota (${formatSize(storageQuota)}) of ${this.location} would be exceeded (${formatSize(after)}). Try deleting some archives and running compact.`,
        );
      }
    }
    const free = await this.storage.freeSpace();
    if (free !== undefined) {
      this.headroom ??= await headroomFor(this.storage);
      const required = this.pending + bytes + additionalFreeSpace + this.headroom;
      if (free < required) {
        const reserve = additionalFreeSpace > 0 ? `, additional_free_space ${formatSize(additionalFreeSpace)}` : '';
        throw new InsufficientSpaceError(
          'HOARD_NO_SPACE',
          `Insufficient free space on ${this.location} (required: ${formatSize(required)}, available: ${formatSize(free)}${reserve}); delete archives and run compact, or free space on its file system.`,
        );
      }
    }
    this.pending += bytes;
  }
}
