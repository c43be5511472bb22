import * as os from 'node:os';
import * as path from 'node:path';

import { envVar } from '../context.js';

/** An environment path, resolved; empty counts as unset. */
function setPath(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : path.resolve(v);
}

/** hoard's config dir: `HOARD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hoard`, else `~/.config/hoard`. */
export function configDir(env: NodeJS.ProcessEnv): string {
  const home = setPath(env.HOME) ?? os.homedir();
  return setPath(envVar(env, 'CONFIG_DIR')) ?? path.join(setPath(env.XDG_CONFIG_HOME) ?? path.join(home, '.config'), 'hoard');
}

/** The folder keyfile-mode keys live in: `HOARD_KEYS_DIR`, else `<config dir>/keys`. */
export function keysDir(env: NodeJS.ProcessEnv): string {
  return setPath(envVar(env, 'KEYS_DIR')) ?? path.join(configDir(env), 'keys');
}

/** The cache dir: `HOARD_CACHE_DIR`, else `$XDG_CACHE_HOME/hoard`, else `~/.cache/hoard`. */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  const home = setPath(env.HOME) ?? os.homedir();
  return setPath(envVar(env, 'CACHE_DIR')) ?? path.join(setPath(env.XDG_CACHE_HOME) ?? path.join(home, '.cache'), 'hoard');
}
