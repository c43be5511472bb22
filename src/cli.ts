import { Builtins, Cli } from 'clipanion';
import type { Command, CommandClass } from 'clipanion';

import { checkOutput, OutputClosedError, watchPipes } from './broken-pipe.js';
import { BenchmarkCpuCommand } from './commands/benchmark-cpu.js';
import { BenchmarkCrudCommand } from './commands/benchmark-crud.js';
import { BreakLockCommand } from './commands/break-lock.js';
import { CheckCommand } from './commands/check.js';
import { CompactCommand } from './commands/compact.js';
import { ConfigCommand } from './commands/config.js';
import { CreateCommand } from './commands/create.js';
import { DeleteCommand } from './commands/delete.js';
import { DiffCommand } from './commands/diff.js';
import { ExportTarCommand } from './commands/export-tar.js';
import { ExtractCommand } from './commands/extract.js';
import { HelpCommand } from './commands/help.js';
import { ImportTarCommand } from './commands/import-tar.js';
import { InfoCommand } from './commands/info.js';
import { InitCommand } from './commands/init.js';
import { KeyChangePassphraseCommand } from './commands/key-change-passphrase.js';
import { KeyExportCommand } from './commands/key-export.js';
import { KeyExportRelatedSecretsCommand } from './commands/related-secrets.js';
import { KeyImportCommand } from './commands/key-import.js';
import { KeyMigrateToRepokeyCommand } from './commands/key-migrate-to-repokey.js';
import { ListCommand } from './commands/list.js';
import { PruneCommand } from './commands/prune.js';
import { RecreateCommand } from './commands/recreate.js';
import { RenameCommand } from './commands/rename.js';
import { UpgradeCommand } from './commands/upgrade.js';
import { VersionCommand, VersionReportCommand } from './commands/version.js';
import { WithLockCommand } from './commands/with-lock.js';
import { HoardCommand } from './commands/base.js';
import { commandOf, diagnoseArguments, expandLongPrefixes, optionSpecs, ownArguments, positionalSpec, repeatedOption, splitAttachedShortValues } from './command-options.js';
import type { HoardContext } from './context.js';
import { ExitCode, HoardError } from './errors.js';
import { logMessageJson, type LogLevel } from './log.js';
import { umaskOf } from './umask.js';
import { sizeUnits } from './units.js';
import { version } from './version.js';
import { shownName } from './fs-names.js';

/** Every command hoard ships. */
export const commands: CommandClass<HoardContext>[] = [
  HelpCommand,
  Builtins.HelpCommand,
  VersionCommand,
  VersionReportCommand,
  InitCommand,
  InfoCommand,
  CreateCommand,
  ListCommand,
  ExtractCommand,
  DeleteCommand,
  PruneCommand,
  RenameCommand,
  RecreateCommand,
  CompactCommand,
  ConfigCommand,
  CheckCommand,
  BreakLockCommand,
  WithLockCommand,
  BenchmarkCpuCommand,
  BenchmarkCrudCommand,
  KeyExportCommand,
  KeyImportCommand,
  KeyExportRelatedSecretsCommand,
  KeyChangePassphraseCommand,
  KeyMigrateToRepokeyCommand,
  UpgradeCommand,
  DiffCommand,
  ExportTarCommand,
  ImportTarCommand,
];

/**
 * The commands a run with `argv` may need: those whose path starts with its first word (clipanion
 * builds its parser from every registered option, which costs a tenth of a second for all of
 * them), or all when the first word names none of them or asks for help.
 */
function commandsFor(argv: string[] | undefined): CommandClass<HoardContext>[] {
  const word = argv?.[0];
  if (word === undefined || word === 'help' || word === '-h' || word === '--help') return commands;
  const matching = commands.filter((c) => c.paths?.some((p) => p[0] === word));
  return matching.length > 0 ? matching : commands;
}

/** A clipanion CLI with every command registered (or, given `argv`, those it may run). */
export function createCli(enableColors = false, argv?: string[]): Cli<HoardContext> {
  const cli = new Cli<HoardContext>({ binaryLabel: 'hoard', binaryName: 'hoard', binaryVersion: version, enableColors });
  for (const command of commandsFor(argv)) cli.register(command);
  return cli;
}

const RC_WORDS: Record<number, string> = { 0: 'success', 1: 'warning', 2: 'error' };
const RC_LEVELS: Record<number, LogLevel> = { 0: 'info', 1: 'warning' };

/**
 * An error message as one line: its first line, or, where that line introduces clipanion's list of
 * candidates ("did you mean one of:"), the candidate commands joined after it.
 */
function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('While running'));
  const first = lines[0] ?? text;
  if (!first.endsWith(':')) return first;
  const candidates = lines.slice(1).map((l) => l.replace(/^(\$|\d+\.)\s*/, '').replace(/ \[.*$/, ''));
  return `${first} ${candidates.join(', ')}`;
}

/** The exit code for an error that ended a command. */
function exitCodeOf(e: unknown): number {
  return e instanceof HoardError ? e.exitCode : ExitCode.error;
}

/** The one line the user sees for an error (the stack too under `--debug`). */
function describe(e: unknown, debug: boolean): string {
  if (debug && e instanceof Error && e.stack) return e.stack;
  if (e instanceof Error) return oneLine(e.message);
  return String(e);
}

/**
 * What a command sees of the CLI (`this.cli`), as clipanion's own `run` provides it. hoard runs
 * commands itself so that errors go to stderr with borg's exit codes.
 */
function miniCli(cli: Cli<HoardContext>, context: HoardContext): Command<HoardContext>['cli'] {
  return {
    binaryLabel: cli.binaryLabel,
    binaryName: cli.binaryName,
    binaryVersion: cli.binaryVersion,
    enableCapture: cli.enableCapture,
    enableColors: cli.enableColors,
    definitions: () => cli.definitions(),
    error: (error, opts) => cli.error(error, opts),
    format: (colored) => cli.format(colored),
    process: (input, sub) => cli.process(input, { ...context, ...sub }),
    run: (input, sub) => cli.run(input, { ...context, ...sub }),
    usage: (command, opts) => cli.usage(command, opts),
  };
}

/**
 * Long options whose names hold digits, which clipanion cannot bind a value to (`--keep-13weekly=4`
 * is an "invalid option name" to it): such a value goes to the digit-free twin the command declares
 * (hidden) beside the borg name.
 */
const DIGIT_FREE_TWINS: Readonly<Record<string, string>> = { '--keep-13weekly': '--keep-thirteen-weekly', '--keep-3monthly': '--keep-three-monthly' };

/**
 * argparse (borg) takes an argument that starts with `-` but holds a space as a value, so that
 * `--pattern '- src/tmp'` works; clipanion would read it as an option. Such a value is joined to
 * the long option before it (`--pattern=- src/tmp`). argparse also never reads a negative number
 * as an option (borg has none that looks like one), so `--keep-monthly -1` and `-d -1` join the
 * same way, and it takes a short option's value attached (`-d7`), which becomes `-d=7`. A value
 * bound or joined to an option with digits in its name goes to its twin (see DIGIT_FREE_TWINS).
 * Arguments after `--` stay as they are.
 */
export function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--') {
      // Everything after `--` is positional, taken as it is.
      out.push(...argv.slice(i));
      break;
    }
    const [name = '', ...bound] = (argv[i] ?? '').split('=');
    const twin = DIGIT_FREE_TWINS[name];
    const nextIsNegative = /^-\d+$/.test(argv[i + 1] ?? '');
    const a = twin !== undefined && (bound.length > 0 || nextIsNegative) ? [twin, ...bound].join('=') : (argv[i] ?? '');
    const next = argv[i + 1];
    const attached = /^-([a-zA-Z])(-?\d+)$/.exec(a);
    if (next !== undefined && /^-\S* /.test(next) && /^(--[a-z][-a-z]*|-e)$/.test(a)) {
      out.push(`${a === '-e' ? '--exclude' : a}=${next}`);
      i += 1;
    } else if (next !== undefined && /^-\d+$/.test(next) && /^(--[a-z][-a-z0-9]*|-[a-zA-Z])$/.test(a)) {
      out.push(`${a}=${next}`);
      i += 1;
    } else if (attached) out.push(`-${attached[1]}=${attached[2]}`);
    else out.push(a);
  }
  return out;
}

/** borg 1.4's deprecated option names, with the warning it prints to stderr for each. */
const DEPRECATIONS: readonly (readonly [string, string])[] = [
  ['--noatime', 'Warning: "--noatime" has been deprecated because it is the default now.'],
  ['--nobsdflags', 'Warning: "--nobsdflags" has been deprecated. Use --noflags instead.'],
  ['--numeric-owner', 'Warning: "--numeric-owner" has been deprecated. Use --numeric-ids instead.'],
  ['--remote-ratelimit', 'Warning: "--remote-ratelimit" has been deprecated. Use --upload-ratelimit instead.'],
  ['--remote-buffer', 'Warning: "--remote-buffer" has been deprecated. Use --upload-buffer instead.'],
  ['--prefix', 'Warning: "--prefix" has been deprecated. Use "--glob-archives \'yourprefix*\'" (-a) instead.'],
  ['--sort', 'Warning: "--sort" is deprecated. Use "--sort-by=path" instead.'],
];

/** The warnings borg prints, before it parses, for the deprecated options among `argv` (up to `--`), one per use. */
export function deprecationWarnings(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  const words = end < 0 ? argv : argv.slice(0, end);
  return words.flatMap((a) => DEPRECATIONS.filter(([name]) => a === name || a.startsWith(`${name}=`)).map(([, warning]) => warning));
}

/**
 * Runs hoard with `argv` (without the node and script paths) and returns the exit code: 0 ok,
 * 1 warning, 2 error. Errors become one line on stderr; `--debug` adds the stack, `--show-rc`
 * logs the code as borg does. `options.setUmask`: set the process's umask from `--umask` (borg's
 * 0077 by default); the executable does, tests that run hoard in their own process do not.
 */
export async function run(rawArgv: string[], context: Partial<HoardContext> = {}, options: { setUmask?: boolean } = {}): Promise<number> {
  const joined = joinDashValues(rawArgv);
  const match = commandOf(joined, commands);
  const specs = match ? optionSpecs(match.commandClass) : [];
  const own = match ? ownArguments(joined, match) : joined.length;
  // The command's own arguments, rewritten to what clipanion reads; a proxied command line as it is.
  const head = match ? splitAttachedShortValues(expandLongPrefixes(joined.slice(0, own), specs), specs) : joined;
  const argv = match ? [...head, ...joined.slice(own)] : joined;
  const ctx: HoardContext = {
    stdin: context.stdin ?? process.stdin,
    stdout: context.stdout ?? process.stdout,
    stderr: context.stderr ?? process.stderr,
    env: context.env ?? process.env,
    colorDepth: context.colorDepth ?? 1,
  };
  const debug = argv.includes('--debug');
  // Lines of the run itself (not of a command): text, or borg's log_message objects under --log-json.
  const json = argv.includes('--log-json');
  const emit = (level: LogLevel, name: string, message: string, msgid?: string): void => {
    ctx.stderr.write(json ? logMessageJson(level, name, message, msgid) : `${shownName(message)}\n`);
  };
  // As borg, plain lines whatever the log format.
  for (const warning of deprecationWarnings(rawArgv)) ctx.stderr.write(`${warning}\n`);
  if (argv.includes('--show-version')) emit('info', 'hoard.output.show-version', `hoard version ${version}`);
  watchPipes(ctx.stdout, ctx.stderr);
  let rc = 0;
  try {
    const tty = (ctx.stdout as { isTTY?: boolean }).isTTY === true;
    const repeated = match ? repeatedOption(head, match, specs) : undefined;
    if (repeated !== undefined) throw repeated;
    const cli = createCli(tty && ctx.env.NO_COLOR === undefined, argv);
    const command: Command<HoardContext> = cli.process(argv, ctx);
    command.cli = miniCli(cli, ctx);
    if (command instanceof HoardCommand) command.ignoreStatsUnderDryRun();
    // --iec: the command's sizes in powers of 1024 (src/units.ts). Only then inside the store:
    // entering an AsyncLocalStorage turns on Node 20's promise hooks for the process, a cost on
    // every promise (about 0.4 s of CPU in a create of /usr/lib); outside it, sizes are decimal.
    const iec = command instanceof HoardCommand && command.iec;
    // --umask for the process (a bad value is refused, with its message, as the command validates).
    if (options.setUmask === true) process.umask(umaskOf(command instanceof HoardCommand ? command.umask : undefined));
    rc = (await (iec ? sizeUnits.run({ iec }, () => command.validateAndExecute()) : command.validateAndExecute())) ?? 0;
    // A write to standard output that failed after the command's last check of it (most write
    // once, at the end): its error event has come by the next turn of the event loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    checkOutput(ctx.stdout);
  } catch (caught) {
    // The reader went away: no error of hoard's. A command that had finished keeps its code.
    if (caught instanceof OutputClosedError) return finish(rc);
    // clipanion's "Command not found; did you mean ..." for a known command: say which option is wrong.
    const diagnosis = match && caught instanceof Error && caught.name === 'UnknownSyntaxError'
      ? diagnoseArguments(argv, match, optionSpecs(match.commandClass), positionalSpec(match.commandClass))
      : undefined;
    const e = diagnosis ?? caught;
    const text = describe(e, debug);
    emit('error', 'hoard', json ? text : `hoard: ${text}`, e instanceof HoardError ? e.code : undefined);
    rc = exitCodeOf(e);
  }
  return finish(rc);

  /** Logs the exit code as `--show-rc` asks, and returns it. */
  function finish(code: number): number {
    if (argv.includes('--show-rc')) {
      emit(RC_LEVELS[code] ?? 'error', 'hoard.output.show-rc', `terminating with ${RC_WORDS[code] ?? 'error'} status, rc ${code}`);
    }
    return code;
  }
}
