import * as os from 'node:os';
import * as path from 'node:path';

import { IoError } from '../errors.js';
import type { FilesCache, ScanOptions, StoredFile, StoredFileResult } from '../native.js';
import type { SyncedIndex } from '../repository/chunk-cache.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta, ArchiveStats } from './archive-object.js';
import { ArchiveWriter, archiveMeta, checkNewArchiveName, isoMicro } from './archive-writer.js';
import { startPipedCommand, type PipedCommand } from './command-input.js';
import { FileBatcher, type FileStat, type FilesChanged } from './file-batcher.js';
import { contentsFirst, joinParts, walkOrder, type LinkMember } from './hard-links.js';
import { ListingOrder, type ListingEmit, type ListingSlot } from './listing-order.js';
import { ROOT_SELF, typeOfMode, withRootSelf, type Item } from './item.js';
import { owners } from './owners.js';
import { DirScanner, joinPath, statPath, type AheadDir, type ScannedEntry } from './scan.js';
import { absolutePath, decodeName, encodeName } from '../fs-names.js';

/** What a walk decides for a path: borg's pattern actions. */
export type WalkAction = 'include' | 'exclude' | 'exclude-norecurse' | undefined;

/** Linux's "no dump" file flag (`chattr +d`), which `--exclude-nodump` honours. */
const FS_NODUMP_FL = 0x40;

/** The CACHEDIR.TAG signature (https://bford.info/cachedir/). */
export const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

/**
 * An item still being stored. Wrapped in an object so that a walk step can hand it back without
 * waiting for it (an async function would wait for a promise it returns).
 */
interface Later {
  done: Promise<Item | undefined>;
}

function later(item: Item | undefined): Later {
  return { done: Promise.resolve(item) };
}

/**
 * Marks a promise as handled now (it is awaited later, with its siblings): a failure must reach
 * that await, not end the process as an unhandled rejection first.
 */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Everything `create` is asked for. */
export interface CreateOptions {
  name: string;
  /** Paths to back up, as given. */
  paths: string[];
  compression: string;
  chunkerParams: string;
  comment: string;
  /** The archive's time (`--timestamp`); the start of the run if absent. */
  timestamp?: Date;
  commandLine: string[];
  dryRun: boolean;
  /** Decides each path (archive form, no leading slash); undefined means include. */
  match: (archivePath: string) => WalkAction;
  oneFileSystem: boolean;
  excludeCaches: boolean;
  excludeIfPresent: string[];
  keepExcludeTags: boolean;
  numericIds: boolean;
  atime: boolean;
  noctime: boolean;
  nobirthtime: boolean;
  readSpecial: boolean;
  excludeNodump: boolean;
  /**
   * borg's `--files-changed`: the time (`ctime` or `mtime`) that, moved between the walk's stat
   * and the end of reading a file, makes it status `C` with borg's warning; or `disabled`.
   * Default `ctime`.
   */
  filesChanged?: FilesChanged;
  noflags: boolean;
  noxattrs: boolean;
  noacls: boolean;
  /**
   * Instead of `paths`: the paths to store as listed (`--paths-from-stdin`, `--paths-from-command`),
   * one item each, with no recursion into directories and no patterns (as borg 1.4).
   */
  listedPaths?: AsyncIterable<string>;
  /** Instead of `paths`: a command whose standard output is stored as one file named `stdinName` (`--content-from-command`). */
  contentCommand?: { argv: string[]; env: NodeJS.ProcessEnv };
  /** Standard input (for the path `-`) or a command's output as one file of this name. */
  stdinName: string;
  stdinMode: number;
  stdinUser?: string;
  stdinGroup?: string;
  /** The uid and gid stored with stdinUser and stdinGroup (default: this process's). */
  stdinUid?: number;
  stdinGid?: number;
  /**
   * Called for each item with borg's `--list` status letter and its archive path, in walk order
   * (a directory after its contents, as borg); absent, nothing waits to be given out in order.
   */
  onItem?: (status: string, archivePath: string) => void;
  /** Called as soon as an item is done (or left out), with its archive path: for `--progress`. */
  onProgress?: (archivePath: string) => void;
  /** Called for a file that could not be backed up (a warning: exit code 1). */
  onWarning: (message: string) => void;
  /** Called after each pack is stored, with its size. */
  onPack?: (bytes: number) => void;
  /** Called after each file is stored, with its size. */
  onFile?: (archivePath: string, bytes: number) => void;
  /** Called just before the archive is committed; throws to give up (e.g. the lock was broken). */
  beforeCommit?: () => Promise<void>;
}

/** What `create` made. */
export interface CreateResult {
  id: string;
  meta: ArchiveMeta;
  stats: ArchiveStats;
  warnings: number;
}

/**
 * The archive form of a path as given: normalised, without leading `/` or `..` parts. As borg
 * 1.4's "slashdot hack", a `/./` in the path ends what is left out: `/srv/./data/x` is archived as
 * `data/x` (the file system path is the whole).
 */
export function archivePathOf(given: string): string {
  const dot = given.indexOf('/./');
  const kept = dot < 0 ? given : given.slice(dot + 3);
  const parts = path.posix.normalize(kept).split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  return parts.join('/');
}

/**
 * How `--list` names an item of archive path `apath` backed up from one of the paths `given` (as
 * borg, the file system path: the given path, normalised, then the names below it), so that
 * `/etc/hosts` is listed as `/etc/hosts`, not as its archive path `etc/hosts`. A path no given
 * one leads to (standard input's name) is shown as it is.
 */
export function shownPaths(given: readonly string[]): (apath: string) => string {
  const roots = given
    .filter((g) => g !== '-')
    .map((g) => {
      const shown = path.posix.normalize(g);
      return { apath: archivePathOf(g), shown: shown.length > 1 && shown.endsWith('/') ? shown.slice(0, -1) : shown };
    })
    .sort((a, b) => b.apath.length - a.apath.length);
  return (apath) => {
    for (const r of roots) {
      if (apath === r.apath) return r.shown;
      // borg shows what is below `.` without `./` (it normalises each path it walks).
      if (r.apath === '') return r.shown === '/' ? `/${apath}` : r.shown === '.' ? apath : `${r.shown}/${apath}`;
      if (apath.startsWith(`${r.apath}/`)) return r.shown + apath.slice(r.apath.length);
    }
    return apath === '' ? '.' : apath;
  };
}

export { isoMicro };

/** A place in the tree of given paths: the item backed up there, and the places below it. */
interface Node {
  item?: Promise<Item | undefined>;
  /** What `item` was made from: `dev:ino` of a given path, or the path as given. */
  source?: string;
  children: Map<string, Node>;
}

/** A path as given on the command line, with its archive path, that path's names, and its place. */
interface GivenPath {
  given: string;
  apath: string;
  names: Buffer[];
  node: Node;
  /** Set once {@link Archiver.walkGiven} took it. */
  done?: boolean;
}

/** Makes one archive: walks the paths, stores new data, trees and the archive object. */
export class Archiver {
  private out: ArchiveWriter | undefined;
  private batcher: FileBatcher | undefined;
  private readonly hardLinks = new Map<string, Buffer>();
  /** `--list` lines and warnings, given out in walk order (files are stored in parallel). */
  private readonly listing: ListingOrder;
  private readonly dryStats: ArchiveStats = { nfiles: 0, original: 0, compressed: 0, deduplicated: 0, chunks: 0 };
  private items = 0;
  private warnings = 0;
  /** Whether the paths are listed ones: stored as they are, directories without their contents. */
  private flat = false;
  /**
   * Paths given on the command line, by archive path (not the root): a walk that meets one walks
   * it as given there, in its place, so that it is stored once and in walk order (see {@link walk}).
   */
  private readonly given = new Map<string, GivenPath>();
  /**
   * Archive paths of directories that given paths lie in (the root always): their walks keep
   * their items in {@link walkedKids} instead of storing a tree, for {@link walk} to merge them
   * with the given paths below them.
   */
  private readonly grafts = new Map<string, Node>();
  /** By archive path: the given paths at or under it, in walk order (see {@link walkGivenBelow}). */
  private readonly givenUnder = new Map<string, GivenPath[]>();
  /** The items a walk of a directory in {@link grafts} found, by the directory's item. */
  private readonly walkedKids = new WeakMap<Item, Item[]>();

  constructor(
    private readonly repo: Repository,
    private readonly synced: SyncedIndex,
    private readonly opts: CreateOptions,
    private readonly filesCache?: FilesCache,
  ) {
    const emit: ListingEmit = (status, apath, warnings) => {
      for (const w of warnings ?? []) opts.onWarning(w);
      if (status !== undefined) opts.onItem?.(status, apath);
    };
    this.listing = new ListingOrder(emit, opts.onItem !== undefined);
  }

  /** The totals so far, for `--progress`: files stored, their sizes, and the bytes this run added. */
  progressStats(): { original: number; compressed: number; deduplicated: number; nfiles: number } {
    const { original, compressed, nfiles } = this.stats;
    return { original, compressed, deduplicated: this.out?.deduplicated ?? 0, nfiles };
  }

  /** What the walk reads of each entry. */
  private get scanOptions(): ScanOptions {
    const o = this.opts;
    return { xattrs: !o.noxattrs, acls: !o.noacls, flags: !o.noflags || o.excludeNodump, atime: o.atime, birthtime: !o.nobirthtime };
  }

  /**
   * What a directory scan reads: {@link scanOptions}, but where files are stored (not a dry run)
   * and the walk needs no flags of its own (`--exclude-nodump`), the flags, xattrs and ACLs of
   * regular files with one link are left to the worker that stores the file, which reads them
   * through the descriptor it reads the file with (one open and close per file fewer). Set by
   * {@link start}, once (it is read for every directory).
   */
  private dirScanOptions: ScanOptions = {};

  /**
   * Reads the walk's directories ahead of it, in batches (see {@link DirScanner}), deciding as
   * {@link walksInto} and {@link excludedByTags} do which to read. Made by {@link start}.
   */
  private scanner: DirScanner | undefined;

  /** Native directory reads the walk made (batches of directories). */
  get scanCalls(): number {
    return this.scanner?.calls ?? 0;
  }

  /** Starts the writer and the pack sink (not for a dry run). */
  private start(): void {
    const { repo, synced, opts } = this;
    this.dirScanOptions = this.scanOptions;
    if (!opts.dryRun) {
      this.out = new ArchiveWriter(repo, synced, { compression: opts.compression, chunkerParams: opts.chunkerParams, ...(opts.onPack ? { onPack: opts.onPack } : {}) }, this.filesCache);
      this.batcher = new FileBatcher(this.out.writer, this.scanOptions, opts.filesChanged);
      if (!opts.excludeNodump) this.dirScanOptions = { ...this.scanOptions, deferFiles: true };
    }
    // A name that may be a tag, compared as excludedByTags does (CACHEDIR.TAG's signature is not
    // read here): that directory's subdirectories are read only when the walk asks for them.
    const tags = new Set(opts.excludeIfPresent);
    if (opts.excludeCaches) tags.add('CACHEDIR.TAG');
    this.scanner = new DirScanner(this.dirScanOptions, {
      enters: (mode, dev, flags, apath, parentDev) => this.walksInto(mode, dev, flags, apath, parentDev),
      mayExclude: tags.size === 0 ? () => false : (name) => tags.has(decodeName(name)),
    });
  }

  /** The archive's totals (all zero in a dry run). */
  private get stats(): ArchiveStats {
    return this.out?.stats ?? this.dryStats;
  }

  /** A warning (exit code 1), given out in its place among the `--list` lines. */
  private warn(message: string): void {
    this.warnings += 1;
    this.listing.now(undefined, '', [message]);
  }

  /**
   * An item's `--list` line (in its reserved place, where it has one), after `warnings` about it;
   * `--progress` hears of it at once.
   */
  private listed(slot: ListingSlot | undefined, status: string, apath: string, warnings?: readonly string[]): void {
    if (warnings !== undefined) this.warnings += warnings.length;
    this.opts.onProgress?.(apath);
    if (slot === undefined) this.listing.now(status, apath, warnings);
    else this.listing.fill(slot, status, warnings);
  }

  /** The item for an entry, without contents or tree. */
  private baseItem(e: ScannedEntry, name: Buffer): Item {
    const s = e;
    const uid = s.uid;
    const gid = s.gid;
    const item: Item = {
      name,
      type: typeOfMode(s.mode),
      mode: s.mode,
      uid,
      gid,
      mtime: s.mtimeNs,
      size: 0,
    };
    if (!this.opts.numericIds) {
      const u = owners.userName(uid);
      const g = owners.groupName(gid);
      if (u !== undefined) item.user = u;
      if (g !== undefined) item.group = g;
    }
    if (!this.opts.noctime) item.ctime = s.ctimeNs;
    if (this.opts.atime && s.atimeNs !== undefined) item.atime = s.atimeNs;
    if (!this.opts.nobirthtime && s.birthtimeNs !== undefined) item.birthtime = s.birthtimeNs;
    if (item.type === 'l' && s.linkTarget !== undefined) item.target = s.linkTarget;
    if (item.type === 'c' || item.type === 'b') item.rdev = s.rdev;
    if (s.xattrs !== undefined && s.xattrs.length > 0) item.xattrs = s.xattrs;
    if (s.aclAccess !== undefined) item.aclAccess = s.aclAccess;
    if (s.aclDefault !== undefined) item.aclDefault = s.aclDefault;
    if (s.flags !== undefined && !this.opts.noflags) item.flags = s.flags;
    for (const w of s.warnings ?? []) this.warn(`${decodeName(name)}: ${w.message}`);
    return item;
  }

  /** Stores a tree for `items` (in a batch: its id comes at once); nothing in a dry run. */
  private storeTree(items: Item[]): Buffer | undefined {
    return this.out?.storeTree(items);
  }

  /**
   * Whether the walk will read directory entry `e` (archive path `apath`): the checks that
   * {@link entry} makes before it calls {@link directory}, so that a directory is read ahead only
   * if it is walked (never one that a pattern, `--exclude-nodump` or `--one-file-system` keeps out).
   */
  private walksInto(mode: number, dev: number, flags: number, apath: string, parentDev: number): boolean {
    // An entry that could not be read has mode 0: not a directory.
    if (this.flat || (mode & 0o170000) !== 0o040000) return false;
    if (this.given.has(apath)) return false;
    if (this.opts.match(apath) === 'exclude-norecurse') return false;
    if (this.opts.excludeNodump && (flags & FS_NODUMP_FL) !== 0) return false;
    return !(this.opts.oneFileSystem && dev !== parentDev);
  }

  /**
   * Backs up one entry at `fsPath` (archive path `apath`); resolves to its item, or undefined.
   * `read` is the directory when it is being read ahead already (see {@link walksInto}).
   */
  private async entry(fsPath: Buffer, apath: string, e: ScannedEntry, name: Buffer, parentDev: number | undefined, read?: AheadDir): Promise<Later> {
    if (e.errorCode !== undefined) {
      this.warn(`${apath}: ${e.errorMessage ?? e.errorCode}`);
      this.listed(undefined, 'E', apath);
      return later(undefined);
    }
    const action = this.flat ? undefined : this.opts.match(apath);
    const isDir = (e.mode & 0o170000) === 0o040000;
    // borg: `!` (and --exclude) prunes; `-` leaves the item out but walks a directory, so that a
    // later `+` may take something below it (the directory then stays as an implied parent).
    if (action === 'exclude-norecurse' || (action === 'exclude' && !isDir)) {
      this.listed(undefined, 'x', apath);
      return later(undefined);
    }
    // borg leaves sockets out: they cannot be restored as anything useful.
    if ((e.mode & 0o170000) === 0o140000) return later(undefined);
    if (!this.flat && this.opts.excludeNodump && e.flags !== undefined && (e.flags & FS_NODUMP_FL) !== 0) {
      this.listed(undefined, 'x', apath);
      return later(undefined);
    }
    const item = this.baseItem(e, name);
    const s = e;
    this.items += 1;
    if (item.type === 'd') {
      if (this.flat) {
        // A listed directory: its listed contents are placed in it when the trees are built.
        this.listed(undefined, 'd', apath);
        return later(item);
      }
      if (this.opts.oneFileSystem && parentDev !== undefined && s.dev !== parentDev) {
        // borg keeps the mount point directory itself, empty; one a pattern excludes, not at all.
        if (action === 'exclude') {
          this.items -= 1;
          this.listed(undefined, 'x', apath);
          return later(undefined);
        }
        this.listed(undefined, 'd', apath);
        return later(item);
      }
      return this.directory(fsPath, apath, item, s.dev, read);
    }
    if (item.type === '-' || (this.opts.readSpecial && (item.type === 'c' || item.type === 'b' || item.type === 'p'))) {
      if (s.nlink > 1 && item.type === '-') {
        const k = `${s.dev}:${s.ino}`;
        const first = this.hardLinks.get(k);
        if (first !== undefined) {
          item.type = 'h';
          item.link = first;
          this.listed(undefined, 'h', apath);
          return later(item);
        }
        this.hardLinks.set(k, encodeName(apath));
      }
      item.type = '-';
      item.mode = (item.mode & 0o7777) | 0o100000;
      return this.file(fsPath, apath, item, s, e.deferred === true);
    }
    this.listed(undefined, item.type === 'l' ? 's' : item.type === 'p' ? 'f' : item.type, apath);
    return later(item);
  }

  /** Stores a regular file; `deferred`: its scan left its flags, xattrs and ACLs to the worker. */
  private async file(fsPath: Buffer, apath: string, item: Item, stat: FileStat, deferred: boolean): Promise<Later> {
    if (this.batcher === undefined) {
      this.listed(undefined, '-', apath);
      return later(item);
    }
    await this.batcher.room();
    const slot = this.listing.reserve(apath);
    return { done: quiet(this.batcher.add(fsPath, stat, deferred).then((r) => this.fileDone(apath, item, r, deferred, slot))) };
  }

  /**
   * Puts the flags, xattrs and ACLs a worker read (for a file whose scan deferred them) into its
   * item, as {@link baseItem} puts the scan's: in the same order, before the contents, so the
   * item is the same as if the scan had read them. Returns the warnings of what it could not read.
   */
  private fileMeta(item: Item, r: StoredFile): string[] | undefined {
    if (r.xattrs !== undefined && r.xattrs.length > 0) item.xattrs = r.xattrs;
    if (r.aclAccess !== undefined) item.aclAccess = r.aclAccess;
    if (r.aclDefault !== undefined) item.aclDefault = r.aclDefault;
    if (r.flags !== undefined && r.flags !== 0 && !this.opts.noflags) item.flags = r.flags;
    return r.metaWarnings?.map((w) => `${decodeName(item.name)}: ${w.message}`);
  }

  /**
   * `deferred`: the worker read the file's flags, xattrs and ACLs (its scan did not); `slot`: the
   * file's place among the `--list` lines, where it has one.
   */
  private fileDone(apath: string, item: Item, r: StoredFile, deferred = false, slot?: ListingSlot): Item | undefined {
    // A file that failed because the packs could not be stored ends the run with that error.
    if (this.out?.failure !== undefined) throw this.out.failure;
    // As borg: what went wrong with a file is told just before its line.
    let warnings = deferred ? this.fileMeta(item, r) : undefined;
    if (r.errorCode !== undefined && r.errorCode !== null) {
      this.listed(slot, 'E', apath, [...(warnings ?? []), `${apath}: ${r.errorMessage ?? r.errorCode}`]);
      return undefined;
    }
    this.out?.addFile(item, r);
    this.opts.onFile?.(apath, r.size);
    // As borg: the archive keeps what was read, with a warning (exit 1) that it may be torn.
    if (r.status === 'C') warnings = [...(warnings ?? []), `${apath}: file changed while we backed it up`];
    this.listed(slot, r.status, apath, warnings);
    return item;
  }

  /** Whether a directory's tag files exclude it: returns the tags to keep, or undefined. */
  private async excludedByTags(entries: ScannedEntry[], dir: Buffer): Promise<ScannedEntry[] | undefined> {
    const tags: ScannedEntry[] = [];
    for (const e of entries) {
      const n = decodeName(e.name);
      if (this.opts.excludeIfPresent.includes(n)) tags.push(e);
      else if (this.opts.excludeCaches && n === 'CACHEDIR.TAG' && (e.mode & 0o170000) === 0o100000) {
        const fs = await import('node:fs/promises');
        const head = await fs.readFile(joinPath(dir, e.name)).then((b) => b.subarray(0, CACHEDIR_SIGNATURE.length).toString('latin1')).catch(() => '');
        if (head === CACHEDIR_SIGNATURE) tags.push(e);
      }
    }
    return tags.length > 0 ? tags : undefined;
  }

  private async directory(fsPath: Buffer, apath: string, item: Item, dev: number, read?: AheadDir): Promise<Later> {
    let entries: ScannedEntry[];
    let ahead: Map<number, AheadDir>;
    const scanner = this.scanner as DirScanner;
    // As borg: a directory a pattern excludes (walked for what a later pattern takes) is 'x'
    // before anything else is known of it; any other is listed after its contents, 'x' when its
    // tags exclude it even though --keep-exclude-tags keeps it (and its tags), else 'd'.
    const excluded = this.opts.match(apath) === 'exclude';
    if (excluded) this.listed(undefined, 'x', apath);
    try {
      ({ entries, ahead } = await (read !== undefined ? scanner.take(read) : scanner.scan(fsPath, apath, dev)));
    } catch (e) {
      this.warn(`${apath}: ${(e as Error).message}`);
      if (excluded) return later(undefined);
      this.listed(undefined, 'E', apath);
      return later(item);
    }
    const tags = await this.excludedByTags(entries, fsPath);
    if (tags !== undefined) {
      // As borg, an excluded directory's tags are not looked into: it is left out, as its tags say.
      if (!this.opts.keepExcludeTags || excluded) {
        if (!excluded) this.listed(undefined, 'x', apath);
        this.items -= 1;
        return later(undefined);
      }
      entries = tags;
      // Never a read-ahead for another entry (a tagged directory has none: see start()).
      ahead = new Map();
    }
    const children: Promise<Item | undefined>[] = [];
    const graft = this.grafts.get(apath);
    // The names below this directory that given paths lie at or under, in name order: their
    // walks run where those names fall among the entries (so in walk order), also when the
    // directory has no such entry or the entry is not walked into.
    const below = graft === undefined ? [] : [...graft.children.keys()].map((n) => ({ path: apath === '' ? n : `${apath}/${n}`, name: encodeName(n) })).sort((a, b) => Buffer.compare(a.name, b.name));
    let next = 0;
    const givenUpTo = async (name: Buffer | undefined, inclusive: boolean): Promise<void> => {
      for (; next < below.length; next += 1) {
        const b = below[next] as { path: string; name: Buffer };
        const c = name === undefined ? -1 : Buffer.compare(b.name, name);
        if (c > 0 || (c === 0 && !inclusive)) return;
        await this.walkGivenBelow(b.path);
      }
    };
    // With --keep-exclude-tags, `entries` are a tagged directory's tags, whose indices differ:
    // that directory's subdirectories were not read ahead (`ahead` is empty).
    for (let i = 0; i < entries.length; i += 1) {
      const e = entries[i] as ScannedEntry;
      const name = decodeName(e.name);
      const childPath = apath === '' ? name : `${apath}/${name}`;
      const read = ahead.get(i);
      // Not kept once taken: each read-ahead holds its own subdirectories' (a whole subtree).
      ahead.delete(i);
      // (Only a folder above given paths has any: no call, and no promise, for the others.)
      if (next < below.length) await givenUpTo(e.name, false);
      // A given path is walked as given (once), in its place.
      const given = graft === undefined ? undefined : this.given.get(childPath);
      if (given !== undefined) await this.walkGiven(given, e);
      else children.push((await this.entry(joinPath(fsPath, e.name), childPath, e, e.name, dev, read)).done);
      if (next < below.length) await givenUpTo(e.name, true);
    }
    if (next < below.length) await givenUpTo(undefined, true);
    const slot = excluded ? undefined : this.listing.reserve(apath);
    return {
      done: quiet(Promise.all(children).then((items) => {
        if (slot !== undefined) this.listed(slot, tags !== undefined ? 'x' : 'd', apath);
        const kept = items.filter((i): i is Item => i !== undefined);
        if (excluded && kept.length === 0) return undefined;
        if (graft !== undefined) {
          this.walkedKids.set(item, kept);
          if (excluded) item.implied = true;
          return item;
        }
        const tree = this.storeTree(kept);
        if (tree !== undefined) item.tree = tree;
        if (excluded) item.implied = true;
        return item;
      })),
    };
  }

  /** Backs up standard input, or the output of the content command, as one file. */
  private async piped(apath: string): Promise<Item | undefined> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const me = os.userInfo();
    const item: Item = {
      name: encodeName(path.posix.basename(apath)),
      type: '-',
      mode: 0o100000 | (this.opts.stdinMode & 0o7777),
      uid: this.opts.stdinUid ?? me.uid,
      gid: this.opts.stdinGid ?? me.gid,
      user: this.opts.stdinUser ?? me.username,
      ...(this.opts.stdinGroup !== undefined ? { group: this.opts.stdinGroup } : {}),
      mtime: now,
      size: 0,
    };
    this.items += 1;
    if (this.out === undefined) {
      this.listed(undefined, '-', apath);
      return item;
    }
    // Its place among the `--list` lines is where the walk meets it (this runs before any await).
    const slot = this.listing.reserve(apath);
    const command = this.opts.contentCommand;
    if (command === undefined) return this.fileDone(apath, item, await this.out.writer.storeFd(0, '<stdin>'), false, slot);
    const child: PipedCommand = startPipedCommand(command.argv, command.env);
    let r: StoredFileResult;
    try {
      r = await this.out.writer.storeFd(child.fd, command.argv[0] ?? '<command>');
    } catch (e) {
      child.abort();
      throw e;
    }
    if (r.errorCode !== undefined && r.errorCode !== null) {
      // As borg: the command's output is the whole backup, so failing to read it is an error.
      child.abort();
      throw new IoError('HOARD_IO', `${apath}: ${r.errorMessage ?? r.errorCode}`);
    }
    await child.finish();
    return this.fileDone(apath, item, r, false, slot);
  }

  /**
   * Listed paths are stored in the order they come: where the names of a hard-linked file came
   * out of walk order, its contents move to the name a walk meets first ({@link contentsFirst}).
   */
  private async linksInWalkOrder(root: Node): Promise<void> {
    const firsts = new Set([...this.hardLinks.values()].map((p) => p.toString('latin1')));
    const groups = new Map<string, { file?: LinkMember; links: LinkMember[] }>();
    const group = (key: string): { file?: LinkMember; links: LinkMember[] } => {
      let g = groups.get(key);
      if (g === undefined) {
        g = { links: [] };
        groups.set(key, g);
      }
      return g;
    };
    const visit = async (node: Node, parts: Buffer[]): Promise<void> => {
      const item = node.item === undefined ? undefined : await node.item;
      if (item?.type === 'h' && item.link !== undefined) group(item.link.toString('latin1')).links.push({ parts, item });
      else if (item?.type === '-' && parts.length > 0) {
        const key = joinParts(parts).toString('latin1');
        if (firsts.has(key)) group(key).file = { parts, item };
      }
      for (const [n, child] of node.children) await visit(child, [...parts, encodeName(n)]);
    };
    await visit(root, []);
    for (const g of groups.values()) if (g.file !== undefined) contentsFirst(g.file, g.links);
  }

  /** Walks the given paths at or under archive path `apath` that are not walked yet, in walk order. */
  private async walkGivenBelow(apath: string): Promise<void> {
    for (const g of this.givenUnder.get(apath) ?? []) await this.walkGiven(g);
  }

  /**
   * Backs up a path as given, unless its archive path holds something already: the same file
   * again is stored once, anything else is a warning that it is left out (a tree has one item
   * per name). `met` is what a walk found at that archive path, left out for the given path.
   */
  private async walkGiven(g: GivenPath, met?: ScannedEntry): Promise<void> {
    const { given, apath, names, node } = g;
    if (g.done === true) return;
    g.done = true;
    const shown = apath === '' ? '.' : apath;
    const fsPath = given === '-' ? undefined : absolutePath(given);
    const e = fsPath === undefined ? undefined : await statPath(fsPath, this.scanOptions);
    const source = e === undefined || e.errorCode !== undefined ? given : `${e.dev}:${e.ino}`;
    if (node.item !== undefined) {
      if (node.source !== source) this.warn(`${given}: left out, as ${shown} in the archive holds another PATH already`);
      return;
    }
    node.source = source;
    if (met !== undefined && (e === undefined || met.dev !== e.dev || met.ino !== e.ino)) {
      this.warn(`${shown}: left out of its folder's backup, as ${given === '-' ? 'standard input' : given} is archived there`);
    }
    if (e === undefined || fsPath === undefined) {
      node.item = quiet(this.piped(apath));
      return;
    }
    if (names.length > 0) {
      node.item = (await this.entry(fsPath, apath, e, names[names.length - 1] as Buffer, undefined)).done;
      return;
    }
    // `.` or `/`: the root's own entries go at the top of the archive, its item is `.`.
    if (e.errorCode !== undefined) {
      this.warn(`${given}: ${e.errorMessage ?? e.errorCode}`);
      this.listed(undefined, 'E', apath);
    } else if ((e.mode & 0o170000) === 0o040000) {
      this.items += 1;
      node.item = (await this.directory(fsPath, '', this.baseItem(e, ROOT_SELF), e.dev)).done;
    }
  }

  /**
   * Walks all paths and makes the root tree; resolves to its id (absent if empty). Given paths
   * are placed in one tree of nodes first. Where one lies in another's directory (`create /a
   * /a/b`, or `.` and anything), the outer walk leaves it out and the two are merged, so each
   * path is stored once and nothing either walk found is lost. A directory given as the root
   * (`.`, `/`) is stored as the root tree's `.` item, as borg stores it.
   */
  private async walk(): Promise<Buffer | undefined> {
    // The root is a directory of implied parents, with the backed-up paths at their places.
    const root: Node = { children: new Map() };
    /** The node of an archive path, made with its parents. */
    const place = (parts: string[]): Node => {
      let node = root;
      for (const part of parts) {
        let next = node.children.get(part);
        if (next === undefined) {
          next = { children: new Map() };
          node.children.set(part, next);
        }
        node = next;
      }
      return node;
    };
    const { contentCommand, listedPaths } = this.opts;
    if (contentCommand !== undefined) {
      const apath = archivePathOf(this.opts.stdinName);
      place(apath === '' ? [] : apath.split('/')).item = quiet(this.piped(apath));
    } else if (listedPaths !== undefined) {
      this.flat = true;
      for await (const given of listedPaths) {
        const apath = archivePathOf(given);
        if (given.includes('\0')) {
          this.warn(`${JSON.stringify(given)}: a path cannot hold NUL (is --paths-delimiter right?)`);
          this.listed(undefined, 'E', apath);
          continue;
        }
        const parts = apath === '' ? [] : apath.split('/');
        const node = place(parts);
        // A path listed twice is stored once.
        if (node.item !== undefined) continue;
        const fsPath = absolutePath(given);
        const e = await statPath(fsPath, this.scanOptions);
        // The root can only be a directory: its own item.
        if (parts.length === 0 && (e.errorCode !== undefined || (e.mode & 0o170000) !== 0o040000)) continue;
        node.item = (await this.entry(fsPath, apath, e, encodeName(parts[parts.length - 1] ?? ''), undefined)).done;
      }
    }
    const paths = contentCommand === undefined && listedPaths === undefined ? this.opts.paths : [];
    // In walk order (a parent before what is in it, then by name bytes), so that the first path
    // of a hard-linked file is the one a reader meets first, whatever order they were given in.
    const placed = paths
      .map((given): GivenPath => {
        const apath = given === '-' ? archivePathOf(this.opts.stdinName) : archivePathOf(given);
        const parts = apath === '' ? [] : apath.split('/');
        return { given, apath, names: parts.map(encodeName), node: place(parts) };
      })
      .sort((a, b) => walkOrder(a.names, b.names));
    for (const g of placed) if (g.apath !== '' && !this.given.has(g.apath)) this.given.set(g.apath, g);
    for (const g of placed) {
      let at = '';
      for (const n of g.apath === '' ? [] : g.apath.split('/')) {
        at = at === '' ? n : `${at}/${n}`;
        const list = this.givenUnder.get(at);
        if (list === undefined) this.givenUnder.set(at, [g]);
        else list.push(g);
      }
    }
    const graftsBelow = (node: Node, full: string): void => {
      if (node.children.size === 0 && full !== '') return;
      this.grafts.set(full, node);
      for (const [n, child] of node.children) graftsBelow(child, full === '' ? n : `${full}/${n}`);
    };
    graftsBelow(root, '');
    for (const g of placed) await this.walkGiven(g);
    this.batcher?.flush();
    if (this.flat && this.hardLinks.size > 0) await this.linksInWalkOrder(root);
    const byName = (a: Item, b: Item): number => Buffer.compare(a.name, b.name);
    /** A directory's items: those its walk found (`walked`) and the nodes below it, merged by name. */
    const merged = async (walked: readonly Item[], node: Node, full: string): Promise<Item[]> => {
      const named = new Map<string, Item>(walked.map((w) => [decodeName(w.name), w]));
      for (const [n, child] of node.children) {
        const k = await build(child, n, full === '' ? n : `${full}/${n}`, named.get(n));
        if (k !== undefined) named.set(n, k);
      }
      return [...named.values()].sort(byName);
    };
    /** The item of a node (or of `walked`, the item its parent's walk found at its place). */
    const build = async (node: Node, name: string, full: string, walked?: Item): Promise<Item | undefined> => {
      const own = node.item !== undefined ? await node.item : walked;
      if (node.children.size === 0) return own;
      if (own !== undefined && own.type !== 'd') this.warn(`${full}: left out, as PATHs are given below it and it is not a folder (the archive has a folder there, holding only those PATHs)`);
      const kids = await merged(own === undefined ? [] : (this.walkedKids.get(own) ?? []), node, full);
      const dir: Item = own !== undefined && own.type === 'd' && own.tree === undefined ? own : { name: encodeName(name), type: 'd', mode: 0o40755, uid: 0, gid: 0, mtime: 0n, size: 0, implied: true };
      const tree = this.storeTree(kids);
      if (tree !== undefined) dir.tree = tree;
      return dir;
    };
    const self = root.item !== undefined ? await root.item : undefined;
    return this.storeTree(withRootSelf(self, await merged(self === undefined ? [] : (this.walkedKids.get(self) ?? []), root, '')));
  }

  /** Runs the backup and commits the archive. */
  async run(): Promise<CreateResult> {
    const { repo, opts } = this;
    const start = new Date();
    checkNewArchiveName(repo, opts.name);
    let rootTree: Buffer | undefined;
    this.start();
    try {
      rootTree = await this.walk();
      await this.out?.finish();
    } catch (e) {
      // What the run did is still listed, up to the failure; nothing after it.
      this.listing.close();
      this.out?.abort(e);
      await this.out?.aborted();
      throw e;
    }
    const meta = archiveMeta({
      name: opts.name,
      root: rootTree,
      items: this.items,
      start,
      end: new Date(),
      ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
      commandLine: opts.commandLine,
      comment: opts.comment,
      chunkerParams: opts.chunkerParams,
      compression: opts.compression,
      stats: this.stats,
    });
    if (this.out === undefined) return { id: '', meta, stats: meta.stats, warnings: this.warnings };
    const id = await this.out.commit(meta, opts.beforeCommit);
    return { id, meta, stats: meta.stats, warnings: this.warnings };
  }
}
