/**
 * Python's format-spec mini-language (`[[fill]align][sign][z][#][0][width][,|_][.precision][type]`),
 * as `format(value, spec)` applies it in CPython 3.11 under the C locale, for the values borg formats:
 * strings, integers, floats, and values that format themselves (times, whose spec is a strftime
 * pattern). Floats are converted to decimal exactly and rounded half to even, as CPython does.
 */
import { InvalidArgumentError } from '../errors.js';

/** A value that renders itself under a format spec, as a Python object with `__format__` does. */
export interface SelfFormatting {
  /** The text of this value under `spec` (the empty spec gives its plain form). */
  formatSpec(spec: string): string;
}

/**
 * A value a format field can take. A `number` is a Python int when it is an integer and a float
 * otherwise (so `2.5` formats as a float, `2` as an int); a `bigint` is always an int.
 */
export type FormatValue = string | number | bigint | SelfFormatting;

/** A parsed format spec; fields not given are null, -1 or ''. */
export interface FormatSpec {
  /** The spec as written. */
  readonly text: string;
  /** The fill character when written before an alignment, else null. */
  readonly fill: string | null;
  readonly align: '<' | '>' | '^' | '=' | null;
  readonly sign: '+' | '-' | ' ' | null;
  /** `z`: print negative zero (after rounding) as zero. */
  readonly noNegZero: boolean;
  /** `#`: the alternate form. */
  readonly alternate: boolean;
  /** `0` before the width: zero padding. */
  readonly zero: boolean;
  readonly width: number;
  readonly grouping: '' | ',' | '_';
  readonly precision: number;
  /** The presentation type letter, or '' for none. */
  readonly type: string;
}

const ALIGNS = new Set(['<', '>', '^', '=']);
const MAX_FIELD = 100_000;

function specError(spec: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `invalid format spec ${JSON.stringify(spec)}: ${why}`);
}

/** Parses a format spec, throwing {@link InvalidArgumentError} when it is malformed for any value. */
export function parseFormatSpec(text: string): FormatSpec {
  const cps = Array.from(text);
  let pos = 0;
  let fill: string | null = null;
  let align: FormatSpec['align'] = null;
  if (cps.length >= 2 && ALIGNS.has(cps[1] ?? '')) {
    fill = cps[0] ?? ' ';
    align = cps[1] as FormatSpec['align'];
    pos = 2;
  } else if (cps.length >= 1 && ALIGNS.has(cps[0] ?? '')) {
    align = cps[0] as FormatSpec['align'];
    pos = 1;
  }
  let sign: FormatSpec['sign'] = null;
  const s = cps[pos];
  if (s === '+' || s === '-' || s === ' ') {
    sign = s;
    pos++;
  }
  let noNegZero = false;
  if (cps[pos] === 'z') {
    noNegZero = true;
    pos++;
  }
  let alternate = false;
  if (cps[pos] === '#') {
    alternate = true;
    pos++;
  }
  let zero = false;
  if (fill === null && cps[pos] === '0') {
    zero = true;
    pos++;
  }
  const readInt = (what: string): number => {
    let v = -1;
    while (pos < cps.length && /^[0-9]$/.test(cps[pos] ?? '')) {
      v = (v < 0 ? 0 : v * 10) + Number(cps[pos]);
      if (v > MAX_FIELD) throw specError(text, `${what} is larger than ${MAX_FIELD}`);
      pos++;
    }
    return v;
  };
  const width = readInt('the width');
  let grouping: FormatSpec['grouping'] = '';
  if (cps[pos] === ',') {
    grouping = ',';
    pos++;
  }
  if (cps[pos] === '_') {
    if (grouping) throw specError(text, "',' and '_' cannot both be given");
    grouping = '_';
    pos++;
  }
  if (cps[pos] === ',' && grouping === '_') throw specError(text, "',' and '_' cannot both be given");
  let precision = -1;
  if (cps[pos] === '.') {
    pos++;
    precision = readInt('the precision');
    if (precision < 0) throw specError(text, "'.' must be followed by a precision");
  }
  if (cps.length - pos > 1) throw specError(text, 'it is not of the form [[fill]align][sign][z][#][0][width][,|_][.precision][type]');
  const type = cps[pos] ?? '';
  if (grouping && type !== '' && !'defgEGF%'.includes(type) && !(grouping === '_' && 'boxX'.includes(type))) {
    throw specError(text, `'${grouping}' cannot be used with type '${type}'`);
  }
  return { text, fill, align, sign, noNegZero, alternate, zero, width, grouping, precision, type };
}

/** Formats `value` by a format spec given as text; see {@link applyFormatSpec}. */
export function formatWithSpec(value: FormatValue, spec: string): string {
  if (spec === '') return plain(value);
  if (typeof value === 'object') return value.formatSpec(spec);
  return applyFormatSpec(value, parseFormatSpec(spec));
}

/** The plain text of a value: Python's `str()` (a float's shortest round-trip form). */
export function plain(value: FormatValue): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'bigint':
      return value.toString();
    case 'number':
      if (Number.isInteger(value)) return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
      return floatText(value, 'r', 0, { alternate: false, noNegZero: false, addDot0: true });
    default:
      return value.formatSpec('');
  }
}

/**
 * Formats `value` by a parsed spec as Python's `format()` does. Throws {@link InvalidArgumentError}
 * when the spec does not suit the value (a sign for a string, a precision for an int, ...).
 */
export function applyFormatSpec(value: FormatValue, spec: FormatSpec): string {
  switch (typeof value) {
    case 'string':
      return formatString(value, spec);
    case 'bigint':
      return formatInt(value, spec);
    case 'number':
      if (Number.isInteger(value)) return formatInt(Number.isSafeInteger(value) ? value : BigInt(value), spec);
      return formatFloat(value, spec);
    default:
      return value.formatSpec(spec.text);
  }
}

function typeError(spec: FormatSpec, why: string): InvalidArgumentError {
  return specError(spec.text, why);
}

/** Length in code points, as Python counts a str. */
function cpLength(s: string): number {
  return /[\uD800-\uDFFF]/.test(s) ? Array.from(s).length : s.length;
}

function pad(fill: string, n: number): string {
  return n > 0 ? fill.repeat(n) : '';
}

function formatString(value: string, spec: FormatSpec): string {
  if (spec.type !== '' && spec.type !== 's') throw typeError(spec, `type '${spec.type}' cannot format a string`);
  if (spec.grouping) throw typeError(spec, `'${spec.grouping}' cannot be used with a string`);
  if (spec.sign) throw typeError(spec, 'a sign cannot be used with a string');
  if (spec.noNegZero) throw typeError(spec, "'z' cannot be used with a string");
  if (spec.alternate) throw typeError(spec, "'#' cannot be used with a string");
  if (spec.align === '=') throw typeError(spec, "'=' alignment cannot be used with a string");
  let s = value;
  let len = cpLength(s);
  if (spec.precision >= 0 && len > spec.precision) {
    s = len === s.length ? s.slice(0, spec.precision) : Array.from(s).slice(0, spec.precision).join('');
    len = spec.precision;
  }
  const total = spec.width - len;
  if (total <= 0) return s;
  const fill = spec.fill ?? (spec.zero ? '0' : ' ');
  const align = spec.align ?? '<';
  if (align === '<') return s + pad(fill, total);
  if (align === '>') return pad(fill, total) + s;
  const left = Math.floor(total / 2);
  return pad(fill, left) + s + pad(fill, total - left);
}

/**
 * Lays out a number as CPython's `fill_number` does: padding, sign, prefix, grouped integer digits
 * (zero padding is grouped too under `0` or `0=`), then the rest (decimal point, fraction, exponent).
 */
function layoutNumber(
  spec: FormatSpec,
  negative: boolean,
  prefix: string,
  intDigits: string,
  rest: string,
  sep: string,
  groupSize: number,
  digitsLength = intDigits.length,
): string {
  const fill = spec.fill ?? (spec.zero ? '0' : ' ');
  const align = spec.align ?? (spec.zero ? '=' : '>');
  const sign = spec.sign === '+' ? (negative ? '-' : '+') : spec.sign === ' ' ? (negative ? '-' : ' ') : negative ? '-' : '';
  const fixed = sign.length + prefix.length + rest.length;
  const minWidth = fill === '0' && align === '=' ? spec.width - fixed : 0;
  let digits = intDigits;
  let length = digitsLength;
  if (length > 0 && (sep || minWidth > length)) {
    digits = group(intDigits, sep, groupSize, minWidth);
    length += digits.length - intDigits.length;
  }
  const n = spec.width - (fixed + length);
  if (n <= 0) return sign + prefix + digits + rest;
  switch (align) {
    case '<':
      return sign + prefix + digits + rest + pad(fill, n);
    case '^': {
      const left = Math.floor(n / 2);
      return pad(fill, left) + sign + prefix + digits + rest + pad(fill, n - left);
    }
    case '=':
      return sign + prefix + pad(fill, n) + digits + rest;
    default:
      return pad(fill, n) + sign + prefix + digits + rest;
  }
}

/** Inserts separators every `size` digits from the right, zero-extending to at least `minWidth`. */
function group(digits: string, sep: string, size: number, minWidth: number): string {
  if (!sep) return '0'.repeat(Math.max(0, minWidth - cpLength(digits))) + digits;
  const parts: string[] = [];
  let remaining = digits.length;
  let mw = minWidth;
  for (;;) {
    const l = Math.min(size, Math.max(remaining, mw, 1));
    const take = Math.max(0, Math.min(remaining, l));
    parts.push('0'.repeat(Math.max(0, l - remaining)) + digits.slice(remaining - take, remaining));
    remaining -= take;
    mw -= l;
    if (remaining <= 0 && mw <= 0) break;
    mw -= sep.length;
  }
  return parts.reverse().join(sep);
}

const FLOAT_TYPES = 'eEfFgGn%';

function formatInt(value: number | bigint, spec: FormatSpec): string {
  const type = spec.type === '' ? 'd' : spec.type;
  if (FLOAT_TYPES.includes(type) && type !== 'n') {
    const f = Number(value);
    if (!Number.isFinite(f)) throw typeError(spec, 'the integer is too large to format as a float');
    return formatFloat(f, spec);
  }
  if (!'bcdoxXn'.includes(type)) throw typeError(spec, `type '${type}' cannot format an integer`);
  if (spec.precision >= 0) throw typeError(spec, 'a precision cannot be used with an integer');
  if (spec.noNegZero) throw typeError(spec, "'z' cannot be used with an integer");
  const negative = value < 0;
  if (type === 'c') {
    if (spec.sign) throw typeError(spec, "a sign cannot be used with type 'c'");
    if (spec.alternate) throw typeError(spec, "'#' cannot be used with type 'c'");
    if (value < 0 || value > 0x10ffff) throw typeError(spec, `${value} is not a character code (0 to 0x10ffff)`);
    // One character, which the layout counts as one digit (it may be two UTF-16 units).
    return layoutNumber(spec, false, '', String.fromCodePoint(Number(value)), '', '', 3, 1);
  }
  const base = type === 'b' ? 2 : type === 'o' ? 8 : type === 'x' || type === 'X' ? 16 : 10;
  let digits = (negative ? -value : value).toString(base);
  if (type === 'X') digits = digits.toUpperCase();
  const prefix = spec.alternate && base !== 10 ? `0${type}` : '';
  const sep = type === 'n' ? '' : spec.grouping;
  return layoutNumber(spec, negative, prefix, digits, '', sep, sep === '_' && base !== 10 ? 4 : 3);
}

function formatFloat(value: number, spec: FormatSpec): string {
  let type = spec.type;
  if (type !== '' && !FLOAT_TYPES.includes(type)) throw typeError(spec, `type '${type}' cannot format a float`);
  let precision = spec.precision;
  let addDot0 = false;
  let code: string;
  let v = value;
  let pct = false;
  if (type === '') {
    addDot0 = true;
    code = precision < 0 ? 'r' : 'g';
    if (precision < 0) precision = 0;
  } else {
    code = type === 'n' ? 'g' : type;
    if (type === '%') {
      code = 'f';
      v *= 100;
      pct = true;
    }
    if (precision < 0) precision = 6;
  }
  let text = floatText(v, code, precision, { alternate: spec.alternate, noNegZero: spec.noNegZero, addDot0 });
  if (pct) text += '%';
  const negative = text.startsWith('-');
  if (negative) text = text.slice(1);
  let i = 0;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const sep = type === 'n' ? '' : spec.grouping;
  return layoutNumber(spec, negative, '', text.slice(0, i), text.slice(i), sep, 3);
}

interface FloatFlags {
  alternate: boolean;
  noNegZero: boolean;
  addDot0: boolean;
}

/**
 * CPython's `PyOS_double_to_string` for codes `e E f F g G r`: the sign, digits, decimal point and
 * exponent of `x`, correctly rounded (half to even).
 */
function floatText(x: number, code: string, precision: number, flags: FloatFlags): string {
  const upper = code === 'E' || code === 'F' || code === 'G';
  const c = code.toLowerCase();
  if (Number.isNaN(x)) return upper ? 'NAN' : 'nan';
  let negative = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return (negative ? '-' : '') + (upper ? 'INF' : 'inf');
  const a = Math.abs(x);
  let digits: string;
  let decpt: number;
  let p = precision;
  if (c === 'r') {
    ({ digits, decpt } = shortestDigits(a));
  } else if (c === 'f') {
    ({ digits, decpt } = fixedDigits(a, p));
  } else {
    if (c === 'e') p += 1;
    else if (p === 0) p = 1;
    ({ digits, decpt } = significantDigits(a, p));
  }
  if (flags.noNegZero && negative && /^0*$/.test(digits)) negative = false;

  let useExp = false;
  let vEnd = digits.length;
  if (c === 'e') {
    useExp = true;
    vEnd = p;
  } else if (c === 'f') {
    vEnd = decpt + p;
  } else if (c === 'g') {
    if (decpt <= -4 || decpt > (flags.addDot0 ? p - 1 : p)) useExp = true;
    if (flags.alternate) vEnd = p;
  } else if (decpt <= -4 || decpt > 16) {
    useExp = true;
  }
  let exp = 0;
  if (useExp) {
    exp = decpt - 1;
    decpt = 1;
  }
  const vStart = decpt <= 0 ? decpt - 1 : 0;
  if (!useExp && flags.addDot0) vEnd = Math.max(vEnd, decpt + 1);
  else vEnd = Math.max(vEnd, decpt);

  let out = negative ? '-' : '';
  if (decpt <= 0) out += `${'0'.repeat(decpt - vStart)}.${'0'.repeat(-decpt)}`;
  else out += '0'.repeat(-vStart);
  if (decpt > 0 && decpt <= digits.length) out += `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  else out += digits;
  if (digits.length < decpt) out += `${'0'.repeat(decpt - digits.length)}.${'0'.repeat(vEnd - decpt)}`;
  else out += '0'.repeat(Math.max(0, vEnd - digits.length));
  if (out.endsWith('.') && !flags.alternate) out = out.slice(0, -1);
  if (useExp) {
    const e = Math.abs(exp);
    out += `${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return out;
}

/** Digits without trailing zeros and the decimal point's position: value = 0.DIGITS × 10^decpt. */
interface Digits {
  digits: string;
  decpt: number;
}

function stripZeros(s: string, decpt: number): Digits {
  let end = s.length;
  while (end > 1 && s.charCodeAt(end - 1) === 48) end--;
  return { digits: s.slice(0, end), decpt };
}

/** The shortest digits that read back as `a` (Python's repr and JavaScript agree on these). */
function shortestDigits(a: number): Digits {
  if (a === 0) return { digits: '0', decpt: 1 };
  const [mant = '0', exp = '0'] = a.toExponential().split('e');
  return stripZeros(mant.replace('.', ''), Number(exp) + 1);
}

const view = new DataView(new ArrayBuffer(8));

/** `a` (finite, non-negative) as mant × 2^exp exactly. */
function decompose(a: number): { mant: bigint; exp: number } {
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const e = (hi >>> 20) & 0x7ff;
  const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return e === 0 ? { mant: m, exp: -1074 } : { mant: m | (1n << 52n), exp: e - 1075 };
}

/** round-half-even(a × 10^p) computed exactly. */
function roundScaled(a: number, p: number): bigint {
  const { mant, exp } = decompose(a);
  let num = mant;
  let den = 1n;
  if (p >= 0) num *= 10n ** BigInt(p);
  else den = 10n ** BigInt(-p);
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  const q = num / den;
  const twice = 2n * (num - q * den);
  return twice > den || (twice === den && (q & 1n) === 1n) ? q + 1n : q;
}

/** `a` rounded to `p` digits after the point. */
function fixedDigits(a: number, p: number): Digits {
  const n = roundScaled(a, p);
  if (n === 0n) return { digits: '0', decpt: 1 };
  const s = n.toString();
  return stripZeros(s, s.length - p);
}

/** `a` rounded to `n` significant digits. */
function significantDigits(a: number, n: number): Digits {
  if (a === 0) return { digits: '0', decpt: 1 };
  let k = Math.floor(Math.log10(a));
  for (;;) {
    const q = roundScaled(a, n - 1 - k);
    const s = q.toString();
    if (s.length > n) k++;
    else if (s.length < n) k--;
    else return stripZeros(s, k + 1);
  }
}
