import type { BaseContext } from 'clipanion';

/** What every command runs with: clipanion's streams plus the environment it reads. */
export interface HoardContext extends BaseContext {
  /** The environment (HOARD_* and their BORG_* twins). */
  env: NodeJS.ProcessEnv;
}

/** The value of `HOARD_<name>`, or of its twin `BORG_<name>` where the former is unset. */
export function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[`HOARD_${name}`] ?? env[`BORG_${name}`];
}
