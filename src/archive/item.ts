import { Packr } from 'msgpackr';

import { CorruptDataError } from '../errors.js';
import type { Xattr } from '../native.js';
import { encodeMsgpack } from './tree-encoder.js';

/**
 * The kind of an item, as the one letter `list` prints first in its mode: `-` regular file,
 * `d` directory, `l` symlink, `h` hard link to an earlier item, `p` fifo, `c`/`b` devices,
 * `s` socket.
 */
export type ItemType = '-' | 'd' | 'l' | 'h' | 'p' | 'c' | 'b' | 's';

/** One entry of a tree: a file, directory, link or special file, with its metadata. */
export interface Item {
  /** The name in its directory, raw bytes. */
  name: Buffer;
  type: ItemType;
  /** The full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Owner and group names, when known. */
  user?: string;
  group?: string;
  /** Times in nanoseconds since the epoch. */
  mtime: bigint;
  ctime?: bigint;
  atime?: bigint;
  birthtime?: bigint;
  /** File size in bytes (regular files; 0 otherwise). */
  size: number;
  /** The chunk ids of a regular file's contents, 32 bytes each, in order. */
  chunks?: Buffer;
  /** The plaintext length of each chunk. */
  chunkSizes?: Uint32Array;
  /** A symlink's target, raw bytes. */
  target?: Buffer;
  /** For a hard link (`h`): the archive path (raw bytes) of the item it links to. */
  link?: Buffer;
  /** Device number of a device file. */
  rdev?: number;
  /** Extended attributes (not the ACL ones). */
  xattrs?: Xattr[];
  /** POSIX ACLs in their raw xattr form. */
  aclAccess?: Buffer;
  aclDefault?: Buffer;
  /** File flags (chattr). */
  flags?: number;
  /** A directory's tree id (32 bytes); absent for an empty directory. */
  tree?: Buffer;
  /** A directory only present as the parent of a backed-up path: not listed, not restored. */
  implied?: boolean;
  /** Stored bytes of the file's chunks (its compressed size) at backup time. */
  csize?: number;
  /**
   * The broken-file mark (borg's `chunks_healthy`): set by `check --repair` on a file whose chunks
   * went missing, it holds the file's original chunk ids, while `chunks` names an all-zero chunk
   * of the same size in place of each missing one. A later repair that finds every original chunk
   * back heals the file and removes the mark (docs/format.md section 10.15).
   */
  chunksHealthy?: Buffer;
}

/**
 * A tree object: one directory's items, sorted by name. Version 1 holds items (a directory of an
 * old repository may continue in `next`); version 2, the head of a directory split into pieces,
 * holds no items but `parts`, the ids of its pieces (version 1 objects without `next`).
 */
export interface Tree {
  version: 1 | 2;
  items: Item[];
  /** The id of the tree object holding the following items (read only: no longer written). */
  next?: Buffer;
  /** A head's pieces: their ids, 32 bytes each, in name order. */
  parts?: Buffer;
}

/** Items per tree object (a piece of a split directory holds at most this many). */
export const TREE_ITEMS = 4096;
/** The largest tree object a reader accepts (plaintext bytes). */
export const MAX_TREE = 256 << 20;
/** How tree objects are compressed, whatever the archive's data compression. */
export const TREE_COMPRESSION = 'zstd,3';

/** The ids of a head's pieces, in order (none for a version 1 tree). */
export function treeParts(tree: Tree): Buffer[] {
  const out: Buffer[] = [];
  const p = tree.parts;
  if (p !== undefined) for (let o = 0; o < p.length; o += 32) out.push(p.subarray(o, o + 32));
  return out;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', variableMapSize: true });

/**
 * Serialises a tree object: a head (version 2) when it has `parts`, else version 1. The bytes
 * are msgpackr's for the same map with undefined fields left out ({@link encodeMsgpack}).
 */
export function encodeTree(tree: Tree): Buffer {
  if (tree.parts !== undefined) return encodeMsgpack({ version: 2, parts: tree.parts });
  return encodeMsgpack({ version: 1, items: tree.items, next: tree.next });
}

/** Parses a tree object, checking its shape. */
export function decodeTree(data: Buffer, what: string): Tree {
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch {
    throw new CorruptDataError('HOARD_CORRUPT', `${what} is not a tree object`);
  }
  const t = raw as { version?: unknown; items?: unknown; next?: unknown; parts?: unknown };
  if (t.version === 2) {
    const p = t.parts;
    if (!Buffer.isBuffer(p) || p.length === 0 || p.length % 32 !== 0) throw new CorruptDataError('HOARD_CORRUPT', `${what} is not a tree object (malformed parts)`);
    return { version: 2, items: [], parts: p };
  }
  if (t.version !== 1 || !Array.isArray(t.items)) throw new CorruptDataError('HOARD_CORRUPT', `${what} is not a tree object`);
  // Each item is converted in place: the unpacked map is new and ours, and copying it (with its
  // absent fields set to undefined) into another object cost a visible share of an extract's
  // JS thread.
  const items = t.items.map((r: Record<string, unknown>): Item => {
    if (!Buffer.isBuffer(r.name) || typeof r.type !== 'string') throw new CorruptDataError('HOARD_CORRUPT', `${what} has a malformed item`);
    r.mode = Number(r.mode);
    r.uid = Number(r.uid);
    r.gid = Number(r.gid);
    r.size = Number(r.size ?? 0);
    r.mtime = BigInt(r.mtime as number | bigint);
    if (r.ctime !== undefined) r.ctime = BigInt(r.ctime as number | bigint);
    if (r.atime !== undefined) r.atime = BigInt(r.atime as number | bigint);
    if (r.birthtime !== undefined) r.birthtime = BigInt(r.birthtime as number | bigint);
    if (r.rdev !== undefined) r.rdev = Number(r.rdev);
    if (r.flags !== undefined) r.flags = Number(r.flags);
    if (r.csize !== undefined) r.csize = Number(r.csize);
    const sizes = r.chunkSizes as Buffer | undefined;
    if (sizes !== undefined) r.chunkSizes = new Uint32Array(sizes.buffer.slice(sizes.byteOffset, sizes.byteOffset + sizes.byteLength));
    return r as unknown as Item;
  });
  return { version: 1, items, ...(Buffer.isBuffer(t.next) ? { next: t.next } : {}) };
}

/** The item type of an `st_mode`. */
export function typeOfMode(mode: number): ItemType {
  switch (mode & 0o170000) {
    case 0o040000:
      return 'd';
    case 0o120000:
      return 'l';
    case 0o010000:
      return 'p';
    case 0o020000:
      return 'c';
    case 0o060000:
      return 'b';
    case 0o140000:
      return 's';
    default:
      return '-';
  }
}

/** The name of the root tree's item for the directory archived as the root (`create .`, `create /`). */
export const ROOT_SELF = Buffer.from('.');

/** Whether `item`, found in a tree `depth` levels below the root (0: the root tree), is the root's own item. */
export function isRootSelf(item: Item, depth: number): boolean {
  return depth === 0 && item.name.equals(ROOT_SELF) && item.type === 'd' && item.tree === undefined;
}

/**
 * The root tree's items: `kids` (sorted by name) with, when the archive's root is a directory
 * that was backed up itself (`dir`), its own item named `.` at its place in name order, without
 * a tree (its contents are the root tree), as borg keeps a `.` item (docs/format.md section 10.9).
 */
export function withRootSelf(dir: Item | undefined, kids: Item[]): Item[] {
  if (dir === undefined || dir.type !== 'd' || dir.implied === true) return kids;
  const self: Item = { ...dir, name: ROOT_SELF };
  delete self.tree;
  const at = kids.findIndex((k) => Buffer.compare(k.name, ROOT_SELF) > 0);
  return at < 0 ? [...kids, self] : [...kids.slice(0, at), self, ...kids.slice(at)];
}
