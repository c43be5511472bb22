import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

import { InterruptedError, InvalidArgumentError } from '../errors.js';

/** Where a passphrase came from; a wrong one from the environment is reported as borg does. */
export type PassphraseSource = 'environment' | 'prompt';

/** A passphrase and where it came from. */
export interface Passphrase {
  value: Buffer;
  source: PassphraseSource;
  /** `HOARD` or `BORG`: which twin of the variables gave it (environment only). */
  prefix?: string;
}

/** The streams a prompt uses. */
export interface PromptIo {
  stdin: Readable;
  stderr: Writable;
}

function stripNewline(b: Buffer): Buffer {
  let end = b.length;
  if (end > 0 && b[end - 1] === 0x0a) end -= 1;
  if (end > 0 && b[end - 1] === 0x0d) end -= 1;
  return b.subarray(0, end);
}

function failure(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/** Reads everything from file descriptor `fd` (a number in `name`). */
function readFd(name: string, fd: string): Buffer {
  if (!/^\d+$/.test(fd)) throw failure(`${name} must be a file descriptor number, got ${JSON.stringify(fd)}`);
  try {
    return readFileSync(Number(fd));
  } catch (e) {
    throw failure(`cannot read the passphrase from file descriptor ${fd} (${name}): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The passphrase from the environment, in borg's order: `PASSPHRASE`, then `PASSCOMMAND` (run by
 * the shell; its output), then `PASSPHRASE_FD` (read from that file descriptor). Every `HOARD_`
 * source comes before every `BORG_` one. A trailing newline is stripped from what a command or
 * descriptor gives.
 */
export function passphraseFromEnv(env: NodeJS.ProcessEnv): Passphrase | undefined {
  for (const prefix of ['HOARD', 'BORG']) {
    const direct = env[`${prefix}_PASSPHRASE`];
    if (direct !== undefined) return { value: Buffer.from(direct, 'utf8'), source: 'environment', prefix };
    const commandVar = `${prefix}_PASSCOMMAND`;
    const command = env[commandVar];
    if (command !== undefined) {
      const r = spawnSync('/bin/sh', ['-c', command], { env, stdio: ['inherit', 'pipe', 'inherit'] });
      if (r.error !== undefined || r.status !== 0) {
        throw failure(`the passphrase command (${commandVar}) failed${r.status === null ? '' : ` with exit code ${r.status}`}`);
      }
      return { value: stripNewline(r.stdout), source: 'environment', prefix };
    }
    const fdVar = `${prefix}_PASSPHRASE_FD`;
    const fd = env[fdVar];
    if (fd !== undefined) return { value: stripNewline(readFd(fdVar, fd)), source: 'environment', prefix };
  }
  return undefined;
}

/**
 * Reads one line from a terminal without echoing it. Bytes after the line's end are put back for
 * the next read; Ctrl-C interrupts (exit code 130, as for SIGINT); Ctrl-D on an empty line or the
 * end of input ends the line.
 */
async function promptHidden(io: PromptIo, prompt: string): Promise<Buffer> {
  const tty = io.stdin as Readable & { setRawMode?: (raw: boolean) => void };
  io.stderr.write(prompt);
  tty.setRawMode?.(true);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const bytes: number[] = [];
      const finish = (settle: () => void): void => {
        tty.off('data', onData);
        tty.off('end', onEnd);
        tty.pause();
        settle();
      };
      const onEnd = (): void => finish(() => resolve(Buffer.from(bytes)));
      const onData = (chunk: Buffer): void => {
        for (let i = 0; i < chunk.length; i += 1) {
          const b = chunk[i] ?? 0;
          if (b === 0x03) return finish(() => reject(new InterruptedError('HOARD_INTERRUPTED', 'interrupted')));
          if (b === 0x0d || b === 0x0a || (b === 0x04 && bytes.length === 0)) {
            const rest = chunk.subarray(b === 0x0d && chunk[i + 1] === 0x0a ? i + 2 : i + 1);
            return finish(() => {
              if (rest.length > 0) tty.unshift(rest);
              resolve(Buffer.from(bytes));
            });
          }
          if (b === 0x7f || b === 0x08) bytes.pop();
          else bytes.push(b);
        }
      };
      tty.on('data', onData);
      tty.once('end', onEnd);
      tty.resume();
    });
  } finally {
    tty.setRawMode?.(false);
    io.stderr.write('\n');
  }
}

function isTerminal(stream: Readable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** The passphrase of an existing key: from the environment, else asked for on a terminal. */
export async function getPassphrase(env: NodeJS.ProcessEnv, io: PromptIo, what: string): Promise<Passphrase> {
  const fromEnv = passphraseFromEnv(env);
  if (fromEnv !== undefined) return fromEnv;
  if (!isTerminal(io.stdin)) {
    throw failure(`${what} needs a passphrase: set HOARD_PASSPHRASE, HOARD_PASSCOMMAND or HOARD_PASSPHRASE_FD`);
  }
  return { value: await promptHidden(io, `Enter passphrase for ${what}: `), source: 'prompt' };
}

/** The passphrase for a new key: from the environment, else asked for twice on a terminal. */
export async function newPassphrase(env: NodeJS.ProcessEnv, io: PromptIo): Promise<Passphrase> {
  const fromEnv = passphraseFromEnv(env);
  if (fromEnv !== undefined) return fromEnv;
  if (!isTerminal(io.stdin)) {
    throw failure('a new key needs a passphrase: set HOARD_PASSPHRASE, HOARD_PASSCOMMAND or HOARD_PASSPHRASE_FD');
  }
  for (;;) {
    const first = await promptHidden(io, 'Enter new passphrase: ');
    const again = await promptHidden(io, 'Enter same passphrase again: ');
    if (first.equals(again)) return { value: first, source: 'prompt' };
    io.stderr.write('Passphrases do not match, try again.\n');
  }
}
