/**
 * borg's `--format` mini-language for `list` (Python's `str.format` with named keys and format specs),
 * its keys and default formats for archives and items, and the time and mode texts borg lists with.
 * A format is parsed once by {@link compileFormat}; the result renders one line per archive or item.
 */
import { InvalidArgumentError } from '../errors.js';
import {
  type FormatSpec,
  type FormatValue,
  type SelfFormatting,
  applyFormatSpec,
  formatWithSpec,
  parseFormatSpec,
  plain,
} from './format-spec.js';
import { type BrokenDownTime, localTime, strftime } from './strftime.js';
import { parseTemplate } from './template.js';

export type { FormatValue, SelfFormatting } from './format-spec.js';

/** Keys every format may use, with fixed values: line ends, NUL, space and tab. */
export const FIXED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  LF: '\n',
  SPACE: ' ',
  TAB: '\t',
  CR: '\r',
  NUL: '\0',
  NEWLINE: '\n',
  NL: '\n',
});

/** The keys of `list REPO --format`, in borg 1.4's order, with what each shows. */
export const ARCHIVE_KEY_HELP: Readonly<Record<string, string>> = Object.freeze({
  archive: 'the archive name as text (characters that are not text are replaced; see barchive)',
  name: 'the same as archive',
  barchive: 'the archive name exactly as stored (anything but NUL)',
  comment: 'the archive comment as text (see bcomment)',
  bcomment: 'the archive comment exactly as stored',
  id: 'the archive id in hex',
  tam: "whether the archive's authentication was verified ('verified' or 'none')",
  start: 'when creating the archive started',
  time: 'the same as start',
  end: 'when creating the archive ended',
  command_line: 'the command line that created the archive',
  hostname: 'the host that created the archive',
  username: 'the user who created the archive',
});

/** The checksum keys of `list REPO::ARCHIVE --format`: a digest of the file's content. */
export const HASH_KEYS: readonly string[] = Object.freeze([
  'blake2b',
  'blake2s',
  'md5',
  'sha1',
  'sha224',
  'sha256',
  'sha384',
  'sha3_224',
  'sha3_256',
  'sha3_384',
  'sha3_512',
  'sha512',
  'xxh64',
]);

/** The keys of `list REPO::ARCHIVE --format`, in borg 1.4's order, with what each shows. */
export const ITEM_KEY_HELP: Readonly<Record<string, string>> = Object.freeze({
  type: "the file type letter ('-', 'd', 'l', 'b', 'c', 'p', 's')",
  mode: "the mode as ls shows it ('h' first for a hard link)",
  uid: 'the owner user id',
  gid: 'the owner group id',
  user: 'the owner user name (the uid when there is none)',
  group: 'the owner group name (the gid when there is none)',
  path: 'the path as text (characters that are not text are replaced; see bpath)',
  bpath: 'the path exactly as stored (anything but NUL)',
  source: 'the target of a link (the same as linktarget)',
  linktarget: 'the target of a link',
  flags: 'the BSD-style file flags as a number',
  size: 'the size of the content',
  csize: 'the compressed size of the content',
  dsize: "the size of the content's chunks the repository references only as often as this file does",
  dcsize: "the stored size of the content's chunks the repository references only as often as this file does",
  num_chunks: 'the number of chunks of the content',
  unique_chunks: 'the number of chunks of the content the repository references only as often as this file does',
  mtime: 'the modification time',
  ctime: 'the status change time',
  atime: 'the access time',
  isomtime: 'the modification time in ISO 8601 form',
  isoctime: 'the status change time in ISO 8601 form',
  isoatime: 'the access time in ISO 8601 form',
  ...Object.fromEntries(HASH_KEYS.map((k) => [k, `the ${k} checksum of the content${k === 'xxh64' ? ' (not a cryptographic hash)' : ''}`])),
  archiveid: 'the id of the archive listed',
  archivename: 'the name of the archive listed',
  extra: "' -> TARGET' for a symbolic link, ' link to TARGET' for a hard link, else empty",
  health: "'healthy', or 'broken' when chunks of the file were lost and replaced by zeros",
});

/** The keys `list REPO --format` accepts besides {@link FIXED_KEYS}. */
export const ARCHIVE_KEYS: ReadonlySet<string> = new Set(Object.keys(ARCHIVE_KEY_HELP));
/** The keys `list REPO::ARCHIVE --format` accepts besides {@link FIXED_KEYS}. */
export const ITEM_KEYS: ReadonlySet<string> = new Set(Object.keys(ITEM_KEY_HELP));
/** Item keys whose values need the chunk index (reference counts). */
export const ITEM_KEYS_NEEDING_CACHE: ReadonlySet<string> = new Set(['dsize', 'dcsize', 'unique_chunks']);

/**
 * `list REPO`'s line. Its `{time}` is a {@link Timestamp} of whole seconds: borg drops an archive
 * time's microseconds when it turns it into local time.
 */
export const DEFAULT_ARCHIVE_FORMAT = '{archive:<36} {time} [{id}]{NL}';
/** `list --short REPO`'s line. */
export const SHORT_ARCHIVE_FORMAT = '{archive}{NL}';
/** `list REPO::ARCHIVE`'s line. */
export const DEFAULT_ITEM_FORMAT = '{mode} {user:6} {group:6} {size:8} {mtime} {path}{extra}{NL}';
/** `list --short REPO::ARCHIVE`'s line. */
export const SHORT_ITEM_FORMAT = '{path}{NL}';

/** A compiled format: renders one line from the values of its keys. */
export interface CompiledFormat {
  (values: Readonly<Record<string, FormatValue>>): string;
  /** The keys the format uses (fixed keys excluded): the values a caller must supply. */
  readonly keys: ReadonlySet<string>;
}

type Renderer = (values: Readonly<Record<string, FormatValue>>) => string;

/**
 * Parses a `--format` string once. Fields may name `knownKeys` and {@link FIXED_KEYS}; an unknown
 * key or a malformed format throws {@link InvalidArgumentError}. A spec that suits no value fails
 * here; one that does not suit the value given (a precision for an int) fails when rendering. A
 * {@link SelfFormatting} value (a time) takes its spec as its own (a strftime pattern).
 */
export function compileFormat(fmt: string, knownKeys: ReadonlySet<string>): CompiledFormat {
  const parts = parseTemplate(fmt, 'format');
  const unknown = new Set<string>();
  for (const p of parts) {
    if (typeof p !== 'string' && !(p.key in FIXED_KEYS) && !knownKeys.has(p.key)) unknown.add(`{${p.key}}`);
  }
  if (unknown.size > 0) {
    const known = [...knownKeys, ...Object.keys(FIXED_KEYS)].join(', ');
    throw new InvalidArgumentError(
      'HOARD_INVALID_ARGUMENT',
      `unknown key ${[...unknown].join(', ')} in format ${JSON.stringify(fmt)} (known keys: ${known})`,
    );
  }
  const keys = new Set<string>();
  const pieces: (string | Renderer)[] = [];
  const pushLiteral = (s: string): void => {
    const last = pieces[pieces.length - 1];
    if (typeof last === 'string') pieces[pieces.length - 1] = last + s;
    else pieces.push(s);
  };
  for (const part of parts) {
    if (typeof part === 'string') {
      pushLiteral(part);
      continue;
    }
    const { key, spec } = part;
    const fixed = FIXED_KEYS[key];
    if (fixed !== undefined) {
      pushLiteral(formatWithSpec(fixed, spec));
      continue;
    }
    keys.add(key);
    pieces.push(fieldRenderer(key, spec));
  }
  const render = (values: Readonly<Record<string, FormatValue>>): string => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(values);
    return out;
  };
  return Object.assign(render, { keys: keys as ReadonlySet<string> });
}

function missing(key: string): Error {
  return new Error(`no value given for format key {${key}}`);
}

function fieldRenderer(key: string, spec: string): Renderer {
  if (spec === '') {
    return (values) => {
      const v = values[key];
      if (typeof v === 'string') return v;
      if (v === undefined) throw missing(key);
      return plain(v);
    };
  }
  let parsed: FormatSpec | undefined;
  let parseError: unknown;
  try {
    parsed = parseFormatSpec(spec);
  } catch (e) {
    // Only times may still take this spec (as a strftime pattern); anything else fails on render.
    if (!/%/.test(spec)) throw e;
    parseError = e;
  }
  const simple = parsed && simplePadding(parsed);
  return (values) => {
    const v = values[key];
    if (v === undefined) throw missing(key);
    if (typeof v === 'object') return v.formatSpec(spec);
    if (parsed === undefined) throw parseError;
    if (simple) {
      // The common `{user:6}` and `{size:8}`: padding only, of plain text or a non-negative int.
      if (typeof v === 'string' && !/[\uD800-\uDFFF]/.test(v)) {
        return (simple.align ?? '<') === '<' ? v.padEnd(simple.width, simple.fill) : applyFormatSpec(v, parsed);
      }
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
        const align = simple.align ?? '>';
        if (align === '>' || align === '=') return String(v).padStart(simple.width, simple.fill);
      }
    }
    return applyFormatSpec(v, parsed);
  };
}

/** The fill, alignment and width of a spec that asks for nothing but padding, else null. */
function simplePadding(s: FormatSpec): { fill: string; align: FormatSpec['align']; width: number } | null {
  const fill = s.fill ?? ' ';
  if (s.sign || s.noNegZero || s.alternate || s.zero || s.grouping || s.precision >= 0 || s.type || fill.length !== 1) {
    return null;
  }
  return { fill, align: s.align, width: Math.max(0, s.width) };
}

/** Splits ns into whole seconds and microseconds the way borg (through CPython) does. */
function nsToSecondsMicros(ns: bigint): { seconds: number; micros: number } {
  // borg makes a datetime from ns / 1e9 as a float, which CPython rounds to microseconds half to even.
  const d = Number(ns) / 1e9;
  let seconds = Math.trunc(d);
  let frac = (d - seconds) * 1e6;
  const r = Math.sign(frac) * Math.round(Math.abs(frac));
  frac = Math.abs(frac - r) === 0.5 ? 2 * Math.round(frac / 2) : r;
  if (frac >= 1e6) {
    frac -= 1e6;
    seconds += 1;
  } else if (frac < 0) {
    frac += 1e6;
    seconds -= 1;
  }
  return { seconds, micros: frac };
}

function secondsMicros(t: bigint | Date): { seconds: number; micros: number } {
  if (t instanceof Date) {
    const ms = t.getTime();
    const seconds = Math.floor(ms / 1000);
    return { seconds, micros: (ms - seconds * 1000) * 1000 };
  }
  return nsToSecondsMicros(t);
}

function brokenDown(t: bigint | Date): BrokenDownTime {
  const { seconds, micros } = secondsMicros(t);
  return localTime(seconds, micros, false);
}

const SHORT_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `%Y-%m-%d?%H:%M:%S` of a local time, written directly: this runs once per listed item. */
function dateTime(d: Date, sep: string): string {
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}${sep}${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** borg's time text, local time: `Mon, 2022-09-12 12:34:56`. Takes ns since the epoch or a Date. */
export function formatTime(t: bigint | Date): string {
  const d = new Date(secondsMicros(t).seconds * 1000);
  return `${SHORT_DAYS[d.getDay()] ?? ''}, ${dateTime(d, ' ')}`;
}

/** borg's ISO 8601 time text, local time with microseconds: `2022-09-12T12:34:56.123456`. */
export function isoTime(t: bigint | Date): string {
  const { seconds, micros } = secondsMicros(t);
  return `${dateTime(new Date(seconds * 1000), 'T')}.${String(micros).padStart(6, '0')}`;
}

/**
 * A time as borg lists it: plain, it is {@link formatTime}'s text; under a spec, the spec is a
 * strftime pattern (`{mtime:%Y-%m-%d}`), so such a field cannot be padded.
 */
export class Timestamp implements SelfFormatting {
  /** Nanoseconds since the epoch. */
  readonly ns: bigint;

  constructor(ns: bigint) {
    this.ns = ns;
  }

  /** The time of a Date (millisecond precision). */
  static fromDate(d: Date): Timestamp {
    return new Timestamp(BigInt(d.getTime()) * 1_000_000n);
  }

  /** The text under a format spec: {@link formatTime} for '', else the strftime pattern's. */
  formatSpec(spec: string): string {
    return spec === '' ? formatTime(this.ns) : strftime(spec, brokenDown(this.ns));
  }

  /** {@link isoTime} of this time. */
  iso(): string {
    return isoTime(this.ns);
  }

  /** {@link formatTime} of this time. */
  toString(): string {
    return formatTime(this.ns);
  }
}

const S_IFMT = 0o170000;
const TYPE_LETTERS: Readonly<Record<number, string>> = {
  0o140000: 's',
  0o120000: 'l',
  0o100000: '-',
  0o060000: 'b',
  0o040000: 'd',
  0o020000: 'c',
  0o010000: 'p',
};

/**
 * The `ls -l` text of a mode, as Python's `stat.filemode`: `-rw-r--r--`, `drwxr-xr-x`, `lrwxrwxrwx`,
 * with `s`/`S` for setuid and setgid and `t`/`T` for sticky; an unknown file type shows `?`.
 */
export function modeString(mode: number): string {
  const type = TYPE_LETTERS[mode & S_IFMT] ?? '?';
  const bit = (mask: number, letter: string): string => (mode & mask ? letter : '-');
  const exec = (x: number, special: number, on: string): string =>
    mode & special ? (mode & x ? on : on.toUpperCase()) : bit(x, 'x');
  return (
    type +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    exec(0o100, 0o4000, 's') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    exec(0o010, 0o2000, 's') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    exec(0o001, 0o1000, 't')
  );
}
