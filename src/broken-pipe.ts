/**
 * A reader that goes away (`hoard list ... | head -1`): its pipe's EPIPE is not a failure of
 * hoard's. On standard output the run stops quietly with exit code 0, as borg 1.4 treats a broken
 * pipe on its text output; on standard error the rest of the run's messages are dropped and the
 * run goes on (a backup is not given up because its log has no reader).
 */
import type { Writable } from 'node:stream';

import { HoardError, IoError } from './errors.js';

/** The reader of standard output went away (EPIPE): the run stops quietly. */
export class OutputClosedError extends HoardError {}

/** The streams whose writes failed, with the first error. */
const failed = new WeakMap<Writable, NodeJS.ErrnoException>();
/** The streams watched already. */
const watched = new WeakSet<Writable>();

/** Error codes of a write to a pipe whose reader went away, and of the writes after it. */
const GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/**
 * Watches `streams` for the rest of the process: a failed write (a reader gone away, or another
 * error) is kept for {@link checkOutput} instead of ending the process with Node's stack trace.
 */
export function watchPipes(...streams: Writable[]): void {
  for (const s of streams) {
    if (watched.has(s) || typeof s.on !== 'function') continue;
    watched.add(s);
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (!failed.has(s)) failed.set(s, e);
    });
  }
}

/** Whether a write to `out` failed, or it was destroyed. */
export function outputFailed(out: Writable): boolean {
  return failed.has(out) || out.destroyed;
}

/**
 * Throws {@link OutputClosedError} once the reader of `out` went away, and an IoError once a write
 * to it failed otherwise.
 */
export function checkOutput(out: Writable): void {
  const e = failed.get(out);
  if (e === undefined) {
    if (out.destroyed) throw new OutputClosedError('HOARD_OUTPUT_CLOSED', 'the output was closed');
    return;
  }
  if (e.code !== undefined && GONE.has(e.code)) throw new OutputClosedError('HOARD_OUTPUT_CLOSED', 'the output was closed');
  throw new IoError('HOARD_IO', `writing to the output: ${e.message}`);
}
