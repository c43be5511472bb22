/** Helpers for the archive suites: a clean environment, a repository and a tree to back up. */
import {
  closeSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { execFileSync, spawn } from 'node:child_process';

import { HOARD_BIN, pseudoRandom, runInProcess, textLike, type CliResult } from './helpers.js';

/** A fresh temp folder. */
export function tempDir(tag: string): string {
  return mkdtempSync(path.join(tmpdir(), `hoard-${tag}-`));
}

/** An environment with its own config and cache dirs, a passphrase and the weak test KDF. */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(out)) if (/^(HOARD|BORG)_/.test(k)) delete out[k];
  const home = tempDir('home');
  return {
    ...out,
    HOARD_TESTONLY_WEAKEN_KDF: '1',
    HOARD_PASSPHRASE: 'test passphrase',
    HOARD_CONFIG_DIR: path.join(home, 'config'),
    HOARD_CACHE_DIR: path.join(home, 'cache'),
    ...extra,
  };
}

/**
 * Runs hoard with `env`: in-process, or as a child in `cwd` when one is given (create and extract
 * work relative to the current directory, and tests of one file run concurrently).
 */
export async function hoardIn(env: NodeJS.ProcessEnv, argv: string[], cwd?: string): Promise<CliResult> {
  if (cwd === undefined) return runInProcess(argv, env);
  const child = spawn(process.execPath, [HOARD_BIN, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Makes a repository (repokey unless `mode` says otherwise) and returns its path. */
export async function makeRepo(env: NodeJS.ProcessEnv, mode = 'repokey'): Promise<string> {
  const repo = path.join(tempDir('repo'), 'repo');
  const r = await runInProcess(['init', '-e', mode, repo], env);
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  return repo;
}

/**
 * A tree with every kind of item the round trip must keep: nested folders, an empty file and an
 * empty folder, a file of several chunks, compressible text, a symlink, a hard link, a name with
 * a newline and one that is not UTF-8, and a sparse file.
 */
export function makeTree(root: string): void {
  mkdirSync(path.join(root, 'docs', 'deep', 'er'), { recursive: true });
  mkdirSync(path.join(root, 'empty-dir'));
  writeFileSync(path.join(root, 'empty'), '');
  writeFileSync(path.join(root, 'big.bin'), pseudoRandom(5_000_000, 'big'));
  writeFileSync(path.join(root, 'docs', 'text.txt'), textLike(300_000));
  writeFileSync(path.join(root, 'docs', 'deep', 'er', 'leaf'), 'leaf\n');
  symlinkSync('docs/text.txt', path.join(root, 'link'));
  symlinkSync('/nonexistent/target', path.join(root, 'dangling'));
  linkSync(path.join(root, 'docs', 'text.txt'), path.join(root, 'hard'));
  writeFileSync(path.join(root, 'new\nline'), 'newline in the name');
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62])]), 'not utf-8');
  // A fifo and extended attributes, made with Python (Node has no call for either).
  execFileSync('python3', [
    '-c',
    [
      'import os, sys',
      'r = sys.argv[1]',
      "os.mkfifo(os.path.join(r, 'fifo'), 0o640)",
      'try:',
      "    os.setxattr(os.path.join(r, 'docs', 'text.txt'), 'user.hoard', b'value\\x00\\xff')",
      "    os.setxattr(os.path.join(r, 'docs'), 'user.dir', b'on a dir')",
      'except OSError:',
      '    pass',
    ].join('\n'),
    root,
  ]);
  // Sparse: a 4 MiB hole, a few bytes, another 4 MiB hole.
  const fd = openSync(path.join(root, 'sparse'), 'w');
  writeSync(fd, Buffer.from('data in the middle'), 0, 18, 4 << 20);
  ftruncateSync(fd, 8 << 20);
  closeSync(fd);
}

/** One entry of a tree as the round trip compares it. */
export interface Walked {
  type: string;
  mode: number;
  size: number;
  /** mtime in ns, as text. */
  mtime: string;
  /** Extended attributes, `name=hex value`. */
  xattrs: string[];
  content?: string;
  target?: string;
  inodeGroup?: number;
}

/** Walks `root` (names as raw bytes) into a map from relative path (hex-safe) to what must survive. */
export function walk(root: string): Map<string, Walked> {
  const out = new Map<string, Walked>();
  const inodes = new Map<number, number>();
  const visit = (dir: Buffer, rel: string): void => {
    for (const name of readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare)) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const key = rel === '' ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
      const st = lstatSync(full, { bigint: true });
      const w: Walked = {
        type: st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : st.isFIFO() ? 'p' : 'o',
        mode: Number(st.mode),
        size: st.isDirectory() ? 0 : Number(st.size),
        mtime: String(st.mtimeNs),
        xattrs: xattrs.get(full.toString('latin1')) ?? [],
      };
      if (st.isFile()) {
        w.content = readFileSync(full).toString('base64');
        if (st.nlink > 1n) {
          const ino = Number(st.ino);
          if (!inodes.has(ino)) inodes.set(ino, inodes.size + 1);
          w.inodeGroup = inodes.get(ino);
        }
      }
      if (st.isSymbolicLink()) w.target = readlinkSync(full, { encoding: 'buffer' }).toString('latin1');
      out.set(key, w);
      if (st.isDirectory()) visit(full, key);
    }
  };
  // Node cannot read xattrs: Python lists them, one line per path (latin-1 path, tab, name=hex).
  const xattrs = new Map<string, string[]>();
  const listing = execFileSync('python3', [
    '-c',
    [
      'import os, sys',
      'for d, ds, fs in os.walk(sys.argv[1].encode()):',
      '    for n in ds + fs:',
      '        p = os.path.join(d, n)',
      '        try:',
      '            names = sorted(os.listxattr(p, follow_symlinks=False))',
      '        except OSError:',
      '            continue',
      '        for a in names:',
      "            v = os.getxattr(p, a, follow_symlinks=False)",
      "            sys.stdout.write(p.decode('latin-1') + '\\t' + a + '=' + v.hex() + '\\n')",
    ].join('\n'),
    root,
  ]).toString('latin1');
  for (const line of listing.split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab < 0) continue;
    const p = line.slice(0, tab);
    xattrs.set(p, [...(xattrs.get(p) ?? []), line.slice(tab + 1)]);
  }
  visit(Buffer.from(root), '');
  return out;
}
