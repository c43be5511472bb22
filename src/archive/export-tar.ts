/**
 * `export-tar`: an archive (or part of it) as a tar stream. Headers are built in TypeScript
 * (src/archive/tar-header.ts); file contents are fetched in batches and opened natively, and
 * their plaintext buffers are handed to the output as they are, the next batch fetched while
 * one is written.
 */
import { CorruptDataError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import { ContentStream } from './chunk-contents.js';
import type { Item } from './item.js';
import { TAR_END, TarType, tarHeader, tarPadding, type TarEntry, type TarFormat, type TarTypeFlag } from './tar-header.js';
import { PathLookup, walkTree } from './tree-reader.js';
import { decodeName } from '../fs-names.js';

/** What `export-tar` is asked for. */
export interface ExportTarOptions {
  format: TarFormat;
  /** Whether an archive path (text form) is exported. */
  included: (path: string) => boolean;
  stripComponents: number;
  /** Called with each exported item's archive path (for `--list`). */
  onItem: (path: string) => void;
  onWarning: (message: string) => void;
}

/** Archive path minus `strip` leading components, or undefined if nothing is left. */
function stripPath(path: Buffer, strip: number): Buffer | undefined {
  let from = 0;
  for (let k = 0; k < strip; k += 1) {
    const slash = path.indexOf(0x2f, from);
    if (slash < 0) return undefined;
    from = slash + 1;
  }
  return from >= path.length ? undefined : path.subarray(from);
}

const TYPE_OF: Partial<Record<Item['type'], TarTypeFlag>> = {
  '-': TarType.file,
  d: TarType.directory,
  l: TarType.symlink,
  p: TarType.fifo,
  c: TarType.charDevice,
  b: TarType.blockDevice,
};

/** Linux's `major()` and `minor()` of a device number. */
function devParts(rdev: number): { devmajor: number; devminor: number } {
  const d = BigInt(rdev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { devmajor: major, devminor: minor };
}

/** Writes archive `meta` (the items `opts.included` takes) as a tar stream through `write`. */
export async function exportTar(repo: Repository, index: ChunkIndex, meta: ArchiveMeta, opts: ExportTarOptions, write: (buffers: Buffer[]) => Promise<void>): Promise<void> {
  const root = meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex');
  const stream = new ContentStream(repo, index, write);
  const lookup = new PathLookup(repo, index, root);
  /** Exported files by archive path: the name a later hard link to them points at. */
  const exported = new Map<string, Buffer>();
  const pax = opts.format !== 'GNU';
  await walkTree(repo, index, root, async ({ path, item }) => {
    if (item.implied) return;
    const text = decodeName(path);
    if (!opts.included(text)) return;
    const name = stripPath(path, opts.stripComponents);
    if (name === undefined) return;
    let source = item;
    let type = TYPE_OF[item.type];
    let link: Buffer | undefined;
    if (item.type === 'h' && item.link !== undefined) {
      const earlier = exported.get(item.link.toString('latin1'));
      if (earlier !== undefined) {
        type = TarType.hardLink;
        link = earlier;
      } else {
        // The file it links to is not in the tar (left out by patterns or stripping): this
        // link carries the contents instead, and later links point to it.
        const target = await lookup.find(item.link);
        if (target?.type !== '-') {
          opts.onWarning(`${text}: cannot find hardlink source ${decodeName(item.link)}`);
          return;
        }
        source = { ...target, name: item.name, mode: item.mode, uid: item.uid, gid: item.gid, mtime: item.mtime };
        type = TarType.file;
        exported.set(item.link.toString('latin1'), name);
      }
    } else if (item.type === 'l') link = item.target ?? Buffer.alloc(0);
    if (type === undefined) {
      opts.onWarning(`${text}: unsupported file type ${item.type} for tar export`);
      return;
    }
    const isFile = type === TarType.file;
    if (isFile && item.type === '-') exported.set(path.toString('latin1'), name);
    const entry: TarEntry = {
      path: name,
      type,
      mode: item.mode & 0o7777,
      uid: item.uid,
      gid: item.gid,
      uname: item.user ?? '',
      gname: item.group ?? '',
      size: isFile ? source.size : 0,
      mtime: item.mtime,
      ...(link !== undefined ? { link } : {}),
      ...(item.rdev !== undefined && (type === TarType.charDevice || type === TarType.blockDevice) ? devParts(item.rdev) : {}),
      ...(pax && item.atime !== undefined ? { atime: item.atime } : {}),
      ...(pax && item.ctime !== undefined ? { ctime: item.ctime } : {}),
      ...(pax && item.xattrs !== undefined ? { xattrs: item.xattrs } : {}),
    };
    opts.onItem(text);
    stream.bytes(tarHeader(entry, opts.format));
    if (isFile && source.size > 0) {
      const sizes = source.chunkSizes ?? new Uint32Array(0);
      let total = 0;
      for (const s of sizes) total += s;
      if (total !== source.size) throw new CorruptDataError('HOARD_CORRUPT', `${text}: its chunks hold ${total} bytes, not ${source.size}`);
      await stream.add(source.chunks ?? Buffer.alloc(0), sizes);
      stream.bytes(tarPadding(source.size));
    }
  });
  stream.bytes(TAR_END);
  await stream.end();
}
