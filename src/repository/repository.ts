import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { envVar } from '../context.js';
import { CorruptDataError, ExistsError, HoardError, IntegrityError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { osPath } from '../fs-names.js';
import { kdfParams, newKey, type Key } from '../native.js';
import { LocalStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import { FORMAT_VERSION, formatConfig, parseConfig, type RepositoryConfig } from './config.js';
import type { EncryptionMode } from './encryption.js';
import { checkKeyBinding, formatKeyFile, keyFileRepository, openMasterKey, parseKeyFile, sealMasterKey } from './key-file.js';
import type { Location } from './location.js';
import { manifestName, manifestSeq, openManifest, sealManifest, type Manifest } from './manifest.js';
import { getPassphrase, newPassphrase, type PromptIo } from './passphrase.js';
import { keysDir } from './paths.js';
import { checkBeforeOpen, checkManifestSeq, saveState } from './security.js';
import { SpaceGuard } from './space.js';

/** The object name of the sealed key in repokey mode. */
export const REPOKEY = 'keys/repokey';

/** What `init` is asked for. */
export interface InitOptions {
  mode: EncryptionMode;
  appendOnly: boolean;
  storageQuota: number;
  makeParentDirs: boolean;
}

/** A location as the security state records it: absolute for local paths. */
export function canonical(location: Location): string {
  return location.kind === 'local' ? location.path : location.text;
}

/** The storage backend of a repository location. */
export function storageFor(location: Location): Storage {
  if (location.kind !== 'local') {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `${location.text}: remote repositories are not supported yet`);
  }
  return new LocalStorage(location.path);
}

/** Writes a keyfile-mode key to a new file in the keys folder (or `HOARD_KEY_FILE`), mode 0600, durably. */
export async function writeKeyFile(env: NodeJS.ProcessEnv, location: Location, text: string): Promise<string> {
  const explicit = envVar(env, 'KEY_FILE');
  const dir = explicit === undefined ? keysDir(env) : path.dirname(path.resolve(explicit));
  const folder = new LocalStorage(dir, { private: true });
  const base = explicit === undefined ? path.basename(location.path).replace(/[^A-Za-z0-9_-][^A-Za-z0-9._-]*/g, '_') || 'repository' : path.basename(explicit);
  for (let i = 0; ; i += 1) {
    const name = i === 0 ? base : `${base}.${i + 1}`;
    if (await folder.createExclusive(name, Buffer.from(text))) return path.join(dir, name);
    if (explicit !== undefined) throw new ExistsError('HOARD_EXISTS', `key file ${explicit} exists already`);
  }
}

/** Finds the keyfile of repository `id`: `HOARD_KEY_FILE`, or the file in the keys folder that names it. */
export async function findKeyFile(env: NodeJS.ProcessEnv, id: string): Promise<{ file: string; text: string }> {
  const explicit = envVar(env, 'KEY_FILE');
  const dir = keysDir(env);
  const candidates = explicit !== undefined ? [explicit] : (await fs.readdir(dir).catch(() => [])).map((n) => path.join(dir, n));
  for (const file of candidates) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (keyFileRepository(text) === id) return { file, text };
  }
  throw new NotFoundError('HOARD_NOT_FOUND', `no key file for repository ${id} in ${explicit ?? dir}; restore the key from an export with hoard key import`);
}

/** The text of `keys/repokey`; a missing one is one line that says how to get it back. */
export async function readRepokey(storage: Storage, location: Location): Promise<string> {
  try {
    return (await storage.get(REPOKEY)).toString('utf8');
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw new NotFoundError('HOARD_NOT_FOUND', `${location.text} has no ${REPOKEY}; restore the key from an export with hoard key import`);
  }
}

/** An open repository: its storage, config, working keys and the newest manifest generation. */
export class Repository {
  /** The space limits that writes growing the repository pass (src/repository/space.ts). */
  readonly space: SpaceGuard;

  private constructor(
    /** The environment the repository was opened with (passphrases, cache and security dirs). */
    readonly env: NodeJS.ProcessEnv,
    readonly location: Location,
    readonly storage: Storage,
    readonly config: RepositoryConfig,
    readonly key: Key,
    /** The newest manifest generation this client has read or written. */
    public manifest: Manifest,
    /** Where the key is kept: `keys/repokey` in the repository, a keyfile path, or undefined. */
    readonly keyLocation: string | undefined,
    /**
     * Why the newest manifest generation could not be read, when it was opened for `check`
     * (`manifest` is then an empty stand-in at that seq); undefined otherwise.
     */
    public manifestDamage: string | undefined = undefined,
  ) {
    this.space = new SpaceGuard(storage, config, location.text);
  }

  /** Makes a new, empty repository at `location` and returns the keyfile path in keyfile mode. */
  static async init(location: Location, opts: InitOptions, env: NodeJS.ProcessEnv, io: PromptIo): Promise<string | undefined> {
    const storage = storageFor(location);
    const dir = location.path;
    if ((await storage.exists()) && (await storage.list('')).length > 0) {
      throw new ExistsError('HOARD_EXISTS', `a repository (or something else) already exists at ${dir}`);
    }
    const parent = path.dirname(dir);
    if (!opts.makeParentDirs && !(await fs.stat(osPath(parent)).catch(() => undefined))) {
      throw new NotFoundError('HOARD_NOT_FOUND', `the parent directory ${parent} does not exist (use --make-parent-dirs)`);
    }
    const { mode } = opts;
    // Ask first: a missing passphrase must not leave folders behind.
    const passphrase = mode.keyStorage === 'none' ? undefined : await newPassphrase(env, io);
    const id = randomBytes(32);
    const config: RepositoryConfig = {
      format: 'hoard',
      version: FORMAT_VERSION,
      id: id.toString('hex'),
      encryption: mode.name,
      suite: mode.suite,
      idAlgorithm: mode.idAlgorithm,
      keyStorage: mode.keyStorage,
      appendOnly: opts.appendOnly,
      storageQuota: opts.storageQuota,
      additionalFreeSpace: 0,
    };
    // Without a key, the repository id stands in for the master key: it seeds the chunker table.
    const master = mode.keyStorage === 'none' ? id : randomBytes(64);
    let keyFile: string | undefined;
    // Every object is created exclusively: of two inits racing for one folder, one fails at its
    // first object and writes nothing more. The config goes last: until it exists, the folder is
    // not a repository.
    const create = async (name: string, data: Buffer): Promise<void> => {
      if (!(await storage.createExclusive(name, data))) {
        throw new ExistsError('HOARD_EXISTS', `a repository was created at ${dir} at the same time`);
      }
    };
    const key = newKey(master, mode.suite, mode.idAlgorithm);
    const manifest: Manifest = { version: 1, seq: 1, timestamp: new Date().toISOString(), archives: [], compactGeneration: 0 };
    await create(manifestName(1), await sealManifest(key, key.newSession(), manifest));
    if (passphrase !== undefined) {
      const text = formatKeyFile(await sealMasterKey(master, id, config, passphrase, kdfParams(env)));
      if (mode.keyStorage === 'repokey') await create(REPOKEY, Buffer.from(text));
      else keyFile = await writeKeyFile(env, location, text);
    }
    await create('config', formatConfig(config));
    await saveState(env, config.id, { location: canonical(location), keyType: config.encryption, manifestSeq: 1 });
    return keyFile;
  }

  /** The storage and config of the repository at `location`, without its key (break-lock, cache-only delete). */
  static async readConfig(location: Location): Promise<{ storage: Storage; config: RepositoryConfig }> {
    const storage = storageFor(location);
    if (!(await storage.exists())) throw new NotFoundError('HOARD_NOT_FOUND', `repository ${location.text} does not exist`);
    const raw = await storage.get('config').catch((e: unknown) => {
      if (e instanceof NotFoundError) throw new CorruptDataError('HOARD_NOT_A_REPOSITORY', `${location.text} is not a hoard repository`);
      throw e;
    });
    return { storage, config: parseConfig(raw, location.text) };
  }

  /**
   * Opens the repository at `location`, asking for its passphrase where its key needs one. With
   * `tolerateDamagedManifest` (for `check`), a newest manifest generation that is missing or does
   * not open leaves an empty stand-in and `manifestDamage` set instead of throwing.
   */
  static async open(location: Location, env: NodeJS.ProcessEnv, io: PromptIo, opts: { tolerateDamagedManifest?: boolean } = {}): Promise<Repository> {
    const { storage, config } = await Repository.readConfig(location);
    const known = await checkBeforeOpen(env, config, canonical(location));
    let master: Buffer;
    let keyLocation: string | undefined;
    if (config.keyStorage === 'none') {
      master = Buffer.from(config.id, 'hex');
    } else {
      const { file, text } =
        config.keyStorage === 'repokey'
          ? { file: REPOKEY, text: await readRepokey(storage, location) }
          : await findKeyFile(env, config.id);
      keyLocation = file;
      const sealed = parseKeyFile(text, file);
      if (sealed.repository !== config.id) throw new CorruptDataError('HOARD_CORRUPT', `${file} is the key of another repository`);
      master = await openMasterKey(sealed, await getPassphrase(env, io, `repository ${location.text}`));
      checkKeyBinding(sealed, config, file);
    }
    const key = newKey(master, config.suite, config.idAlgorithm);
    const seqs = (await storage.list('manifest')).map(manifestSeq).filter((s): s is number => s !== undefined);
    const newest = seqs.reduce((a, b) => Math.max(a, b), 0);
    checkManifestSeq(known, newest, location.text);
    let manifest: Manifest;
    let damage: string | undefined;
    try {
      if (newest === 0) throw new CorruptDataError('HOARD_CORRUPT', `${location.text}: the repository has no manifest`);
      manifest = await openManifest(key, newest, await storage.get(manifestName(newest)));
    } catch (e) {
      if (!opts.tolerateDamagedManifest || !(e instanceof HoardError || e instanceof SyntaxError)) throw e;
      damage = e.message;
      manifest = { version: 1, seq: newest, timestamp: '', archives: [], compactGeneration: 0 };
    }
    await saveState(env, config.id, { location: canonical(location), keyType: config.encryption, manifestSeq: newest });
    return new Repository(env, location, storage, config, key, manifest, keyLocation, damage);
  }

  /** Reads the newest manifest generation (refusing a rollback below the one known). */
  async refreshManifest(): Promise<Manifest> {
    const seqs = (await this.storage.list('manifest')).map(manifestSeq).filter((s): s is number => s !== undefined);
    const newest = seqs.reduce((a, b) => Math.max(a, b), 0);
    if (newest < this.manifest.seq) {
      throw new IntegrityError('HOARD_INTEGRITY', `${this.location.text}: the manifest went back from ${this.manifest.seq} to ${newest}`);
    }
    if (newest > this.manifest.seq) this.manifest = await openManifest(this.key, newest, await this.storage.get(manifestName(newest)));
    return this.manifest;
  }

  /**
   * Commits a new manifest generation made by `change` from the newest one: created exclusively
   * as `seq + 1`; if another writer took that number first, the newest generation is read again
   * and `change` runs on it (it throws to give up, e.g. when an archive name was taken meanwhile).
   * With `grows` (a commit that adds an archive) the generation passes the space limits first;
   * without it (delete, prune, compact) it does not, so that they work on a full repository.
   */
  async commit(change: (current: Manifest) => Omit<Manifest, 'seq' | 'timestamp' | 'version'>, opts: { grows?: boolean } = {}): Promise<Manifest> {
    const session = this.key.newSession();
    for (;;) {
      const current = this.manifest;
      const next: Manifest = { ...change(current), version: 1, seq: current.seq + 1, timestamp: new Date().toISOString() };
      const sealed = await sealManifest(this.key, session, next);
      const name = manifestName(next.seq);
      const created = opts.grows === true ? await this.space.write(sealed.length, () => this.storage.createExclusive(name, sealed)) : await this.storage.createExclusive(name, sealed);
      if (created) {
        this.manifest = next;
        await saveState(this.env, this.config.id, { location: canonical(this.location), keyType: this.config.encryption, manifestSeq: next.seq });
        return next;
      }
      await this.refreshManifest();
    }
  }
}
