import { Command, Option, UsageError } from 'clipanion';

import { benchmarkCpu, workerThreads } from '../native.js';
import { formatGB, parseSize } from '../units.js';
import { HoardCommand } from './base.js';

/** One row: the name printed, the native item measured, and the share of `--size` it runs over. */
interface Row {
  name: string;
  item: string;
}

/** A group of rows under one heading, all over one kind of data. */
interface Group {
  key: string;
  title: string;
  content: 'random' | 'text';
  /** Share of `--size` each row processes; `runs` rows count derivations instead. */
  scale: number;
  runs?: number;
  rows: Row[];
}

const CODECS = ['lz4', 'zstd,1', 'zstd,3', 'zstd,5', 'zstd,10', 'zstd,16', 'zstd,22', 'zlib,0', 'zlib,6', 'zlib,9', 'lzma,0', 'lzma,6', 'lzma,9'];

const rows = (kind: string, names: string[]): Row[] => names.map((name) => ({ name, item: `${kind}:${name}` }));

/** What `benchmark cpu` measures, in the order it prints. */
export const GROUPS: Group[] = [
  {
    key: 'chunkers',
    title: 'Chunkers',
    content: 'random',
    scale: 1,
    rows: rows('chunker', ['buzhash,19,23,21,4095', 'fastcdc,19,23,21,2', 'fixed,1048576']),
  },
  {
    key: 'ids',
    title: 'Chunk ids (cryptographic hashes / MACs)',
    content: 'random',
    scale: 1,
    rows: rows('id', ['keyed-blake3', 'hmac-sha256', 'blake3', 'sha256']),
  },
  {
    key: 'encryption',
    title: 'Encryption (sealing one blob: AEAD or MAC, with its envelope)',
    content: 'random',
    scale: 1,
    rows: rows('seal', ['aes-256-gcm', 'chacha20-poly1305', 'blake3-mac', 'plaintext-blake3']),
  },
  {
    key: 'kdfs',
    title: 'KDFs (slow is GOOD, use argon2!)',
    content: 'random',
    scale: 0,
    runs: 5,
    rows: rows('kdf', ['argon2id']),
  },
  {
    key: 'compression',
    title: 'Compression (random data, as borg measures it)',
    content: 'random',
    scale: 0.1,
    rows: rows('compress', CODECS),
  },
  {
    key: 'compressionText',
    title: 'Compression (text-like data)',
    content: 'text',
    scale: 0.01,
    rows: rows('compress', CODECS),
  },
  {
    key: 'decompressionText',
    title: 'Decompression (text-like data)',
    content: 'text',
    scale: 0.1,
    rows: rows('decompress', ['lz4', 'zstd,3', 'zlib,6', 'lzma,6']),
  },
];

/** One result as `--json` prints it. */
export interface BenchmarkResult {
  name: string;
  /** Bytes processed, or derivations for KDF rows. */
  amount: number;
  unit: 'bytes' | 'runs';
  seconds: number;
  /** Bytes per second (derivations per second for KDF rows). */
  rate: number;
}

function heading(title: string): string {
  return `${title} `.padEnd(63, '=');
}

/** `hoard benchmark cpu`: measures every chunker, id hash, cipher suite, KDF and codec. */
export class BenchmarkCpuCommand extends HoardCommand {
  static override paths = [['benchmark', 'cpu']];
  static override usage = Command.Usage({
    category: 'Benchmarks',
    description: 'benchmark CPU-bound operations',
    details: `
      Measures each chunker, chunk id hash, cipher suite, the passphrase KDF and every compression
      level on this machine, one thread at a time (the KDF's 4 lanes on the worker threads, as in
      borg), and prints a table like \`borg benchmark cpu\`: name, amount of data, seconds, and the
      rate.

      As in borg, the data is a 10 MB buffer of random bytes processed repeatedly (1GB for the
      chunker, hash and encryption rows, 0.1GB for compression). Because random data does not
      compress, hoard adds compression rows over text-like data, and decompression rows.

      \`--size\` scales every row (the default, 1GB, matches borg); \`--json\` prints the results as
      one JSON object instead.
    `,
    examples: [
      ['Measure this machine', 'hoard benchmark cpu'],
      ['A quick run over a tenth of the data, as JSON', 'hoard benchmark cpu --size 100MB --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'print the results as JSON' });
  size = Option.String('--size', '1GB', {
    description: 'bytes for the 1GB rows (default 1GB; others scale with it)',
  });

  override async execute(): Promise<number> {
    const total = parseSize(this.size);
    if (total === undefined || total < 1000) {
      throw new UsageError(`--size: expected a size of at least 1kB, such as 1GB or 100MB, got "${this.size}"`);
    }
    const results: Record<string, BenchmarkResult[]> = {};
    for (const group of GROUPS) {
      if (!this.json) this.out(heading(group.title));
      const list: BenchmarkResult[] = (results[group.key] = []);
      for (const row of group.rows) {
        const amount = group.runs ?? Math.max(1000, Math.round(total * group.scale));
        const m = await benchmarkCpu(row.item, group.content, amount);
        const unit = group.runs === undefined ? 'bytes' : 'runs';
        const result: BenchmarkResult = { name: row.name, amount: m.amount, unit, seconds: m.seconds, rate: m.amount / m.seconds };
        list.push(result);
        if (!this.json) this.out(this.line(result, group.runs === undefined));
      }
    }
    if (this.json) {
      this.out(JSON.stringify({ threads: workerThreads(), results }, null, 2));
    }
    return 0;
  }

  private line(r: BenchmarkResult, bytes: boolean): string {
    const amount = bytes ? formatGB(r.amount) : String(r.amount);
    const rate = bytes ? `${(r.rate / 1e6).toFixed(1)} MB/s` : `${r.rate.toFixed(2)} /s`;
    return `${r.name.padEnd(24)} ${amount.padEnd(10)} ${r.seconds.toFixed(3)}s ${rate.padStart(14)}`;
  }
}
