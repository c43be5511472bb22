/**
 * A `--list` line (with the warnings printed just before it): known at once, or, for a file being
 * stored and a directory being walked, once {@link ListingOrder.fill} gives its status.
 */
export interface ListingSlot {
  /** The status letter; undefined while pending, and for warnings with no line of their own. */
  status: string | undefined;
  readonly path: string;
  warnings: readonly string[] | undefined;
  /** Known: ready to be given out (a pending slot is not). */
  known: boolean;
  /** Given out of order (see {@link ListingOrder.flush}): its line goes out as soon as it is known. */
  loose: boolean;
}

/** Gives out one line: its warnings, then `STATUS PATH` when it has a status. */
export type ListingEmit = (status: string | undefined, path: string, warnings: readonly string[] | undefined) => void;

/**
 * Lines waiting for one before them, at most; past it, the known ones are given out at once, out
 * of order (a file that takes minutes to store, with a million entries walked behind it).
 */
const MOST_WAITING = 65_536;

/**
 * The `--list` lines of a walk, given out in walk order although files are stored in parallel:
 * a file's line waits for its contents to be stored, and (as borg) a directory's line comes after
 * everything below it. A line goes out as soon as every line before it is known. Unordered (no
 * `--list`), every line goes out as soon as it is known, and nothing waits.
 */
export class ListingOrder {
  private readonly queue: ListingSlot[] = [];
  private head = 0;
  private closed = false;

  /** `emit` gets each line once; `ordered`: in walk order, else as each becomes known. */
  constructor(
    private readonly emit: ListingEmit,
    private readonly ordered: boolean,
  ) {}

  /** A line known now: given out at once, or after the lines still pending before it. */
  now(status: string | undefined, path: string, warnings?: readonly string[]): void {
    if (this.closed) return;
    if (this.head === this.queue.length) this.emit(status, path, warnings);
    else this.push({ status, path, warnings, known: true, loose: false });
  }

  /** Keeps the place of a line whose status {@link fill} gives later. */
  reserve(path: string): ListingSlot {
    const slot: ListingSlot = { status: undefined, path, warnings: undefined, known: false, loose: !this.ordered };
    if (this.ordered) this.push(slot);
    return slot;
  }

  /** Gives a reserved line its status (and warnings), and gives out every line now known in order. */
  fill(slot: ListingSlot, status: string, warnings?: readonly string[]): void {
    slot.status = status;
    slot.warnings = warnings;
    slot.known = true;
    if (this.closed) return;
    if (slot.loose) {
      this.emit(status, slot.path, warnings);
      return;
    }
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as ListingSlot;
      if (!next.known) break;
      this.head += 1;
      this.emit(next.status, next.path, next.warnings);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Gives out every known line now, in order but past the pending ones, whose lines then go out
   * whenever they are known: when too many wait, and when a run fails (so that what it did is
   * still listed).
   */
  flush(): void {
    for (let i = this.head; i < this.queue.length; i += 1) {
      const s = this.queue[i] as ListingSlot;
      if (s.known) this.emit(s.status, s.path, s.warnings);
      else s.loose = true;
    }
    this.queue.length = 0;
    this.head = 0;
  }

  /** Gives out every known line now ({@link flush}) and nothing after: the run failed. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private push(slot: ListingSlot): void {
    this.queue.push(slot);
    if (this.queue.length - this.head > MOST_WAITING) this.flush();
  }
}
