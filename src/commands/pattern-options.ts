import { Option } from 'clipanion';

import type { PatternMatcher, PatternOption } from '../archive/patterns.js';

/** The pattern options of a command, as clipanion collected them (each option's values apart). */
export interface PatternArgs {
  exclude: string[];
  excludeFrom: string[];
  pattern: string[];
  patternsFrom: string[];
  /** The same values in command-line order, from {@link patternOrderOption}. */
  patternOrder: readonly PatternOption[];
}

/** The option names (as clipanion reports them) of the pattern options, by kind. */
const KINDS: ReadonlyMap<string, PatternOption['option']> = new Map([
  ['-e', 'exclude'],
  ['--exclude', 'exclude'],
  ['--exclude-from', 'exclude-from'],
  ['--pattern', 'pattern'],
  ['--patterns-from', 'patterns-from'],
]);

/**
 * A clipanion option that declares nothing of its own and yields the values of `--exclude`,
 * `--exclude-from`, `--pattern` and `--patterns-from` in the order they appear on the command line,
 * which is the order borg applies them in (argparse appends each to one list as it meets it).
 * clipanion gives each `Option.Array` its values apart, but it parses every option into one ordered
 * list first, which this reads. A command declares it beside the four options:
 * `patternOrder = patternOrderOption();`.
 */
export function patternOrderOption(): readonly PatternOption[] {
  return Option.makeCommandOption<readonly PatternOption[]>({
    definition: () => {
      // The four options are declared by the command itself; this one only reads their order.
    },
    transformer: (_builder, _key, state) => {
      const order: PatternOption[] = [];
      for (const { name, value } of state.options) {
        const option = KINDS.get(name);
        if (option !== undefined && typeof value === 'string') order.push({ option, value });
      }
      return order;
    },
  });
}

/**
 * The pattern options in command-line order, as borg applies them (the first pattern that matches
 * a path decides, whichever option it came from).
 */
export function patternOptions(a: PatternArgs): PatternOption[] {
  const order = [...a.patternOrder];
  const given = a.exclude.length + a.excludeFrom.length + a.pattern.length + a.patternsFrom.length;
  if (order.length !== given) throw new Error(`pattern options out of step: ${order.length} in order, ${given} given`);
  return order;
}

/** Whether extract (or list) takes an archive path: a pattern included it, or none decided and none excludes by default. */
export function isIncluded(matcher: PatternMatcher, path: string): boolean {
  const a = matcher.match(path);
  return a === undefined || a === 'include';
}
