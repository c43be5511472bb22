/**
 * What `create` reads from a command or from standard input instead of walking PATHs:
 * `--content-from-command` (a command's output stored as one file, read natively from a pipe),
 * `--paths-from-stdin` and `--paths-from-command` (a delimited list of paths to store).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants } from 'node:os';

import { HoardError, InvalidArgumentError } from '../errors.js';
import { makePipe } from '../native.js';
import { decodeName, encodeName } from '../fs-names.js';

/** A command given to `create` could not be run or exited with a non-zero status (borg's `CommandError`). */
export class CommandFailedError extends HoardError {}

/** Resolves when `child` exits with status 0; rejects with a {@link CommandFailedError} otherwise. */
function outcome(child: ChildProcess, argv: readonly string[]): Promise<void> {
  const p = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new CommandFailedError('HOARD_COMMAND_FAILED', `Failed to execute command: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else {
        // As borg (Python's returncode): a signal shows as its negative number.
        const status = code ?? -(signal === null ? 0 : constants.signals[signal]);
        reject(new CommandFailedError('HOARD_COMMAND_FAILED', `Command '${argv[0] ?? ''}' exited with status ${status}`));
      }
    });
  });
  p.catch(() => {});
  return p;
}

/** A command started for `--content-from-command`: its output is read from `fd` (a pipe). */
export interface PipedCommand {
  /** The read end of the pipe the command writes its standard output to. */
  readonly fd: number;
  /** Waits for the command (after its output was read to the end); closes `fd`. Rejects if it failed. */
  finish(): Promise<void>;
  /** Gives up on the command (the backup failed): closes `fd` and stops it. */
  abort(): void;
}

/**
 * Starts `argv` with its standard output on a new pipe whose read end is returned, so that a
 * native reader (`Writer.storeFd`) takes the bytes without JavaScript touching them.
 */
export function startPipedCommand(argv: readonly string[], env: NodeJS.ProcessEnv): PipedCommand {
  const [command, ...args] = argv;
  if (command === undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'No command given.');
  const ends = makePipe();
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['inherit', ends.write, 'inherit'], env });
  } catch (e) {
    closeSync(ends.read);
    throw new CommandFailedError('HOARD_COMMAND_FAILED', `Failed to execute command: ${(e as Error).message}`);
  } finally {
    // The child has its own copy now: the pipe ends when the command (and its children) close it.
    closeSync(ends.write);
  }
  const done = outcome(child, argv);
  let open = true;
  const close = (): void => {
    if (open) closeSync(ends.read);
    open = false;
  };
  return {
    fd: ends.read,
    finish: async () => {
      try {
        await done;
      } finally {
        close();
      }
    },
    abort: () => {
      close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * The paths in a byte stream, separated by `delimiter` (borg's `iter_separated`): empty entries
 * are skipped, a last entry without a delimiter counts. Names are read as UTF-8, other bytes escaped (`decodeName`).
 */
export async function* delimitedPaths(input: AsyncIterable<Buffer | string>, delimiter: Buffer): AsyncGenerator<string> {
  if (delimiter.length === 0) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'the paths delimiter is empty');
  let rest = Buffer.alloc(0);
  for await (const piece of input) {
    let buf = rest.length === 0 ? Buffer.from(piece) : Buffer.concat([rest, Buffer.from(piece)]);
    let at = buf.indexOf(delimiter);
    while (at >= 0) {
      if (at > 0) yield decodeName(buf.subarray(0, at));
      buf = buf.subarray(at + delimiter.length);
      at = buf.indexOf(delimiter);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield decodeName(rest);
}

/**
 * The paths a command prints (`--paths-from-command`), read as they come; after the last one,
 * a command that failed throws a {@link CommandFailedError}. Left early, the command is stopped.
 */
export async function* commandPaths(argv: readonly string[], env: NodeJS.ProcessEnv, delimiter: Buffer): AsyncGenerator<string> {
  const [command, ...args] = argv;
  if (command === undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'No command given.');
  const child = spawn(command, args, { stdio: ['inherit', 'pipe', 'inherit'], env });
  const done = outcome(child, argv);
  const out = child.stdout;
  let finished = false;
  try {
    if (out !== null) {
      // A command that could not be started has no output: its error is reported below.
      out.on('error', () => {});
      yield* delimitedPaths(out, delimiter);
    }
    finished = true;
  } finally {
    if (!finished) {
      out?.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
  }
  await done;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '\n': '', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * The bytes of a `--paths-delimiter` value: its backslash escapes evaluated as borg does
 * (Python's `unicode-escape`: `\n`, `\t`, `\0`, `\x00`, octal `\NNN`, `\uXXXX`, ...; an unknown
 * escape stays as written), then UTF-8 encoded, as the listed names are read.
 */
export function parseDelimiter(text: string): Buffer {
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    if (i + 1 >= text.length) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--paths-delimiter ${JSON.stringify(text)} ends in a lone backslash`);
    const next = text[i + 1] as string;
    const simple = SIMPLE_ESCAPES[next];
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    const hex = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))/.exec(text.slice(i + 1, i + 10));
    if (simple !== undefined) {
      out += simple;
      i += 1;
    } else if (octal !== null) {
      out += String.fromCodePoint(Number.parseInt(octal[0], 8));
      i += octal[0].length;
    } else if (hex !== null) {
      const digits = hex[1] ?? hex[2] ?? hex[3] ?? '';
      const code = Number.parseInt(digits, 16);
      if (code > 0x10ffff) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--paths-delimiter ${JSON.stringify(text)}: \\U${digits} is not a character`);
      out += String.fromCodePoint(code);
      i += 1 + digits.length;
    } else if (/^[xuU]/.test(next)) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--paths-delimiter ${JSON.stringify(text)} holds a truncated \\${next} escape`);
    } else out += c;
  }
  return encodeName(out);
}
