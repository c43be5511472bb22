/**
 * borg's pattern matcher: an ordered list of include/exclude patterns where the first that matches
 * a path decides, plus `pf:` patterns looked up by exact path before all others.
 */

import { InvalidArgumentError } from '../../errors.js';
import { Pattern, PATTERN_STYLES, isPatternStyle, quote, stripLeadingSlashes, type PatternStyle } from './pattern.js';
import { stripStart } from './text.js';

/**
 * What a matching pattern says about a path:
 * - `include`: take it (and, for a directory, look inside).
 * - `exclude`: leave it out, but a directory is still walked, so patterns may include what lies
 *   below (`-` lines of `--pattern` / `--patterns-from`).
 * - `exclude-norecurse`: leave it out and, when creating, do not walk into it (`--exclude`,
 *   `--exclude-from` and `!` lines).
 */
export type MatchAction = 'include' | 'exclude' | 'exclude-norecurse';

const COMMANDS = '+, -, !, R, r, P, p';

interface Entry {
  readonly pattern: Pattern;
  readonly action: MatchAction;
  /** Whether the pattern came from a PATH argument (extract and kin), for never-matched warnings. */
  readonly isPath: boolean;
  /** How often the pattern decided a path. */
  count: number;
}

function fail(message: string): never {
  throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/**
 * An ordered set of patterns, as borg builds one from `--exclude`, `--exclude-from`, `--pattern`,
 * `--patterns-from` (in command-line order) and, for extract and its kin, the PATH arguments.
 *
 * {@link match} returns the action of the first pattern that matches a path, except that `pf:`
 * patterns are looked up first, by exact path, whatever their position (borg does this so that
 * huge lists of them stay fast; a later `pf:` for the same path replaces an earlier one). When
 * nothing matches it returns {@link fallback}.
 */
export class PatternMatcher {
  /** What {@link match} returns when no pattern matches; undefined unless set. */
  fallback: MatchAction | undefined;
  /** Paths from `R` lines, in order: extra recursion roots for create (and PATHs for extract). */
  readonly roots: string[] = [];
  private readonly entries: Entry[] = [];
  private readonly fullPaths = new Map<string, MatchAction>();
  private pathArguments = 0;

  /** An empty matcher; `fallback` is what {@link match} returns when no pattern matches. */
  constructor(fallback?: MatchAction) {
    this.fallback = fallback;
  }

  /** Whether the matcher holds no pattern (roots do not count), as borg's `empty()`. */
  get isEmpty(): boolean {
    return this.entries.length === 0 && this.fullPaths.size === 0;
  }

  /** Adds a compiled pattern with the action it stands for. */
  add(pattern: Pattern, action: MatchAction, isPath = false): void {
    if (pattern.fullPath !== undefined) this.fullPaths.set(pattern.fullPath, action);
    else this.entries.push({ pattern, action, isPath, count: 0 });
  }

  /** `--exclude PATTERN`: fnmatch unless prefixed; a match excludes without recursing. */
  addExclude(text: string): void {
    this.add(new Pattern(text, 'fm'), 'exclude-norecurse');
  }

  /** The patterns of one `--exclude-from` file, as {@link readPatternFile} returns them. */
  addExcludeLines(lines: Iterable<string>): void {
    for (const line of lines) this.addExclude(line);
  }

  /**
   * `--pattern LINE`: `+ PATTERN` include, `- PATTERN` exclude, `! PATTERN` exclude without
   * recursing, `R PATH` root, `P STYLE` style change (on the command line a `P` is checked but
   * changes nothing, as in borg). Patterns are shell style unless prefixed. Spaces after the
   * command character are skipped; nothing else of the line is trimmed.
   */
  addPatternLine(line: string): void {
    this.patternLine(line, 'sh');
  }

  /**
   * The lines of one `--patterns-from` file, as {@link readPatternFile} returns them. A `P` line
   * sets the default style for the lines after it in this file only; it starts as `sh`.
   */
  addPatternLines(lines: Iterable<string>): void {
    let style: PatternStyle = 'sh';
    for (const line of lines) style = this.patternLine(line, style);
  }

  /**
   * PATH arguments of extract, list, diff, export-tar: path-prefix includes unless prefixed (so
   * `home/user` selects that directory and everything in it). With at least one, what no pattern
   * matches is excluded; with none, included. borg adds them after all other patterns.
   */
  addIncludePaths(paths: Iterable<string>): void {
    for (const path of paths) {
      this.add(new Pattern(path, 'pp'), 'include', true);
      this.pathArguments++;
    }
    this.fallback = this.pathArguments > 0 ? 'exclude' : 'include';
  }

  /** Parses one pattern line; returns the default style for the lines after it. */
  private patternLine(line: string, style: PatternStyle): PatternStyle {
    if (line === '') fail('a pattern line must not be empty');
    const command = line[0];
    const value = stripStart(line.slice(1));
    switch (command) {
      case '+':
      case '-':
      case '!':
      case 'R':
      case 'r':
      case 'P':
      case 'p':
        break;
      default:
        fail(`pattern line ${quote(line)} must start with one of ${COMMANDS}`);
    }
    if (value === '') fail(`pattern line ${quote(line)} has nothing after its ${quote(command)}`);
    switch (command) {
      case 'R':
      case 'r':
        this.roots.push(value);
        return style;
      case 'P':
      case 'p':
        if (!isPatternStyle(value)) {
          fail(`invalid pattern style ${quote(value)} in ${quote(line)} (styles: ${PATTERN_STYLES.join(', ')})`);
        }
        return value;
      case '+':
        this.add(new Pattern(value, style), 'include');
        return style;
      case '-':
        this.add(new Pattern(value, style), 'exclude');
        return style;
      default:
        this.add(new Pattern(value, style), 'exclude-norecurse');
        return style;
    }
  }

  /**
   * The action for an archive path (a leading `/` is ignored, as borg does): the first matching
   * pattern's, or {@link fallback}. Counts the match for {@link unmatchedIncludes}.
   */
  match(path: string): MatchAction | undefined {
    if (path.charCodeAt(0) === 0x2f) path = stripLeadingSlashes(path);
    if (this.fullPaths.size !== 0) {
      const action = this.fullPaths.get(path);
      if (action !== undefined) return action;
    }
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.pattern.matches(path)) {
        entry.count++;
        return entry.action;
      }
    }
    return this.fallback;
  }

  /**
   * The PATH arguments ({@link addIncludePaths}) that never decided a path, as borg names them in
   * "Include pattern '...' never matched." (the text after any style prefix). Like borg, `pf:` ones are
   * not counted and never reported.
   */
  unmatchedIncludes(): string[] {
    return this.entries.filter((e) => e.isPath && e.count === 0).map((e) => e.pattern.text);
  }
}
