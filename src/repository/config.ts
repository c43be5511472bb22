import { CorruptDataError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import type { EncryptionMode } from './encryption.js';

/** The format version `config` declares; a reader refuses any other. */
export const FORMAT_VERSION = 1;

/** A repository's `config` object (plain JSON: it is read before the key). */
export interface RepositoryConfig {
  format: 'hoard';
  version: typeof FORMAT_VERSION;
  /** 32 random bytes, hex. */
  id: string;
  /** The encryption mode's canonical name. */
  encryption: string;
  suite: EncryptionMode['suite'];
  idAlgorithm: EncryptionMode['idAlgorithm'];
  keyStorage: EncryptionMode['keyStorage'];
  /** Nothing is really deleted: delete and prune only drop archives from the manifest, compact frees nothing. */
  appendOnly: boolean;
  /** Bytes the repository may use (0: no limit); growing writes are refused beyond it (src/repository/space.ts). */
  storageQuota: number;
  /** Bytes growing writes keep free on the file system (0: none), for delete, prune and compact. */
  additionalFreeSpace: number;
}

/** Parses `config`, refusing anything that is not a hoard repository of this format version. */
export function parseConfig(data: Buffer, location: string): RepositoryConfig {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    v = undefined;
  }
  const c = v as Partial<RepositoryConfig> | undefined;
  if (c?.format !== 'hoard') throw new CorruptDataError('HOARD_CORRUPT', `${location} is not a hoard repository (its config is not hoard's)`);
  if (c.version !== FORMAT_VERSION) {
    throw new CorruptDataError('HOARD_CORRUPT', `${location}: repository format version ${String(c.version)} is not supported (this hoard reads ${FORMAT_VERSION})`);
  }
  const ok =
    typeof c.id === 'string' &&
    /^[0-9a-f]{64}$/.test(c.id) &&
    typeof c.encryption === 'string' &&
    ['plaintext-blake3', 'blake3-mac', 'aes-256-gcm', 'chacha20-poly1305'].includes(c.suite ?? '') &&
    ['blake3', 'keyed-blake3'].includes(c.idAlgorithm ?? '') &&
    ['none', 'repokey', 'keyfile'].includes(c.keyStorage ?? '') &&
    typeof c.appendOnly === 'boolean' &&
    Number.isSafeInteger(c.storageQuota) &&
    Number.isSafeInteger(c.additionalFreeSpace);
  if (!ok) throw new CorruptDataError('HOARD_CORRUPT', `${location}: the repository config is damaged`);
  return c as RepositoryConfig;
}

/** `config` as stored: pretty JSON, so that people can read it. */
export function formatConfig(c: RepositoryConfig): Buffer {
  return Buffer.from(`${JSON.stringify(c, null, 2)}\n`);
}

/** Replaces the repository's `config` atomically (the caller holds the exclusive lock). */
export async function saveConfig(storage: Storage, c: RepositoryConfig): Promise<void> {
  await storage.put('config', formatConfig(c));
}
