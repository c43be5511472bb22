import type { PatternMatcher, PatternOption } from '../archive/patterns.js';

/** The pattern options of a command, as clipanion collected them. */
export interface PatternArgs {
  exclude: string[];
  excludeFrom: string[];
  pattern: string[];
  patternsFrom: string[];
}

/**
 * The pattern options in the order borg applies them. clipanion keeps each option's values apart,
 * so files come before single patterns and excludes before include/exclude patterns.
 */
export function patternOptions(a: PatternArgs): PatternOption[] {
  return [
    ...a.excludeFrom.map((value) => ({ option: 'exclude-from' as const, value })),
    ...a.exclude.map((value) => ({ option: 'exclude' as const, value })),
    ...a.patternsFrom.map((value) => ({ option: 'patterns-from' as const, value })),
    ...a.pattern.map((value) => ({ option: 'pattern' as const, value })),
  ];
}

/** Whether extract (or list) takes an archive path: a pattern included it, or none decided and none excludes by default. */
export function isIncluded(matcher: PatternMatcher, path: string): boolean {
  const a = matcher.match(path);
  return a === undefined || a === 'include';
}
