/**
 * Python's `datetime.strftime` as it behaves on Linux (CPython 3.11 over glibc, C locale): Python's
 * own `%f`, `%z`, `%Z` (and 3.12's `%:z`), and glibc's directives with their flags (`-`, `_`, `0`,
 * `^`, `#`), field widths and `E`/`O` modifiers. borg hands format specs of times to this, so
 * `{now:%Y-%m-%d}` and `{mtime:%H:%M}` mean what they mean in borg.
 *
 * Where Python would copy an unknown directive through unchanged, this throws instead: a typo in an
 * archive name pattern is better caught than stored.
 */
import { InvalidArgumentError } from '../errors.js';
import { localZoneName } from './time-zone.js';

/** A calendar time broken into fields, as C's `struct tm` plus microseconds and an optional zone. */
export interface BrokenDownTime {
  readonly year: number;
  /** 1 to 12. */
  readonly month: number;
  /** 1 to 31. */
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 to 999999. */
  readonly microsecond: number;
  /** 0 is Sunday. */
  readonly weekday: number;
  /** 1 to 366. */
  readonly yearDay: number;
  /** Seconds east of UTC; null for a naive time, for which `%z` and `%Z` print nothing (as Python). */
  readonly utcOffset: number | null;
  /** The zone's abbreviation (`UTC`, `CET`); null for a naive time. */
  readonly zoneName: string | null;
}

/**
 * The local time at `seconds` after the epoch plus `microsecond`. `aware` says whether it carries its
 * offset and zone name (Python's `astimezone()`), or is naive (`fromtimestamp()`).
 */
export function localTime(seconds: number, microsecond: number, aware: boolean): BrokenDownTime {
  const d = dateAt(seconds);
  const year = d.getFullYear();
  const month = d.getMonth() + 1;
  const day = d.getDate();
  const offset = aware ? -d.getTimezoneOffset() * 60 + 0 : null;
  return {
    year,
    month,
    day,
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
    microsecond,
    weekday: d.getDay(),
    yearDay: dayOfYear(year, month, day),
    utcOffset: offset,
    zoneName: offset === null ? null : localZoneName(seconds, offset),
  };
}

/** The UTC time at `seconds` after the epoch plus `microsecond`, aware (zone `UTC`, offset 0). */
export function utcTime(seconds: number, microsecond: number): BrokenDownTime {
  const d = dateAt(seconds);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return {
    year,
    month,
    day,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    microsecond,
    weekday: d.getUTCDay(),
    yearDay: dayOfYear(year, month, day),
    utcOffset: 0,
    zoneName: 'UTC',
  };
}

function dateAt(seconds: number): Date {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `time ${seconds} s after the epoch is out of range`);
  }
  return d;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const CUMULATIVE_DAYS = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

function dayOfYear(y: number, m: number, d: number): number {
  return (CUMULATIVE_DAYS[m - 1] ?? 0) + d + (m > 2 && isLeap(y) ? 1 : 0);
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** ISO 8601 week-numbering year and week of a time. */
function isoWeek(t: BrokenDownTime): { year: number; week: number } {
  const isoWeekday = (t.weekday + 6) % 7; // Monday 0
  // The Thursday of this week decides the year.
  const thursdayYday = t.yearDay - isoWeekday + 3;
  let year = t.year;
  let yday = thursdayYday;
  if (yday < 1) {
    year -= 1;
    yday += isLeap(year) ? 366 : 365;
  } else if (yday > (isLeap(year) ? 366 : 365)) {
    yday -= isLeap(year) ? 366 : 365;
    year += 1;
  }
  return { year, week: Math.floor((yday - 1) / 7) + 1 };
}

/**
 * The epoch seconds of the fields read as local time: C's `mktime`, which glibc's `%s` prints. In the
 * hour a DST change repeats, this takes the earlier reading, as JavaScript does; glibc's choice there
 * depends on its earlier calls.
 */
function mktime(t: BrokenDownTime): number {
  const d = new Date(0);
  d.setFullYear(t.year, t.month - 1, t.day);
  d.setHours(t.hour, t.minute, t.second, 0);
  return Math.floor(d.getTime() / 1000);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function offsetText(t: BrokenDownTime, colon: boolean): string {
  if (t.utcOffset === null) return '';
  let off = t.utcOffset;
  const sign = off < 0 ? '-' : '+';
  off = Math.abs(off);
  const sep = colon ? ':' : '';
  const h = Math.floor(off / 3600);
  const m = Math.floor((off % 3600) / 60);
  const s = off % 60;
  return `${sign}${pad2(h)}${sep}${pad2(m)}${s ? `${sep}${pad2(s)}` : ''}`;
}

type Piece = string | ((t: BrokenDownTime) => string);

interface NumberDirective {
  kind: 'number';
  digits: number;
  spacePad: boolean;
  value: (t: BrokenDownTime) => number;
}
interface TextDirective {
  kind: 'text';
  /** What `#` does: glibc swaps names to upper case, and AM/PM to lower. */
  hash: 'upper' | 'lower';
  /** `%P` is lower case whatever the flags. */
  lower?: boolean;
  value: (t: BrokenDownTime) => string;
}
interface CompositeDirective {
  kind: 'composite';
  pattern: string;
}
type Directive = NumberDirective | TextDirective | CompositeDirective;

const num = (digits: number, value: (t: BrokenDownTime) => number, spacePad = false): NumberDirective => ({
  kind: 'number',
  digits,
  spacePad,
  value,
});
const hour12 = (t: BrokenDownTime): number => (t.hour % 12 === 0 ? 12 : t.hour % 12);
const weekOfYear = (t: BrokenDownTime, firstDay: number): number =>
  Math.floor((t.yearDay - 1 + 7 - ((t.weekday - firstDay + 7) % 7)) / 7);

const DIRECTIVES: Record<string, Directive> = {
  a: { kind: 'text', hash: 'upper', value: (t) => (DAYS[t.weekday] ?? '').slice(0, 3) },
  A: { kind: 'text', hash: 'upper', value: (t) => DAYS[t.weekday] ?? '' },
  b: { kind: 'text', hash: 'upper', value: (t) => (MONTHS[t.month - 1] ?? '').slice(0, 3) },
  h: { kind: 'text', hash: 'upper', value: (t) => (MONTHS[t.month - 1] ?? '').slice(0, 3) },
  B: { kind: 'text', hash: 'upper', value: (t) => MONTHS[t.month - 1] ?? '' },
  p: { kind: 'text', hash: 'lower', value: (t) => (t.hour < 12 ? 'AM' : 'PM') },
  P: { kind: 'text', hash: 'lower', lower: true, value: (t) => (t.hour < 12 ? 'am' : 'pm') },
  c: { kind: 'composite', pattern: '%a %b %e %H:%M:%S %Y' },
  D: { kind: 'composite', pattern: '%m/%d/%y' },
  F: { kind: 'composite', pattern: '%Y-%m-%d' },
  r: { kind: 'composite', pattern: '%I:%M:%S %p' },
  R: { kind: 'composite', pattern: '%H:%M' },
  T: { kind: 'composite', pattern: '%H:%M:%S' },
  x: { kind: 'composite', pattern: '%m/%d/%y' },
  X: { kind: 'composite', pattern: '%H:%M:%S' },
  C: num(1, (t) => Math.floor(t.year / 100)),
  d: num(2, (t) => t.day),
  e: num(2, (t) => t.day, true),
  g: num(2, (t) => ((isoWeek(t).year % 100) + 100) % 100),
  G: num(1, (t) => isoWeek(t).year),
  H: num(2, (t) => t.hour),
  I: num(2, hour12),
  j: num(3, (t) => t.yearDay),
  k: num(2, (t) => t.hour, true),
  l: num(2, hour12, true),
  m: num(2, (t) => t.month),
  M: num(2, (t) => t.minute),
  s: num(1, mktime, true),
  S: num(2, (t) => t.second),
  u: num(1, (t) => (t.weekday === 0 ? 7 : t.weekday)),
  U: num(2, (t) => weekOfYear(t, 0)),
  V: num(2, (t) => isoWeek(t).week),
  w: num(1, (t) => t.weekday),
  W: num(2, (t) => weekOfYear(t, 1)),
  y: num(2, (t) => ((t.year % 100) + 100) % 100),
  Y: num(1, (t) => t.year),
};

/** The directives glibc accepts after an `E` or `O` modifier (the C locale ignores the modifier). */
const E_OK = new Set('cCxXyY');
const O_OK = new Set('deHImMSuUVwWy');

/** Python's own directives: no flags, width or modifier allowed with them here. */
const PYTHON_OWN: Record<string, (t: BrokenDownTime) => string> = {
  f: (t) => String(t.microsecond).padStart(6, '0'),
  z: (t) => offsetText(t, false),
  Z: (t) => t.zoneName ?? '',
};

function applyWidth(s: string, width: number, zero: boolean): string {
  return width > s.length ? (zero ? '0' : ' ').repeat(width - s.length) + s : s;
}

function invalid(pattern: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `invalid time format ${JSON.stringify(pattern)}: ${why}`);
}

function compile(pattern: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const ch = pattern[i];
    if (ch !== '%') {
      literal += ch;
      i++;
      continue;
    }
    const start = i;
    i++;
    if (i >= n) throw invalid(pattern, "it ends with a lone '%'");
    // Python's own directives come first, recognised only right after the '%'.
    const own = pattern[i] === ':' && pattern[i + 1] === 'z' ? 'colon' : PYTHON_OWN[pattern[i] ?? ''];
    if (own !== undefined) {
      if (literal) pieces.push(literal);
      literal = '';
      if (own === 'colon') {
        pieces.push((t) => offsetText(t, true));
        i += 2;
      } else {
        pieces.push(own);
        i++;
      }
      continue;
    }
    let pad = '';
    let upper = false;
    let hash = false;
    for (;;) {
      const f = pattern[i];
      if (f === '-' || f === '_' || f === '0') pad = f;
      else if (f === '^') upper = true;
      else if (f === '#') hash = true;
      else break;
      i++;
    }
    let width = -1;
    if (/[1-9]/.test(pattern[i] ?? '')) {
      width = 0;
      while (/[0-9]/.test(pattern[i] ?? '')) width = width * 10 + Number(pattern[i++]);
      if (width > 1024) throw invalid(pattern, `field width ${width} is too large`);
    }
    let modifier = '';
    if (pattern[i] === 'E' || pattern[i] === 'O') modifier = pattern[i++] ?? '';
    const conv = pattern[i];
    i++;
    const spec = pattern.slice(start, i);
    if (conv === undefined) throw invalid(pattern, `${JSON.stringify(spec)} lacks a conversion letter`);
    if ((conv === 'f' || conv === 'z' || conv === 'Z') && spec.length > 2) {
      throw invalid(pattern, `flags, width or modifier cannot be used with %${conv}`);
    }
    if ((modifier === 'E' && !E_OK.has(conv)) || (modifier === 'O' && !O_OK.has(conv))) {
      throw invalid(pattern, `unknown directive ${JSON.stringify(spec)}`);
    }
    const simple = conv === 'n' ? '\n' : conv === 't' ? '\t' : conv === '%' ? '%' : undefined;
    if (simple !== undefined) {
      literal += applyWidth(simple, width, pad === '0');
      continue;
    }
    const d = DIRECTIVES[conv];
    if (d === undefined) throw invalid(pattern, `unknown directive ${JSON.stringify(spec)}`);
    if (literal) pieces.push(literal);
    literal = '';
    pieces.push(directivePiece(d, pad, upper, hash, width));
  }
  if (literal) pieces.push(literal);
  return pieces;
}

function directivePiece(d: Directive, pad: string, upper: boolean, hash: boolean, width: number): Piece {
  switch (d.kind) {
    case 'number': {
      const eff = pad === '0' || pad === '-' ? pad : d.spacePad ? '_' : pad;
      const digits = Math.max(d.digits, width);
      return (t) => {
        const s = String(d.value(t));
        if (eff === '-') return applyWidth(s, width, false);
        return applyWidth(s, digits, eff !== '_');
      };
    }
    case 'text': {
      const toLower = d.lower === true || (hash && d.hash === 'lower');
      const toUpper = !toLower && (upper || (hash && d.hash === 'upper'));
      return (t) => {
        let s = d.value(t);
        if (toLower) s = s.toLowerCase();
        else if (toUpper) s = s.toUpperCase();
        return applyWidth(s, width, pad === '0');
      };
    }
    case 'composite': {
      const inner = compile(d.pattern);
      return (t) => {
        let s = render(inner, t);
        if (upper) s = s.toUpperCase();
        return applyWidth(s, width, pad === '0');
      };
    }
  }
}

function render(pieces: readonly Piece[], t: BrokenDownTime): string {
  let out = '';
  for (const p of pieces) out += typeof p === 'string' ? p : p(t);
  return out;
}

const compiled = new Map<string, Piece[]>();

function compiledPattern(pattern: string): Piece[] {
  let pieces = compiled.get(pattern);
  if (pieces === undefined) {
    pieces = compile(pattern);
    if (compiled.size >= 256) compiled.clear();
    compiled.set(pattern, pieces);
  }
  return pieces;
}

/** Formats `t` by `pattern` as Python's `datetime.strftime` does on Linux in the C locale. */
export function strftime(pattern: string, t: BrokenDownTime): string {
  return render(compiledPattern(pattern), t);
}
