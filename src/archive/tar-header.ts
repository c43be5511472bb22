/**
 * Tar headers for `export-tar`: 512-byte ustar blocks, with GNU long-name records (`L`, `K`) and
 * base-256 numbers in the GNU format, or pax extended headers (`x`) in the PAX format for what
 * ustar cannot hold (long or non-ASCII names, large numbers, nanosecond times, xattrs).
 * Only headers are built here; contents go from the native reader to the output unchanged.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Xattr } from '../native.js';

/** The tar dialects `--tar-format` names. BORG is written as PAX (see docs/options.md). */
export type TarFormat = 'GNU' | 'PAX' | 'BORG';

/** The ustar type flag of each member kind. */
export const TarType = { file: '0', hardLink: '1', symlink: '2', charDevice: '3', blockDevice: '4', directory: '5', fifo: '6' } as const;
/** A ustar type flag. */
export type TarTypeFlag = (typeof TarType)[keyof typeof TarType];

/** One member's header fields. */
export interface TarEntry {
  path: Buffer;
  type: TarTypeFlag;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Content bytes (regular files only). */
  size: number;
  /** Times in nanoseconds since the epoch. */
  mtime: bigint;
  atime?: bigint;
  ctime?: bigint;
  /** Link target (symlink) or earlier member (hard link). */
  link?: Buffer;
  devmajor?: number;
  devminor?: number;
  xattrs?: Xattr[];
}

const BLOCK = 512;
/** Two zero blocks: the end of a tar archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** Zero bytes that pad `size` content bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The `--tar-format` value, checked. */
export function parseTarFormat(text: string): TarFormat {
  const f = text.toUpperCase();
  if (f !== 'GNU' && f !== 'PAX' && f !== 'BORG') throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--tar-format: ${text} is not one of GNU, PAX, BORG`);
  return f;
}

/** Writes `value` as a NUL-terminated octal field of `len` bytes; false if it does not fit. */
function octal(h: Buffer, at: number, len: number, value: number | bigint): boolean {
  const v = BigInt(value);
  const text = v.toString(8);
  if (v < 0n || text.length > len - 1) return false;
  h.write(text.padStart(len - 1, '0'), at, 'latin1');
  h[at + len - 1] = 0;
  return true;
}

/** GNU's base-256 form for a number octal cannot hold (the first byte's high bit set). */
function base256(h: Buffer, at: number, len: number, value: number | bigint): void {
  let v = BigInt.asUintN(8 * len, BigInt(value));
  for (let i = len - 1; i >= 0; i -= 1) {
    h[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h[at] = (h[at] ?? 0) | 0x80;
}

function floorSeconds(ns: bigint): bigint {
  const s = ns / 1_000_000_000n;
  return ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s;
}

/** A pax time: seconds with up to 9 fraction digits, trailing zeros dropped. */
function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${s}${frac === '' ? '' : `.${frac}`}`;
}

/** One pax record, `LEN KEY=VALUE\n`, where LEN counts the whole record including itself. */
function paxRecord(key: string | Buffer, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(' '), Buffer.from(key), Buffer.from('='), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const isAscii = (b: Buffer): boolean => b.every((c) => c < 0x80);

/** A bare ustar header block with its checksum. */
function block(name: Buffer, e: TarEntry, flag: string, size: number | bigint, gnu: boolean, link: Buffer): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, Math.min(name.length, 100));
  octal(h, 100, 8, e.mode & 0o7777);
  for (const [at, v] of [
    [108, e.uid],
    [116, e.gid],
  ] as const) {
    if (!octal(h, at, 8, v)) {
      if (gnu) base256(h, at, 8, v);
      else octal(h, at, 8, 0);
    }
  }
  if (!octal(h, 124, 12, size)) {
    if (gnu) base256(h, 124, 12, size);
    else octal(h, 124, 12, 0);
  }
  const mtime = floorSeconds(e.mtime);
  if (!octal(h, 136, 12, mtime)) {
    if (gnu) base256(h, 136, 12, mtime);
    else octal(h, 136, 12, 0);
  }
  h.write(flag, 156, 'latin1');
  link.copy(h, 157, 0, Math.min(link.length, 100));
  if (gnu) h.write('ustar  \0', 257, 'latin1');
  else h.write('ustar\u000000', 257, 'latin1');
  Buffer.from(e.uname).copy(h, 265, 0, 31);
  Buffer.from(e.gname).copy(h, 297, 0, 31);
  if (e.type === TarType.charDevice || e.type === TarType.blockDevice) {
    octal(h, 329, 8, e.devmajor ?? 0);
    octal(h, 337, 8, e.devminor ?? 0);
  } else if (!gnu) {
    octal(h, 329, 8, 0);
    octal(h, 337, 8, 0);
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** A GNU long-name (`L`) or long-link (`K`) record for `value`. */
function gnuLong(flag: 'L' | 'K', value: Buffer, e: TarEntry): Buffer {
  const data = Buffer.concat([value, Buffer.alloc(1)]);
  const head = block(Buffer.from('././@LongLink'), { ...e, mode: 0, uid: 0, gid: 0, uname: '', gname: '', mtime: 0n }, flag, data.length, true, Buffer.alloc(0));
  return Buffer.concat([head, data, tarPadding(data.length)]);
}

/**
 * The header blocks of one member: any long-name or pax records, then its ustar header. The
 * member's content (for a regular file, `e.size` bytes) and {@link tarPadding} follow.
 */
export function tarHeader(e: TarEntry, format: TarFormat): Buffer {
  const link = e.link ?? Buffer.alloc(0);
  const path = e.type === TarType.directory && e.path[e.path.length - 1] !== 0x2f ? Buffer.concat([e.path, Buffer.from('/')]) : e.path;
  if (format === 'GNU') {
    const parts: Buffer[] = [];
    if (link.length > 100) parts.push(gnuLong('K', link, e));
    if (path.length > 100) parts.push(gnuLong('L', path, e));
    parts.push(block(path, e, e.type, e.size, true, link));
    return Buffer.concat(parts);
  }
  // Names that are not UTF-8 go into pax records as raw bytes, as GNU tar writes them (it
  // warns about the `hdrcharset` record that would declare them).
  const records: Buffer[] = [];
  const text = (key: string, value: Buffer, limit: number): void => {
    if (value.length > limit || !isAscii(value)) records.push(paxRecord(key, value));
  };
  text('path', path, 100);
  text('linkpath', link, 100);
  text('uname', Buffer.from(e.uname), 32);
  text('gname', Buffer.from(e.gname), 32);
  if (e.uid > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  if (e.size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(e.size))));
  const whole = e.mtime % 1_000_000_000n === 0n && e.mtime >= 0n && e.mtime < 0o77777777777n * 1_000_000_000n;
  if (!whole) records.push(paxRecord('mtime', Buffer.from(paxTime(e.mtime))));
  if (e.atime !== undefined) records.push(paxRecord('atime', Buffer.from(paxTime(e.atime))));
  if (e.ctime !== undefined) records.push(paxRecord('ctime', Buffer.from(paxTime(e.ctime))));
  for (const x of e.xattrs ?? []) {
    records.push(paxRecord(Buffer.concat([Buffer.from('SCHILY.xattr.'), x.name]), x.value));
  }
  const parts: Buffer[] = [];
  if (records.length > 0) {
    const data = Buffer.concat(records);
    // The conventional name of a pax header: the member's directory, PaxHeaders.0, its name.
    const slash = path.lastIndexOf(0x2f, path.length - 2);
    const base = path.subarray(slash + 1, path.length).toString('latin1').replace(/\/$/, '').slice(0, 80);
    const dir = slash >= 0 ? path.subarray(0, Math.min(slash, 10)).toString('latin1') : '.';
    const xname = Buffer.from(`${dir}/PaxHeaders/${base}`, 'latin1').subarray(0, 100);
    parts.push(block(xname, { ...e, uname: '', gname: '' }, 'x', data.length, false, Buffer.alloc(0)), data, tarPadding(data.length));
  }
  parts.push(block(path, e, e.type, e.size > 0o77777777777 ? 0 : e.size, false, link));
  return Buffer.concat(parts);
}
