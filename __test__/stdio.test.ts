/**
 * borg's standard-input/output options through the CLI: `extract --stdout`,
 * `create --content-from-command`, `--paths-from-stdin`, `--paths-from-command` and
 * `--paths-delimiter`.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { parseDelimiter } from '../dist/archive/command-input.js';
import { HOARD_BIN, pseudoRandom, sameBytes } from './helpers.js';
import { makeRepo, tempDir, testEnv } from './archive-helpers.js';

/** A run of the built CLI as a child, with binary output. */
interface Raw {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function hoard(env: NodeJS.ProcessEnv, argv: string[], cwd: string, input?: Buffer): Raw {
  const r = spawnSync(process.execPath, [HOARD_BIN, ...argv], { cwd, env, input: input ?? Buffer.alloc(0), maxBuffer: 1 << 30, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The archive's items as `list --json-lines` gives them. */
function items(env: NodeJS.ProcessEnv, archive: string, cwd: string): { path: string; type: string; mode: string; user: string; group: string; size: number }[] {
  const r = hoard(env, ['list', '--json-lines', archive], cwd);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { path: string; type: string; mode: string; user: string; group: string; size: number });
}

/** The archive names in a repository. */
function archives(env: NodeJS.ProcessEnv, repo: string, cwd: string): string[] {
  const r = hoard(env, ['list', '--short', repo], cwd);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.toString('utf8').split('\n').filter((l) => l !== '');
}

/** A Python one-liner printing `n` seeded random bytes (several chunks' worth for large `n`). */
const PY_BLOB = 'import random,sys; sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(int(sys.argv[2])))';

function pythonBlob(seed: number, n: number): Buffer {
  return spawnSync('python3', ['-c', PY_BLOB, String(seed), String(n)], { maxBuffer: 1 << 30 }).stdout;
}

/** A backed-up tree: three files, one in a subfolder, and a hard link to the first. */
async function backedUp(): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string; files: Record<string, Buffer> }> {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio');
  const files: Record<string, Buffer> = {
    'src/a.bin': pseudoRandom(5_000_000, 'stdio-a'),
    'src/b.txt': Buffer.from('second file\n'.repeat(5000)),
    'src/sub/c.txt': Buffer.from('third\n'),
  };
  mkdirSync(path.join(base, 'src', 'sub'), { recursive: true });
  for (const [p, b] of Object.entries(files)) writeFileSync(path.join(base, p), b);
  linkSync(path.join(base, 'src/a.bin'), path.join(base, 'src/z-hard'));
  const c = hoard(env, ['create', `${repo}::a`, 'src'], base);
  if (c.code !== 0) throw new Error(c.stderr);
  return { env, repo, base, files };
}

test('extract --stdout writes one file, and several concatenated in archive order, nothing to disk', async (t) => {
  const { env, repo, base, files } = await backedUp();
  const out = tempDir('stdio-out');
  const one = hoard(env, ['extract', '--stdout', `${repo}::a`, 'src/a.bin'], out);
  t.is(one.code, 0, one.stderr);
  t.is(one.stderr, '');
  t.is(sha256(one.stdout), sha256(files['src/a.bin'] as Buffer));

  // The whole folder: a.bin, b.txt, sub/c.txt; the hard link to a.bin adds nothing (a.bin came first).
  const all = hoard(env, ['extract', '--stdout', `${repo}::a`, 'src'], out);
  t.is(all.code, 0, all.stderr);
  const expected = Buffer.concat([files['src/a.bin'] as Buffer, files['src/b.txt'] as Buffer, files['src/sub/c.txt'] as Buffer]);
  t.is(sha256(all.stdout), sha256(expected));
  sameBytes(t, all.stdout, expected);

  // A hard link whose file is not selected carries that file's contents.
  const link = hoard(env, ['extract', '--stdout', `${repo}::a`, 'src/z-hard', 'src/sub'], out);
  t.is(link.code, 0, link.stderr);
  t.is(sha256(link.stdout), sha256(Buffer.concat([files['src/sub/c.txt'] as Buffer, files['src/a.bin'] as Buffer])));

  // --list names the items on stderr, the contents stay alone on stdout.
  const listed = hoard(env, ['extract', '--stdout', '--list', `${repo}::a`, 'src/b.txt'], out);
  t.is(listed.code, 0, listed.stderr);
  t.is(listed.stderr, 'src/b.txt\n');
  t.true(listed.stdout.equals(files['src/b.txt'] as Buffer));

  t.deepEqual(readdirSync(out), []);
  t.true(existsSync(path.join(base, 'src/a.bin')));
});

test('extract --stdout | head -c 10 ends quietly when the reader closes the pipe', async (t) => {
  const { env, repo, files } = await backedUp();
  const out = tempDir('stdio-head');
  const script = `set -o pipefail; "$0" "$1" extract --stdout "$2::a" src 2>"$3" | head -c 10 >"$4"; echo "\${PIPESTATUS[0]}"`;
  const r = spawnSync('bash', ['-c', script, process.execPath, HOARD_BIN, repo, path.join(out, 'err'), path.join(out, 'head')], { cwd: out, env, timeout: 60_000 });
  t.is(r.status, 0, r.stderr.toString());
  t.is(r.stdout.toString().trim(), '0', 'hoard exits 0');
  t.is(readFileSync(path.join(out, 'err'), 'utf8'), '', 'nothing on stderr');
  t.true(readFileSync(path.join(out, 'head')).equals((files['src/a.bin'] as Buffer).subarray(0, 10)));
});

test('list | head -1 and create --list with its log cut short end quietly: exit 0, no lock left, the archive committed', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-pipe');
  // Far more lines than a pipe holds, so that hoard writes on after the reader is gone.
  mkdirSync(path.join(base, 'src'));
  for (let i = 0; i < 3000; i++) writeFileSync(path.join(base, 'src', `file-${i}`), `${i}\n`);
  const piped = (args: string, tail: string): { rc: string; stderr: string } => {
    const script = `"$0" "$1" ${args} | ${tail}; echo "rc=\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', script, process.execPath, HOARD_BIN, repo], { cwd: base, env, timeout: 120_000 });
    return { rc: /rc=(\d+)/.exec(r.stdout.toString())?.[1] ?? '?', stderr: r.stderr.toString() };
  };
  const made = piped('create --list "$2::a" src 2>&1 >/dev/null', 'head -1 >/dev/null');
  t.is(made.rc, '0', made.stderr);
  const listed = piped('list "$2::a"', 'head -1 >/dev/null');
  t.is(listed.rc, '0', listed.stderr);
  t.is(listed.stderr, '', 'nothing on stderr');
  t.deepEqual(readdirSync(path.join(repo, 'locks')), [], 'no lock left behind');
  const all = spawnSync(process.execPath, [HOARD_BIN, 'list', '--short', repo], { env });
  t.is(all.status, 0);
  t.is(all.stdout.toString(), 'a\n', 'the create whose log reader went away committed its archive');
  t.is(all.stderr.toString(), '', 'no stale lock to break');
});

test('create --content-from-command stores exactly the command output, named and moded; extract gives it back', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-cfc');
  const blob = pythonBlob(7, 6_000_000);
  t.is(blob.length, 6_000_000);
  const c = hoard(env, ['create', '--list', '--content-from-command', '--stdin-name', 'dumps/db.bin', '--stdin-mode', '0640', '--stdin-user', 'nobody', '--stdin-group', 'staff', `${repo}::blob`, '--', 'python3', '-c', PY_BLOB, '7', '6000000'], base);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /^A dumps\/db\.bin$/m);
  // Its parent is implied (not listed), as for PATHs.
  t.deepEqual(items(env, `${repo}::blob`, base).map((i) => [i.path, i.type, i.mode, i.user, i.group, i.size]), [['dumps/db.bin', '-', '-rw-r-----', 'nobody', 'staff', 6_000_000]]);

  const x = hoard(env, ['extract', `${repo}::blob`], base);
  t.is(x.code, 0, x.stderr);
  const file = path.join(base, 'dumps/db.bin');
  t.is(sha256(readFileSync(file)), sha256(blob));
  t.is(statSync(file).mode & 0o7777, 0o640);
  const s = hoard(env, ['extract', '--stdout', `${repo}::blob`], base);
  t.is(s.code, 0, s.stderr);
  t.is(sha256(s.stdout), sha256(blob));

  // The default name is `stdin`; an empty output is an empty file.
  const d = hoard(env, ['create', '--content-from-command', `${repo}::empty`, '--', 'true'], base);
  t.is(d.code, 0, d.stderr);
  t.deepEqual(items(env, `${repo}::empty`, base).map((i) => [i.path, i.size, i.mode]), [['stdin', 0, '-rw-rw----']]);
});

test('create --content-from-command: a failing or missing command leaves no archive and exits 2', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-fail');
  const failed = hoard(env, ['create', '--content-from-command', `${repo}::bad`, '--', 'sh', '-c', 'head -c 3000000 /dev/zero; exit 3'], base);
  t.is(failed.code, 2);
  t.is(failed.stderr, "hoard: Command 'sh' exited with status 3\n");
  const missing = hoard(env, ['create', '--content-from-command', `${repo}::bad`, '--', 'no-such-command-here'], base);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^hoard: Failed to execute command: .*ENOENT/);
  const none = hoard(env, ['create', '--content-from-command', `${repo}::bad`], base);
  t.is(none.code, 2);
  t.regex(none.stderr, /No command given/);
  const unnamed = hoard(env, ['create', '--content-from-command', '--stdin-name', '/', `${repo}::bad`, '--', 'echo', 'hi'], base);
  t.is(unnamed.code, 2);
  t.is(unnamed.stderr, 'hoard: --stdin-name "/" names no file\n');
  t.deepEqual(archives(env, repo, base), []);
  // The repository is still sound and usable.
  const ok = hoard(env, ['create', '--content-from-command', `${repo}::good`, '--', 'echo', 'hi'], base);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(archives(env, repo, base), ['good']);
  t.is(hoard(env, ['check', repo], base).code, 0);
});

/** A tree whose names hold spaces and a newline. */
function oddTree(base: string): void {
  mkdirSync(path.join(base, 'src', 'dir with space', 'inner'), { recursive: true });
  writeFileSync(path.join(base, 'src', 'dir with space', 'file one.txt'), 'one\n');
  writeFileSync(path.join(base, 'src', 'dir with space', 'left out.txt'), 'not listed\n');
  writeFileSync(path.join(base, 'src', 'dir with space', 'inner', 'deep.txt'), 'deep\n');
  writeFileSync(path.join(base, 'src', 'new\nline.txt'), 'two\nlines\n');
  writeFileSync(path.join(base, 'src', 'plain'), pseudoRandom(3_000_000, 'stdio-plain'));
}

test('create --paths-from-stdin with a NUL delimiter stores exactly the listed paths, without recursion', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-pfs');
  oddTree(base);
  const listed = ['src/new\nline.txt', 'src/dir with space', 'src/dir with space/file one.txt', 'src/dir with space/inner/deep.txt', `${base}/src/plain`];
  const c = hoard(env, ['create', '--paths-from-stdin', '--paths-delimiter', '\\0', `${repo}::a`], base, Buffer.from(`${listed.join('\0')}\0`));
  t.is(c.code, 0, c.stderr);
  // Exactly what was listed (the absolute path without its leading slash); parents not listed
  // (`src`, `inner`, the folders above `plain`) are implied, and the unlisted file of a listed
  // folder is not taken.
  const absolute = `${base.slice(1)}/src/plain`;
  t.deepEqual(items(env, `${repo}::a`, base).map((i) => i.path).sort(), [...listed.slice(0, 4), absolute].sort());

  const out = tempDir('stdio-pfs-out');
  const x = hoard(env, ['extract', `${repo}::a`], out);
  t.is(x.code, 0, x.stderr);
  t.is(readFileSync(path.join(out, 'src', 'new\nline.txt'), 'utf8'), 'two\nlines\n');
  t.is(readFileSync(path.join(out, 'src', 'dir with space', 'inner', 'deep.txt'), 'utf8'), 'deep\n');
  t.deepEqual(readdirSync(path.join(out, 'src', 'dir with space')).sort(), ['file one.txt', 'inner']);
  sameBytes(t, readFileSync(path.join(out, absolute)), pseudoRandom(3_000_000, 'stdio-plain'));

  // Newline-separated by default; PATHs are refused beside --paths-from-stdin.
  const nl = hoard(env, ['create', '--paths-from-stdin', `${repo}::b`], base, Buffer.from('src/plain\nsrc/dir with space/file one.txt'));
  t.is(nl.code, 0, nl.stderr);
  t.deepEqual(items(env, `${repo}::b`, base).map((i) => i.path), ['src/dir with space/file one.txt', 'src/plain']);
  const both = hoard(env, ['create', '--paths-from-stdin', `${repo}::c`, 'src'], base);
  t.is(both.code, 2);
  t.regex(both.stderr, /Must not pass PATH with --paths-from-stdin/);
});

test('create --paths-from-command stores the paths a command prints; its failure leaves no archive', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-pfc');
  oddTree(base);
  const c = hoard(env, ['create', '--paths-from-command', `${repo}::a`, '--', 'find', 'src/dir with space', '-name', '*.txt', '-print0'], base);
  t.is(c.code, 1, 'no delimiter given: the NUL-separated names read as one path, a warning');
  t.regex(c.stderr, /a path cannot hold NUL/);
  const ok = hoard(env, ['create', '--paths-from-command', '--paths-delimiter', '\\x00', `${repo}::b`, '--', 'find', 'src/dir with space', '-name', '*.txt', '-print0'], base);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(
    items(env, `${repo}::b`, base).map((i) => i.path).sort(),
    ['src/dir with space/file one.txt', 'src/dir with space/inner/deep.txt', 'src/dir with space/left out.txt'],
  );
  const failed = hoard(env, ['create', '--paths-from-command', `${repo}::bad`, '--', 'sh', '-c', 'echo src/plain; exit 5'], base);
  t.is(failed.code, 2);
  t.is(failed.stderr, "hoard: Command 'sh' exited with status 5\n");
  t.deepEqual(archives(env, repo, base).sort(), ['a', 'b']);
});

test("borgmatic's use: a dump stored with --content-from-command, restored with extract --stdout into a reader", async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('stdio-borgmatic');
  // A "database dump": a header and several chunks of rows.
  const dump = `import sys; sys.stdout.write('-- dump\\n'); [sys.stdout.write(f"INSERT INTO t VALUES ({i}, 'row {i}');\\n") for i in range(200000)]`;
  const expected = spawnSync('python3', ['-c', dump], { maxBuffer: 1 << 30 }).stdout;
  t.true(expected.length > 4_000_000);
  const c = hoard(env, ['create', '--content-from-command', '--stdin-name', 'postgresql_databases/localhost/app', `${repo}::{hostname}-dump`, '--', 'python3', '-c', dump], base);
  t.is(c.code, 0, c.stderr);
  const [name] = archives(env, repo, base);
  t.truthy(name);
  // The "restore": extract --stdout piped into a reader that checks what it gets.
  const script = `set -o pipefail; "$0" "$1" extract --stdout "$2" postgresql_databases/localhost/app | python3 -c "import sys,hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"`;
  const r = spawnSync('bash', ['-c', script, process.execPath, HOARD_BIN, `${repo}::${name}`], { cwd: base, env, timeout: 60_000 });
  t.is(r.status, 0, r.stderr.toString());
  t.is(r.stdout.toString().trim(), sha256(expected));
  t.deepEqual(readdirSync(base), []);
});

test('--paths-delimiter escapes are read as borg reads them (Python\'s unicode-escape), a lone backslash refused', (t) => {
  const values = ['\\n', '\\0', '\\x00', '\\t', '\\r\\n', '::', '\\\\', '\\101', '\\x4a!', '\\q', '\u00e9\\n', '\\u00e9', '\\U0001F600', '\\777', 'a\\\nb'];
  const script = 'import sys,json; print(json.dumps([v.encode("ascii", "backslashreplace").decode("unicode-escape").encode("utf-8").hex() for v in json.loads(sys.argv[1])]))';
  const r = spawnSync('python3', ['-W', 'ignore', '-c', script, JSON.stringify(values)], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as string[];
  t.deepEqual(values.map((v) => parseDelimiter(v).toString('hex')), expected);
  t.throws(() => parseDelimiter('ab\\'), { message: /lone backslash/ });
  t.throws(() => parseDelimiter('\\x4'), { message: /truncated/ });
});
