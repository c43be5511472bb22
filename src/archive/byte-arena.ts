/** Bytes of each block a {@link ByteArena} copies into (a longer input gets a block of its own). */
export const ARENA_BLOCK = 1 << 20;

/**
 * Copies of many small byte strings packed into a few large blocks, outside V8's heap.
 *
 * A small Buffer that Node makes (`Buffer.concat`, `allocUnsafe`, `from`) is a view of an 8 KiB
 * pool shared with the Buffers made around it, and keeping it keeps that whole pool block: an
 * extract that kept the path of each of 11,000 directories (to set their metadata last) kept
 * 1,250 pool blocks, 10 MB, for 0.7 MB of paths. A copy made here keeps only its share of a block.
 */
export class ByteArena {
  private block: Buffer = Buffer.alloc(0);
  private used = 0;

  /** A copy of `bytes` (a view of one of the arena's blocks, kept as long as any view of it is). */
  copy(bytes: Uint8Array): Buffer {
    const n = bytes.length;
    if (n > ARENA_BLOCK) return Buffer.from(bytes);
    if (this.used + n > this.block.length) {
      this.block = Buffer.allocUnsafeSlow(ARENA_BLOCK);
      this.used = 0;
    }
    const out = this.block.subarray(this.used, this.used + n);
    out.set(bytes);
    this.used += n;
    return out;
  }
}
