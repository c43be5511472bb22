import type { Key, PackToc, Writer } from '../native.js';
import { indexName, packName } from '../repository/objects.js';
import type { Storage } from '../storage/storage.js';
import { crashPoint } from '../testonly.js';

/** Packs stored between two index objects: an interrupted run's packs are found again. */
const PACKS_PER_INDEX = 8;

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

  constructor(
    private readonly storage: Storage,
    private readonly key: Key,
    private readonly writer: Writer,
    private readonly onPack: (bytes: number) => void = () => {},
  ) {
    this.done = this.run().catch((e: unknown) => {
      writer.abort(e instanceof Error ? e.message : String(e));
      throw e;
    });
    // The caller awaits `done`; until then a failure must not count as unhandled.
    this.done.catch(() => {});
  }

  private async run(): Promise<void> {
    for (;;) {
      const pack = await this.writer.nextPack();
      if (pack === null) break;
      await this.storage.put(packName(pack.id.toString('hex')), pack.data);
      this.onPack(pack.data.length);
      this.stored += 1;
      crashPoint(`after-pack:${this.stored}`);
      this.pending.push({ id: pack.id, toc: pack.toc });
      if (this.pending.length >= PACKS_PER_INDEX) await this.writeIndex();
    }
    await this.writeIndex();
  }

  /** Writes an index object for the packs stored since the last one. */
  private async writeIndex(): Promise<void> {
    if (this.pending.length === 0) return;
    const packs = this.pending;
    this.pending = [];
    const obj = await this.writer.sealIndexObject(this.key, packs);
    const id = obj.id.toString('hex');
    crashPoint('before-index');
    await this.storage.put(indexName(id), obj.data);
    this.indexObjects.push(id);
  }
}
