import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

import { envVar } from '../context.js';
import { HoardError, InvalidArgumentError } from '../errors.js';

/** Where a passphrase came from; a wrong one from the environment is reported as borg does. */
export type PassphraseSource = 'environment' | 'prompt';

/** A passphrase and where it came from. */
export interface Passphrase {
  value: Buffer;
  source: PassphraseSource;
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

function failure(message: string): HoardError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/**
 * The passphrase from the environment, in borg's order: `HOARD_PASSPHRASE`, then
 * `HOARD_PASSCOMMAND` (run by the shell; its output), then `HOARD_PASSPHRASE_FD` (read from that
 * file descriptor); each falls back to its `BORG_` twin. A trailing newline is stripped.
 */
export function passphraseFromEnv(env: NodeJS.ProcessEnv): Passphrase | undefined {
  const direct = envVar(env, 'PASSPHRASE');
  if (direct !== undefined) return { value: Buffer.from(direct, 'utf8'), source: 'environment' };
  const command = envVar(env, 'PASSCOMMAND');
  if (command !== undefined) {
    const r = spawnSync('/bin/sh', ['-c', command], { env, stdio: ['inherit', 'pipe', 'inherit'] });
    if (r.error !== undefined || r.status !== 0) {
      throw failure(`the passphrase command (HOARD_PASSCOMMAND) failed${r.status === null ? '' : ` with exit code ${r.status}`}`);
    }
    return { value: stripNewline(r.stdout), source: 'environment' };
  }
  const fd = envVar(env, 'PASSPHRASE_FD');
  if (fd !== undefined) {
    if (!/^\d+$/.test(fd)) throw failure(`HOARD_PASSPHRASE_FD must be a file descriptor number, got ${JSON.stringify(fd)}`);
    try {
      return { value: stripNewline(readFileSync(Number(fd))), source: 'environment' };
    } catch (e) {
      throw failure(`cannot read the passphrase from file descriptor ${fd}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return undefined;
}

/** Reads one line from a terminal without echoing it. */
async function promptHidden(io: PromptIo, prompt: string): Promise<Buffer> {
  const tty = io.stdin as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  io.stderr.write(prompt);
  tty.setRawMode?.(true);
  const bytes: number[] = [];
  try {
    for await (const chunk of tty) {
      for (const b of chunk as Buffer) {
        if (b === 0x03) throw new HoardError('HOARD_INTERRUPTED', 'interrupted');
        if (b === 0x0d || b === 0x0a) return Buffer.from(bytes);
        if (b === 0x7f || b === 0x08) bytes.pop();
        else bytes.push(b);
      }
    }
    return Buffer.from(bytes);
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
