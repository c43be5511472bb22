/**
 * Python `re` syntax (what borg's `re:` patterns are written in) translated to a JavaScript RegExp
 * with the same meaning on str paths.
 *
 * The translation parses the pattern the way Python 3.11's `re` parser does and re-emits every
 * construct explicitly, so that the places where the two dialects differ keep Python's meaning:
 * `.` excludes only `\n`, `$` also matches before a final `\n`, `\d \w \s \b` are Unicode-aware,
 * `{` that does not start a valid repeat is a literal, `{,n}` is `{0,n}`, `]` first in a set is a
 * literal, octal escapes, `(?P<name>...)`, `(?P=name)`, `(?#...)`, and inline flags `a i m s u x`
 * (global ones at the start; scoped `(?s:...)`, `(?m:...)`, `(?x:...)`, `(?a:...)`).
 *
 * What JavaScript cannot express is refused with a {@link PythonRegexError}: conditional groups
 * `(?(1)...)`, atomic groups `(?>...)`, possessive repeats `*+`, `\N{name}`, and a scoped flag that
 * changes case sensitivity (`(?i:...)` without a global `(?i)`).
 * Everything Python rejects is rejected too, with Python's reason.
 *
 * Known nuance: JavaScript's case-insensitive matching cannot be limited to ASCII, so under
 * `(?a)` with `(?i)` the Kelvin sign (U+212A) and long s (U+017F) still match `k` and `s`.
 */

/** Why a Python regular expression cannot be used: a syntax error or a feature JavaScript lacks. */
export class PythonRegexError extends Error {}

/** Python's largest repeat count (`_sre.MAXREPEAT`); counts at or above it are refused. */
const MAX_REPEAT = 4294967295;

/** Python's whitespace for `\s` on str patterns (`str.isspace`), as the body of a JS class. */
const SPACE_UNICODE = '\\t\\n\\v\\f\\r\\x1c-\\x1f\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_ASCII = '\\t\\n\\v\\f\\r\\x20';
/** Python's `\w` on str patterns: `str.isalnum()` or `_`. */
const WORD_UNICODE = '\\p{L}\\p{N}_';
const WORD_ASCII = 'A-Za-z0-9_';
const DIGIT_UNICODE = '\\p{Nd}';
const DIGIT_ASCII = '0-9';

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);
const DIGITS = /^[0-9]$/;
const OCT_DIGITS = /^[0-7]$/;
const HEX_DIGITS = /^[0-9a-fA-F]$/;
const ASCII_LETTER = /^[A-Za-z]$/;
const IDENTIFIER = /^[\p{ID_Start}_][\p{ID_Continue}]*$/u;
const FLAG_LETTERS = 'aiLmsux';

/** Flags in force at a point of the pattern. */
interface Flags {
  ascii: boolean;
  ignoreCase: boolean;
  multiline: boolean;
  dotAll: boolean;
  verbose: boolean;
}

/** What the last item of a sequence is, for deciding whether a repeat may follow it. */
type ItemKind = 'atom' | 'anchor' | 'repeat';

/** A shorthand class (`\d`, `\W`, ...): the body of a JS class and whether it is negated. */
interface Shorthand {
  body: string;
  negated: boolean;
}

/** A code point as a JS regex escape (`\u{...}`), valid inside and outside classes in `u` mode. */
function escapeCodePoint(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** One literal character as JS regex source: ASCII letters and digits as they are, the rest escaped. */
function literal(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  return escapeCodePoint(cp);
}

function shorthand(letter: string, ascii: boolean): Shorthand | undefined {
  switch (letter) {
    case 'd':
    case 'D':
      return { body: ascii ? DIGIT_ASCII : DIGIT_UNICODE, negated: letter === 'D' };
    case 'w':
    case 'W':
      return { body: ascii ? WORD_ASCII : WORD_UNICODE, negated: letter === 'W' };
    case 's':
    case 'S':
      return { body: ascii ? SPACE_ASCII : SPACE_UNICODE, negated: letter === 'S' };
    default:
      return undefined;
  }
}

/** Python's simple escapes (valid inside and outside sets; `\b` only inside). */
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 7,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
};

class Translator {
  private readonly chars: string[];
  private pos = 0;
  /** Capturing groups opened so far. */
  private groups = 0;
  private readonly closed = new Set<number>();
  private readonly names = new Map<string, number>();
  private readonly ignoreCase: boolean;
  private readonly topFlags: Flags;
  /** Whether the translation has a lookaround (see {@link translate}). */
  private lookaround = false;

  constructor(pattern: string) {
    this.chars = Array.from(pattern);
    this.topFlags = this.leadingFlags();
    this.ignoreCase = this.topFlags.ignoreCase;
  }

  /** The whole pattern as a RegExp. */
  translate(): RegExp {
    let source = this.alternation(this.topFlags);
    if (this.pos < this.chars.length) throw this.error('unbalanced parenthesis');
    // V8 tries a match at every code unit, even between the halves of a surrogate pair, where a
    // lookaround sees a lone surrogate: '(?!\u{1F600})' finds a match inside '\u{1F600}'. Python
    // strings have no such positions; starting from the beginning of the path and skipping whole
    // code points to where the pattern starts keeps to real character boundaries.
    if (this.lookaround) source = `^[^]*?(?:${source})`;
    try {
      return new RegExp(source, this.ignoreCase ? 'iu' : 'u');
    } catch (e) {
      // The translation emits only valid syntax; this is a safety net for the unforeseen.
      throw new PythonRegexError(`JavaScript cannot compile it: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private error(message: string, at = this.pos): PythonRegexError {
    return new PythonRegexError(`${message} at position ${at}`);
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private next(): string | undefined {
    const c = this.chars[this.pos];
    if (c !== undefined) this.pos++;
    return c;
  }

  private accept(c: string): boolean {
    if (this.chars[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  /** Global inline flag groups, `(?ims)`, which Python allows only at the very start. */
  private leadingFlags(): Flags {
    const flags: Flags = { ascii: false, ignoreCase: false, multiline: false, dotAll: false, verbose: false };
    for (;;) {
      if (flags.verbose) this.skipVerbose();
      if (this.peek() !== '(' || this.peek(1) !== '?') return flags;
      const first = this.peek(2);
      if (first === '#') {
        // A comment emits nothing, so global flags may still follow it.
        const close = this.chars.indexOf(')', this.pos + 3);
        if (close < 0) return flags;
        this.pos = close + 1;
        continue;
      }
      if (first === undefined || !FLAG_LETTERS.includes(first)) return flags;
      // Look ahead: a global group is letters then ')'; letters then '-' or ':' is scoped.
      let end = this.pos + 2;
      while (end < this.chars.length && FLAG_LETTERS.includes(this.chars[end] ?? '')) end++;
      if (this.chars[end] !== ')') return flags;
      const start = this.pos;
      this.pos += 2;
      const { add } = this.flagLetters(start);
      this.pos = end + 1;
      applyFlags(flags, add, []);
    }
  }

  private skipVerbose(): void {
    for (;;) {
      const c = this.peek();
      if (c !== undefined && WHITESPACE.has(c)) {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < this.chars.length && this.chars[this.pos] !== '\n') this.pos++;
        if (this.pos < this.chars.length) this.pos++;
      } else {
        return;
      }
    }
  }

  /**
   * Parses inline flag letters after `(?`: `add[-del]` ending at `)` or `:`. Leaves the position on
   * the terminator. Python's rules: no `L` on str patterns, `a`/`u` exclusive and not removable.
   */
  private flagLetters(start: number): { add: string[]; del: string[]; terminator: string } {
    const add: string[] = [];
    const del: string[] = [];
    let c = this.peek();
    if (c !== '-') {
      for (;;) {
        if (c === 'L') throw this.error("bad inline flags: cannot use 'L' flag with a str pattern", start);
        if (c === undefined) throw this.error('missing -, : or )');
        add.push(c);
        if (add.includes('a') && add.includes('u')) {
          throw this.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible", start);
        }
        this.pos++;
        c = this.peek();
        if (c === undefined) throw this.error('missing -, : or )');
        if (c === ')' || c === '-' || c === ':') break;
        if (!FLAG_LETTERS.includes(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing -, : or )');
      }
    }
    if (c === ')') return { add, del, terminator: ')' };
    if (c === '-') {
      this.pos++;
      c = this.peek();
      if (c === undefined) throw this.error('missing flag');
      if (!FLAG_LETTERS.includes(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing flag');
      for (;;) {
        if (c === 'a' || c === 'u' || c === 'L') {
          throw this.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", start);
        }
        del.push(c);
        this.pos++;
        c = this.peek();
        if (c === undefined) throw this.error('missing :');
        if (c === ':') break;
        if (!FLAG_LETTERS.includes(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing :');
      }
    }
    if (add.some((f) => del.includes(f))) throw this.error('bad inline flags: flag turned on and off', start);
    return { add, del, terminator: ':' };
  }

  /** `a|b|c` up to an unmatched `)` or the end. */
  private alternation(flags: Flags): string {
    const branches: string[] = [this.sequence(flags)];
    while (this.accept('|')) branches.push(this.sequence(flags));
    return branches.join('|');
  }

  private sequence(flags: Flags): string {
    let out = '';
    let last: { start: number; kind: ItemKind } | undefined;
    for (;;) {
      if (flags.verbose) this.skipVerbose();
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') return out;
      const at = this.pos;
      if (c === '*' || c === '+' || c === '?' || c === '{') {
        const repeat = this.repeat();
        if (repeat === undefined) {
          // '{' that does not start a valid repeat is a literal.
          last = { start: out.length, kind: 'atom' };
          out += literal(0x7b);
          continue;
        }
        if (last === undefined || last.kind === 'anchor') throw this.error('nothing to repeat', at);
        if (last.kind === 'repeat') throw this.error('multiple repeat', at);
        out = `${out.slice(0, last.start)}(?:${out.slice(last.start)})${repeat}`;
        last = { start: last.start, kind: 'repeat' };
        continue;
      }
      const item = this.item(flags);
      if (item === undefined) continue; // a comment
      last = { start: out.length, kind: item.kind };
      out += item.source;
    }
  }

  /** A repeat operator at the position, as JS source; undefined for a literal `{`. */
  private repeat(): string | undefined {
    const c = this.next();
    let body: string;
    if (c === '*') body = '*';
    else if (c === '+') body = '+';
    else if (c === '?') body = '?';
    else {
      const here = this.pos;
      if (this.peek() === '}') {
        return undefined;
      }
      let lo = '';
      let hi = '';
      while (DIGITS.test(this.peek() ?? '')) lo += this.next();
      if (this.accept(',')) {
        while (DIGITS.test(this.peek() ?? '')) hi += this.next();
      } else {
        hi = lo;
      }
      if (!this.accept('}')) {
        this.pos = here;
        return undefined;
      }
      const min = lo === '' ? 0 : Number(lo);
      const max = hi === '' ? Infinity : Number(hi);
      if (min >= MAX_REPEAT || (max !== Infinity && max >= MAX_REPEAT)) {
        throw new PythonRegexError(`the repetition number is too large (position ${here - 1})`);
      }
      if (max < min) throw this.error('min repeat greater than max repeat', here - 1);
      body = max === Infinity ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`;
    }
    if (this.accept('?')) return `${body}?`;
    if (this.peek() === '+') {
      throw new PythonRegexError(`possessive repeats (${c === '{' ? '{m,n}' : c}+) are not supported (position ${this.pos})`);
    }
    return body;
  }

  /** One item; undefined for something that emits nothing (a comment group). */
  private item(flags: Flags): { source: string; kind: ItemKind } | undefined {
    const at = this.pos;
    const c = this.next() as string;
    switch (c) {
      case '\\':
        return this.escape(flags);
      case '[':
        return { source: this.set(flags, at), kind: 'atom' };
      case '(':
        return this.group(flags, at);
      case '.':
        return { source: flags.dotAll ? '[^]' : '[^\\n]', kind: 'atom' };
      case '^':
        if (flags.multiline) this.lookaround = true;
        return { source: flags.multiline ? '(?<![^\\n])' : '^', kind: 'anchor' };
      case '$':
        // Without (?m), '$' only looks at the end, where no surrogate pair can be split.
        if (flags.multiline) this.lookaround = true;
        return { source: flags.multiline ? '(?![^\\n])' : '(?=\\n?$)', kind: 'anchor' };
      default:
        return { source: literal(c.codePointAt(0) as number), kind: 'atom' };
    }
  }

  private wordBoundary(flags: Flags, negated: boolean): string {
    const w = `[${flags.ascii ? WORD_ASCII : WORD_UNICODE}]`;
    this.lookaround = true;
    if (!negated) return `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
    // Python's \B never matches in an empty string.
    return `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w})(?:(?<=[^])|(?=[^])))`;
  }

  /** An escape outside a set; the backslash is consumed. */
  private escape(flags: Flags): { source: string; kind: ItemKind } {
    const at = this.pos - 1;
    const c = this.next();
    if (c === undefined) throw this.error('bad escape (end of pattern)', at);
    const sh = shorthand(c, flags.ascii);
    if (sh !== undefined) return { source: sh.negated ? `[^${sh.body}]` : `[${sh.body}]`, kind: 'atom' };
    switch (c) {
      case 'A':
        return { source: '^', kind: 'anchor' };
      case 'Z':
        return { source: '$', kind: 'anchor' };
      case 'b':
        return { source: this.wordBoundary(flags, false), kind: 'anchor' };
      case 'B':
        return { source: this.wordBoundary(flags, true), kind: 'anchor' };
      default:
        break;
    }
    if (c === '0') {
      let digits = '';
      while (digits.length < 2 && OCT_DIGITS.test(this.peek() ?? '')) digits += this.next();
      return { source: literal(parseInt(`0${digits}`, 8)), kind: 'atom' };
    }
    if (DIGITS.test(c)) {
      let digits = c;
      if (DIGITS.test(this.peek() ?? '')) {
        digits += this.next();
        if (OCT_DIGITS.test(c) && OCT_DIGITS.test(digits[1] ?? '') && OCT_DIGITS.test(this.peek() ?? '')) {
          digits += this.next();
          const value = parseInt(digits, 8);
          if (value > 0o377) throw this.error(`octal escape value \\${digits} outside of range 0-0o377`, at);
          return { source: literal(value), kind: 'atom' };
        }
      }
      const group = Number(digits);
      if (group > this.groups) throw this.error(`invalid group reference ${group}`, at + 1);
      if (!this.closed.has(group)) throw this.error('cannot refer to an open group', at);
      return { source: `(?:\\${group})`, kind: 'atom' };
    }
    const cp = this.charEscape(c, at);
    return { source: literal(cp), kind: 'atom' };
  }

  /**
   * The code point of a character escape valid both inside and outside sets (`\n`, `\x41`, `\u00e9`,
   * `\U0001f600`, `\-`, ...); `c` is the character after the backslash, already consumed.
   */
  private charEscape(c: string, at: number): number {
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    const hexLength = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (hexLength > 0) {
      let hex = '';
      while (hex.length < hexLength && HEX_DIGITS.test(this.peek() ?? '')) hex += this.next();
      if (hex.length !== hexLength) throw this.error(`incomplete escape \\${c}${hex}`, at);
      const value = parseInt(hex, 16);
      if (value > 0x10ffff) throw this.error(`bad escape \\${c}${hex}`, at);
      return value;
    }
    if (c === 'N') throw new PythonRegexError(`named character escapes (\\N{...}) are not supported (position ${at})`);
    if (ASCII_LETTER.test(c)) throw this.error(`bad escape \\${c}`, at);
    return c.codePointAt(0) as number;
  }

  /** A set `[...]`; the `[` at `start` is consumed. */
  private set(flags: Flags, start: number): string {
    const negate = this.accept('^');
    let body = '';
    const extra: string[] = [];
    let empty = true;
    for (;;) {
      const c = this.next();
      if (c === undefined) throw this.error('unterminated character set', start);
      if (c === ']' && !empty) break;
      empty = false;
      let lo: number | Shorthand;
      if (c === '\\') lo = this.setEscape(flags);
      else lo = c.codePointAt(0) as number;
      if (this.accept('-')) {
        const d = this.next();
        if (d === undefined) throw this.error('unterminated character set', start);
        if (d === ']') {
          body += typeof lo === 'number' ? escapeCodePoint(lo) : this.addShorthand(lo, extra);
          body += escapeCodePoint(0x2d);
          break;
        }
        const hi = d === '\\' ? this.setEscape(flags) : (d.codePointAt(0) as number);
        if (typeof lo !== 'number' || typeof hi !== 'number' || hi < lo) {
          throw this.error(`bad character range`, start);
        }
        body += `${escapeCodePoint(lo)}-${escapeCodePoint(hi)}`;
      } else {
        body += typeof lo === 'number' ? escapeCodePoint(lo) : this.addShorthand(lo, extra);
      }
    }
    if (extra.length === 0) return negate ? `[^${body}]` : `[${body}]`;
    if (negate) this.lookaround = true;
    const union = `(?:${(body === '' ? [] : [`[${body}]`]).concat(extra).join('|')})`;
    return negate ? `(?:(?!${union})[^])` : union;
  }

  /** A positive shorthand goes into the class body; a negated one becomes an alternative. */
  private addShorthand(sh: Shorthand, extra: string[]): string {
    if (!sh.negated) return sh.body;
    extra.push(`[^${sh.body}]`);
    return '';
  }

  /** An escape inside a set; the backslash is consumed. */
  private setEscape(flags: Flags): number | Shorthand {
    const at = this.pos - 1;
    const c = this.next();
    if (c === undefined) throw this.error('bad escape (end of pattern)', at);
    if (c === 'b') return 8;
    const sh = shorthand(c, flags.ascii);
    if (sh !== undefined) return sh;
    if (OCT_DIGITS.test(c)) {
      let digits = c;
      while (digits.length < 3 && OCT_DIGITS.test(this.peek() ?? '')) digits += this.next();
      const value = parseInt(digits, 8);
      if (value > 0o377) throw this.error(`octal escape value \\${digits} outside of range 0-0o377`, at);
      return value;
    }
    if (DIGITS.test(c)) throw this.error(`bad escape \\${c}`, at);
    return this.charEscape(c, at);
  }

  private groupName(terminator: string, at: number): string {
    let name = '';
    for (;;) {
      const c = this.next();
      if (c === undefined) throw this.error(`missing ${terminator}, unterminated name`, at);
      if (c === terminator) break;
      name += c;
    }
    if (name === '') throw this.error('missing group name', at);
    if (!IDENTIFIER.test(name)) throw this.error(`bad character in group name '${name}'`, at);
    return name;
  }

  private closeParen(start: number): void {
    if (!this.accept(')')) throw this.error('missing ), unterminated subpattern', start);
  }

  /** A group; the `(` at `start` is consumed. */
  private group(flags: Flags, start: number): { source: string; kind: ItemKind } | undefined {
    if (!this.accept('?')) {
      const n = ++this.groups;
      const inner = this.alternation(flags);
      this.closeParen(start);
      this.closed.add(n);
      return { source: `(${inner})`, kind: 'atom' };
    }
    const c = this.next();
    if (c === undefined) throw this.error('unexpected end of pattern');
    if (c === 'P') {
      if (this.accept('<')) {
        const name = this.groupName('>', this.pos);
        if (this.names.has(name)) throw this.error(`redefinition of group name '${name}'`, start);
        const n = ++this.groups;
        this.names.set(name, n);
        const inner = this.alternation(flags);
        this.closeParen(start);
        this.closed.add(n);
        return { source: `(?<${name}>${inner})`, kind: 'atom' };
      }
      if (this.accept('=')) {
        const name = this.groupName(')', this.pos);
        const n = this.names.get(name);
        if (n === undefined) throw this.error(`unknown group name '${name}'`, start);
        if (!this.closed.has(n)) throw this.error('cannot refer to an open group', start);
        return { source: `(?:\\k<${name}>)`, kind: 'atom' };
      }
      const d = this.next();
      if (d === undefined) throw this.error('unexpected end of pattern');
      throw this.error(`unknown extension ?P${d}`, start + 1);
    }
    if (c === ':') {
      const inner = this.alternation(flags);
      this.closeParen(start);
      return { source: `(?:${inner})`, kind: 'atom' };
    }
    if (c === '#') {
      for (;;) {
        const d = this.next();
        if (d === undefined) throw this.error('missing ), unterminated comment', start);
        if (d === ')') return undefined;
      }
    }
    if (c === '=' || c === '!' || c === '<') {
      let head = `(?${c}`;
      if (c === '<') {
        const d = this.next();
        if (d === undefined) throw this.error('unexpected end of pattern');
        if (d !== '=' && d !== '!') throw this.error(`unknown extension ?<${d}`, start + 1);
        head += d;
      }
      this.lookaround = true;
      const inner = this.alternation(flags);
      this.closeParen(start);
      // Python may repeat a lookaround; JS may repeat it inside a group, which the repeat adds.
      return { source: `${head}${inner})`, kind: 'atom' };
    }
    if (c === '(') throw new PythonRegexError(`conditional groups (?(...)...) are not supported (position ${start})`);
    if (c === '>') throw new PythonRegexError(`atomic groups (?>...) are not supported (position ${start})`);
    if (FLAG_LETTERS.includes(c) || c === '-') {
      this.pos--;
      const { add, del, terminator } = this.flagLetters(start);
      this.pos++;
      if (terminator === ')') {
        // Global flags were all taken at the start; here they are out of place.
        throw this.error('global flags not at the start of the expression', start);
      }
      const scoped = { ...flags };
      applyFlags(scoped, add, del);
      if (scoped.ignoreCase !== this.ignoreCase) {
        throw new PythonRegexError(
          `a scoped flag that changes case sensitivity ((?i:...) or (?-i:...)) is not supported (position ${start}); use a global (?i) at the start`,
        );
      }
      const inner = this.alternation(scoped);
      this.closeParen(start);
      return { source: `(?:${inner})`, kind: 'atom' };
    }
    throw this.error(`unknown extension ?${c}`, start + 1);
  }
}

function applyFlags(flags: Flags, add: readonly string[], del: readonly string[]): void {
  for (const f of add) {
    if (f === 'a') flags.ascii = true;
    else if (f === 'i') flags.ignoreCase = true;
    else if (f === 'm') flags.multiline = true;
    else if (f === 's') flags.dotAll = true;
    else if (f === 'x') flags.verbose = true;
    else if (f === 'u') flags.ascii = false;
  }
  for (const f of del) {
    if (f === 'i') flags.ignoreCase = false;
    else if (f === 'm') flags.multiline = false;
    else if (f === 's') flags.dotAll = false;
    else if (f === 'x') flags.verbose = false;
  }
}

/**
 * Compiles a Python regular expression into a JavaScript RegExp that finds the same matches with
 * `test()` (Python's `re.search`). Throws {@link PythonRegexError} with Python's reason (and the
 * position, counted in characters) for an invalid pattern, or naming the feature JavaScript lacks.
 */
export function translatePythonRegex(pattern: string): RegExp {
  return new Translator(pattern).translate();
}
