import { randomBytes } from 'node:crypto';

import { CorruptDataError, IntegrityError, WrongPassphraseError } from '../errors.js';
import { argon2id, openWithKey, sealWithKey, type Argon2Params } from '../native.js';
import { ObjectType } from './object-types.js';
import type { Passphrase } from './passphrase.js';

/** The first word of a key file. */
const MAGIC = 'HOARD_KEY';

/** A master key sealed under a passphrase, as stored in `keys/repokey` or a keyfile. */
export interface SealedKey {
  version: 1;
  /** The repository's id, hex. */
  repository: string;
  kdf: { algorithm: 'argon2id'; salt: string } & Argon2Params;
  /** The suite the master key is sealed with. */
  suite: 'aes-256-gcm' | 'chacha20-poly1305';
  /** The sealed master key (an envelope, docs/format.md), base64. */
  sealed: string;
}

/** Seals `master` for repository `repoId` under `passphrase` with argon2id costs `kdf`. */
export async function sealMasterKey(
  master: Buffer,
  repoId: Buffer,
  passphrase: Passphrase,
  kdf: Argon2Params,
  suite: SealedKey['suite'] = 'aes-256-gcm',
): Promise<SealedKey> {
  const salt = randomBytes(32);
  const kek = await argon2id(passphrase.value, salt, kdf);
  const sealed = await sealWithKey(suite, kek, ObjectType.key, repoId, master);
  return {
    version: 1,
    repository: repoId.toString('hex'),
    kdf: { algorithm: 'argon2id', salt: salt.toString('base64'), ...kdf },
    suite,
    sealed: sealed.toString('base64'),
  };
}

/** Opens a sealed master key with `passphrase`; a wrong passphrase is a {@link WrongPassphraseError}. */
export async function openMasterKey(key: SealedKey, passphrase: Passphrase): Promise<Buffer> {
  const { salt, algorithm: _algorithm, ...costs } = key.kdf;
  const kek = await argon2id(passphrase.value, Buffer.from(salt, 'base64'), costs);
  try {
    return await openWithKey(key.suite, kek, ObjectType.key, Buffer.from(key.repository, 'hex'), Buffer.from(key.sealed, 'base64'));
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
    k.version === 1 &&
    k.repository === repo &&
    (k.suite === 'aes-256-gcm' || k.suite === 'chacha20-poly1305') &&
    typeof k.sealed === 'string' &&
    kdf !== undefined &&
    kdf.algorithm === 'argon2id' &&
    typeof kdf.salt === 'string' &&
    [kdf.timeCost, kdf.memoryKib, kdf.parallelism].every((n) => Number.isInteger(n));
  if (!ok) throw corrupt(what);
  return k as SealedKey;
}
