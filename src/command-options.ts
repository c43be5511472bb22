import type { CommandClass } from 'clipanion';
import { Command } from 'clipanion';

import type { HoardContext } from './context.js';
import { InvalidArgumentError } from './errors.js';

/** One option a command declares: its names (`-C`, `--compression`), how many values it takes, and whether it is required. */
export interface OptionSpec {
  names: string[];
  arity: number;
  required: boolean;
}

/** How many positional arguments a command takes: at least `required`, at most `max` (no limit with a rest). */
export interface PositionalSpec {
  required: number;
  max: number;
  /** Whether the rest is a command line of its own (`with-lock REPO COMMAND ARGS...`), passed on as it is. */
  proxy?: boolean;
}

const specCache = new Map<CommandClass<HoardContext>, { options: OptionSpec[]; positionals: PositionalSpec }>();

/**
 * The options and positionals `commandClass` declares, read the way clipanion reads them when it
 * registers the command (each field's definition adds itself to a builder; this one only records).
 */
function commandSpecs(commandClass: CommandClass<HoardContext>): { options: OptionSpec[]; positionals: PositionalSpec } {
  const cached = specCache.get(commandClass);
  if (cached) return cached;
  const specs: OptionSpec[] = [];
  const positionals: PositionalSpec = { required: 0, max: 0 };
  const recorder = {
    addOption: (o: { names: string[]; arity?: number; required?: boolean }) => {
      specs.push({ names: o.names, arity: o.arity ?? 0, required: o.required ?? false });
    },
    addPositional: (o: { required?: boolean } = {}) => {
      positionals.max += 1;
      if (o.required !== false) positionals.required += 1;
    },
    addRest: (o: { required?: number } = {}) => {
      positionals.required += o.required ?? 0;
      positionals.max = Number.POSITIVE_INFINITY;
    },
    addProxy: () => {
      positionals.proxy = true;
      positionals.max = Number.POSITIVE_INFINITY;
    },
    arity: {},
  };
  const instance = new (commandClass as unknown as new () => Record<string, unknown>)();
  for (const key of Object.keys(instance)) {
    const value = instance[key] as { [k: symbol]: unknown; definition?: (b: unknown, key: string) => void } | null;
    if (typeof value === 'object' && value !== null && value[Command.isOption] && value.definition) value.definition(recorder, key);
  }
  const result = { options: specs, positionals };
  specCache.set(commandClass, result);
  return result;
}

/** The options `commandClass` declares (see {@link commandSpecs}). */
export function optionSpecs(commandClass: CommandClass<HoardContext>): OptionSpec[] {
  return commandSpecs(commandClass).options;
}

/** How many positional arguments `commandClass` takes. */
export function positionalSpec(commandClass: CommandClass<HoardContext>): PositionalSpec {
  return commandSpecs(commandClass).positionals;
}

/** Where a command's path words are in an argument list: from `start`, `length` words. */
export interface CommandMatch {
  commandClass: CommandClass<HoardContext>;
  start: number;
  length: number;
}

/**
 * The command among `classes` whose path is the longest run of words of `argv` from the first
 * place where any path starts (common options may come before the command words).
 */
export function commandOf(argv: readonly string[], classes: readonly CommandClass<HoardContext>[]): CommandMatch | undefined {
  for (let start = 0; start < argv.length; start += 1) {
    if (argv[start] === '--') return undefined;
    let best: CommandMatch | undefined;
    for (const c of classes) {
      for (const path of c.paths ?? []) {
        if (path.length === 0 || start + path.length > argv.length) continue;
        if (path.some((w, i) => argv[start + i] !== w)) continue;
        if (best === undefined || path.length > best.length) best = { commandClass: c, start, length: path.length };
      }
    }
    if (best) return best;
  }
  return undefined;
}

/** The options of `specs` by each of their names. */
function specsByName(specs: readonly OptionSpec[]): Map<string, OptionSpec> {
  const byName = new Map<string, OptionSpec>();
  for (const spec of specs) for (const n of spec.names) byName.set(n, spec);
  return byName;
}

/** `argv` split at its first `--`: the arguments before it, and `--` with those after it. */
function splitAtDashDash(argv: readonly string[]): [readonly string[], readonly string[]] {
  const at = argv.indexOf('--');
  return at < 0 ? [argv, []] : [argv.slice(0, at), argv.slice(at)];
}

/**
 * How many arguments of `argv` are hoard's to read as options: all of them, except for a command
 * that runs a command line of its own (`with-lock`), whose arguments from its first positional on
 * are passed on as they are.
 */
export function ownArguments(argv: readonly string[], match: CommandMatch): number {
  if (positionalSpec(match.commandClass).proxy !== true) return argv.length;
  const specOf = specsByName(optionSpecs(match.commandClass));
  for (let i = match.start + match.length; i < argv.length; i += 1) {
    const a = argv[i] ?? '';
    if (a === '--' || !a.startsWith('-') || a === '-') return i;
    if (!a.includes('=') && specOf.get(a)?.arity === 1) i += 1;
  }
  return argv.length;
}

/**
 * argparse (borg) takes any unambiguous start of a long option's name (`--stat` for `--stats`,
 * `--compress` for `--compression`); clipanion takes whole names only. For the command's options,
 * such a start becomes the whole name; one that starts several names, and the values of options
 * that take one, stay as they are. Arguments after the command path's `--` stay as they are.
 */
export function expandLongPrefixes(argv: readonly string[], specs: readonly OptionSpec[]): string[] {
  const specOf = specsByName(specs);
  const longNames = [...specOf.keys()].filter((n) => n.startsWith('--'));
  const [head, tail] = splitAtDashDash(argv);
  const out: string[] = [];
  for (let i = 0; i < head.length; i += 1) {
    const a = head[i] ?? '';
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    let spec = specOf.get(name);
    let word = a;
    if (spec === undefined && /^--[^-]/.test(name)) {
      const starts = longNames.filter((n) => n.startsWith(name));
      const found = new Set(starts.map((n) => specOf.get(n)));
      const whole = starts[0];
      if (found.size === 1 && whole !== undefined) {
        spec = specOf.get(whole);
        word = eq < 0 ? whole : `${whole}${a.slice(eq)}`;
      }
    }
    out.push(word);
    // The option's value, in the next argument, is a value even if it starts with `--`.
    if (spec !== undefined && spec.arity === 1 && eq < 0 && i + 1 < head.length) {
      i += 1;
      out.push(head[i] ?? '');
    }
  }
  return [...out, ...tail];
}

/**
 * argparse (borg) takes a short option's value attached to it (`-Clz4`, `-esrc/b.bin`), also after
 * short flags that take none (`-vClz4`); clipanion does not. For the command's options, such an
 * argument becomes the flags and `-C=lz4`; flags ending in a letter that takes a value (`-sC lz4`)
 * become the flags and that option, whose value is the next argument. Arguments after the
 * command path's `--` stay as they are.
 */
export function splitAttachedShortValues(argv: readonly string[], specs: readonly OptionSpec[]): string[] {
  const arityOf = new Map<string, number>();
  for (const s of specs) for (const n of s.names) if (/^-[^-]$/.test(n)) arityOf.set(n[1] ?? '', s.arity);
  const [head, tail] = splitAtDashDash(argv);
  const out: string[] = [];
  for (const a of head) {
    if (!/^-[a-zA-Z]./.test(a) || a[2] === '=') {
      out.push(a);
      continue;
    }
    // Walk the letters: flags (arity 0) stay together; the first letter that takes a value takes the rest.
    let j = 1;
    while (j < a.length && arityOf.get(a[j] ?? '') === 0) j += 1;
    const letter = a[j] ?? '';
    if (j < a.length - 1 && arityOf.get(letter) === 1) {
      if (j > 1) out.push(a.slice(0, j));
      out.push(`-${letter}=${a.slice(j + 1)}`);
    } else if (j > 1 && j === a.length - 1 && arityOf.get(letter) === 1) out.push(a.slice(0, j), `-${letter}`);
    else out.push(a);
  }
  return [...out, ...tail];
}

/** What a walk over a command's arguments found ({@link readArguments}). */
interface ReadArguments {
  /** Each option given, by the name it was given as, in order, with its value if it takes one. */
  uses: { name: string; spec: OptionSpec; value?: string }[];
  /** The positional arguments. */
  words: string[];
  /** An option the command lacks, or one missing its value: the first such. */
  error?: InvalidArgumentError;
}

/**
 * Walks `argv` as clipanion reads it for the command whose path words `match` locates: options
 * (long, short, several short flags together, values bound by `=` or in the next argument) and
 * positionals (all words after `--`).
 */
function readArguments(argv: readonly string[], match: CommandMatch, specs: readonly OptionSpec[]): ReadArguments {
  const out: ReadArguments = { uses: [], words: [] };
  const byName = specsByName(specs);
  const expectsValue = (name: string): InvalidArgumentError => new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `Option ${name} expects a value.`);
  for (let i = 0; i < argv.length; i += 1) {
    if (i === match.start) i += match.length;
    if (i >= argv.length) break;
    const a = argv[i] ?? '';
    if (a === '--') {
      out.words.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      out.words.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      const spec = byName.get(name);
      if (spec === undefined) return { ...out, error: unsupported(name) };
      if (spec.arity > 0 && eq < 0) {
        if (i + 1 >= argv.length) return { ...out, error: expectsValue(name) };
        i += 1;
      }
      out.uses.push({ name, spec, ...(spec.arity > 0 ? { value: eq < 0 ? (argv[i] ?? '') : a.slice(eq + 1) } : {}) });
      continue;
    }
    // Short options, possibly several flags together, or one with its value bound by `=`.
    const eq = a.indexOf('=');
    const letters = eq < 0 ? a.slice(1) : a.slice(1, eq);
    for (let k = 0; k < letters.length; k += 1) {
      const name = `-${letters[k] ?? ''}`;
      const spec = byName.get(name);
      if (spec === undefined) return { ...out, error: unsupported(name) };
      const last = k === letters.length - 1;
      if (spec.arity > 0 && last && eq < 0) {
        if (i + 1 >= argv.length) return { ...out, error: expectsValue(name) };
        i += 1;
      }
      const value = spec.arity > 0 && last ? (eq < 0 ? (argv[i] ?? '') : a.slice(eq + 1)) : undefined;
      out.uses.push({ name, spec, ...(value !== undefined ? { value } : {}) });
    }
  }
  return out;
}

/**
 * Why clipanion could not match `argv` to the command whose path words `match` locates: an option
 * the command does not have, one missing its value, or a required option missing. Undefined when
 * none of these explains it.
 */
export function diagnoseArguments(
  argv: readonly string[],
  match: CommandMatch,
  specs: readonly OptionSpec[],
  positionals: PositionalSpec = { required: 0, max: Number.POSITIVE_INFINITY },
): InvalidArgumentError | undefined {
  const { uses, words, error } = readArguments(argv, match, specs);
  if (error !== undefined) return error;
  if (words.length > positionals.max) {
    return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `Extraneous positional argument (${JSON.stringify(words[positionals.max])}).`);
  }
  const seen = new Set(uses.map((u) => u.spec));
  const missing = specs.filter((s) => s.required && !seen.has(s));
  if (missing.length > 0) {
    const names = missing.map((s) => s.names.join('/')).join(', ');
    return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `Missing required option: ${names}.`);
  }
  return undefined;
}

/** Options of every command that has them which borg takes at most once (its `Highlander` action). */
const ONCE_ANYWHERE = ['--glob-archives', '--prefix'];
/** The same, per command (borg 1.4's argument definitions). */
const ONCE_IN: Record<string, string[]> = {
  create: ['--filter', '--files-cache', '--files-changed', '--chunker-params'],
  recreate: ['--filter', '--chunker-params'],
  'import-tar': ['--tar-filter', '--filter', '--chunker-params'],
  diff: ['--sort-by'],
};

/** Whether a `--chunker-params` value is borg's default (buzhash,19,23,21,4095), as its parser reads it. */
function isDefaultChunkerParams(value: string): boolean {
  const parts = value.trim().split(',');
  const algo = (parts[0] ?? '').toLowerCase();
  if (algo === 'default') return parts.length === 1;
  const numbers = algo === 'buzhash' && parts.length === 5 ? parts.slice(1) : parts.length === 4 ? parts : [];
  return numbers.length === 4 && numbers.map((p) => Number(p.trim())).join(',') === '19,23,21,4095';
}

/**
 * The once-only options of a command whose default a value can equal (by command and option).
 * borg's check is whether the value so far differs from the default: a first use that gives the
 * default leaves room for a second (`--files-changed ctime --files-changed mtime`).
 */
const ONCE_DEFAULTS: Record<string, Record<string, (value: string) => boolean>> = {
  create: { '--files-changed': (v) => v === 'ctime', '--chunker-params': isDefaultChunkerParams },
  'import-tar': { '--tar-filter': (v) => v === 'auto', '--chunker-params': isDefaultChunkerParams },
};

/**
 * borg refuses a second use of some options (`-a X -a Y`: "There can be only one."), where
 * clipanion would keep the last; a wrapper that repeats one gets the same refusal here, as borg
 * decides it: a use is refused when the value so far is not the option's default. Undefined when
 * none is (or the arguments do not parse: clipanion says why).
 */
export function repeatedOption(argv: readonly string[], match: CommandMatch, specs: readonly OptionSpec[]): InvalidArgumentError | undefined {
  const command = match.commandClass.paths?.[0]?.join(' ') ?? '';
  const once = new Set([...ONCE_ANYWHERE, ...(ONCE_IN[command] ?? [])]);
  const defaults = ONCE_DEFAULTS[command] ?? {};
  const { uses, error } = readArguments(argv, match, specs);
  if (error !== undefined) return undefined;
  /** Per option given so far: whether its value is still the default. */
  const atDefault = new Map<OptionSpec, boolean>();
  for (const { spec, value } of uses) {
    const long = spec.names.find((n) => once.has(n));
    if (long === undefined) continue;
    if (atDefault.get(spec) === false) return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `argument ${spec.names.join('/')}: There can be only one.`);
    atDefault.set(spec, defaults[long]?.(value ?? '') === true);
  }
  return undefined;
}

/** The error for an option the command does not have (clipanion's wording, which it uses where it can tell). */
function unsupported(name: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `Unsupported option name ("${name}").`);
}
