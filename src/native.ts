/**
 * The native addon, as the rest of hoard sees it: the generated loader's functions and classes,
 * with native errors turned into hoard's typed errors (src/errors.ts).
 */
import * as binding from '../binding/index.js';
import { envVar } from './context.js';
import { fromNative } from './errors.js';

export type {
  Argon2Params,
  BlobProblem,
  BlobTotals,
  ChunkedFile,
  FetchedRange,
  FileAttrs,
  FsEntry,
  FsWarning,
  Locations,
  MarkTotals,
  Measurement,
  MetadataItem,
  MetadataWarning,
  PackLayout,
  PackOut,
  PackSalvage,
  PackToc,
  PackUsage,
  PathError,
  PipeEnds,
  RepackResult,
  RestorePiece,
  RestoreResult,
  ScanBatch,
  ScanDirError,
  ScanExtra,
  ScanOptions,
  ScanResult,
  StoredFileResult,
  StoredFiles,
  TarMember,
  WriterOptions,
  Xattr,
} from '../binding/index.js';
/** The working keys of a repository (see the generated binding for its methods). */
export type Key = binding.Key;
/** A writer's sealing session. */
export type Session = binding.Session;
/** The client's chunk index (chunk id -> pack, offset, length). */
export type ChunkIndex = binding.ChunkIndex;
/** One backup's pipeline: files -> chunks -> packs. */
export type Writer = binding.Writer;
/** The files cache: unchanged files are not read again. */
export type FilesCache = binding.FilesCache;
/** Which blobs of a chunk index are referenced, and by whom (compact, info, delete --stats). */
export type Marks = binding.Marks;
/** Compact's copier of live blobs from old packs into new ones. */
export type Repacker = binding.Repacker;
/** A tar stream being read, its files stored through a writer (import-tar). */
export type TarImport = binding.TarImport;
/** A finished pack's bytes, held natively until written to a file or taken (`PackOut.bytes`). */
export type PackBytes = binding.PackBytes;
/** Files kept open for reading ranges of them (a local repository's packs). */
export type OpenFiles = binding.OpenFiles;

/** Calls `fn` with typed errors, whether it throws or returns a rejected promise. */
function guard<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return function guarded(this: unknown, ...args: A): R {
    try {
      const result = fn.apply(this, args);
      if (result instanceof Promise) {
        return result.catch((e: unknown) => {
          throw fromNative(e);
        }) as R;
      }
      return result;
    } catch (e) {
      throw fromNative(e);
    }
  };
}

for (const proto of [binding.Key.prototype, binding.Session.prototype, binding.ChunkIndex.prototype, binding.Writer.prototype, binding.FilesCache.prototype, binding.Marks.prototype, binding.Repacker.prototype, binding.TarImport.prototype, binding.PackBytes.prototype, binding.OpenFiles.prototype] as object[]) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    if (name !== 'constructor' && typeof desc?.value === 'function') {
      Object.defineProperty(proto, name, { ...desc, value: guard(desc.value as (...a: unknown[]) => unknown) });
    }
  }
}

/** The working keys of `master` for a cipher suite and chunk id algorithm. */
export const newKey = guard(
  (master: Buffer, suite: string, idAlgorithm: string): Key => new binding.Key(master, suite, idAlgorithm),
);
/** A new, empty chunk index. */
export const newChunkIndex = guard((): ChunkIndex => new binding.ChunkIndex());
/** Reads a chunk index saved in the cache. */
export const loadChunkIndex = guard((path: string): Promise<ChunkIndex> => binding.ChunkIndex.load(path));
/** A writer sealing with a new session of `key`, deduplicating against `index`. */
export const newWriter = guard(
  (key: Key, index: ChunkIndex, options: binding.WriterOptions, filesCache?: FilesCache): Writer => new binding.Writer(key, index, options, filesCache),
);
/** Reads a tar stream from file descriptor `fd` (through the shell command `filter`), storing files through `writer`. */
export const newTarImport = guard(
  (writer: Writer, fd: number, filter?: string, ignoreZeros?: boolean): TarImport => new binding.TarImport(writer, fd, filter, ignoreZeros ?? false),
);
/** A new, empty files cache (borg's `--files-cache` mode, ttl in runs, the run's start in ns). */
export const newFilesCache = guard((mode: string, ttl: number, startNs: number): FilesCache => new binding.FilesCache(mode, ttl, startNs));
/** Reads a files cache saved in the cache dir. */
export const loadFilesCache = guard(
  (path: string, mode: string, ttl: number, startNs: number): Promise<FilesCache> => binding.FilesCache.load(path, mode, ttl, startNs),
);
/** A streaming XXH64 (seed 0) for `list --format {xxh64}`: `update`, then `hexDigest`. */
export type Xxh64 = binding.Xxh64;
/** An XXH64 hasher over no bytes yet. */
export const newXxh64 = (): Xxh64 => new binding.Xxh64();
/** Keeps at most `capacity` files open for reading ranges of them. */
export const newOpenFiles = guard((capacity: number): OpenFiles => new binding.OpenFiles(capacity));
/** Marks over `index`, none set yet. */
export const newMarks = guard((index: ChunkIndex): Marks => new binding.Marks(index));
/** A repacker sealing new packs' tables with a new session of `key`. */
export const newRepacker = guard((key: Key, packSize?: number): Repacker => new binding.Repacker(key, packSize));
/** See the generated binding: what `check --repair` saves of one pack, every blob opened. */
export const salvagePack = guard(binding.salvagePack);
/** See the generated binding: seal an index object listing packs. */
export const sealIndexObject = guard(binding.sealIndexObject);
/** See the generated binding: open metadata objects from fetched pack ranges. */
export const readObjects = guard(binding.readObjects);
/** See the generated binding: write file pieces from fetched pack ranges. */
export const restorePieces = guard(binding.restorePieces);
/** See the generated binding: open an index object to the packs it lists. */
export const openIndexObject = guard(binding.openIndexObject);
/** See the generated binding: where a pack's parts lie according to its table. */
export const packLayout = guard(binding.packLayout);
/** See the generated binding: check a pack's magic, trailer and table against its index object. */
export const checkPackStructure = guard(binding.checkPackStructure);
/** See the generated binding: open and verify every blob of a whole pack. */
export const verifyPackBlobs = guard(binding.verifyPackBlobs);
/** See the generated binding: compression into a self-describing frame. */
export const compress = guard(binding.compress);
/** See the generated binding: decompression with a size limit. */
export const decompress = guard(binding.decompress);
/** See the generated binding: the canonical form of a compression spec. */
export const parseCompression = guard(binding.parseCompression);
/** See the generated binding: the canonical form of chunker parameters. */
export const parseChunkerParams = guard(binding.parseChunkerParams);
/** See the generated binding: cut a buffer into chunks. */
export const chunkBuffer = guard(binding.chunkBuffer);
/** See the generated binding: argon2id key derivation. */
export const argon2id = guard(binding.argon2id);
/** See the generated binding: argon2id's default (or test-only weak) costs. */
export const argon2Params = guard(binding.argon2Params);
/** See the generated binding: one HKDF subkey of a master key. */
export const deriveSubkey = guard(binding.deriveSubkey);
/** See the generated binding: seal under a raw 32-byte key (key files). */
export const sealWithKey = guard(binding.sealWithKey);
/** See the generated binding: open a blob sealed under a raw 32-byte key. */
export const openWithKey = guard(binding.openWithKey);
/** See the generated binding: one `benchmark cpu` measurement. */
export const benchmarkCpu = guard(binding.benchmarkCpu);
/** See the generated binding: threads in the worker pool. */
export const workerThreads = guard(binding.workerThreads);
/** See the generated binding: glibc's free pages given back to the system (`malloc_trim`). */
export const trimMemory = guard(binding.trimMemory);
/** See the generated binding: several directories' entries in one call, packed, up to an entry budget (Linux). */
export const scanDirectories = guard(binding.scanDirectories);
/** See the generated binding: one path's metadata, not following a final symlink (Linux). */
export const lstatPath = guard(binding.lstatPath);
/** See the generated binding: restore metadata on a batch of items beneath a root (Linux). */
export const applyMetadata = guard(binding.applyMetadata);
/** See the generated binding: make a fifo, device or socket file beneath a root (Linux). */
export const makeSpecial = guard(binding.makeSpecial);
/** See the generated binding: make a symlink beneath a root (Linux). */
export const makeSymlink = guard(binding.makeSymlink);
/** See the generated binding: make a hard link, both paths beneath a root (Linux). */
export const makeHardLink = guard(binding.makeHardLink);

/** Renames a file onto a name only if the name is free (`renameat2` with `RENAME_NOREPLACE`). */
export const renameNoReplace = guard(binding.renameNoReplace);
/**
 * Swaps a file with an existing name (`renameat2` with `RENAME_EXCHANGE`): false if the name did
 * not exist, null where the file system cannot.
 */
export const renameExchange = guard(binding.renameExchange);
/** See the generated binding: make directories (and parents) beneath a root (Linux). */
export const makeDirectories = guard(binding.makeDirectories);
/** See the generated binding: an anonymous pipe, both ends close-on-exec (for a child's output). */
export const makePipe = guard(binding.makePipe);
/** Frees the whole pages of a buffer from a byte offset on (they read as zeros until written again). */
export const discardPages = guard(binding.discardPages);

/** argon2id costs for new keys: the real ones, or the cheapest under `HOARD_TESTONLY_WEAKEN_KDF=1`. */
export function kdfParams(env: NodeJS.ProcessEnv): binding.Argon2Params {
  return argon2Params(envVar(env, 'TESTONLY_WEAKEN_KDF') === '1');
}

/** `ScanResult.wide`'s value for a time not asked for or not recorded. */
const NO_TIME = -(2n ** 63n);

/**
 * The entries `from` to `to` (not included) of a packed `scanDirectories` batch's
 * `entries`, as objects (the layout is `ScanResult`'s).
 */
export function scanEntries(r: binding.ScanResult, from = 0, to = r.count): binding.FsEntry[] {
  const out: binding.FsEntry[] = [];
  let start = from > 0 ? (r.nameEnds[from - 1] ?? 0) : 0;
  // The first extra at or after `from` (extras are in index order).
  let next = 0;
  let hi = r.extras.length;
  while (next < hi) {
    const mid = (next + hi) >>> 1;
    if ((r.extras[mid]?.index ?? 0) < from) next = mid + 1;
    else hi = mid;
  }
  for (let i = from; i < to; i += 1) {
    const end = r.nameEnds[i] ?? start;
    // Indexed directly: helper closures here were two allocations per entry.
    const { stats, wide } = r;
    const s = 10 * i;
    const w = 5 * i;
    const e: binding.FsEntry = {
      name: r.names.subarray(start, end),
      mode: stats[s] ?? 0,
      uid: stats[s + 1] ?? 0,
      gid: stats[s + 2] ?? 0,
      dev: stats[s + 3] ?? 0,
      nlink: stats[s + 4] ?? 0,
      size: stats[s + 5] ?? 0,
      rdev: stats[s + 6] ?? 0,
      blocks: stats[s + 7] ?? 0,
      ino: BigInt.asUintN(64, wide[w] ?? 0n),
      mtimeNs: wide[w + 2] ?? 0n,
      ctimeNs: wide[w + 3] ?? 0n,
    };
    const flags = stats[s + 8] ?? 0;
    if (flags !== 0) e.flags = flags;
    if ((stats[s + 9] ?? 0) !== 0) e.deferred = true;
    const atime = wide[w + 1] ?? NO_TIME;
    if (atime !== NO_TIME) e.atimeNs = atime;
    const birthtime = wide[w + 4] ?? NO_TIME;
    if (birthtime !== NO_TIME) e.birthtimeNs = birthtime;
    const x = r.extras[next];
    if (x?.index === i) {
      const { index: _index, ...details } = x;
      Object.assign(e, details);
      next += 1;
    }
    out.push(e);
    start = end;
  }
  return out;
}

/**
 * One file's outcome in a batch of `Writer.storeFiles` ({@link storedFiles}): a
 * `StoredFileResult`, plus the flags, xattrs and ACLs the worker read where it was asked to.
 */
export interface StoredFile {
  size: number;
  ids: Buffer;
  sizes: Uint32Array;
  newChunks: number;
  newPlain: number;
  newStored: number;
  stored: number;
  status: string;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** Inode flags, where the worker read the file's metadata and the file system has them. */
  flags?: number;
  xattrs?: binding.Xattr[];
  aclAccess?: Buffer;
  aclDefault?: Buffer;
  /** What could not be read of the flags, xattrs and ACLs. */
  metaWarnings?: binding.FsWarning[];
}

/**
 * Unpacks `Writer.storeFiles`' columns (see `StoredFiles` in the binding) into one object per
 * file; `ids` and `sizes` are views into the batch's buffers.
 */
export function storedFiles(r: binding.StoredFiles): StoredFile[] {
  const out: StoredFile[] = [];
  let chunk = 0;
  let next = 0;
  const sizes = r.sizes;
  for (let i = 0; i < r.count; i += 1) {
    const n = r.chunkCounts[i] ?? 0;
    const k = 6 * i;
    const num = (j: number): number => r.numbers[k + j] ?? 0;
    const f: StoredFile = {
      size: num(0),
      stored: num(1),
      newChunks: num(2),
      newPlain: num(3),
      newStored: num(4),
      status: String.fromCharCode(r.status[i] ?? 0x45),
      ids: r.ids.subarray(32 * chunk, 32 * (chunk + n)),
      sizes: new Uint32Array(sizes.buffer, sizes.byteOffset + 4 * chunk, n),
    };
    if (num(5) >= 0) f.flags = num(5);
    const x = r.extras[next];
    if (x?.index === i) {
      if (x.errorCode !== undefined && x.errorCode !== null) f.errorCode = x.errorCode;
      if (x.errorMessage !== undefined && x.errorMessage !== null) f.errorMessage = x.errorMessage;
      if (x.xattrs !== undefined && x.xattrs !== null) f.xattrs = x.xattrs;
      if (x.aclAccess !== undefined && x.aclAccess !== null) f.aclAccess = x.aclAccess;
      if (x.aclDefault !== undefined && x.aclDefault !== null) f.aclDefault = x.aclDefault;
      if (x.metaWarnings !== undefined && x.metaWarnings !== null) f.metaWarnings = x.metaWarnings;
      next += 1;
    }
    out.push(f);
    chunk += n;
  }
  return out;
}
