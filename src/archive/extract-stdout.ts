/**
 * `extract --stdout`: the contents of the selected regular files, concatenated in archive order,
 * written to an output stream (standard output) and nothing to disk. Chunks are fetched in
 * batches and opened natively; JavaScript only hands the plaintext buffers on.
 */
import type { Writable } from 'node:stream';

import { checkOutput, outputFailed, watchPipes } from '../broken-pipe.js';
import type { ChunkIndex } from '../native.js';
import type { Repository } from '../repository/repository.js';
import type { ArchiveMeta } from './archive-object.js';
import { ContentStream } from './chunk-contents.js';
import type { Item } from './item.js';
import { PathLookup, walkTree } from './tree-reader.js';
import { decodeName } from '../fs-names.js';

/** What `extract --stdout` is asked for. */
export interface StdoutExtractOptions {
  /** Whether an archive path (text form) is selected. */
  included: (path: string) => boolean;
  /** Whether a directory may hold selected items (else its subtree is skipped). */
  mayContain: (path: string) => boolean;
  stripComponents: number;
  /** Called for each selected item (for `--list` and `--progress`), with its archive path. */
  onItem: (path: string, item: Item) => void;
  /** A problem with one item: a warning (exit code 1); the others are still written. */
  onWarning: (message: string) => void;
}

/** Whether `path` keeps at least one component after `strip` leading ones are removed. */
function survivesStrip(path: Buffer, strip: number): boolean {
  let parts = 1;
  for (const b of path) if (b === 0x2f) parts += 1;
  return parts > strip;
}

/**
 * Writes the contents of the regular files of archive `meta` that `opts` selects through
 * `write`, in archive order. A hard link whose file was written already adds nothing (as
 * borg); one whose file was not selected carries that file's contents.
 */
export async function extractToStdout(repo: Repository, index: ChunkIndex, meta: ArchiveMeta, opts: StdoutExtractOptions, write: (buffers: Buffer[]) => Promise<void>): Promise<void> {
  const root = meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex');
  const stream = new ContentStream(repo, index, write);
  const lookup = new PathLookup(repo, index, root);
  /** Archive paths (latin1 keys) of files whose contents were written. */
  const written = new Set<string>();
  await walkTree(
    repo,
    index,
    root,
    async ({ path, item }) => {
      if (item.implied) return;
      const text = decodeName(path);
      if (!opts.included(text) || !survivesStrip(path, opts.stripComponents)) return;
      opts.onItem(text, item);
      let source: Item | undefined;
      if (item.type === '-') {
        source = item;
        written.add(path.toString('latin1'));
      } else if (item.type === 'h' && item.link !== undefined) {
        const key = item.link.toString('latin1');
        if (written.has(key)) return;
        source = await lookup.find(item.link);
        if (source?.type !== '-') {
          opts.onWarning(`${text}: cannot find hardlink source ${decodeName(item.link)}`);
          return;
        }
        written.add(key);
      }
      if (source === undefined || source.size === 0) return;
      const sizes = source.chunkSizes ?? new Uint32Array(0);
      let total = 0;
      for (const s of sizes) total += s;
      if (total !== source.size) {
        opts.onWarning(`${text}: Size inconsistency detected: size ${source.size}, chunks size ${total}`);
        return;
      }
      await stream.add(source.chunks ?? Buffer.alloc(0), sizes);
    },
    ({ path }) => opts.mayContain(decodeName(path)),
  );
  await stream.end();
}

/**
 * Writes buffers to `out` (standard output) with back-pressure. A reader that went away (EPIPE,
 * e.g. `| head -c 10`) turns into OutputClosedError, other write errors into IoError (`checkOutput`).
 */
export class OutputSink {
  constructor(private readonly out: Writable) {
    // Kept for the life of the process: an EPIPE may also come after the last write.
    watchPipes(out);
  }

  private check(): void {
    checkOutput(this.out);
  }

  /** Writes `buffers` in order; resolves once the output took them (or would buffer no more). */
  async write(buffers: Buffer[]): Promise<void> {
    for (const b of buffers) {
      this.check();
      if (!this.out.write(b)) await this.settled();
    }
    this.check();
  }

  /** Waits until everything written was handed to the system (or the output failed). */
  async flush(): Promise<void> {
    if (this.out.writableNeedDrain) await this.settled();
    // Writes completed asynchronously report their errors a tick later.
    await new Promise((resolve) => setImmediate(resolve));
    this.check();
  }

  private async settled(): Promise<void> {
    if (outputFailed(this.out)) return;
    const out = this.out;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
      out.on('error', done);
    });
  }
}
