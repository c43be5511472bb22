import * as path from 'node:path';

import { envVar } from '../context.js';
import { HoardError, IntegrityError, NotFoundError } from '../errors.js';
import { decodeName, encodeName } from '../fs-names.js';
import { LocalStorage } from '../storage/local.js';
import type { RepositoryConfig } from './config.js';
import { configDir } from './paths.js';

/**
 * What this client remembers of each repository it has used (borg's security folder):
 * `<config dir>/security/<repository id>/` with `location`, `key-type` and `manifest-seq`. It
 * catches what a repository alone cannot prove: that it was swapped for an unencrypted one, moved,
 * or rolled back to an older manifest generation.
 */
export interface SecurityState {
  location: string;
  keyType: string;
  manifestSeq: number;
}

/** The security folder of repository `id`: `HOARD_SECURITY_DIR`, else `<config dir>/security/<id>`. */
export function securityDir(env: NodeJS.ProcessEnv, id: string): string {
  const base = envVar(env, 'SECURITY_DIR');
  return base !== undefined && base !== '' ? path.join(path.resolve(base), id) : path.join(configDir(env), 'security', id);
}

function yes(env: NodeJS.ProcessEnv, name: string): boolean {
  return (envVar(env, name) ?? '').toLowerCase() === 'yes';
}

/** Reads the state, or undefined for a repository this client has never used. */
async function readState(store: LocalStorage): Promise<SecurityState | undefined> {
  try {
    // The location as bytes (a path need not be UTF-8), the rest as text.
    const [location, keyType, seq] = await Promise.all(['location', 'key-type', 'manifest-seq'].map(async (n) => decodeName(await store.get(n)).trim()));
    return { location: location ?? '', keyType: keyType ?? '', manifestSeq: Number(seq) || 0 };
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** What this client remembers of repository `id`, or undefined if it has never used it. */
export function loadState(env: NodeJS.ProcessEnv, id: string): Promise<SecurityState | undefined> {
  return readState(new LocalStorage(securityDir(env, id)));
}

/** Records `state` for repository `id`. */
export async function saveState(env: NodeJS.ProcessEnv, id: string, state: SecurityState): Promise<void> {
  const store = new LocalStorage(securityDir(env, id));
  await store.put('location', encodeName(`${state.location}\n`));
  await store.put('key-type', Buffer.from(`${state.keyType}\n`));
  await store.put('manifest-seq', Buffer.from(`${state.manifestSeq}\n`));
}

/**
 * Checks a repository against what this client remembers, before its key is used: an
 * unencrypted repository never seen before needs `HOARD_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes`,
 * a changed encryption mode is refused, and a moved one needs
 * `HOARD_RELOCATED_REPO_ACCESS_IS_OK=yes` (each with its `BORG_` twin).
 */
export async function checkBeforeOpen(env: NodeJS.ProcessEnv, config: RepositoryConfig, location: string): Promise<SecurityState | undefined> {
  const state = await readState(new LocalStorage(securityDir(env, config.id)));
  if (state === undefined) {
    if (config.keyStorage === 'none' && !yes(env, 'UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK')) {
      throw new HoardError(
        'HOARD_UNKNOWN_UNENCRYPTED',
        `${location} is an unencrypted repository this client has never used; set HOARD_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes to use it`,
      );
    }
    return undefined;
  }
  if (state.keyType !== config.encryption) {
    throw new IntegrityError(
      'HOARD_INTEGRITY',
      `${location}: the repository's encryption changed from ${state.keyType} to ${config.encryption}; refusing it (it may have been replaced)`,
    );
  }
  if (state.location !== location && !yes(env, 'RELOCATED_REPO_ACCESS_IS_OK')) {
    throw new HoardError(
      'HOARD_RELOCATED',
      `the repository ${location} was previously located at ${state.location}; set HOARD_RELOCATED_REPO_ACCESS_IS_OK=yes to use it there`,
    );
  }
  return state;
}

/** Refuses a newest manifest generation older than one this client has seen (a rollback). */
export function checkManifestSeq(state: SecurityState | undefined, newest: number, location: string): void {
  if (state !== undefined && newest < state.manifestSeq) {
    throw new IntegrityError(
      'HOARD_INTEGRITY',
      `${location}: the newest manifest generation is ${newest}, but this client has seen ${state.manifestSeq}; the repository was rolled back`,
    );
  }
}
