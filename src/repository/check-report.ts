import { HoardError } from '../errors.js';

/** Where `check` sends what it finds. */
export interface CheckReport {
  /** A problem: one line naming the object (pack, index object, archive, item path). */
  problem(line: string): void;
  /** Something worth knowing that is no error, such as garbage that `compact` removes. */
  info(line: string): void;
  /** How far a step has come: `done` of `total`. */
  progress(step: string, done: number, total: number): void;
}

/** The message of an error found while checking; anything but a hoard error is a bug and is thrown again. */
export function messageOf(e: unknown): string {
  if (e instanceof HoardError || e instanceof SyntaxError) return e.message;
  throw e;
}

/** `what: message`, without naming `what` twice where the message already starts with it. */
export function named(what: string, e: unknown): string {
  const m = messageOf(e);
  return m.startsWith(what) ? m : `${what}: ${m}`;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves when all are done. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
