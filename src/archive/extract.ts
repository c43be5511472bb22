import { unlink } from 'node:fs/promises';

import { HoardError, InvalidArgumentError } from '../errors.js';
import {
  applyMetadata,
  makeDirectories,
  makeHardLink,
  makeSpecial,
  makeSymlink,
  type ChunkIndex,
  type FileAttrs,
  type Locations,
  type MetadataItem,
  type MetadataWarning,
} from '../native.js';
import { placesOf, type BlobPlace } from '../repository/objects.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import { ROOT_SELF, type Item } from './item.js';
import { owners } from './owners.js';
import { RestoreBatcher } from './restore-batcher.js';
import { PathLookup, walkTree } from './tree-reader.js';
import { limitHeapGrowth } from './heap-growth.js';
import { ByteArena } from './byte-arena.js';
import { PathSet } from './path-set.js';
import { currentDirectory, decodeName } from '../fs-names.js';

/** What `extract` is asked for. */
export interface ExtractOptions {
  /** Whether an archive path (text form) is to be extracted. */
  included: (path: string) => boolean;
  /** Whether a directory may hold included items (else its subtree is skipped). */
  mayContain: (path: string) => boolean;
  stripComponents: number;
  sparse: boolean;
  numericIds: boolean;
  dryRun: boolean;
  noacls: boolean;
  noxattrs: boolean;
  noflags: boolean;
  /** Called for each item extracted (for `--list` and `--progress`), with its archive path. */
  onItem: (path: string, item: Item) => void;
  /** A problem with one item: a warning (exit code 1); extraction goes on. */
  onWarning: (message: string) => void;
}

/** borg 1.4's warning for a broken file (after `PATH: `), with hoard's name. */
export const BROKEN_FILE = 'File has damaged (all-zero) chunks. Try running hoard check --repair.';

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/**
 * The relative path an archive path is extracted to, or undefined if stripping leaves nothing;
 * {@link ROOT_SELF} for the root's `.` item (the target directory itself). Otherwise absolute
 * paths, `..`, `.`, empty parts and NUL are refused: nothing is written outside the target (the
 * native calls also refuse to pass through symlinks).
 */
export function extractPath(archivePath: Buffer, strip: number): Buffer | undefined {
  // The root's `.` item (docs/format.md section 10.9) is the target itself; stripping drops it.
  if (archivePath.equals(ROOT_SELF)) return strip > 0 ? undefined : ROOT_SELF;
  let start = 0;
  let kept = 0;
  let skipped = 0;
  let from = 0;
  for (let i = 0; i <= archivePath.length; i += 1) {
    if (i === archivePath.length || archivePath[i] === 0x2f) {
      const part = archivePath.subarray(start, i);
      if (part.length === 0 || part.equals(DOT) || part.equals(DOTDOT) || part.includes(0)) {
        throw new InvalidArgumentError('HOARD_UNSAFE_PATH', `refusing to extract ${JSON.stringify(decodeName(archivePath))}: not a plain relative path`);
      }
      if (skipped < strip) {
        skipped += 1;
        from = i + 1;
      } else kept += 1;
      start = i + 1;
    }
  }
  return kept === 0 ? undefined : archivePath.subarray(from);
}

const KINDS = { p: 'fifo', c: 'chr', b: 'blk', s: 'sock' } as const;
const asRoot = process.getuid?.() === 0;

/** Extracts (part of) an archive into the current directory; problems with single items are warnings. */
export async function extractArchive(repo: Repository, index: ChunkIndex, meta: ArchiveMeta, opts: ExtractOptions): Promise<void> {
  limitHeapGrowth();
  const root = currentDirectory();
  /** The directories made or queued (relative paths). */
  const made = new PathSet();
  let dirsToMake: Buffer[] = [];
  /** Per path of `dirsToMake`, 1 for a directory item (something else in its place is replaced), 0 for a parent. */
  let dirItems: number[] = [];
  /** The directory items that could not be made: their metadata is not set on what is there instead. */
  const unmade = new PathSet();
  /**
   * The directories' metadata, set last; each path is a copy in `kept` (the walk's are views of
   * Node's shared 8 KiB pool blocks, and keeping one would keep its whole block: see ByteArena).
   */
  const dirMeta: { item: MetadataItem; path: Buffer }[] = [];
  const kept = new ByteArena();
  /**
   * The archive paths of the regular files extracted so far, which a later hard link may name;
   * where such a file went is worked out again from its path (`extractPath`). Outside V8's heap
   * (see PathSet), as is `made`.
   */
  const extracted = new PathSet();
  const warn = (path: string, e: unknown): void => opts.onWarning(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  /** A file that `check --repair` found chunks of lost is extracted with zeros there, and named. */
  const warnBroken = (path: string, item: Item): void => {
    if (item.type === '-' && item.chunksHealthy !== undefined) warn(path, new Error(BROKEN_FILE));
  };

  /** The metadata to restore on an item. */
  const attrsOf = (item: Item): FileAttrs => {
    const m: FileAttrs = { mtimeNs: item.mtime, ...(item.atime !== undefined ? { atimeNs: item.atime } : {}) };
    if (item.type !== 'l') m.mode = item.mode & 0o7777;
    if (asRoot) {
      // As borg: names win over ids unless --numeric-ids, when the name exists here.
      m.uid = (!opts.numericIds && item.user !== undefined ? owners.uid(item.user) : undefined) ?? item.uid;
      m.gid = (!opts.numericIds && item.group !== undefined ? owners.gid(item.group) : undefined) ?? item.gid;
    }
    if (!opts.noxattrs && item.xattrs !== undefined) m.xattrs = item.xattrs;
    if (!opts.noacls && item.aclAccess !== undefined) m.aclAccess = item.aclAccess;
    if (!opts.noacls && item.aclDefault !== undefined) m.aclDefault = item.aclDefault;
    if (!opts.noflags && item.flags !== undefined) m.flags = item.flags;
    return m;
  };
  /** The metadata to restore on an item at `rel`. */
  const metadataOf = (rel: Buffer, item: Item): MetadataItem => ({ path: rel, ...attrsOf(item) });
  /** Reports the metadata steps that failed for the item at `path`. */
  const warnSteps = (path: string, warnings: readonly MetadataWarning[]): void => {
    // chown fails for anyone but root; borg stays quiet about that too.
    for (const w of warnings) if (!(w.op === 'chown' && !asRoot)) warn(path, new Error(`${w.op}: ${w.message}`));
  };

  const batcher = new RestoreBatcher(repo.storage, repo.key, index, root);
  /** Writes a regular file at `rel` with the contents of `file` and the metadata of `item`. */
  const writeFile = async (rel: Buffer, text: string, file: Item, item: Item): Promise<void> => {
    makeDirs();
    await batcher.add(
      rel,
      file.chunks ?? Buffer.alloc(0),
      file.chunkSizes ?? new Uint32Array(0),
      file.size,
      opts.sparse,
      attrsOf(item),
      (error, warnings) => {
        if (error !== undefined) warn(text, error);
        else {
          warnSteps(text, warnings);
          warnBroken(text, file);
        }
      },
      located.get(file),
    );
  };
  /**
   * Hard-linked files whose first path was not extracted: by that path (latin1), where a link to
   * it was written with its contents instead, for the next links to link to.
   */
  const standIns = new Map<string, Buffer>();
  /** Finds the file a link names when the walk did not extract it (made on first use). */
  let lookup: PathLookup | undefined;

  /**
   * Where the chunks of the regular files of the directories the walk has entered lie: looked
   * up in one chunk index call per directory (a call per file cost about as much as the rest of
   * a small file's work on the JS thread). A file's missing chunk is still its own warning.
   */
  const located = new WeakMap<Item, () => BlobPlace[]>();
  const locateFiles = (items: readonly Item[]): void => {
    if (opts.dryRun) return;
    // A malformed chunk list is left to the file's own lookup, which makes it that file's warning.
    const files = items.filter((it) => it.type === '-' && it.chunks !== undefined && it.chunks.length > 0 && it.chunks.length % 32 === 0);
    if (files.length < 2) return;
    const ids = Buffer.concat(files.map((it) => it.chunks as Buffer));
    let loc: Locations;
    try {
      loc = index.locate(ids);
    } catch {
      return;
    }
    let at = 0;
    for (const it of files) {
      const from = at;
      at += (it.chunks as Buffer).length / 32;
      const to = at;
      located.set(it, () => placesOf(loc, ids, from, to));
    }
  };

  /** Sets the metadata of `batch`; `path` is each item's archive path, for warnings. */
  const apply = async (batch: { item: MetadataItem; path: string | Buffer }[]): Promise<void> => {
    if (batch.length === 0) return;
    for (const w of await applyMetadata(root, batch.map((b) => b.item))) {
      const b = batch[w.index];
      if (b !== undefined) warnSteps(typeof b.path === 'string' ? b.path : decodeName(b.path), [w]);
    }
  };

  /**
   * Has the directories queued so far (and their parents) made beneath the root before the next
   * batch of files is written; the walk does not wait for them.
   */
  const makeDirs = (): void => {
    if (dirsToMake.length === 0) return;
    const batch = dirsToMake;
    const replace = Buffer.from(dirItems);
    dirsToMake = [];
    dirItems = [];
    batcher.beforeBatch(async () => {
      for (const e of await makeDirectories(root, batch, replace)) {
        const rel = batch[e.index];
        if (rel !== undefined && replace[e.index] === 1) unmade.add(rel);
        warn(rel === undefined ? '?' : decodeName(rel), new Error(e.message));
      }
    });
  };

  /** Has `make` run (see `replacing`) once the files queued before it are written; problems are warnings on `text`. */
  const later = (rel: Buffer, text: string, make: () => Promise<void>): Promise<void> =>
    batcher.afterQueued(rel, async () => {
      try {
        await make();
      } catch (e) {
        warn(text, e);
      }
    });

  /** Queues the parent of `rel` for making, unless it was made already. */
  const parentOf = (rel: Buffer): void => {
    const slash = rel.lastIndexOf(0x2f);
    if (slash <= 0) return;
    const parent = rel.subarray(0, slash);
    if (made.add(parent)) {
      dirsToMake.push(parent);
      dirItems.push(0);
    }
  };

  await walkTree(
    repo,
    index,
    meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'),
    async ({ path, item }) => {
      if (item.implied) return;
      const text = decodeName(path);
      if (!opts.included(text)) return;
      let rel: Buffer | undefined;
      try {
        rel = extractPath(path, opts.stripComponents);
      } catch (e) {
        warn(text, e);
        return;
      }
      if (rel === undefined) return;
      opts.onItem(text, item);
      if (rel === ROOT_SELF) {
        // The archive root's own item: as borg, its metadata goes on the target directory itself.
        if (!opts.dryRun && item.type === 'd') dirMeta.push({ item: metadataOf(ROOT_SELF, item), path: ROOT_SELF });
        return;
      }
      if (opts.dryRun) {
        warnBroken(text, item);
        return;
      }
      parentOf(rel);
      try {
        switch (item.type) {
          case 'd': {
            if (made.add(rel)) {
              dirsToMake.push(rel);
              dirItems.push(1);
            }
            // `rel` is the end of the archive path `path`.
            const copy = kept.copy(path);
            dirMeta.push({ item: metadataOf(copy.subarray(copy.length - rel.length), item), path: copy });
            break;
          }
          case '-': {
            extracted.add(path);
            // A link to this file came first and holds its contents (archives of builds up to
            // commit f5b1d43 could have a link before its file): this path is one more name for it.
            const standIn = standIns.size > 0 ? standIns.get(path.toString('latin1')) : undefined;
            if (standIn !== undefined) {
              makeDirs();
              await later(rel, text, () => replacing(rel, () => makeHardLink(root, standIn, rel)));
              break;
            }
            await writeFile(rel, text, item, item);
            break;
          }
          case 'h': {
            const link = item.link;
            if (link === undefined) throw new InvalidArgumentError('HOARD_NOT_FOUND', 'the hard link names no file');
            const source = extracted.has(link) ? extractPath(link, opts.stripComponents) : standIns.get(link.toString('latin1'));
            if (source === undefined) {
              // As borg: the file it links to was not extracted (not selected, or stripped
              // away), so this link gets the file's contents, and later links to it link here.
              lookup ??= new PathLookup(repo, index, meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'));
              const file = await lookup.find(link);
              if (file?.type !== '-') throw new InvalidArgumentError('HOARD_NOT_FOUND', 'the file it is a hard link to is not in the archive');
              standIns.set(link.toString('latin1'), Buffer.from(rel));
              await writeFile(rel, text, file, item);
              break;
            }
            makeDirs();
            // After the batches before it, so that its source is written.
            await later(rel, text, () => replacing(rel, () => makeHardLink(root, source, rel)));
            break;
          }
          case 'l': {
            makeDirs();
            const target = item.target ?? Buffer.alloc(0);
            const meta = metadataOf(rel, item);
            await later(rel, text, async () => {
              await replacing(rel, () => makeSymlink(root, rel, target));
              await apply([{ item: meta, path: text }]);
            });
            break;
          }
          default: {
            makeDirs();
            const kind = KINDS[item.type as keyof typeof KINDS];
            const meta = metadataOf(rel, item);
            const { mode, rdev } = item;
            await later(rel, text, async () => {
              await replacing(rel, () => makeSpecial(root, rel, kind, mode & 0o7777, rdev ?? 0));
              await apply([{ item: meta, path: text }]);
            });
          }
        }
      } catch (e) {
        warn(text, e);
      }
    },
    ({ path }) => opts.mayContain(decodeName(path)),
    locateFiles,
  );
  makeDirs();
  await batcher.drain();
  // Directories last, deepest first, so that writing their contents does not change their times;
  // never on what is in the place of a directory that could not be made.
  await apply(dirMeta.filter((d) => !(d.item.path instanceof Uint8Array && unmade.has(d.item.path))).reverse());

  /**
   * Runs `make`; if a file or link is in the way, unlinks it and tries once more (a directory in
   * the way stays, and the item is a warning). The parents were checked by `makeDirectories`,
   * which refuses symlinks.
   */
  async function replacing(rel: Buffer, make: () => Promise<void>): Promise<void> {
    try {
      await make();
    } catch (e) {
      if (!(e instanceof HoardError && e.code === 'HOARD_EXISTS')) throw e;
      await unlink(Buffer.concat([root, Buffer.from('/'), rel]));
      await make();
    }
  }
}
