/**
 * borg 1.4's path patterns for hoard: the `fm:`, `sh:`, `re:`, `pp:` and `pf:` styles, the
 * `--exclude`, `--exclude-from`, `--pattern` and `--patterns-from` options, and the matcher that
 * create and extract consult once per path. See docs of each export; `borg help patterns` is the
 * reference for the language.
 */

export { PatternMatcher, type MatchAction } from './patterns/matcher.js';
export { Pattern, PATTERN_STYLES, normpath, splitStyle, type PatternStyle } from './patterns/pattern.js';
export {
  addPatternOptions,
  createMatcher,
  extractMatcher,
  readPatternFile,
  type PatternOption,
} from './patterns/options.js';
export { cleanLines } from './patterns/text.js';
export { translatePythonRegex, PythonRegexError } from './patterns/python-regex.js';
export { translateFnmatch, translateShell } from './patterns/glob.js';
