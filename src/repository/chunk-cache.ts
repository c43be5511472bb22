import * as path from 'node:path';

import { HoardError, errorFor } from '../errors.js';
import { envVar } from '../context.js';
import { InvalidArgumentError } from '../errors.js';
import { loadChunkIndex, loadFilesCache, newChunkIndex, newFilesCache, type ChunkIndex, type FilesCache, type Key } from '../native.js';
import type { Storage } from '../storage/storage.js';
import { makeDirs } from '../storage/make-dirs.js';
import { indexName } from './objects.js';
import { cacheDir } from './paths.js';

/** What the cache file records beside the table: the index objects it holds. */
interface CacheMeta {
  version: 1;
  indexObjects: string[];
}

/** The client's chunk index of one repository, synced with the index objects it lists. */
export interface SyncedIndex {
  index: ChunkIndex;
  /** The index objects (hex ids) the index holds. */
  indexObjects: Set<string>;
  /** Where the cache lives (absent when caching is off). */
  file: string | undefined;
}

/** `<cache dir>/<repository id>`, the folder of one repository's cache. */
export function repositoryCacheDir(env: NodeJS.ProcessEnv, repositoryId: string): string {
  return path.join(cacheDir(env), repositoryId);
}

async function loadCached(file: string): Promise<{ index: ChunkIndex; meta: CacheMeta } | undefined> {
  try {
    const index = await loadChunkIndex(file);
    const meta = JSON.parse(index.meta.toString('utf8')) as CacheMeta;
    if (meta.version !== 1 || !Array.isArray(meta.indexObjects)) return undefined;
    return { index, meta };
  } catch (e) {
    // A missing or damaged cache is rebuilt from the repository.
    if (e instanceof HoardError || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/**
 * The chunk index as the repository's index objects define it now: the cached one plus the index
 * objects added since; rebuilt from scratch if any it holds has vanished (compact removed it, or
 * this is another copy of the repository).
 */
export async function syncChunkIndex(storage: Storage, key: Key, env: NodeJS.ProcessEnv, repositoryId: string): Promise<SyncedIndex> {
  const listed = (await storage.list('index')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const file = path.join(repositoryCacheDir(env, repositoryId), 'chunks');
  const cached = await loadCached(file);
  const present = new Set(listed);
  let index = newChunkIndex();
  let held = new Set<string>();
  if (cached !== undefined && cached.meta.indexObjects.every((n) => present.has(n))) {
    index = cached.index;
    held = new Set(cached.meta.indexObjects);
  }
  for (const name of listed) {
    if (held.has(name)) continue;
    const data = await storage.get(indexName(name));
    await index.addIndexObject(key, Buffer.from(name, 'hex'), data).catch((e: unknown) => {
      if (e instanceof HoardError) throw errorFor(e.code, `index object ${name}: ${e.message}`);
      throw e;
    });
    held.add(name);
  }
  return { index, indexObjects: held, file };
}

/** Saves the chunk index to the cache (after a commit: everything it holds is in index objects). */
export async function saveChunkIndex(synced: SyncedIndex): Promise<void> {
  if (synced.file === undefined) return;
  await makeDirs(path.dirname(synced.file));
  const meta: CacheMeta = { version: 1, indexObjects: [...synced.indexObjects].sort() };
  await synced.index.save(synced.file, Buffer.from(JSON.stringify(meta)));
}

/**
 * Runs `saves`, the cache saves that follow the commit of archive `archive`. A failure there (a
 * full disk, a read-only cache folder) is no error of the run's: what was committed stays, and the
 * next run syncs the chunk index again and reads the files a lost files cache would have skipped.
 * Resolves to the warning to print, if one failed.
 */
export async function saveAfterCommit(archive: string, saves: (() => Promise<void> | undefined)[]): Promise<string | undefined> {
  try {
    for (const save of saves) await save();
  } catch (e) {
    return `Archive ${archive}: committed, but a cache could not be saved (the next run rebuilds it): ${e instanceof Error ? e.message : String(e)}`;
  }
  return undefined;
}

/** A files cache and how to save it after the archive is committed. */
export interface OpenFilesCache {
  cache: FilesCache;
  save: () => Promise<void>;
}

/** Refuses a `--files-cache` mode that is not one of borg's, before the run (a dry run too). */
export function checkFilesCacheMode(mode: string): void {
  newFilesCache(mode, 0, 0);
}

/** Whether `mode` (a valid `--files-cache` mode) is `disabled`: nothing used, nothing saved. */
function disabledMode(mode: string): boolean {
  return mode.split(',').every((part) => part.trim() === 'disabled');
}

/**
 * The files cache of repository `repositoryId` for a run that started at `start`, with borg's
 * `--files-cache` mode; entries unseen for `HOARD_FILES_CACHE_TTL` runs (default 20) are dropped.
 * A missing or damaged cache starts empty.
 */
export async function openFilesCache(env: NodeJS.ProcessEnv, repositoryId: string, mode: string, start: Date): Promise<OpenFilesCache> {
  const ttlText = envVar(env, 'FILES_CACHE_TTL') ?? '20';
  const ttl = Number(ttlText);
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 254) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `HOARD_FILES_CACHE_TTL=${ttlText} is not a whole number from 0 to 254`);
  const file = path.join(repositoryCacheDir(env, repositoryId), 'files');
  const startNs = start.getTime() * 1e6;
  const fresh = newFilesCache(mode, ttl, startNs);
  const cache = await loadFilesCache(file, mode, ttl, startNs).catch((e: unknown) => {
    if (e instanceof HoardError) return fresh;
    throw e;
  });
  return {
    cache,
    save: async () => {
      if (disabledMode(mode)) return;
      await makeDirs(path.dirname(file));
      await cache.save(file);
    },
  };
}
