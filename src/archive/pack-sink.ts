import type { Key, PackToc, Writer } from '../native.js';
import { indexName, packName } from '../repository/objects.js';
import type { Storage } from '../storage/storage.js';
import { crashPoint } from '../testonly.js';

/** Packs stored between two index objects: an interrupted run's packs are found again. */
const PACKS_PER_INDEX = 8;
/**
 * Pack puts in flight: a put ends with an fsync that waits for the disk, so the next pack is
 * written while the last one is flushed. Each holds a pack in memory.
 */
const PUTS = 2;

/**
 * Stores the packs a writer finishes as they come, and after every few packs an index object
 * listing them (commit order: packs, then their index object). `done` settles once the writer is
 * closed and everything is stored.
 */
export class PackSink {
  /** Index objects written (hex ids). */
  readonly indexObjects: string[] = [];
  /** Settles when the writer's last pack and the last index object are stored. */
  readonly done: Promise<void>;
  private pending: PackToc[] = [];
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
    private readonly replacing = false,
  ) {
    this.done = this.run().catch((e: unknown) => {
      writer.abort(e instanceof Error ? e.message : String(e));
      throw e;
    });
    // The caller awaits `done`; until then a failure must not count as unhandled.
    this.done.catch(() => {});
  }

  private async run(): Promise<void> {
    const puts = new Set<Promise<void>>();
    for (;;) {
      const pack = await this.writer.nextPack();
      if (pack === null) break;
      const size = pack.data.length;
      const put = this.storage.put(packName(pack.id.toString('hex')), pack.data).then(() => {
        puts.delete(put);
        this.onPack(size);
        this.stored += 1;
        crashPoint(`after-pack:${this.stored}`);
        this.waiting = this.waiting.filter((w) => (w.packs <= this.stored ? (w.resolve(), false) : true));
      });
      put.catch(() => {});
      puts.add(put);
      this.pending.push({ id: pack.id, toc: pack.toc });
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
    const packs = this.pending;
    this.pending = [];
    const obj = await this.writer.sealIndexObject(this.key, packs, this.replacing);
    const id = obj.id.toString('hex');
    crashPoint('before-index');
    await this.storage.put(indexName(id), obj.data);
    this.indexObjects.push(id);
  }
}
