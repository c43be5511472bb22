import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from '../errors.js';

/** Where a repository's master key is kept. */
export type KeyStorage = 'none' | 'repokey' | 'keyfile';

/** An encryption mode of `init --encryption`: the cipher suite, the chunk id algorithm, the key's home. */
export interface EncryptionMode {
  /** The canonical name recorded in the repository config. */
  name: string;
  suite: 'plaintext-blake3' | 'blake3-mac' | 'aes-256-gcm' | 'chacha20-poly1305';
  idAlgorithm: 'blake3' | 'keyed-blake3';
  keyStorage: KeyStorage;
}

/** Whether this CPU has AES instructions (Linux; elsewhere assumed). */
function hasAesHardware(): boolean {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^(flags|Features)\s*:.*\baes\b/m.test(info);
  } catch {
    return true;
  }
}

const AEAD_NAMES: Record<string, EncryptionMode['suite']> = {
  'aes-256-gcm': 'aes-256-gcm',
  'chacha20-poly1305': 'chacha20-poly1305',
  // borg 2's names: hoard's AEAD of the same family stands in.
  'aes-ocb': 'aes-256-gcm',
  'blake2-aes-ocb': 'aes-256-gcm',
  'blake2-chacha20-poly1305': 'chacha20-poly1305',
};

/**
 * The mode named `text`: `none`, `authenticated`, `repokey` and `keyfile` (AES-256-GCM where the
 * CPU has AES instructions, else ChaCha20-Poly1305), `repokey-aes-256-gcm`,
 * `repokey-chacha20-poly1305` and the keyfile twins; borg's `-blake2` names and borg 2's
 * `-aes-ocb` / `-chacha20-poly1305` names are accepted as aliases.
 */
export function encryptionMode(text: string): EncryptionMode {
  const name = text.trim();
  if (name === 'none') return { name, suite: 'plaintext-blake3', idAlgorithm: 'blake3', keyStorage: 'none' };
  if (name === 'authenticated' || name === 'authenticated-blake2') {
    return { name: 'authenticated', suite: 'blake3-mac', idAlgorithm: 'keyed-blake3', keyStorage: 'repokey' };
  }
  const m = /^(repokey|keyfile)(?:-(.+))?$/.exec(name);
  if (m && (m[1] === 'repokey' || m[1] === 'keyfile')) {
    const storage = m[1];
    const rest = m[2];
    if (rest === undefined || rest === 'blake2') {
      const suite = hasAesHardware() ? 'aes-256-gcm' : 'chacha20-poly1305';
      return { name: `${storage}-${suite}`, suite, idAlgorithm: 'keyed-blake3', keyStorage: storage };
    }
    const suite = AEAD_NAMES[rest];
    if (suite !== undefined) return { name: `${storage}-${suite}`, suite, idAlgorithm: 'keyed-blake3', keyStorage: storage };
  }
  throw new InvalidArgumentError(
    'HOARD_INVALID_ARGUMENT',
    `unknown encryption mode ${JSON.stringify(text)}: use none, authenticated, repokey, keyfile, ` +
      'repokey-aes-256-gcm, repokey-chacha20-poly1305, keyfile-aes-256-gcm or keyfile-chacha20-poly1305',
  );
}
