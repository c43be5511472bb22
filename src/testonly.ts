/**
 * Test-only hooks (docs/options.md). Each does nothing unless its `HOARD_TESTONLY_*` variable is
 * set; no user sets them.
 */
import { InvalidArgumentError } from './errors.js';

/**
 * Kills this process with SIGKILL when `HOARD_TESTONLY_CRASH_AT` names `point`: a real crash at a
 * chosen place of a write, for the crash-safety tests. Read from the process environment only,
 * so that a test running hoard inside its own process can never kill itself.
 */
export function crashPoint(point: string): void {
  if (process.env.HOARD_TESTONLY_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

/** The pack size `HOARD_TESTONLY_PACK_SIZE` asks for (bytes), so that small tests make many packs. */
export function testPackSize(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.HOARD_TESTONLY_PACK_SIZE;
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `HOARD_TESTONLY_PACK_SIZE=${text} is not a whole number of bytes`);
  }
  return n;
}

/**
 * The factor `HOARD_TESTONLY_CRUD_SCALE` asks `benchmark crud` to scale its file counts and file
 * sizes by (a number in (0, 1]; 1 when unset), so that tests run it over a little data.
 */
export function crudScale(env: NodeJS.ProcessEnv): number {
  const text = env.HOARD_TESTONLY_CRUD_SCALE;
  if (text === undefined) return 1;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `HOARD_TESTONLY_CRUD_SCALE=${text} is not a number in (0, 1]`);
  }
  return n;
}
