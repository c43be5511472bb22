import * as fs from 'node:fs/promises';

import { InvalidArgumentError } from '../errors.js';
import type { ChunkIndex } from '../native.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import type { Item } from './item.js';
import { RestoreBatcher } from './restore-batcher.js';
import { applyMetadata, makeSpecial } from './restore-metadata.js';
import { walkTree } from './tree-reader.js';

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
  /** Called for each item extracted (for `--list`), with its archive path. */
  onItem: (path: string) => void;
  /** A problem with one item: a warning (exit code 1); extraction goes on. */
  onWarning: (message: string) => void;
}

/**
 * The relative path an archive path is extracted to, or undefined if it is to be skipped.
 * Absolute paths, `..`, `.` and empty parts are refused: nothing is written outside the target.
 */
export function extractPath(archivePath: Buffer, strip: number): Buffer | undefined {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= archivePath.length; i += 1) {
    if (i === archivePath.length || archivePath[i] === 0x2f) {
      parts.push(archivePath.subarray(start, i));
      start = i + 1;
    }
  }
  for (const p of parts) {
    if (p.length === 0 || p.equals(Buffer.from('.')) || p.equals(Buffer.from('..')) || p.includes(0)) {
      throw new InvalidArgumentError('HOARD_UNSAFE_PATH', `refusing to extract ${JSON.stringify(archivePath.toString('utf8'))}: not a plain relative path`);
    }
  }
  const kept = parts.slice(strip);
  if (kept.length === 0) return undefined;
  return Buffer.from(kept.map((p) => p.toString('latin1')).join('/'), 'latin1');
}

/** Whether every parent of `rel` (below the current directory) is a real directory, not a symlink. */
async function parentsAreDirectories(rel: Buffer): Promise<boolean> {
  let at = rel.indexOf(0x2f);
  while (at >= 0) {
    const st = await fs.lstat(rel.subarray(0, at)).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) return false;
    at = rel.indexOf(0x2f, at + 1);
  }
  return true;
}

/** Extracts (part of) an archive into the current directory; problems with single items are warnings. */
export async function extractArchive(repo: Repository, index: ChunkIndex, meta: ArchiveMeta, opts: ExtractOptions): Promise<void> {
  const batcher = new RestoreBatcher(repo.storage, repo.key, index);
  const dirs: { rel: Buffer; item: Item }[] = [];
  const linked = new Map<string, Buffer>();
  const pending: Promise<void>[] = [];
  const warn = (path: string, e: unknown): void => opts.onWarning(`${path}: ${e instanceof Error ? e.message : String(e)}`);

  const ensureParents = async (rel: Buffer): Promise<void> => {
    const slash = rel.lastIndexOf(0x2f);
    if (slash > 0) await fs.mkdir(rel.subarray(0, slash), { recursive: true });
    if (!(await parentsAreDirectories(rel))) {
      throw new InvalidArgumentError('HOARD_UNSAFE_PATH', 'a parent is not a directory (a symlink?); refusing to write through it');
    }
  };

  await walkTree(
    repo,
    index,
    meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'),
    async ({ path, item }) => {
      if (item.implied) return;
      const text = path.toString('utf8');
      if (!opts.included(text)) return;
      let rel: Buffer | undefined;
      try {
        rel = extractPath(path, opts.stripComponents);
      } catch (e) {
        warn(text, e);
        return;
      }
      if (rel === undefined) return;
      opts.onItem(text);
      if (opts.dryRun) return;
      try {
        await ensureParents(rel);
        switch (item.type) {
          case 'd':
            await fs.mkdir(rel).catch((e: NodeJS.ErrnoException) => {
              if (e.code !== 'EEXIST') throw e;
            });
            if (!(await fs.lstat(rel)).isDirectory()) throw new InvalidArgumentError('HOARD_UNSAFE_PATH', 'exists and is not a directory');
            dirs.push({ rel, item });
            break;
          case '-': {
            await fs.rm(rel, { force: true });
            const fileRel = rel;
            linked.set(path.toString('latin1'), rel);
            await batcher.add(rel, item.chunks ?? Buffer.alloc(0), item.chunkSizes ?? new Uint32Array(0), item.size, opts.sparse, (error) => {
              if (error !== undefined) warn(text, error);
              else pending.push(applyMetadata(fileRel, item, opts).catch((e: unknown) => warn(text, e)));
            });
            break;
          }
          case 'h': {
            const source = item.link === undefined ? undefined : linked.get(item.link.toString('latin1'));
            if (source === undefined) throw new InvalidArgumentError('HOARD_NOT_FOUND', 'hard link target was not extracted');
            await batcher.flush();
            await fs.rm(rel, { force: true });
            await fs.link(source, rel);
            break;
          }
          case 'l':
            await fs.rm(rel, { force: true });
            await fs.symlink(item.target ?? Buffer.alloc(0), rel);
            await applyMetadata(rel, item, opts);
            break;
          default:
            await fs.rm(rel, { force: true });
            await makeSpecial(rel, item);
            await applyMetadata(rel, item, opts);
        }
      } catch (e) {
        warn(text, e);
      }
    },
    ({ path }) => opts.mayContain(path.toString('utf8')),
  );
  await batcher.flush();
  await Promise.all(pending);
  // Directories last, deepest first, so that writing their contents does not change their times.
  for (const d of dirs.reverse()) {
    await applyMetadata(d.rel, d.item, opts).catch((e: unknown) => warn(d.rel.toString('utf8'), e));
  }
}
