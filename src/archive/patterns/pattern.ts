/**
 * One borg pattern (`fm:`, `sh:`, `re:`, `pp:`, `pf:`), compiled once into the cheapest test that
 * gives borg's answer: a string comparison or prefix check where the pattern has no wildcard, a
 * RegExp otherwise.
 *
 * Paths are archive paths: no leading `/`, `/` between names. The fm, sh and pp styles match a path
 * when they match all of it or it up to (not including) a `/`; so `home/user` matches `home/user`
 * and `home/user/x`, never `home/username`. A glob ending in `/` matches only what lies below.
 */

import { InvalidArgumentError } from '../../errors.js';
import {
  GlobRangeError,
  isLiteralGlob,
  joinTokens,
  shellTokens,
  translateFnmatch,
  translateShell,
  type ShellToken,
} from './glob.js';
import { PythonRegexError, translatePythonRegex } from './python-regex.js';

/** A pattern style: fnmatch, shell, Python regular expression, path prefix, path full-match. */
export type PatternStyle = 'fm' | 'sh' | 're' | 'pp' | 'pf';

/** The style prefixes borg knows, in the order its messages list them. */
export const PATTERN_STYLES: readonly PatternStyle[] = ['fm', 'pf', 'pp', 're', 'sh'];

/** Whether `s` names a pattern style. */
export function isPatternStyle(s: string): s is PatternStyle {
  return (PATTERN_STYLES as readonly string[]).includes(s);
}

/** `s` in single quotes for a one-line message, control characters (newlines...) escaped. */
export function quote(s: string): string {
  const shown = s.replace(/[\x00-\x1f\x7f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `'${shown}'`;
}

/**
 * POSIX `os.path.normpath`: collapses repeated `/`, drops `.` names and resolves `..` against the
 * name before it (never above a leading `/`); keeps one leading `/`, or two if exactly two; the
 * empty path becomes `.`.
 */
export function normpath(path: string): string {
  if (path === '') return '.';
  let initial = 0;
  if (path.startsWith('/')) initial = path.startsWith('//') && !path.startsWith('///') ? 2 : 1;
  const names: string[] = [];
  for (const name of path.split('/')) {
    if (name === '' || name === '.') continue;
    const last = names[names.length - 1];
    if (name !== '..' || (initial === 0 && last === undefined) || last === '..') names.push(name);
    else if (last !== undefined) names.pop();
  }
  return '/'.repeat(initial) + names.join('/') || '.';
}

/** `s` without its leading `/` characters (Python's `lstrip('/')`). */
export function stripLeadingSlashes(s: string): string {
  let i = 0;
  while (s.charCodeAt(i) === 0x2f) i++;
  return i === 0 ? s : s.slice(i);
}

function stripTrailingSlashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x2f) end--;
  return s.slice(0, end);
}

/** How a compiled pattern tests a path. */
const enum Test {
  /** Every path. */
  All,
  /** The path equals `literal`. */
  Equal,
  /** The path equals `literal` or starts with `literal` + `/`. */
  EqualOrBelow,
  /** The path starts with `literal` (which ends in `/`). */
  Below,
  /** `regex.test(path)`. */
  Regex,
  /** `regex.test(path + '/')`: borg's own form, for the few shell patterns not reduced to the above. */
  SlashedRegex,
}

/** A two-character style prefix as borg recognises it: two letters or digits, then `:`. */
const STYLE_PREFIX = /^([\p{L}\p{N}]{2}):/u;

/**
 * Splits a pattern into its style and the text after the prefix. Any two letters or digits before
 * a `:` are taken as a style, as borg does, so `ab:x` is an error rather than an fnmatch pattern.
 */
export function splitStyle(source: string, defaultStyle: PatternStyle): { style: PatternStyle; text: string } {
  const m = STYLE_PREFIX.exec(source);
  if (m === null) return { style: defaultStyle, text: source };
  const prefix = m[1] as string;
  if (!isPatternStyle(prefix)) {
    throw new InvalidArgumentError(
      'HOARD_INVALID_ARGUMENT',
      `unknown pattern style ${quote(prefix)} in pattern ${quote(source)} (styles: ${PATTERN_STYLES.join(', ')})`,
    );
  }
  return { style: prefix, text: source.slice(m[0].length) };
}

/** A compiled pattern. */
export class Pattern {
  /** The pattern's style. */
  readonly style: PatternStyle;
  /** The pattern as written, with its style prefix if it had one. */
  readonly source: string;
  /** The pattern after its style prefix, as borg prints it in "never matched" warnings. */
  readonly text: string;
  /** For `pf:`, the normalised path it stands for (the key of the matcher's exact lookups). */
  readonly fullPath: string | undefined;
  private readonly check: Test;
  private readonly literal: string;
  private readonly regex: RegExp | undefined;

  /** Compiles `source`; `defaultStyle` applies when it has no style prefix. */
  constructor(source: string, defaultStyle: PatternStyle) {
    const { style, text } = splitStyle(source, defaultStyle);
    this.style = style;
    this.source = source;
    this.text = text;
    this.fullPath = undefined;
    this.literal = '';
    this.regex = undefined;
    switch (style) {
      case 'pf':
        this.check = Test.Equal;
        this.literal = stripLeadingSlashes(normpath(text));
        this.fullPath = this.literal;
        break;
      case 'pp': {
        // borg: (normpath(p).rstrip('/') + '/').lstrip('/'), a prefix of path + '/'.
        const base = stripLeadingSlashes(stripTrailingSlashes(normpath(text)));
        this.check = base === '' ? Test.All : Test.EqualOrBelow;
        this.literal = base;
        break;
      }
      case 'fm':
      case 'sh': {
        const below = text.endsWith('/');
        const base = stripLeadingSlashes(below ? stripTrailingSlashes(normpath(text)) : normpath(text));
        const plan = style === 'fm' ? fnmatchPlan(base, below) : shellPlan(base, below, source);
        this.check = plan.test;
        this.literal = plan.literal ?? '';
        this.regex = plan.regex;
        break;
      }
      case 're':
        this.check = Test.Regex;
        try {
          this.regex = translatePythonRegex(text);
        } catch (e) {
          if (!(e instanceof PythonRegexError)) throw e;
          const message = `invalid regular expression in pattern ${quote(source)}: ${e.message}`;
          throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
        }
        break;
    }
  }

  /**
   * Whether the pattern matches `path`, an archive path without a leading `/` (what
   * {@link PatternMatcher.match} passes after stripping one).
   */
  matches(path: string): boolean {
    switch (this.check) {
      case Test.All:
        return true;
      case Test.Equal:
        return path === this.literal;
      case Test.EqualOrBelow: {
        const n = this.literal.length;
        return path.startsWith(this.literal) && (path.length === n || path.charCodeAt(n) === 0x2f);
      }
      case Test.Below:
        return path.startsWith(this.literal);
      case Test.Regex:
        return (this.regex as RegExp).test(path);
      case Test.SlashedRegex:
        return (this.regex as RegExp).test(`${path}/`);
    }
  }
}

/** How an fm or sh pattern is tested. */
interface Plan {
  test: Test;
  literal?: string;
  regex?: RegExp;
}

function anchored(body: string, tail: string): RegExp {
  return new RegExp(`^(?:${body})${tail}`, 'u');
}

/*
 * borg turns an fm or sh pattern P into P + "/*" (fm) or P + "/" + "**" + "/*" (sh), or, when P ends
 * in '/', into P + "*" + "/" (fm) or P + "**" + "/*" + "/" (sh), and matches it against path + '/'.
 * Since path + '/' ends in '/', the final '*' can only match nothing there, and the suffixes reduce
 * to: P then end-of-path or '/' (no trailing slash), or P then '/' (trailing slash). That is tested on
 * the path itself, with no string built per call. The one exception is a shell P ending in two
 * stars, whose last two stars join the suffix's '/' into a "zero or more directories" run; see
 * shellPlan.
 */

/** base: the pattern normalised, leading and (if below) trailing slashes removed. */
function fnmatchPlan(base: string, below: boolean): Plan {
  if (base === '') return { test: Test.All };
  if (isLiteralGlob(base)) return literalPlan(base, below);
  return { test: Test.Regex, regex: anchored(translateFnmatch(base), below ? '/' : '(?:/|$)') };
}

function literalPlan(base: string, below: boolean): Plan {
  return below ? { test: Test.Below, literal: `${base}/` } : { test: Test.EqualOrBelow, literal: base };
}

function shellPlan(base: string, below: boolean, source: string): Plan {
  if (base === '') return { test: Test.All };
  if (isLiteralGlob(base)) return literalPlan(base, below);
  const tokens = (pattern: string): ShellToken[] => {
    try {
      return shellTokens(pattern);
    } catch (e) {
      if (!(e instanceof GlobRangeError)) throw e;
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `invalid pattern ${quote(source)}: ${e.message}`);
    }
  };
  if (!base.endsWith('**')) {
    return { test: Test.Regex, regex: anchored(joinTokens(tokens(base)), below ? '/' : '(?:/|$)') };
  }
  // base = Q + "**": the suffix's '/' is absorbed, leaving Q, then zero or more directories.
  const q = base.slice(0, -2);
  if (q === '') return { test: Test.All };
  const qTokens = tokens(q);
  // Trailing slash: Q, then anything at all (the directories, then the last name).
  if (below) return { test: Test.Regex, regex: anchored(joinTokens(qTokens), '') };
  // No trailing slash: some leading part of the path matches Q, or path + '/' matches Q entirely.
  const last = qTokens[qTokens.length - 1] as ShellToken;
  // Q = Q' + '/': Q' then '/' inside the path, or Q' then the end of the path.
  if (last.slash === 'literal') {
    return { test: Test.Regex, regex: anchored(joinTokens(qTokens.slice(0, -1)), '(?:/|$)') };
  }
  // If no token of Q can take the added '/' with only empty matches after it, the second case is
  // impossible. Only '*' ([^/]*) matches empty; a literal other than '/' or a '?' needs a character.
  let i = qTokens.length - 1;
  while (i >= 0 && (qTokens[i] as ShellToken).source === '[^/]*') i--;
  if (i < 0 || (qTokens[i] as ShellToken).slash === 'never') {
    return { test: Test.Regex, regex: anchored(joinTokens(qTokens), '') };
  }
  return { test: Test.SlashedRegex, regex: anchored(translateShell(`${base}/**/*`), '$') };
}
