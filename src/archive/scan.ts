import { lstatPath, scanDirectory as scanNative, scanEntries, type FsEntry, type ScanOptions } from '../native.js';

/** One directory entry with its metadata as the walk sees it (`errorCode` set when it could not be read). */
export type ScannedEntry = FsEntry;

/** Joins a directory path and an entry name, both raw bytes (one new buffer, called per entry). */
export function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  const slash = dir[dir.length - 1] === 0x2f ? 0 : 1;
  const out = Buffer.allocUnsafe(dir.length + slash + name.length);
  dir.copy(out, 0);
  if (slash === 1) out[dir.length] = 0x2f;
  name.copy(out, dir.length + slash);
  return out;
}

/** The metadata of one path (not following a final symlink); errors are reported in the entry. */
export async function statPath(p: Buffer, options: ScanOptions): Promise<ScannedEntry> {
  try {
    return await lstatPath(p, options);
  } catch (e) {
    const slash = p.lastIndexOf(0x2f);
    return {
      name: p.subarray(slash + 1),
      mode: 0,
      uid: 0,
      gid: 0,
      ino: 0n,
      dev: 0,
      nlink: 0,
      size: 0,
      rdev: 0,
      blocks: 0,
      mtimeNs: 0n,
      ctimeNs: 0n,
      errorCode: (e as { code?: string }).code ?? 'HOARD_IO',
      errorMessage: e instanceof Error ? e.message : String(e),
    };
  }
}

/** The entries of directory `dir`, sorted by name bytes, each with its metadata, in one native call. */
export async function scanDirectory(dir: Buffer, options: ScanOptions): Promise<ScannedEntry[]> {
  return scanEntries(await scanNative(dir, options));
}
