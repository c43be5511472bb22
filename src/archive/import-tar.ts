/**
 * `import-tar`: a new archive from a tar stream. The native `TarImport` reads the stream (through
 * a filter command when asked), stores each regular file's content through the archive's writer
 * and hands back the members' headers in batches; here they become items, arranged into trees
 * as `create` stores them, and the archive is committed the same way.
 */
import type { SyncedIndex } from '../repository/chunk-cache.js';
import { newTarImport, type TarMember } from '../native.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import { ArchiveWriter, archiveMeta, checkNewArchiveName } from './archive-writer.js';
import { contentsFirst, joinParts, type LinkMember } from './hard-links.js';
import { ROOT_SELF, withRootSelf, type Item, type ItemType } from './item.js';
import { decodeName } from '../fs-names.js';

/** What `import-tar` is asked for. */
export interface ImportTarOptions {
  name: string;
  compression: string;
  chunkerParams: string;
  comment: string;
  /** The archive's time; the start of the run if absent. */
  timestamp?: Date;
  commandLine: string[];
  /** The file descriptor the tar stream (or the filter's input) is read from. */
  fd: number;
  /** A shell command the stream is piped through first (e.g. `gzip -d`). */
  filter?: string;
  /** Skip zero blocks instead of ending at the first (concatenated tars). */
  ignoreZeros: boolean;
  /** Called for each member with borg's `--list` status letter and its path. */
  onItem: (status: string, path: string) => void;
  /** A member that could not be imported (a warning: exit code 1). */
  onWarning: (message: string) => void;
  /** Called just before the archive is committed; throws to give up. */
  beforeCommit?: () => Promise<void>;
}

/** What `import-tar` made. */
export interface ImportTarResult {
  id: string;
  meta: ArchiveMeta;
}

/** A directory of the tree being built: its own item (absent for an implied parent) and children. */
interface Node {
  item?: Item;
  children: Map<string, Node>;
}

/** Members asked for per native call. */
const BATCH = 512;

const TYPE_BITS: Record<string, number> = { '-': 0o100000, h: 0o100000, d: 0o040000, l: 0o120000, p: 0o010000, c: 0o020000, b: 0o060000 };
const STATUS: Record<string, string> = { '-': 'A', h: 'h', d: 'd', l: 's', p: 'f', c: 'c', b: 'b' };

/** A member's path as archive path parts: no leading `/`, no `.` or `..` parts, no empty ones (borg's normpath and make_path_safe). */
function safeParts(path: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i += 1) {
    if (i !== path.length && path[i] !== 0x2f) continue;
    const part = path.subarray(start, i);
    start = i + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) {
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts;
}

/** Linux's `makedev(major, minor)`. */
function makedev(major: number, minor: number): number {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return Number(((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn));
}

const ns = (secs: number, nanos: number): bigint => BigInt(secs) * 1_000_000_000n + BigInt(nanos);

/** The item of a member (contents and links are filled in by the caller). */
function itemOf(m: TarMember, name: Buffer): Item {
  const type = m.kind as ItemType;
  const item: Item = {
    name,
    type,
    mode: (m.mode & 0o7777) | (TYPE_BITS[type] ?? 0o100000),
    uid: m.uid,
    gid: m.gid,
    mtime: ns(m.mtimeSecs, m.mtimeNanos),
    size: 0,
  };
  if (m.uname.length > 0) item.user = m.uname.toString('utf8');
  if (m.gname.length > 0) item.group = m.gname.toString('utf8');
  if (m.atimeSecs !== undefined && m.atimeSecs !== null) item.atime = ns(m.atimeSecs, m.atimeNanos ?? 0);
  if (m.ctimeSecs !== undefined && m.ctimeSecs !== null) item.ctime = ns(m.ctimeSecs, m.ctimeNanos ?? 0);
  if (type === 'l') item.target = m.link;
  if (type === 'c' || type === 'b') item.rdev = makedev(m.devmajor, m.devminor);
  if (m.xattrs.length > 0) item.xattrs = m.xattrs;
  return item;
}

/** Reads a tar stream into a new archive and commits it. */
export async function importTar(repo: Repository, synced: SyncedIndex, opts: ImportTarOptions): Promise<ImportTarResult> {
  const start = new Date();
  checkNewArchiveName(repo, opts.name);
  const out = new ArchiveWriter(repo, synced, { compression: opts.compression, chunkerParams: opts.chunkerParams });
  const tar = newTarImport(out.writer, opts.fd, opts.filter, opts.ignoreZeros);
  const root: Node = { children: new Map() };
  let items = 0;
  /**
   * Hard-link groups, by the item of the file that holds the contents (not by its path: a later
   * member may take that path, as a later member may take a link's), and each link's group.
   */
  const groups = new Map<Item, { file: LinkMember; links: LinkMember[] }>();
  const groupOf = new Map<Item, { file: LinkMember; links: LinkMember[] }>();

  const nodeAt = (parts: Buffer[]): Node => {
    let node = root;
    for (const p of parts) {
      const k = p.toString('latin1');
      let next = node.children.get(k);
      if (next === undefined) {
        next = { children: new Map() };
        node.children.set(k, next);
      }
      node = next;
    }
    return node;
  };
  const find = (parts: Buffer[]): Node | undefined => {
    let node: Node | undefined = root;
    for (const p of parts) node = node?.children.get(p.toString('latin1'));
    return node;
  };

  let rootTree: Buffer | undefined;
  try {
    for (;;) {
      const batch = await tar.next(BATCH);
      if (batch.length === 0) break;
      for (const m of batch) {
        const parts = safeParts(m.path);
        const shown = decodeName(joinParts(parts));
        if (parts.length === 0) {
          // `./`: as borg, the directory is kept as the root's `.` item.
          if (m.kind !== 'd') continue;
          if (root.item === undefined) items += 1;
          root.item = itemOf(m, ROOT_SELF);
          opts.onItem(STATUS[m.kind] ?? '?', '.');
          continue;
        }
        const item = itemOf(m, parts[parts.length - 1] as Buffer);
        if (m.kind === '-') {
          if (m.stored === undefined || m.stored === null) throw new Error(`${shown}: the native reader stored no content`);
          out.addFile(item, m.stored);
        } else if (m.kind === 'h') {
          const targetParts = safeParts(m.link);
          const target = find(targetParts)?.item;
          let group = target === undefined ? undefined : target.type === 'h' ? groupOf.get(target) : groups.get(target);
          if (group === undefined && target?.type === '-') {
            group = { file: { parts: targetParts, item: target }, links: [] };
            groups.set(target, group);
          }
          if (group === undefined) {
            opts.onWarning(`${shown}: hard link to ${decodeName(m.link)}, which is not an earlier regular file in the tar`);
            opts.onItem('E', shown);
            continue;
          }
          group.links.push({ parts, item });
          groupOf.set(item, group);
          item.link = joinParts(group.file.parts);
        }
        const node = nodeAt(parts);
        if (node.item === undefined) items += 1;
        node.item = item;
        opts.onItem(STATUS[m.kind] ?? '?', shown);
      }
    }
    // A walk meets a hard-link group's first path first: that one must hold the contents.
    // Only the names whose items are still in place count: a later member may have taken one.
    const kept = (m: LinkMember): boolean => find(m.parts)?.item === m.item;
    for (const g of groups.values()) contentsFirst(g.file, g.links.filter(kept), kept(g.file));
    const build = async (node: Node, name: Buffer): Promise<Item | undefined> => {
      const kids: Item[] = [];
      const entries = [...node.children.entries()].map(([k, n]) => ({ name: Buffer.from(k, 'latin1'), n }));
      entries.sort((a, b) => Buffer.compare(a.name, b.name));
      for (const e of entries) {
        const k = await build(e.n, e.name);
        if (k !== undefined) kids.push(k);
      }
      const own = node.item;
      if (own !== undefined && own.type !== 'd') return own;
      const dir: Item = own ?? { name, type: 'd', mode: 0o40755, uid: 0, gid: 0, mtime: 0n, size: 0, implied: true };
      const tree = out.storeTree(node === root ? withRootSelf(own, kids) : kids);
      if (tree !== undefined) dir.tree = tree;
      return dir;
    };
    rootTree = (await build(root, Buffer.alloc(0)))?.tree;
    await out.finish();
  } catch (e) {
    tar.abort();
    out.abort(e);
    await out.aborted();
    throw e;
  }
  const end = new Date();
  const meta = archiveMeta({
    name: opts.name,
    root: rootTree,
    items,
    start,
    end,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    commandLine: opts.commandLine,
    comment: opts.comment,
    chunkerParams: opts.chunkerParams,
    compression: opts.compression,
    stats: out.stats,
  });
  const id = await out.commit(meta, opts.beforeCommit);
  return { id, meta };
}
