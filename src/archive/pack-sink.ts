import { sealIndexObject, type Key, type PackOut, type PackToc, type Writer } from '../native.js';
import { indexName, putPack } from '../repository/objects.js';
import type { SpaceGuard } from '../repository/space.js';
import type { Storage } from '../storage/storage.js';
import { crashPoint } from '../testonly.js';

/** Packs stored between two index objects: an interrupted run's packs are found again. */
const PACKS_PER_INDEX = 8;
/**
 * Pack puts in flight: a put ends with an fsync that waits for the disk, so the next pack is
 * written while the last one is flushed. Each holds a pack until it is durable: its staging file
 * (renamed into place, then fsynced), or, where packs are built in memory, 8 MiB of native memory
 * (never a JavaScript buffer), freed at once.
 */
const PUTS = 2;

/**
 * Stores the packs a writer finishes as they come (through `Storage.putFrom`: the bytes go from
 * native memory to the backend's file), and after every few packs an index object listing them
 * (commit order: packs, then their index object). `done` settles once the writer is
 * closed and everything is stored. With a {@link SpaceGuard}, every pack and index object passes
 * the repository's space limits first. When the run fails (a pack or index object refused or not
 * written, or the writer aborted), the packs already stored are listed in one last index object,
 * as far as that can be written, so that the next backup finds them.
 */
export class PackSink {
  /** Index objects written (hex ids). */
  readonly indexObjects: string[] = [];
  /** Settles when the writer's last pack and the last index object are stored. */
  readonly done: Promise<void>;
  /**
   * What stopped the sink, set before the writer is aborted: files that fail after it failed
   * because of it, not on their own.
   */
  failure: unknown;
  /** Packs handed over since the last index object, with whether each is stored yet. */
  private pending: { toc: PackToc; stored: boolean }[] = [];
  private stored = 0;
  private waiting: { packs: number; resolve: () => void }[] = [];

  /**
   * `replacing`: seal replacing index objects (recreate's recompressed chunks: their places win
   * over other copies; docs/format.md section 10.8).
   */
  constructor(
    private readonly storage: Storage,
    private readonly key: Key,
    private readonly writer: Writer,
    private readonly onPack: (bytes: number) => void = () => {},
    private readonly space?: SpaceGuard,
    private readonly replacing = false,
  ) {
    const puts = new Set<Promise<void>>();
    this.done = this.run(puts).catch(async (e: unknown) => {
      this.failure ??= e;
      writer.abort(e instanceof Error ? e.message : String(e));
      await this.salvage(puts);
      throw e;
    });
    // The caller awaits `done`; until then a failure must not count as unhandled.
    this.done.catch(() => {});
  }

  private put(name: string, data: Buffer): Promise<void> {
    return this.space !== undefined ? this.space.put(name, data) : this.storage.put(name, data);
  }

  /** Stores a pack from its native bytes (never a JavaScript buffer), past the space guard if any. */
  private putPack(pack: PackOut): Promise<void> {
    return putPack(this.space ?? this.storage, pack);
  }

  private async run(puts: Set<Promise<void>>): Promise<void> {
    for (;;) {
      const pack = await this.writer.nextPack();
      if (pack === null) break;
      const size = pack.size;
      const entry = { toc: { id: pack.id, toc: pack.toc }, stored: false };
      const put = this.putPack(pack).then(() => {
        puts.delete(put);
        entry.stored = true;
        this.onPack(size);
        this.stored += 1;
        crashPoint(`after-pack:${this.stored}`);
        this.waiting = this.waiting.filter((w) => (w.packs <= this.stored ? (w.resolve(), false) : true));
      });
      put.catch(() => {});
      puts.add(put);
      this.pending.push(entry);
      if (this.pending.length >= PACKS_PER_INDEX) await this.writeIndex(puts);
      else if (puts.size >= PUTS) await Promise.race(puts);
    }
    await this.writeIndex(puts);
  }

  /**
   * Closes the writer's current pack and waits until every pack it finished so far is stored, so
   * that blobs the chunk index places there can be read back.
   */
  async settle(): Promise<void> {
    await this.writer.flush();
    const packs = this.writer.totals().packs;
    if (this.stored >= packs) return;
    await Promise.race([new Promise<void>((resolve) => this.waiting.push({ packs, resolve })), this.done]);
  }

  /** Writes an index object for the packs stored since the last one, once they are durable. */
  private async writeIndex(puts: Set<Promise<void>>): Promise<void> {
    await Promise.all(puts);
    if (this.pending.length === 0) return;
    const packs = this.pending.map((p) => p.toc);
    const obj = await this.writer.sealIndexObject(this.key, packs, this.replacing);
    const id = obj.id.toString('hex');
    crashPoint('before-index');
    await this.put(indexName(id), obj.data);
    this.pending = [];
    this.indexObjects.push(id);
  }

  /**
   * After a failure: lists the packs that were stored but not yet in an index object in one
   * index object, past the space limits (it is small, and the headroom is kept for such writes).
   * Best effort: if that fails too, the packs stay unlisted garbage that compact removes.
   */
  private async salvage(puts: Set<Promise<void>>): Promise<void> {
    await Promise.allSettled([...puts]);
    const packs = this.pending.filter((p) => p.stored).map((p) => p.toc);
    this.pending = [];
    if (packs.length === 0) return;
    try {
      const obj = await sealIndexObject(this.key, packs, this.replacing);
      await this.storage.put(indexName(obj.id.toString('hex')), obj.data);
    } catch {
      // The original failure is what the user needs to see.
    }
  }
}
