/**
 * The include/exclude options of create, extract and their kin, read into a {@link PatternMatcher}
 * the way borg 1.4 does.
 */

import { readFile } from 'node:fs/promises';

import { errnoOf, HoardError, InvalidArgumentError } from '../../errors.js';
import { PatternMatcher } from './matcher.js';
import { quote } from './pattern.js';
import { cleanLines } from './text.js';
import { decodeName, encodeName } from '../../fs-names.js';

/**
 * One occurrence of a pattern option, with its value (a pattern, a pattern line or a file name).
 * Options are applied in the order given, which should be their command-line order: borg appends
 * every one of them to a single list as argparse meets it (its help text's claim that files come
 * after command-line patterns does not describe what it does).
 */
export interface PatternOption {
  /** The option, without its dashes. */
  readonly option: 'exclude' | 'exclude-from' | 'pattern' | 'patterns-from';
  /** Its value. */
  readonly value: string;
}

/**
 * The patterns in a `--exclude-from` or `--patterns-from` file: one a line, whitespace stripped at
 * both ends, empty lines and `#` comment lines skipped (see {@link cleanLines}). The file is read as
 * UTF-8, other bytes escaped as in the archive paths they are matched against (`decodeName`).
 * Throws {@link InvalidArgumentError} naming the file when it cannot be read.
 */
export async function readPatternFile(file: string): Promise<string[]> {
  let data: Buffer;
  try {
    data = await readFile(encodeName(file));
  } catch (e) {
    const code = errnoOf(e);
    const reason =
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : e instanceof Error
              ? e.message
              : String(e);
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `cannot read pattern file ${quote(file)}: ${reason}`);
  }
  return cleanLines(decodeName(data));
}

/** Runs `add`, prefixing the message of a bad pattern with the file it came from. */
function fromFile(kind: string, file: string, add: () => void): void {
  try {
    add();
  } catch (e) {
    if (e instanceof HoardError) throw new InvalidArgumentError(e.code, `${kind} ${quote(file)}: ${e.message}`);
    throw e;
  }
}

/** Adds the patterns of `options`, in order, to `matcher`, reading the files they name. */
export async function addPatternOptions(matcher: PatternMatcher, options: readonly PatternOption[]): Promise<void> {
  for (const { option, value } of options) {
    switch (option) {
      case 'exclude':
        matcher.addExclude(value);
        break;
      case 'pattern':
        matcher.addPatternLine(value);
        break;
      case 'exclude-from': {
        const lines = await readPatternFile(value);
        fromFile('exclude file', value, () => matcher.addExcludeLines(lines));
        break;
      }
      case 'patterns-from': {
        const lines = await readPatternFile(value);
        fromFile('pattern file', value, () => matcher.addPatternLines(lines));
        break;
      }
    }
  }
}

/**
 * The matcher for `create`: the options' patterns; a path no pattern matches is included. Its
 * {@link PatternMatcher.roots} are the `R` paths, to back up besides the PATH arguments.
 */
export async function createMatcher(options: readonly PatternOption[]): Promise<PatternMatcher> {
  const matcher = new PatternMatcher('include');
  await addPatternOptions(matcher, options);
  return matcher;
}

/**
 * The matcher for `extract` (and `list`, `diff`, `export-tar`): the options' patterns, then the
 * PATH arguments and any `R` paths as path-prefix includes. With no PATH and no `R`, what no pattern
 * matches is included; otherwise it is excluded. After the run, {@link PatternMatcher.unmatchedIncludes}
 * names the PATHs that matched nothing, for borg's warning "Include pattern 'x' never matched.".
 *
 * Unlike create, extract tests every archived path on its own: an `exclude-norecurse` result for a
 * directory does not exclude what lies below it.
 */
export async function extractMatcher(paths: readonly string[], options: readonly PatternOption[]): Promise<PatternMatcher> {
  const matcher = new PatternMatcher();
  await addPatternOptions(matcher, options);
  matcher.addIncludePaths([...paths, ...matcher.roots]);
  return matcher;
}
