/**
 * The local time zone's abbreviation (`CET`, `EST`, `+04`) for a moment, as the C library gives it in
 * `tm_zone` and so as Python's `%Z` prints it for an aware local time. Node's Intl names zones its own
 * way (`GMT+1` for Berlin), so the abbreviation is read from the zone's TZif file (or from a POSIX `TZ`
 * string), the same source glibc reads.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** One local time type of a zone: offset east of UTC in seconds, and its abbreviation. */
interface ZoneType {
  readonly offset: number;
  readonly isDst: boolean;
  readonly name: string;
}

/** What a zone says about abbreviations: its transitions and the rule after the last one. */
interface ZoneNames {
  /** Transition times in seconds since the epoch, ascending. */
  readonly times: readonly number[];
  /** The type index in force from each transition on. */
  readonly typeIndex: readonly number[];
  readonly types: readonly ZoneType[];
  /** The standard and daylight types of the POSIX rule in force after the last transition. */
  readonly rule: { readonly std: ZoneType; readonly dst: ZoneType | null } | null;
}

const cache = new Map<string, ZoneNames | null>();

/**
 * The abbreviation of the process's local zone at `epochSeconds`, whose offset east of UTC is
 * `offsetSeconds` (as Node computed it). Falls back to a numeric `+HH[MM]` name when the zone cannot
 * be read.
 */
export function localZoneName(epochSeconds: number, offsetSeconds: number): string {
  const tz = process.env['TZ'];
  const key = tz ?? '';
  let zone = cache.get(key);
  if (zone === undefined) {
    zone = loadZone(tz);
    cache.set(key, zone);
  }
  return (zone && nameAt(zone, epochSeconds, offsetSeconds)) ?? numericName(offsetSeconds);
}

function nameAt(zone: ZoneNames, t: number, offset: number): string | undefined {
  const { times } = zone;
  if (times.length === 0 || t >= (times[times.length - 1] ?? 0)) {
    if (zone.rule) {
      const { std, dst } = zone.rule;
      if (std.offset === offset) return std.name;
      if (dst && dst.offset === offset) return dst.name;
      // Node could not read the rule (it reads no POSIX TZ strings) and fell back to UTC.
      return offset === 0 ? 'UTC' : undefined;
    }
    if (times.length === 0) return zone.types[0]?.name;
  }
  if (t < (times[0] ?? 0)) return zone.types[0]?.name;
  // The last transition at or before t.
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((times[mid] ?? 0) <= t) lo = mid;
    else hi = mid - 1;
  }
  return zone.types[zone.typeIndex[lo] ?? 0]?.name;
}

/** `+04`, `-0330`: how tzdata names zones without an abbreviation. */
function numericName(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const h = String(Math.floor(a / 3600)).padStart(2, '0');
  const m = Math.floor((a % 3600) / 60);
  return m === 0 ? `${sign}${h}` : `${sign}${h}${String(m).padStart(2, '0')}`;
}

function loadZone(tz: string | undefined): ZoneNames | null {
  if (tz === '') return fromRule('UTC0');
  let spec = tz ?? '';
  if (spec.startsWith(':')) spec = spec.slice(1);
  const file =
    tz === undefined ? '/etc/localtime' : isAbsolute(spec) ? spec : join(process.env['TZDIR'] ?? '/usr/share/zoneinfo', spec);
  try {
    return parseTzif(readFileSync(file));
  } catch {
    // Not a readable zone file: try the value as a POSIX TZ string.
  }
  return tz === undefined ? null : fromRule(spec);
}

function fromRule(text: string): ZoneNames | null {
  const rule = parsePosixRule(text);
  return rule ? { times: [], typeIndex: [], types: [rule.std], rule } : null;
}

/** Parses a TZif file (RFC 8536, versions 1 to 4). Returns null when it is not one. */
function parseTzif(buf: Buffer): ZoneNames | null {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== 'TZif') return null;
  const version = buf[4] ?? 0;
  let block = readBlock(buf, 0, 4);
  if (!block) return null;
  let rule: ZoneNames['rule'] = null;
  if (version >= 0x32) {
    const v2 = readBlock(buf, block.end, 8);
    if (!v2) return null;
    block = v2;
    const start = buf.indexOf(0x0a, v2.end);
    const stop = start < 0 ? -1 : buf.indexOf(0x0a, start + 1);
    if (start >= 0 && stop > start + 1) rule = parsePosixRule(buf.toString('latin1', start + 1, stop));
  }
  return { times: block.times, typeIndex: block.typeIndex, types: block.types, rule };
}

function readBlock(
  buf: Buffer,
  at: number,
  timeSize: 4 | 8,
): { times: number[]; typeIndex: number[]; types: ZoneType[]; end: number } | null {
  if (buf.length < at + 44 || buf.toString('latin1', at, at + 4) !== 'TZif') return null;
  const isutcnt = buf.readUInt32BE(at + 20);
  const isstdcnt = buf.readUInt32BE(at + 24);
  const leapcnt = buf.readUInt32BE(at + 28);
  const timecnt = buf.readUInt32BE(at + 32);
  const typecnt = buf.readUInt32BE(at + 36);
  const charcnt = buf.readUInt32BE(at + 40);
  let p = at + 44;
  const end = p + timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt;
  if (end > buf.length || typecnt === 0) return null;
  const times: number[] = [];
  for (let i = 0; i < timecnt; i++, p += timeSize) {
    times.push(timeSize === 4 ? buf.readInt32BE(p) : Number(buf.readBigInt64BE(p)));
  }
  const typeIndex: number[] = [];
  for (let i = 0; i < timecnt; i++, p++) typeIndex.push(buf[p] ?? 0);
  const raw: { offset: number; isDst: boolean; abbr: number }[] = [];
  for (let i = 0; i < typecnt; i++, p += 6) {
    raw.push({ offset: buf.readInt32BE(p), isDst: buf[p + 4] === 1, abbr: buf[p + 5] ?? 0 });
  }
  const chars = buf.subarray(p, p + charcnt);
  const types = raw.map(({ offset, isDst, abbr }) => {
    const nul = chars.indexOf(0, abbr);
    return { offset, isDst, name: chars.toString('latin1', abbr, nul < 0 ? chars.length : nul) };
  });
  return { times, typeIndex, types, end };
}

/**
 * The names and offsets of a POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3` or `<+04>-4`.
 * Only the names and offsets are needed; the dates of the rule are not.
 */
function parsePosixRule(text: string): { std: ZoneType; dst: ZoneType | null } | null {
  let i = 0;
  const name = (): string | null => {
    if (text[i] === '<') {
      const close = text.indexOf('>', i);
      if (close < 0) return null;
      const n = text.slice(i + 1, close);
      i = close + 1;
      return n;
    }
    const m = /^[A-Za-z]{3,}/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    return m[0];
  };
  const offset = (): number | null => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    const west = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return m[1] === '-' ? west : -west;
  };
  const stdName = name();
  if (stdName === null) return null;
  const stdOffset = offset();
  if (stdOffset === null) return null;
  const std = { offset: stdOffset, isDst: false, name: stdName };
  if (i >= text.length) return { std, dst: null };
  const dstName = name();
  if (dstName === null) return { std, dst: null };
  const dstOffset = text[i] === ',' || i >= text.length ? stdOffset + 3600 : (offset() ?? stdOffset + 3600);
  return { std, dst: { offset: dstOffset, isDst: true, name: dstName } };
}
