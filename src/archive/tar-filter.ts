/** borg's `--tar-filter`: the default filter program for a tar file's name, and running it. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

import { HoardError, IoError } from '../errors.js';

const FILTERS: readonly [readonly string[], string][] = [
  [['.tar.gz', '.tgz'], 'gzip'],
  [['.tar.bz2', '.tbz'], 'bzip2'],
  [['.tar.xz', '.txz'], 'xz'],
  [['.tar.lz4'], 'lz4'],
  [['.tar.zstd', '.tar.zst'], 'zstd'],
];

/**
 * The filter `--tar-filter` stands for: `auto` picks one by FILE's extension as borg 1.4
 * (`.tar.gz`/`.tgz` gzip, `.tar.bz2`/`.tbz` bzip2, `.tar.xz`/`.txz` xz, `.tar.lz4` lz4,
 * `.tar.zst`/`.tar.zstd` zstd; with ` -d` to decompress), none for other names and `-`;
 * any other value is a shell command; an empty one means none.
 */
export function tarFilterFor(option: string, file: string, decompress: boolean): string | undefined {
  if (option !== 'auto') return option.trim() === '' ? undefined : option;
  for (const [ends, program] of FILTERS) {
    if (ends.some((e) => file.endsWith(e))) return decompress ? `${program} -d` : program;
  }
  return undefined;
}

/** A filter command writing to file descriptor `outFd`; write the tar stream to `input`. */
export interface OutputFilter {
  input: Writable;
  /** Ends the input and waits for the command; a failure is an error. */
  finish: () => Promise<void>;
}

/** Starts the shell command `command` with its output going to file descriptor or stream `out`. */
export function startOutputFilter(command: string, out: number | Writable): OutputFilter {
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', typeof out === 'number' ? out : 'pipe', 'inherit'] });
  const input = child.stdin;
  if (input === null) throw new IoError('HOARD_IO', `--tar-filter '${command}': no input pipe`);
  const drained = child.stdout === null || typeof out === 'number' ? Promise.resolve() : once(child.stdout.pipe(out, { end: false }) && child.stdout, 'end');
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const failed = once(child, 'error').then(([e]: unknown[]) => {
    throw new IoError('HOARD_IO', `--tar-filter '${command}': ${(e as Error).message}`);
  });
  failed.catch(() => {});
  input.on('error', () => {});
  return {
    input,
    finish: async () => {
      input.end();
      const [code, signal] = await Promise.race([exited, failed]);
      await drained;
      if (code !== 0) throw new HoardError('HOARD_IO', `--tar-filter '${command}' failed (${signal ?? `exit status ${code}`})`);
    },
  };
}

/** Writes buffers to `out`, waiting whenever it asks to (backpressure); rejects on its error. */
export async function writeAll(out: Writable, buffers: Buffer[]): Promise<void> {
  for (const b of buffers) {
    if (out.destroyed) throw new IoError('HOARD_IO', 'the output was closed');
    if (!out.write(b)) {
      await Promise.race([
        once(out, 'drain'),
        once(out, 'error').then(([e]: unknown[]) => {
          throw new IoError('HOARD_IO', `writing the tar stream: ${(e as Error).message}`);
        }),
        once(out, 'close').then(() => {
          throw new IoError('HOARD_IO', 'the output was closed');
        }),
      ]);
    }
  }
}
