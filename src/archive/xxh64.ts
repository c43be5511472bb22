/**
 * XXH64 (seed 0), streaming, in BigInt arithmetic: borg's `{xxh64}` list key. Not fast (tens of
 * MB/s), but only `list --format '{xxh64}'` uses it.
 */
const MASK = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK;
}

function round(acc: bigint, input: bigint): bigint {
  return (rotl((acc + input * P2) & MASK, 31n) * P1) & MASK;
}

function merge(acc: bigint, v: bigint): bigint {
  return (((acc ^ round(0n, v)) * P1) + P4) & MASK;
}

/** A streaming XXH64 with seed 0: `update` with the bytes in order, then `hexDigest`. */
export class Xxh64 {
  private v = [(P1 + P2) & MASK, P2, 0n, (MASK + 1n - P1) & MASK];
  private total = 0;
  private rest: Buffer = Buffer.alloc(0);

  /** Adds `data` to what is hashed. */
  update(data: Buffer): void {
    this.total += data.length;
    let buf = this.rest.length > 0 ? Buffer.concat([this.rest, data]) : data;
    let at = 0;
    while (at + 32 <= buf.length) {
      for (let lane = 0; lane < 4; lane += 1) this.v[lane] = round(this.v[lane] ?? 0n, buf.readBigUInt64LE(at + lane * 8));
      at += 32;
    }
    buf = buf.subarray(at);
    this.rest = Buffer.from(buf);
  }

  /** The hash as 16 hex digits, most significant first (Python's `hexdigest`). */
  hexDigest(): string {
    const [v1 = 0n, v2 = 0n, v3 = 0n, v4 = 0n] = this.v;
    let h: bigint;
    if (this.total >= 32) {
      h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
      for (const v of [v1, v2, v3, v4]) h = merge(h, v);
    } else {
      h = P5;
    }
    h = (h + BigInt(this.total)) & MASK;
    const buf = this.rest;
    let at = 0;
    for (; at + 8 <= buf.length; at += 8) h = ((rotl(h ^ round(0n, buf.readBigUInt64LE(at)), 27n) * P1) + P4) & MASK;
    if (at + 4 <= buf.length) {
      h = ((rotl(h ^ ((BigInt(buf.readUInt32LE(at)) * P1) & MASK), 23n) * P2) + P3) & MASK;
      at += 4;
    }
    for (; at < buf.length; at += 1) h = (rotl(h ^ ((BigInt(buf[at] ?? 0) * P5) & MASK), 11n) * P1) & MASK;
    h ^= h >> 33n;
    h = (h * P2) & MASK;
    h ^= h >> 29n;
    h = (h * P3) & MASK;
    h ^= h >> 32n;
    return h.toString(16).padStart(16, '0');
  }
}
