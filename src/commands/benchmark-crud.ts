import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdir, open, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';

import { Command, Option, UsageError } from 'clipanion';

import { run } from '../cli.js';
import type { HoardContext } from '../context.js';
import { HoardError, InvalidArgumentError } from '../errors.js';
import { osPath, resolvedPath } from '../fs-names.js';
import { parseTarget } from '../repository/location.js';
import { getPassphrase, passphraseFromEnv } from '../repository/passphrase.js';
import { Repository } from '../repository/repository.js';
import { makeDirs } from '../storage/make-dirs.js';
import { crudScale } from '../testonly.js';
import { formatSize } from '../units.js';
import { HoardCommand } from './base.js';

/** One set of test data: `count` files of `size` bytes, all zero or random. */
export interface CrudSet {
  /** The name in the printed lines (`Z-BIG`). */
  name: string;
  count: number;
  size: number;
  random: boolean;
}

/** borg 1.4's sets, in its order: 1 GB each. */
export const CRUD_SETS: readonly CrudSet[] = [
  { name: 'Z-BIG', count: 10, size: 100_000_000, random: false },
  { name: 'R-BIG', count: 10, size: 100_000_000, random: true },
  { name: 'Z-MEDIUM', count: 1000, size: 1_000_000, random: false },
  { name: 'R-MEDIUM', count: 1000, size: 1_000_000, random: true },
  { name: 'Z-SMALL', count: 10000, size: 10_000, random: false },
  { name: 'R-SMALL', count: 10000, size: 10_000, random: true },
];

/** The archives the benchmark makes (and deletes) in the repository. */
export const CRUD_ARCHIVE = 'hoard-benchmark-crud';

/** Seconds each measured step of one set took. */
export interface CrudTimes {
  create: number;
  extract: number;
  update: number;
  delete: number;
}

/** A set scaled by `factor`: counts and sizes multiplied, at least one file of one byte. */
export function scaledSet(set: CrudSet, factor: number): CrudSet {
  return { ...set, count: Math.max(1, Math.round(set.count * factor)), size: Math.max(1, Math.round(set.size * factor)) };
}

/**
 * The four lines borg prints for a set: `C-Z-BIG         116.06 MB/s (10 * 100.00 MB all-zero
 * files: 8.62s)`, then R (extract), U (unchanged re-create) and D (delete).
 */
export function crudLines(set: CrudSet, t: CrudTimes): string[] {
  const mb = (set.count * set.size) / 1e6;
  const content = set.random ? 'random' : 'all-zero';
  const line = (op: string, seconds: number): string =>
    `${op}-${set.name.padEnd(10)} ${(mb / seconds).toFixed(2).padStart(9)} MB/s (${set.count} * ${formatSize(set.size)} ${content} files: ${seconds.toFixed(2)}s)`;
  return [line('C', t.create), line('R', t.extract), line('U', t.update), line('D', t.delete)];
}

/** A stream that keeps the last bytes written to it (a failed step's message). */
class Tail extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text = (this.text + chunk.toString()).slice(-4000);
    done();
  }
}

/** Writes the set's files into `dir`: `file_0`, `file_1`, ... (zeros, or fresh random bytes each). */
async function writeFiles(dir: string, set: CrudSet): Promise<void> {
  const block = Buffer.alloc(Math.min(set.size, 16 << 20));
  for (let i = 0; i < set.count; i += 1) {
    const fh = await open(osPath(join(dir, `file_${i}`)), 'wx');
    try {
      for (let done = 0; done < set.size; ) {
        const n = Math.min(block.length, set.size - done);
        const part = block.subarray(0, n);
        if (set.random) randomFillSync(part);
        await fh.write(part, 0, n);
        done += n;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** `hoard benchmark crud REPO PATH`: times create, extract, re-create and delete, as borg does. */
export class BenchmarkCrudCommand extends HoardCommand {
  static override paths = [['benchmark', 'crud']];
  static override usage = Command.Usage({
    category: 'Benchmarks',
    description: 'benchmark repository CRUD operations (create, read, update, delete)',
    details: `
      Like \`borg benchmark crud\`: makes test data in a temporary folder under PATH and backs it
      up into REPOSITORY, which must exist (an empty or a used repository; it makes and deletes
      archives named hoard-benchmark-crud1 to 3). It runs hoard's own create, extract and delete
      in this process and prints four lines per data set:

      C- create (first backup, no compression, no files cache: reads, chunks, hashes, stores).

      R- extract --dry-run (reads and decrypts everything, writes nothing).

      U- create again of the unchanged files (the files cache skips them).

      D- delete of the archive (only the manifest changes: \`compact\` frees the space, and is
      not measured).

      The sets are borg's: 10 files of 100 MB, 1000 of 1 MB and 10000 of 10 kB, each all zeros
      (Z-) and random (R-), so you need about 1 GB free under PATH and up to 3 GB in the
      repository (run \`hoard compact\` afterwards to free it). The temporary data is removed
      after each set. The passphrase, if one is needed, is asked for once.
    `,
    examples: [['Benchmark a repository, with test data under /tmp', 'hoard benchmark crud /path/to/repo /tmp']],
  });

  repository = Option.String({ name: 'REPOSITORY' });
  dataPath = Option.String({ name: 'PATH' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.repository, this.context.env);
    if (target.archive !== undefined) throw new UsageError('benchmark crud takes a repository, not an archive');
    const factor = crudScale(this.context.env);
    const { config } = await Repository.readConfig(target.repo);
    const env: NodeJS.ProcessEnv = { ...this.context.env };
    if (config.keyStorage !== 'none' && passphraseFromEnv(env) === undefined) {
      // Asked once here; the runs below take it from their (in-memory) environment.
      const p = await getPassphrase(env, this.context, `repository ${target.repo.text}`);
      env.HOARD_PASSPHRASE = p.value.toString('utf8');
    }
    const repo = target.repo.text;
    // Escaped text throughout (a PATH may name bytes that are not UTF-8), its bytes for each call.
    const base = resolvedPath(this.dataPath);
    const existed = await stat(osPath(base)).then(
      (s) => {
        if (!s.isDirectory()) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `${this.dataPath} is not a folder`);
        return true;
      },
      () => false,
    );
    // The first folder made for PATH (borg makes PATH too); it and those under it go at the end.
    const made = existed ? undefined : await makeDirs(base, 0o777);
    try {
      for (const set of CRUD_SETS.map((s) => scaledSet(s, factor))) {
        // mkdtemp's way, by hand: Node 20's mkdtemp takes no bytes for its prefix.
        const dir = join(base, `hoard-test-data-${randomBytes(6).toString('hex')}`);
        await mkdir(osPath(dir), { mode: 0o700 });
        try {
          await writeFiles(dir, set);
          const times = await this.measure(repo, dir, env);
          for (const line of crudLines(set, times)) this.out(line);
        } finally {
          await rm(osPath(dir), { recursive: true, force: true });
        }
      }
    } finally {
      for (let dir = base; made !== undefined && dir.length >= made.length; dir = dirname(dir)) {
        if (!(await rmdir(osPath(dir)).then(() => true, () => false))) break;
      }
    }
    return 0;
  }

  /** Runs one step in this process; anything but success ends the benchmark with its message. */
  private async step(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
    const sink = new Tail();
    const context: Partial<HoardContext> = { stdin: this.context.stdin, stdout: sink, stderr: sink, env };
    const started = performance.now();
    const rc = await run(argv, context);
    const seconds = (performance.now() - started) / 1000;
    if (rc !== 0) {
      const last = (sink.text.trim().split('\n').pop() ?? '').replace(/^hoard: /, '');
      throw new HoardError('HOARD_BENCHMARK', `benchmark crud: hoard ${argv[0] ?? ''} ended with exit code ${rc}: ${last}`);
    }
    return seconds;
  }

  /** borg's sequence for one set: create, create + delete (files cache), re-create, extract, delete. */
  private async measure(repo: string, dir: string, env: NodeJS.ProcessEnv): Promise<CrudTimes> {
    const archive = (n: number): string => `${repo}::${CRUD_ARCHIVE}${n}`;
    const made = new Set<number>();
    const create = async (n: number, extra: string[]): Promise<number> => {
      const s = await this.step(['create', '--compression=none', ...extra, archive(n), dir], env);
      made.add(n);
      return s;
    };
    const remove = async (n: number): Promise<number> => {
      const s = await this.step(['delete', archive(n)], env);
      made.delete(n);
      return s;
    };
    try {
      const created = await create(1, ['--files-cache=disabled']);
      await create(2, []);
      await remove(2);
      const updated = await create(3, []);
      await remove(3);
      const extracted = await this.step(['extract', '--dry-run', archive(1)], env);
      const deleted = await remove(1);
      return { create: created, extract: extracted, update: updated, delete: deleted };
    } finally {
      // A step that failed leaves its archives: they go, quietly, as far as they can.
      for (const n of made) await run(['delete', archive(n)], { stdout: new Tail(), stderr: new Tail(), env }).catch(() => 0);
    }
  }
}
