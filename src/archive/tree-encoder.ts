/**
 * A MessagePack writer for tree objects, byte for byte what msgpackr's `Packr` (options of
 * `item.ts`: no records, variable map sizes, 64-bit integers as bigint) writes for the same
 * values once undefined fields are dropped, but without copying each item first and without
 * msgpackr's per-value extension lookups: a create encodes every item of its archive here, on
 * the JS thread. It writes what items hold: plain objects, arrays, byte arrays (any typed array,
 * as `bin`), strings, numbers, bigints, booleans and null. `__test__/tree-encoder.test.ts`
 * checks it against msgpackr.
 */

/** A growable output buffer: one kept scratch area; {@link take} copies out what was written. */
class Out {
  buf = Buffer.allocUnsafe(1 << 16);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** A copy of the bytes written. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

const out = new Out();

/** Writes an array header for `n` elements. */
function arrayHeader(n: number): void {
  out.room(5);
  const b = out.buf;
  if (n < 0x10) b[out.pos++] = 0x90 | n;
  else if (n < 0x10000) {
    b[out.pos++] = 0xdc;
    b[out.pos++] = n >> 8;
    b[out.pos++] = n & 0xff;
  } else {
    b[out.pos++] = 0xdd;
    out.view.setUint32(out.pos, n);
    out.pos += 4;
  }
}

/**
 * Writes `n` (below 2^32) as type byte `t8` and 1 byte, `t8 + 1` and 2 bytes or `t8 + 2` and 4
 * bytes (big endian), the fewest that hold it: MessagePack's uint 8/16/32 and bin 8/16/32. The
 * caller has made room for 5 bytes.
 */
function sized(n: number, t8: number): void {
  const b = out.buf;
  if (n < 0x100) {
    b[out.pos++] = t8;
    b[out.pos++] = n;
  } else if (n < 0x10000) {
    b[out.pos++] = t8 + 1;
    b[out.pos++] = n >> 8;
    b[out.pos++] = n & 0xff;
  } else {
    b[out.pos++] = t8 + 2;
    out.view.setUint32(out.pos, n);
    out.pos += 4;
  }
}

function writeString(s: string): void {
  // Room for the longest UTF-8 (3 bytes a UTF-16 unit) and the longest header.
  out.room(s.length * 3 + 5);
  const b = out.buf;
  const at = out.pos;
  if (s.length < 0x20) {
    // Short ASCII (names of users and groups, item types, keys) is copied unit by unit.
    let i = 0;
    for (; i < s.length; i += 1) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[at + 1 + i] = c;
    }
    if (i === s.length) {
      b[at] = 0xa0 | i;
      out.pos = at + 1 + i;
      return;
    }
  }
  // Anything else is written after room for the widest header, then moved behind the header
  // its length needs. Lone surrogates become U+FFFD, as in msgpackr and TextEncoder.
  const n = b.write(s, at + 5);
  let head: number;
  if (n < 0x20) {
    b[at] = 0xa0 | n;
    head = 1;
  } else if (n < 0x100) {
    b[at] = 0xd9;
    b[at + 1] = n;
    head = 2;
  } else if (n < 0x10000) {
    b[at] = 0xda;
    b[at + 1] = n >> 8;
    b[at + 2] = n & 0xff;
    head = 3;
  } else {
    b[at] = 0xdb;
    out.view.setUint32(at + 1, n);
    head = 5;
  }
  if (head !== 5) b.copyWithin(at + head, at + 5, at + 5 + n);
  out.pos = at + head + n;
}

function writeNumber(v: number): void {
  out.room(9);
  const b = out.buf;
  if (v >>> 0 === v) {
    if (v < 0x80) b[out.pos++] = v;
    else sized(v, 0xcc);
  } else if (v >> 0 === v) {
    if (v >= -0x20) b[out.pos++] = 0x100 + v;
    else if (v >= -0x80) {
      b[out.pos++] = 0xd0;
      b[out.pos++] = v + 0x100;
    } else if (v >= -0x8000) {
      b[out.pos++] = 0xd1;
      out.view.setInt16(out.pos, v);
      out.pos += 2;
    } else {
      b[out.pos++] = 0xd2;
      out.view.setInt32(out.pos, v);
      out.pos += 4;
    }
  } else {
    b[out.pos++] = 0xcb;
    out.view.setFloat64(out.pos, v);
    out.pos += 8;
  }
}

const INT64_MIN = -(1n << 63n);
const INT64_END = 1n << 63n;
const UINT64_END = 1n << 64n;

function writeBigInt(v: bigint): void {
  out.room(9);
  if (v >= INT64_MIN && v < INT64_END) {
    out.buf[out.pos++] = 0xd3;
    out.view.setBigInt64(out.pos, v);
  } else if (v > 0n && v < UINT64_END) {
    out.buf[out.pos++] = 0xcf;
    out.view.setBigUint64(out.pos, v);
  } else throw new RangeError(`${v} does not fit in a 64-bit integer`);
  out.pos += 8;
}

/** Byte arrays shorter than this are copied in a loop: cheaper than a native copy call. */
const LOOP_COPY = 256;

function writeBytes(v: ArrayBufferView): void {
  const n = v.byteLength;
  out.room(n + 5);
  sized(n, 0xc4);
  // Every source a Buffer: the copy loop then sees one kind of array and stays fast.
  copyBytes(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, n));
}

function copyBytes(src: Buffer): void {
  const n = src.length;
  const b = out.buf;
  const at = out.pos;
  if (n < LOOP_COPY) for (let i = 0; i < n; i += 1) b[at + i] = src[i] as number;
  else b.set(src, at);
  out.pos = at + n;
}

/**
 * Writes a plain object as a map of its own fields that are not undefined, in their order. The
 * map header is counted as it goes: one byte is kept for it, and the fields are moved two bytes
 * on in the rare case of 16 or more.
 */
function writeObject(o: Record<string, unknown>): void {
  out.room(1);
  const at = out.pos++;
  let n = 0;
  for (const k in o) {
    const v = o[k];
    if (v === undefined) continue;
    writeString(k);
    writeValue(v);
    n += 1;
  }
  if (n < 0x10) {
    out.buf[at] = 0x80 | n;
    return;
  }
  const wide = n < 0x10000 ? 2 : 4;
  out.room(wide);
  out.buf.copyWithin(at + 1 + wide, at + 1, out.pos);
  out.pos += wide;
  if (wide === 2) {
    out.buf[at] = 0xde;
    out.buf[at + 1] = n >> 8;
    out.buf[at + 2] = n & 0xff;
  } else {
    out.buf[at] = 0xdf;
    out.view.setUint32(at + 1, n);
  }
}

function writeValue(v: unknown): void {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return;
    case 'number':
      writeNumber(v);
      return;
    case 'bigint':
      writeBigInt(v);
      return;
    case 'boolean':
      out.room(1);
      out.buf[out.pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'undefined':
      // msgpackr's mark for undefined (fixext 1, type 0), as it writes one inside an array
      out.room(3);
      out.buf[out.pos++] = 0xd4;
      out.buf[out.pos++] = 0;
      out.buf[out.pos++] = 0;
      return;
    case 'object':
      if (v === null) {
        out.room(1);
        out.buf[out.pos++] = 0xc0;
      } else if (ArrayBuffer.isView(v)) writeBytes(v);
      else if (Array.isArray(v)) {
        arrayHeader(v.length);
        for (const e of v) writeValue(e);
      } else if (Object.getPrototypeOf(v) === Object.prototype) writeObject(v as Record<string, unknown>);
      else throw new TypeError(`a tree cannot hold ${Object.prototype.toString.call(v)}`);
      return;
    default:
      throw new TypeError(`a tree cannot hold a ${typeof v}`);
  }
}

/**
 * The MessagePack encoding of `value` (a plain object or array of what items hold): fields that
 * are undefined are left out, as msgpackr's `skipValues: [undefined]` would.
 */
export function encodeMsgpack(value: unknown): Buffer {
  // From the start of the scratch area, whatever a call that threw left in it.
  out.pos = 0;
  writeValue(value);
  return out.take();
}
