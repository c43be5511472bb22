/** Slots a new {@link PathSet} starts with (a power of two). */
const FIRST_SLOTS = 1024;
/** Bytes of each block the paths are copied into (a longer path gets a block of its own). */
const BLOCK = 1 << 20;

/** FNV-1a over `bytes`, 32 bits. */
function hashOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 1) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * A set of byte strings (an extract's paths), compared exactly, held outside V8's heap: the bytes
 * in blocks of 1 MiB, and an open-addressing table of typed arrays (16 bytes a slot, at most half
 * of them used). A `Set` of 60,000 path strings is about 7 MB of V8's old generation, which V8
 * lets grow to three or four times what survived its last full collection before collecting
 * again, so each MB kept there costs several of peak memory; here the same paths take about 6 MB
 * of plain memory and no collection looks at them.
 */
export class PathSet {
  private blocks: Buffer[] = [];
  private used = BLOCK;
  /** Per slot: the path's block, plus one (0: an empty slot). */
  private blockOf = new Uint32Array(FIRST_SLOTS);
  private offsetOf = new Uint32Array(FIRST_SLOTS);
  private lengthOf = new Uint32Array(FIRST_SLOTS);
  private hashes = new Uint32Array(FIRST_SLOTS);
  /** Paths in the set. */
  size = 0;

  /** Whether `path` is in the set. */
  has(path: Uint8Array): boolean {
    return this.blockOf[this.find(path, hashOf(path))] !== 0;
  }

  /** Adds `path` (copied); returns false if it was there already. */
  add(path: Uint8Array): boolean {
    const hash = hashOf(path);
    let slot = this.find(path, hash);
    if (this.blockOf[slot] !== 0) return false;
    if (2 * (this.size + 1) > this.hashes.length) {
      this.grow();
      slot = this.find(path, hash);
    }
    let block = this.blocks.length - 1;
    if (path.length > BLOCK - this.used) {
      this.blocks.push(Buffer.allocUnsafeSlow(Math.max(BLOCK, path.length)));
      block += 1;
      this.used = 0;
    }
    (this.blocks[block] as Buffer).set(path, this.used);
    this.blockOf[slot] = block + 1;
    this.offsetOf[slot] = this.used;
    this.lengthOf[slot] = path.length;
    this.hashes[slot] = hash;
    this.used += path.length;
    this.size += 1;
    return true;
  }

  /** The slot holding `path`, or the empty slot where it would go. */
  private find(path: Uint8Array, hash: number): number {
    const mask = this.hashes.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const block = this.blockOf[slot] as number;
      if (block === 0) return slot;
      if (this.hashes[slot] === hash && this.lengthOf[slot] === path.length && this.equalAt(slot, block - 1, path)) return slot;
    }
  }

  private equalAt(slot: number, block: number, path: Uint8Array): boolean {
    const data = this.blocks[block] as Buffer;
    const at = this.offsetOf[slot] as number;
    for (let i = 0; i < path.length; i += 1) if (data[at + i] !== path[i]) return false;
    return true;
  }

  /** Doubles the table. */
  private grow(): void {
    const { blockOf, offsetOf, lengthOf, hashes } = this;
    const n = 2 * hashes.length;
    this.blockOf = new Uint32Array(n);
    this.offsetOf = new Uint32Array(n);
    this.lengthOf = new Uint32Array(n);
    this.hashes = new Uint32Array(n);
    const mask = n - 1;
    for (let s = 0; s < hashes.length; s += 1) {
      if (blockOf[s] === 0) continue;
      let slot = (hashes[s] as number) & mask;
      while (this.blockOf[slot] !== 0) slot = (slot + 1) & mask;
      this.blockOf[slot] = blockOf[s] as number;
      this.offsetOf[slot] = offsetOf[s] as number;
      this.lengthOf[slot] = lengthOf[s] as number;
      this.hashes[slot] = hashes[s] as number;
    }
  }
}
