import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';

import { Command, Option, UsageError } from 'clipanion';

import { HoardError } from '../errors.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/** Signals hoard passes on to the command while it runs (SIGINT reaches it from the terminal itself). */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

/** The stdio setting for one of the command's streams: the process's own is inherited, another is piped. */
function stdioFor(stream: Readable | Writable, own: Readable | Writable): 'inherit' | 'pipe' {
  return stream === own ? 'inherit' : 'pipe';
}

/**
 * Runs `argv` with `env` and the given streams; resolves to its exit code, or 128 + N when signal N
 * ended it (borg's convention). Rejects when it cannot be started.
 */
export function runCommand(argv: string[], env: NodeJS.ProcessEnv, io: { stdin: Readable; stdout: Writable; stderr: Writable }): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    if (file === undefined) {
      reject(new UsageError('with-lock needs a COMMAND to run'));
      return;
    }
    // While the command runs, hoard must live on to release the lock: SIGINT is left to the
    // command (the terminal sends it to both), SIGTERM and SIGHUP are passed on. The handlers are
    // in place before the command starts, so a signal that comes as it starts is not lost.
    let child: ChildProcess | undefined;
    let early: NodeJS.Signals | undefined;
    const forward = (signal: NodeJS.Signals): void => {
      if (child === undefined) early = signal;
      else child.kill(signal);
    };
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    for (const s of FORWARDED) process.on(s, forward);
    const done = (): void => {
      process.off('SIGINT', ignore);
      for (const s of FORWARDED) process.off(s, forward);
    };
    try {
      child = spawn(file, args, {
        env,
        stdio: [stdioFor(io.stdin, process.stdin), stdioFor(io.stdout, process.stdout), stdioFor(io.stderr, process.stderr)],
      });
    } catch (e) {
      done();
      reject(new HoardError('HOARD_COMMAND_FAILED', `Error while trying to run '${file}': ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    if (early !== undefined) child.kill(early);
    child.stdout?.pipe(io.stdout, { end: false });
    child.stderr?.pipe(io.stderr, { end: false });
    if (child.stdin) io.stdin.pipe(child.stdin).on('error', () => undefined);
    child.once('error', (e) => {
      done();
      reject(new HoardError('HOARD_COMMAND_FAILED', `Error while trying to run '${file}': ${e.message}`));
    });
    const { stdin } = child;
    child.once('close', (code, signal) => {
      done();
      if (stdin) io.stdin.unpipe(stdin);
      resolve(code ?? 128 + (signal === null ? 0 : signalNumber(signal)));
    });
  });
}

/** The number of a signal (SIGKILL is 9). */
function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Partial<Record<NodeJS.Signals, number>>)[signal] ?? 0;
}

/** `hoard with-lock REPO COMMAND [ARGS...]`: runs a command while holding the repository's exclusive lock. */
export class WithLockCommand extends HoardCommand {
  static override paths = [['with-lock']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'run a user specified command with the repository lock held',
    details: `
      Takes the repository's exclusive lock (waiting up to --lock-wait seconds, as every command
      does), runs COMMAND with ARGS, with hoard's standard input, output and error, releases the
      lock, and exits with COMMAND's exit code (128 + N if signal N ended it). While it runs, no
      other hoard command can change the repository (every one that writes, reads archives or
      checks takes a lock; only \`list REPO\` and \`break-lock\` do not), so COMMAND may copy it
      (rsync, cp, a snapshot) and get a consistent copy. No passphrase is needed.

      If the lock cannot be taken in time, COMMAND does not run: one line, exit code 2. If
      COMMAND cannot be started, also exit code 2. Options for hoard go before REPOSITORY;
      everything after COMMAND is passed to it unchanged. SIGTERM and SIGHUP sent to hoard are
      passed on to COMMAND; hoard releases the lock when COMMAND has ended.
    `,
    examples: [
      ['Copy a repository while nothing changes it', 'hoard with-lock /path/to/repo rsync -a /path/to/repo/ /mnt/copy/'],
      ['Wait up to a minute for the lock', 'hoard with-lock --lock-wait 60 /path/to/repo cp -a /path/to/repo /mnt/copy'],
    ],
  });

  target = Option.String({ name: 'REPOSITORY' });
  commandLine = Option.Proxy({ name: 'COMMAND [ARGS...]', required: 1 });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    if (target.archive !== undefined) throw new UsageError('with-lock takes a repository, not an archive');
    const { storage } = await Repository.readConfig(target.repo);
    return this.locked(storage, 'exclusive', () => runCommand(this.commandLine, this.context.env, this.context));
  }
}
