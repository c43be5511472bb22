import { createHash, randomBytes } from 'node:crypto';

import { CorruptDataError, IntegrityError, WrongPassphraseError } from '../errors.js';
import { argon2id, openWithKey, sealWithKey, trimMemory, type Argon2Params } from '../native.js';
import type { RepositoryConfig } from './config.js';
import { ObjectType } from './object-types.js';
import type { Passphrase } from './passphrase.js';

/** The first word of a key file. */
const MAGIC = 'HOARD_KEY';

/**
 * The settings of the repository's `config` that its key is bound to (docs/format.md section
 * 10.2): the `config` file is not sealed, so a changed mode, suite, id algorithm or key storage is
 * caught by comparing it with the key's, which the seal authenticates.
 */
export type KeyBinding = Pick<RepositoryConfig, 'encryption' | 'suite' | 'idAlgorithm' | 'keyStorage'>;

/** The fields of a {@link KeyBinding}, in the order the sealing id takes them. */
const BOUND = ['encryption', 'suite', 'idAlgorithm', 'keyStorage'] as const;

/** The binding fields of `config`. */
export function bindingOf(config: KeyBinding): KeyBinding {
  return { encryption: config.encryption, suite: config.suite, idAlgorithm: config.idAlgorithm, keyStorage: config.keyStorage };
}

/** The id a master key is sealed under: SHA-256 over the repository id and the bound settings. */
function sealingId(repository: string, b: KeyBinding): Buffer {
  const text = ['hoard key binding 2', repository, ...BOUND.map((f) => b[f])].join('\n');
  return createHash('sha256').update(text).digest();
}

/** A master key sealed under a passphrase, as stored in `keys/repokey` or a keyfile. */
export interface SealedKey {
  version: 2;
  /** The repository's id, hex. */
  repository: string;
  /** The repository settings the key is bound to. */
  binds: KeyBinding;
  kdf: { algorithm: 'argon2id'; salt: string } & Argon2Params;
  /** The suite the master key is sealed with. */
  suite: 'aes-256-gcm' | 'chacha20-poly1305';
  /** The sealed master key (an envelope, docs/format.md), base64. */
  sealed: string;
}

/**
 * argon2id of `passphrase`. Its memory (64 MiB by default) lands on top of what the process
 * holds, which makes it the peak of most commands that open a key, so what start-up freed (the
 * bundle's parse) goes back to the system first: about 1 MB (`hoard list`: 125.9 -> 124.7 MB).
 */
async function keyEncryptionKey(passphrase: Passphrase, salt: Buffer, costs: Argon2Params): Promise<Buffer> {
  trimMemory();
  return argon2id(passphrase.value, salt, costs);
}

/** Seals `master` for repository `repoId` with settings `binds` under `passphrase` with argon2id costs `kdf`. */
export async function sealMasterKey(
  master: Buffer,
  repoId: Buffer,
  binds: KeyBinding,
  passphrase: Passphrase,
  kdf: Argon2Params,
  suite: SealedKey['suite'] = 'aes-256-gcm',
): Promise<SealedKey> {
  const salt = randomBytes(32);
  const kek = await keyEncryptionKey(passphrase, salt, kdf);
  const repository = repoId.toString('hex');
  const bound = bindingOf(binds);
  const sealed = await sealWithKey(suite, kek, ObjectType.key, sealingId(repository, bound), master);
  return {
    version: 2,
    repository,
    binds: bound,
    kdf: { algorithm: 'argon2id', salt: salt.toString('base64'), ...kdf },
    suite,
    sealed: sealed.toString('base64'),
  };
}

/** Opens a sealed master key with `passphrase`; a wrong passphrase is a {@link WrongPassphraseError}. */
export async function openMasterKey(key: SealedKey, passphrase: Passphrase): Promise<Buffer> {
  const { salt, algorithm: _algorithm, ...costs } = key.kdf;
  const kek = await keyEncryptionKey(passphrase, Buffer.from(salt, 'base64'), costs);
  try {
    return await openWithKey(key.suite, kek, ObjectType.key, sealingId(key.repository, key.binds), Buffer.from(key.sealed, 'base64'));
  } catch (e) {
    if (!(e instanceof IntegrityError)) throw e;
    const p = passphrase.prefix ?? 'HOARD';
    const message =
      passphrase.source === 'environment'
        ? `passphrase supplied in ${p}_PASSPHRASE, by ${p}_PASSCOMMAND or via ${p}_PASSPHRASE_FD is incorrect`
        : 'passphrase is incorrect';
    throw new WrongPassphraseError('HOARD_WRONG_PASSPHRASE', message);
  }
}

/**
 * Throws unless the repository's `config` has the settings `key` (opened, so authentic) is bound
 * to: a difference means the config was changed behind hoard's back.
 */
export function checkKeyBinding(key: SealedKey, config: KeyBinding, what: string): void {
  for (const field of BOUND) {
    if (key.binds[field] !== config[field]) {
      throw new IntegrityError('HOARD_INTEGRITY', `the repository's config says ${field} ${config[field]}, but its key ${what} was made for ${key.binds[field]}: the config was changed`);
    }
  }
}

/** The key file's text: `HOARD_KEY <repository id>` and the key as base64 JSON. */
export function formatKeyFile(key: SealedKey): string {
  return `${MAGIC} ${key.repository}\n${Buffer.from(JSON.stringify(key)).toString('base64')}\n`;
}

function corrupt(what: string): CorruptDataError {
  return new CorruptDataError('HOARD_CORRUPT', `${what} is not a hoard key file`);
}

/** The repository id a key file names in its first line, or undefined if it is not a key file. */
export function keyFileRepository(text: string): string | undefined {
  const m = /^HOARD_KEY ([0-9a-f]{64})\n/.exec(text);
  return m?.[1];
}

/** Parses a key file's text (`what` names it in errors). */
export function parseKeyFile(text: string, what: string): SealedKey {
  const repo = keyFileRepository(text);
  if (repo === undefined) throw corrupt(what);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text.slice(text.indexOf('\n') + 1).trim(), 'base64').toString('utf8'));
  } catch {
    throw corrupt(what);
  }
  const k = value as Partial<SealedKey> | null;
  const kdf = k?.kdf;
  const ok =
    k !== null &&
    k.version === 2 &&
    k.repository === repo &&
    typeof k.binds === 'object' &&
    k.binds !== null &&
    BOUND.every((f) => typeof (k.binds as Record<string, unknown>)[f] === 'string') &&
    (k.suite === 'aes-256-gcm' || k.suite === 'chacha20-poly1305') &&
    typeof k.sealed === 'string' &&
    kdf !== undefined &&
    kdf.algorithm === 'argon2id' &&
    typeof kdf.salt === 'string' &&
    [kdf.timeCost, kdf.memoryKib, kdf.parallelism].every((n) => Number.isInteger(n));
  if (!ok) throw corrupt(what);
  return k as SealedKey;
}
