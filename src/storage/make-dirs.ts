import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { errnoOf, IoError, NotFoundError, PermissionDeniedError, type HoardError } from '../errors.js';
import { osPath, resolvedPath } from '../fs-names.js';

/**
 * Creates folder `dir` and its missing parents, as `mkdir -p` does, with `mode`; returns the first
 * folder it created, or undefined where `dir` already was a folder. Node's own recursive
 * `fs.mkdir` loops forever where a parent exists but refuses new entries with ENOENT (`/proc`);
 * this makes each missing folder once. A folder it cannot make is a typed error naming it. The
 * default mode, 0777, is narrowed by the umask (borg's `--umask`, 0077 unless given).
 */
export async function makeDirs(dir: string, mode = 0o777): Promise<string | undefined> {
  const missing: string[] = [];
  let at = resolvedPath(dir);
  let first: string | undefined;
  for (;;) {
    try {
      await fs.mkdir(osPath(at), { mode });
      first = at;
      break;
    } catch (e) {
      const code = errnoOf(e);
      const parent = path.dirname(at);
      if (code === 'EEXIST' && (await isFolder(at))) break;
      if (code !== 'ENOENT' || parent === at) throw cannotMake(at, e);
      missing.push(at);
      at = parent;
    }
  }
  for (const folder of missing.reverse()) {
    try {
      await fs.mkdir(osPath(folder), { mode });
      first ??= folder;
    } catch (e) {
      // Another process (a second create into the same repository) may make it at the same time.
      if (errnoOf(e) !== 'EEXIST' || !(await isFolder(folder))) throw cannotMake(folder, e);
    }
  }
  return first;
}

async function isFolder(p: string): Promise<boolean> {
  return fs.stat(osPath(p)).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

function cannotMake(folder: string, e: unknown): HoardError {
  const code = errnoOf(e);
  const what = `cannot make folder ${folder}`;
  if (code === 'ENOENT') return new NotFoundError('HOARD_NOT_FOUND', `${what}: no such file or directory`);
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError('HOARD_PERMISSION_DENIED', `${what}: permission denied`);
  if (code === 'EEXIST' || code === 'ENOTDIR') return new IoError('HOARD_IO', `${what}: a file is in the way`);
  return new IoError('HOARD_IO', `${what}: ${e instanceof Error ? e.message : String(e)}`);
}
