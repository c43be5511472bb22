import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { envVar } from '../context.js';
import { CorruptDataError, HoardError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { kdfParams, newKey, type Key } from '../native.js';
import { LocalStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import { FORMAT_VERSION, formatConfig, parseConfig, type RepositoryConfig } from './config.js';
import type { EncryptionMode } from './encryption.js';
import { formatKeyFile, keyFileRepository, openMasterKey, parseKeyFile, sealMasterKey } from './key-file.js';
import type { Location } from './location.js';
import { manifestName, manifestSeq, openManifest, sealManifest, type Manifest } from './manifest.js';
import { getPassphrase, newPassphrase, type PromptIo } from './passphrase.js';

/** The object name of the sealed key in repokey mode. */
const REPOKEY = 'keys/repokey';

/** What `init` is asked for. */
export interface InitOptions {
  mode: EncryptionMode;
  appendOnly: boolean;
  storageQuota: number;
  makeParentDirs: boolean;
}

/** The folder keyfile-mode keys live in: `HOARD_KEYS_DIR`, else `<config dir>/keys`. */
export function keysDir(env: NodeJS.ProcessEnv): string {
  const dir = envVar(env, 'KEYS_DIR');
  if (dir !== undefined) return dir;
  const config = envVar(env, 'CONFIG_DIR') ?? path.join(env.XDG_CONFIG_HOME ?? path.join(env.HOME ?? os.homedir(), '.config'), 'hoard');
  return path.join(config, 'keys');
}

function storageFor(location: Location): Storage {
  if (location.kind !== 'local') {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `${location.text}: remote repositories are not supported yet`);
  }
  return new LocalStorage(location.path);
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length === 0;
  } catch {
    return false;
  }
}

/** Writes a keyfile-mode key to a new file in the keys folder (or `HOARD_KEY_FILE`), mode 0600. */
async function writeKeyFile(env: NodeJS.ProcessEnv, location: Location, text: string): Promise<string> {
  const explicit = envVar(env, 'KEY_FILE');
  const dir = keysDir(env);
  const base = path.basename(location.path).replace(/[^A-Za-z0-9._-]/g, '_') || 'repository';
  for (let i = 0; ; i += 1) {
    const file = explicit ?? path.join(dir, i === 0 ? base : `${base}.${i + 1}`);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      await fs.writeFile(file, text, { flag: 'wx', mode: 0o600 });
      return file;
    } catch (e) {
      const exists = typeof e === 'object' && e !== null && (e as { code?: string }).code === 'EEXIST';
      if (!exists || explicit !== undefined) throw e;
    }
  }
}

/** Finds the keyfile of repository `id`: `HOARD_KEY_FILE`, or the file in the keys folder that names it. */
async function findKeyFile(env: NodeJS.ProcessEnv, id: string): Promise<{ file: string; text: string }> {
  const explicit = envVar(env, 'KEY_FILE');
  const candidates = explicit !== undefined ? [explicit] : (await fs.readdir(keysDir(env)).catch(() => [])).map((n) => path.join(keysDir(env), n));
  for (const file of candidates) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (keyFileRepository(text) === id) return { file, text };
  }
  throw new NotFoundError('HOARD_NOT_FOUND', `no key file for repository ${id} in ${explicit ?? keysDir(env)}`);
}

/** An open repository: its storage, config, working keys and the newest manifest generation. */
export class Repository {
  private constructor(
    readonly location: Location,
    readonly storage: Storage,
    readonly config: RepositoryConfig,
    readonly key: Key,
    readonly manifest: Manifest,
    /** Where the key is kept: `keys/repokey` in the repository, a keyfile path, or undefined. */
    readonly keyLocation: string | undefined,
  ) {}

  /** Makes a new, empty repository at `location` and returns the keyfile path in keyfile mode. */
  static async init(location: Location, opts: InitOptions, env: NodeJS.ProcessEnv, io: PromptIo): Promise<string | undefined> {
    const storage = storageFor(location);
    const dir = location.path;
    if ((await storage.exists()) && !(await isEmptyDir(dir))) {
      throw new HoardError('HOARD_EXISTS', `a repository (or something else) already exists at ${dir}`);
    }
    const parent = path.dirname(dir);
    if (!opts.makeParentDirs && !(await fs.stat(parent).catch(() => undefined))) {
      throw new NotFoundError('HOARD_NOT_FOUND', `the parent directory ${parent} does not exist (use --make-parent-dirs)`);
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const id = randomBytes(32);
    const { mode } = opts;
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
    if (mode.keyStorage !== 'none') {
      const passphrase = await newPassphrase(env, io);
      const text = formatKeyFile(await sealMasterKey(master, id, passphrase, kdfParams(env)));
      if (mode.keyStorage === 'repokey') await storage.put(REPOKEY, Buffer.from(text));
      else keyFile = await writeKeyFile(env, location, text);
    }
    const key = newKey(master, mode.suite, mode.idAlgorithm);
    const manifest: Manifest = { version: 1, seq: 1, timestamp: new Date().toISOString(), archives: [], compactGeneration: 0 };
    await storage.put(manifestName(1), await sealManifest(key, key.newSession(), manifest));
    // The config goes last: until it exists, the folder is not a repository.
    if (!(await storage.createExclusive('config', formatConfig(config)))) {
      throw new HoardError('HOARD_EXISTS', `a repository was created at ${dir} at the same time`);
    }
    return keyFile;
  }

  /** Opens the repository at `location`, asking for its passphrase where its key needs one. */
  static async open(location: Location, env: NodeJS.ProcessEnv, io: PromptIo): Promise<Repository> {
    const storage = storageFor(location);
    if (!(await storage.exists())) throw new NotFoundError('HOARD_NOT_FOUND', `repository ${location.text} does not exist`);
    const raw = await storage.get('config').catch((e: unknown) => {
      if (e instanceof NotFoundError) throw new CorruptDataError('HOARD_NOT_A_REPOSITORY', `${location.text} is not a hoard repository`);
      throw e;
    });
    const config = parseConfig(raw, location.text);
    let master: Buffer;
    let keyLocation: string | undefined;
    if (config.keyStorage === 'none') {
      master = Buffer.from(config.id, 'hex');
    } else {
      const { file, text } =
        config.keyStorage === 'repokey'
          ? { file: REPOKEY, text: (await storage.get(REPOKEY)).toString('utf8') }
          : await findKeyFile(env, config.id);
      keyLocation = file;
      const sealed = parseKeyFile(text, file);
      if (sealed.repository !== config.id) throw new CorruptDataError('HOARD_CORRUPT', `${file} is the key of another repository`);
      master = await openMasterKey(sealed, await getPassphrase(env, io, `repository ${location.text}`));
    }
    const key = newKey(master, config.suite, config.idAlgorithm);
    const seqs = (await storage.list('manifest')).map(manifestSeq).filter((s): s is number => s !== undefined);
    const newest = Math.max(0, ...seqs);
    if (newest === 0) throw new CorruptDataError('HOARD_CORRUPT', `${location.text}: the repository has no manifest`);
    const manifest = await openManifest(key, newest, await storage.get(manifestName(newest)));
    return new Repository(location, storage, config, key, manifest, keyLocation);
  }
}
