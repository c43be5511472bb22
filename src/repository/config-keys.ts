/**
 * The keys `hoard config` reads and sets, in borg 1.4's names (docs/options.md, `config`): the
 * `repository` section is the repository's `config` object, the `cache` section (`--cache`) this
 * client's security record of the repository.
 */
import { InvalidArgumentError } from '../errors.js';
import { parseSize } from '../units.js';
import type { RepositoryConfig } from './config.js';
import { parseRepo } from './location.js';
import type { SecurityState } from './security.js';

/** A section of keys: `repository` (the repository's config) or `cache` (this client's record). */
export type ConfigSection = 'repository' | 'cache';

/** One key of a section, over the record `T` it lives in. */
export interface ConfigKey<T> {
  /** The value as `config` prints it. */
  show: (record: T) => string;
  /** The record with the key set to `value` (validated); absent for a read-only key. */
  set?: (record: T, value: string) => T;
  /** The record with the key back at its default (`--delete`); absent where it cannot be deleted. */
  reset?: (record: T) => T;
}

/** The smallest storage quota borg accepts (besides none). */
export const MIN_STORAGE_QUOTA = 10_000_000;

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/** A size value of `key` in bytes: `2G`, `500M`, `10MiB`, `4096`. */
function size(key: string, value: string): number {
  const n = parseSize(value);
  if (n === undefined) throw invalid(`Invalid value for ${key}: ${JSON.stringify(value)} is not a size such as 2G, 500M or 4096`);
  return n;
}

/** The repository section: settable keys as borg has them, then read-only ones (borg's and hoard's own). */
export const REPOSITORY_KEYS: Readonly<Record<string, ConfigKey<RepositoryConfig>>> = {
  version: { show: (c) => String(c.version) },
  storage_quota: {
    show: (c) => String(c.storageQuota),
    set: (c, v) => {
      const n = size('storage_quota', v);
      if (n !== 0 && n < MIN_STORAGE_QUOTA) throw invalid('Invalid value: storage_quota < 10M (0 means no quota)');
      return { ...c, storageQuota: n };
    },
    reset: (c) => ({ ...c, storageQuota: 0 }),
  },
  additional_free_space: {
    show: (c) => String(c.additionalFreeSpace),
    set: (c, v) => ({ ...c, additionalFreeSpace: size('additional_free_space', v) }),
    reset: (c) => ({ ...c, additionalFreeSpace: 0 }),
  },
  append_only: {
    show: (c) => (c.appendOnly ? '1' : '0'),
    set: (c, v) => {
      if (v !== '0' && v !== '1') throw invalid(`Invalid value for append_only: ${JSON.stringify(v)} (use 0 or 1)`);
      return { ...c, appendOnly: v === '1' };
    },
    reset: (c) => ({ ...c, appendOnly: false }),
  },
  id: { show: (c) => c.id },
  encryption: { show: (c) => c.encryption },
  suite: { show: (c) => c.suite },
  id_algorithm: { show: (c) => c.idAlgorithm },
  key_storage: { show: (c) => c.keyStorage },
};

/** What the cache section reads: the repository id and this client's security record of it. */
export interface CacheRecord {
  repository: string;
  state: SecurityState;
}

/** The cache section (`--cache`): borg's cache config keys that hoard's security record holds. */
export const CACHE_KEYS: Readonly<Record<string, ConfigKey<CacheRecord>>> = {
  repository: { show: (c) => c.repository },
  previous_location: {
    show: (c) => c.state.location,
    set: (c, v) => {
      const loc = parseRepo(v);
      return { ...c, state: { ...c.state, location: loc.kind === 'local' ? loc.path : loc.text } };
    },
  },
  key_type: { show: (c) => c.state.keyType },
  manifest_seq: { show: (c) => String(c.state.manifestSeq) },
};

/** borg 1.4 repository keys of its segment files, which hoard (packs, no segments) does not have. */
const SEGMENT_KEYS = ['segments_per_dir', 'max_segment_size', 'last_segment_checked'];

/**
 * The section and key a NAME means (`section.key`, or a bare `key` in the section that `--cache`
 * picks), refusing unknown sections and keys with one line.
 */
export function resolveKey(name: string, cache: boolean): { section: ConfigSection; key: string } {
  const dot = name.indexOf('.');
  const section = dot < 0 ? (cache ? 'cache' : 'repository') : name.slice(0, dot);
  const key = dot < 0 ? name : name.slice(dot + 1);
  const want: ConfigSection = cache ? 'cache' : 'repository';
  if (section !== want) {
    throw invalid(`Invalid section ${JSON.stringify(section)}: ${cache ? 'with --cache the section is cache' : 'the section is repository (cache keys need --cache)'}`);
  }
  const keys: Readonly<Record<string, unknown>> = cache ? CACHE_KEYS : REPOSITORY_KEYS;
  if (!Object.hasOwn(keys, key)) {
    if (!cache && SEGMENT_KEYS.includes(key)) throw invalid(`${key} is a setting of borg's segment files; hoard stores packs and has no such key`);
    throw invalid(`Invalid name ${JSON.stringify(key)}: ${section} keys are ${Object.keys(keys).join(', ')}`);
  }
  return { section, key };
}

/** The `--list` lines of a section: `[section]`, then `key = value` per key, as borg prints them. */
export function listSection<T>(section: ConfigSection, keys: Readonly<Record<string, ConfigKey<T>>>, record: T): string[] {
  return [`[${section}]`, ...Object.entries(keys).map(([k, spec]) => `${k} = ${spec.show(record)}`)];
}

/** The message for a key that cannot be set or deleted. */
export function readOnly(section: ConfigSection, key: string, deleting: boolean): InvalidArgumentError {
  const why = section === 'repository' && key === 'id' ? ': the key and caches of the repository are bound to its id' : '';
  return invalid(`${section}.${key} is read-only${deleting ? ' and cannot be deleted' : ''}${why}`);
}
