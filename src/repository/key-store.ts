import * as path from 'node:path';

import { CorruptDataError, IntegrityError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { kdfParams, newKey } from '../native.js';
import { LocalStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import type { RepositoryConfig } from './config.js';
import { checkKeyBinding, formatKeyFile, keyFileRepository, openMasterKey, parseKeyFile, sealMasterKey, type SealedKey } from './key-file.js';
import type { Location } from './location.js';
import { manifestName, manifestSeq, openManifest } from './manifest.js';
import type { Passphrase } from './passphrase.js';
import { findKeyFile, readRepokey, Repository, REPOKEY, writeKeyFile } from './repository.js';

/**
 * Where a repository's sealed key is kept and how it is replaced (the `key` commands): in the
 * repository as `keys/repokey` (repokey and authenticated modes) or as a file in the keys folder
 * (keyfile mode). The text is the key file format of docs/format.md section 10.2 either way.
 */

/** An encrypted repository whose key is to be exported, imported or resealed. */
export interface KeyedRepository {
  location: Location;
  storage: Storage;
  config: RepositoryConfig;
}

/** A sealed key as kept now: where (`keys/repokey` or a file path), its text and its fields. */
export interface StoredKey {
  where: string;
  text: string;
  sealed: SealedKey;
}

/**
 * The storage and config of the repository at `location`; a repository without a key (mode
 * `none`) is refused, as borg refuses key management for unencrypted repositories.
 */
export async function keyedRepository(location: Location): Promise<KeyedRepository> {
  const { storage, config } = await Repository.readConfig(location);
  if (config.keyStorage === 'none') {
    throw new InvalidArgumentError('HOARD_UNENCRYPTED', `${location.text} is not encrypted: it has no key to manage`);
  }
  return { location, storage, config };
}

/** Reads the repository's sealed key where its mode keeps it; a missing key says how to restore it. */
export async function readStoredKey(repo: KeyedRepository, env: NodeJS.ProcessEnv): Promise<StoredKey> {
  const { config, location } = repo;
  const { file: where, text } =
    config.keyStorage === 'repokey'
      ? { file: REPOKEY, text: await readRepokey(repo.storage, location) }
      : await findKeyFile(env, config.id);
  const sealed = parseKeyFile(text, where);
  if (sealed.repository !== config.id) throw new CorruptDataError('HOARD_CORRUPT', `${where} is the key of another repository`);
  return { where, text, sealed };
}

/** The bytes a key file's second line encodes: the sealed key's JSON (what the paper form spells). */
export function keyPayload(text: string): Buffer {
  return Buffer.from(text.slice(text.indexOf('\n') + 1).trim(), 'base64');
}

/** The key file text of `payload` (the JSON bytes a paper key spells) for repository `repoId`. */
export function keyTextFromPayload(payload: Buffer, repoId: string): string {
  return `HOARD_KEY ${repoId}\n${payload.toString('base64')}\n`;
}

/**
 * Parses the text of a key export (`what` names it in errors) and checks that it is a key of
 * this repository: not a key file at all, or one of another repository, is one error line.
 */
export function parseExport(repo: KeyedRepository, text: string, what: string): SealedKey {
  if (text.includes('HOARD PAPER KEY')) {
    throw new CorruptDataError('HOARD_CORRUPT', `${what} is a paper key: import it with --paper`);
  }
  const owner = keyFileRepository(text);
  if (owner !== undefined && owner !== repo.config.id) {
    throw new InvalidArgumentError('HOARD_KEY_OTHER_REPOSITORY', `${what} is the key of repository ${owner}, not of ${repo.location.text}`);
  }
  return parseKeyFile(text, what);
}

/**
 * Opens `sealed` with `passphrase` and checks that the master key opens the repository's newest
 * manifest generation, so a key that merely names this repository is not installed. Returns the
 * master key.
 */
export async function openForRepository(repo: KeyedRepository, sealed: SealedKey, passphrase: Passphrase, what: string): Promise<Buffer> {
  const master = await openMasterKey(sealed, passphrase);
  const { storage, config } = repo;
  checkKeyBinding(sealed, config, what);
  const newest = (await storage.list('manifest')).map(manifestSeq).reduce<number>((a, s) => Math.max(a, s ?? 0), 0);
  if (newest > 0) {
    const key = newKey(master, config.suite, config.idAlgorithm);
    try {
      await openManifest(key, newest, await storage.get(manifestName(newest)));
    } catch (e) {
      if (!(e instanceof IntegrityError)) throw e;
      throw new IntegrityError('HOARD_INTEGRITY', `${what} does not open ${repo.location.text}: it is not this repository's key`);
    }
  }
  return master;
}

/** Writes `text` over the key file at `file`, atomically (a temporary file renamed over it, mode 0600). */
async function replaceKeyFile(file: string, text: string): Promise<void> {
  await new LocalStorage(path.dirname(file), { private: true }).put(path.basename(file), Buffer.from(text));
}

/**
 * Installs key text `text` where the repository's mode keeps it and returns where: repokey mode
 * writes `keys/repokey` (created exclusively when missing, else replaced atomically); keyfile mode
 * replaces this repository's key file in the keys folder (or `HOARD_KEY_FILE`) or makes a new one.
 */
export async function installKey(repo: KeyedRepository, env: NodeJS.ProcessEnv, text: string): Promise<string> {
  const { storage, config } = repo;
  if (config.keyStorage === 'repokey') {
    if (!(await storage.createExclusive(REPOKEY, Buffer.from(text)))) await storage.put(REPOKEY, Buffer.from(text));
    return REPOKEY;
  }
  const existing = await findKeyFile(env, config.id).catch((e: unknown) => {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  });
  if (existing !== undefined) {
    await replaceKeyFile(existing.file, text);
    return existing.file;
  }
  return writeKeyFile(env, repo.location, text);
}

/**
 * Seals `master` again under `passphrase` with a fresh salt (the suite and repository id of
 * `stored`, the KDF costs of now) and replaces the stored key atomically.
 */
export async function resealKey(repo: KeyedRepository, env: NodeJS.ProcessEnv, stored: StoredKey, master: Buffer, passphrase: Passphrase): Promise<void> {
  const repoId = Buffer.from(repo.config.id, 'hex');
  const text = formatKeyFile(await sealMasterKey(master, repoId, repo.config, passphrase, kdfParams(env), stored.sealed.suite));
  if (repo.config.keyStorage === 'repokey') await repo.storage.put(REPOKEY, Buffer.from(text));
  else await replaceKeyFile(stored.where, text);
}
