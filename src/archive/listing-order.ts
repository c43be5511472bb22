/** A line of `--list` whose status is not known yet: a file being stored, or a directory being walked. */
export interface ListingSlot {
  status: string | undefined;
  readonly path: string;
}

/**
 * The `--list` lines of a walk, given out in walk order although files are stored in parallel:
 * a file's line waits for its contents to be stored, and (as borg) a directory's line comes after
 * everything below it. A line is given out as soon as every line before it is known.
 */
export class ListingOrder {
  private readonly queue: ListingSlot[] = [];
  private head = 0;

  /** `emit` gets each line, once, in walk order. */
  constructor(private readonly emit: (status: string, path: string) => void) {}

  /** A line known now: given out at once, or after the lines still pending before it. */
  now(status: string, path: string): void {
    if (this.head === this.queue.length) this.emit(status, path);
    else this.queue.push({ status, path });
  }

  /** Keeps the place of a line whose status {@link fill} gives later. */
  reserve(path: string): ListingSlot {
    const slot: ListingSlot = { status: undefined, path };
    this.queue.push(slot);
    return slot;
  }

  /** Gives a reserved line its status, and gives out every line now known in order. */
  fill(slot: ListingSlot, status: string): void {
    slot.status = status;
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as ListingSlot;
      if (next.status === undefined) break;
      this.head += 1;
      this.emit(next.status, next.path);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
