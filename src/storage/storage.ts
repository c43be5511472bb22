/**
 * The storage interface every repository backend implements (DESIGN.md section 2): a flat store of
 * immutable objects by name. Names use `/` between parts (`config`, `keys/repokey`,
 * `manifest/00000000000000000001`); every put is atomic, and nothing above a backend may assume
 * POSIX append or in-place rewrite, so object stores can implement this too.
 */
/** One object as a detailed listing shows it. */
export interface ObjectInfo {
  /** The name within its folder. */
  name: string;
  /** Bytes. */
  size: number;
  /** When the object was written, ms since 1970 (the backend's clock). */
  modified: number;
}

export interface Storage {
  /** Where the objects live, for messages (a path or URL). */
  readonly location: string;
  /** Whether any object or folder exists at all (a repository, or something else, is there). */
  exists(): Promise<boolean>;
  /** Object names directly under `dir` (`''` for the top), sorted; none if `dir` does not exist. */
  list(dir: string): Promise<string[]>;
  /** The whole object; `NotFoundError` if there is none. */
  get(name: string): Promise<Buffer>;
  /** `length` bytes of the object from `offset`; fewer only where the object ends. */
  getRange(name: string, offset: number, length: number): Promise<Buffer>;
  /**
   * Several ranges of one object, in the order asked (one open, or one request, for all). Where
   * `into` gives a buffer of a range's length, the range may be read into it (the result is then
   * that buffer, or the part of it that was filled), so that a caller can reuse its memory.
   */
  getRanges(name: string, ranges: readonly { offset: number; length: number }[], into?: readonly Buffer[]): Promise<Buffer[]>;
  /** Stores the object atomically, replacing any object of that name. */
  put(name: string, data: Buffer): Promise<void>;
  /**
   * Stores an object of `size` bytes whose bytes are not in JavaScript (a pack held natively):
   * the backend chooses a path for a new temporary file on this machine and calls `fill` with it;
   * `fill` must create that file (it does not exist yet), write exactly the object's bytes to it
   * and fsync it before it resolves. The backend then commits the file atomically as `name`,
   * replacing any object of that name, as {@link Storage.put} does (a local backend renames it
   * into place; a remote one would send it, then remove it). If `fill` or the commit fails,
   * nothing is stored under `name`, the temporary file is removed, and the error is thrown.
   */
  putFrom(name: string, size: number, fill: (tempPath: string) => Promise<void>): Promise<void>;
  /**
   * A folder on this machine, on the file system of the objects under `dir`, where a writer may
   * build an object's bytes in a temporary file named `.tmp-*` before it stores the object with
   * {@link Storage.putFrom}, whose `fill` then only renames that file to the path it gets (a pack
   * is written to disk as it is filled, never held whole in memory). The writer makes the folder
   * if it is missing and fsyncs its parent. Undefined where objects are not files on this
   * machine; the bytes are then held in memory until `putFrom`. Files left there by an
   * interrupted run are removed by {@link Storage.sweepTemporary}.
   */
  stagingFolder?(dir: string): string | undefined;
  /** Stores the object atomically if no object of that name exists; false if one does. */
  createExclusive(name: string, data: Buffer): Promise<boolean>;
  /**
   * Replaces the object atomically only if it exists; false, storing nothing, if there is none
   * (a lock's refresh, which must not bring back a lock that break-lock removed meanwhile).
   */
  replaceExisting(name: string, data: Buffer): Promise<boolean>;
  /** Removes the object; removing one that is not there is not an error. */
  delete(name: string): Promise<void>;
  /** The objects directly under `dir` with their sizes and times, sorted by name; folders are left out. */
  listInfo(dir: string): Promise<ObjectInfo[]>;
  /** Removes the whole store: whatever objects and folders are left, and the store itself. */
  destroy(): Promise<void>;
  /**
   * Closes what the backend keeps open between calls (a local repository's pack descriptors), so
   * that nothing holds a deleted file's space or the file system once a command is done; the
   * next call opens again.
   */
  close?(): void;
  /**
   * Bytes that new objects may still take (on a file system: the space free to this user), or
   * undefined where the backend cannot tell; the space rules (src/repository/space.ts) then apply
   * only the storage quota.
   */
  freeSpace(): Promise<number | undefined>;
  /**
   * Removes what interrupted writes left behind (on a file system, `.tmp-` files) that was last
   * written before `before` (ms since 1970, the backend's clock); returns how many and their bytes.
   * Only `compact` calls it, under the exclusive lock.
   */
  sweepTemporary(before: number): Promise<{ count: number; bytes: number }>;
}

/** Throws unless `name` is a relative object name without empty, `.`, `..` or `.tmp-` parts. */
export function checkName(name: string): void {
  const parts = name.split('/');
  if (name === '' || parts.some((p) => p === '' || p === '.' || p === '..' || p.startsWith('.tmp-'))) {
    throw new Error(`bad object name ${JSON.stringify(name)}`);
  }
}
