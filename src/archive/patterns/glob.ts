/**
 * The two glob dialects of borg's patterns, translated to JavaScript RegExp source (for the `u`
 * flag, without anchors):
 *
 * - fnmatch (`fm:`, Python's `fnmatch.translate`): `*` is any run of characters, `/` included;
 *   `?` is any one character; `[...]` / `[!...]` a set; a reversed range like `[z-a]` matches
 *   nothing (it is dropped from the set).
 * - shell (`sh:`, borg's `shellpattern.translate`): `**` followed by `/` is zero or more whole
 *   directory levels; otherwise `*` is any run of characters but `/`, `?` one character but `/`;
 *   sets as in fnmatch, but a reversed range is an error.
 *
 * Both treat every other character (backslash included) literally, and neither gives `/` any
 * meaning inside a set. An unclosed `[` is a literal `[`.
 */

/** A reversed range in a shell pattern's set, which Python's regex compiler refuses. */
export class GlobRangeError extends Error {}

/** One character as JS regex source: ASCII letters, digits and `/` as they are, the rest escaped. */
function literal(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x2f) {
    return String.fromCodePoint(cp);
  }
  return `\\u{${cp.toString(16)}}`;
}

function classMember(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * A set starting after the `[` at `chars[i - 1]`: returns the JS class and the index after its `]`,
 * or undefined when there is no closing `]` (then the `[` is a literal).
 */
function translateSet(
  chars: readonly string[],
  i: number,
  reversed: 'drop' | 'error',
): { source: string; end: number } | undefined {
  const n = chars.length;
  let j = i;
  if (j < n && chars[j] === '!') j++;
  if (j < n && chars[j] === ']') j++;
  while (j < n && chars[j] !== ']') j++;
  if (j >= n) return undefined;
  let k = i;
  const negate = chars[k] === '!';
  if (negate) k++;
  let body = '';
  while (k < j) {
    const lo = (chars[k] as string).codePointAt(0) as number;
    if (k + 2 < j && chars[k + 1] === '-') {
      const hi = (chars[k + 2] as string).codePointAt(0) as number;
      k += 3;
      if (hi < lo) {
        if (reversed === 'error') {
          throw new GlobRangeError(`bad character range ${chars[k - 3]}-${chars[k - 1]}`);
        }
        continue;
      }
      body += `${classMember(lo)}-${classMember(hi)}`;
    } else {
      body += classMember(lo);
      k++;
    }
  }
  // An empty set matches nothing and a negated empty one any character, in Python as in JS.
  return { source: negate ? `[^${body}]` : `[${body}]`, end: j + 1 };
}

/** Python's `fnmatch.translate` semantics for `pattern`, as JS regex source without anchors. */
export function translateFnmatch(pattern: string): string {
  const chars = Array.from(pattern);
  let out = '';
  let i = 0;
  let lastStar = false;
  while (i < chars.length) {
    const c = chars[i++] as string;
    if (c === '*') {
      if (!lastStar) out += '[^]*';
      lastStar = true;
      continue;
    }
    lastStar = false;
    if (c === '?') {
      out += '[^]';
    } else if (c === '[') {
      const set = translateSet(chars, i, 'drop');
      if (set === undefined) {
        out += literal(0x5b);
      } else {
        out += set.source;
        i = set.end;
      }
    } else {
      out += literal(c.codePointAt(0) as number);
    }
  }
  return out;
}

/**
 * One token of a shell pattern as JS regex source, and whether it can match a `/`: never, only as
 * a literal `/` token, or otherwise (a double-star directory run, or a set).
 */
export interface ShellToken {
  /** The token as JS regex source. */
  readonly source: string;
  /** Whether it can match a `/`: never, as the literal `/` token, or possibly. */
  readonly slash: 'never' | 'literal' | 'maybe';
}

/** borg's `shellpattern.translate` semantics for `pattern`, token by token. */
export function shellTokens(pattern: string): ShellToken[] {
  const chars = Array.from(pattern);
  const n = chars.length;
  const out: ShellToken[] = [];
  let i = 0;
  while (i < n) {
    const c = chars[i++] as string;
    if (c === '*') {
      if (i + 1 < n && chars[i] === '*' && chars[i + 1] === '/') {
        out.push({ source: '(?:[^/]*/)*', slash: 'maybe' });
        i += 2;
      } else {
        out.push({ source: '[^/]*', slash: 'never' });
      }
    } else if (c === '?') {
      out.push({ source: '[^/]', slash: 'never' });
    } else if (c === '[') {
      const set = translateSet(chars, i, 'error');
      if (set === undefined) {
        out.push({ source: literal(0x5b), slash: 'never' });
      } else {
        out.push({ source: set.source, slash: 'maybe' });
        i = set.end;
      }
    } else {
      out.push({ source: literal(c.codePointAt(0) as number), slash: c === '/' ? 'literal' : 'never' });
    }
  }
  return out;
}

/** borg's `shellpattern.translate` semantics for `pattern`, as JS regex source without anchors. */
export function translateShell(pattern: string): string {
  return joinTokens(shellTokens(pattern));
}

/** The source of a run of tokens. */
export function joinTokens(tokens: readonly ShellToken[]): string {
  let out = '';
  for (const t of tokens) out += t.source;
  return out;
}

/** Whether a glob has no wildcard at all, so that it can be matched as a plain string. */
export function isLiteralGlob(pattern: string): boolean {
  return !/[*?[]/.test(pattern);
}
