import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** One directory entry with its lstat, as the walk sees it. */
export interface ScannedEntry {
  name: Buffer;
  /** `lstat` with nanosecond times; undefined when the entry vanished or could not be read. */
  stat?: fsBigStats;
  /** A symlink's target. */
  target?: Buffer;
  /** Why `stat` is missing. */
  error?: Error;
}

/** Node's bigint stat shape. */
export type fsBigStats = import('node:fs').BigIntStats;

/** Joins a directory path and an entry name, both raw bytes. */
export function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  return dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}

/** lstat of one path with nanosecond times, and the target if it is a symlink. */
export async function statPath(p: Buffer): Promise<ScannedEntry> {
  const name = Buffer.from(path.basename(p.toString('latin1')), 'latin1');
  try {
    const stat = await fs.lstat(p, { bigint: true });
    const target = stat.isSymbolicLink() ? await fs.readlink(p, { encoding: 'buffer' }) : undefined;
    return { name, stat, target };
  } catch (e) {
    return { name, error: e as Error };
  }
}

/** The entries of directory `dir`, sorted by name bytes, each with its lstat. */
export async function scanDirectory(dir: Buffer): Promise<ScannedEntry[]> {
  const names = (await fs.readdir(dir, { encoding: 'buffer' })).sort(Buffer.compare);
  const out: ScannedEntry[] = new Array(names.length);
  const step = 64;
  for (let i = 0; i < names.length; i += step) {
    const part = names.slice(i, i + step);
    const stats = await Promise.all(part.map((n) => statPath(joinPath(dir, n))));
    stats.forEach((s, j) => {
      out[i + j] = { ...s, name: part[j] ?? s.name };
    });
  }
  return out;
}
