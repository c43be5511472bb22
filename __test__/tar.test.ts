import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { HOARD_BIN, pseudoRandom } from './helpers.js';
import { hoardIn, makeRepo, tempDir, testEnv, walk, type Walked } from './archive-helpers.js';

const LONG_DIR = 'a-folder-with-a-rather-long-name-to-push-paths-past-the-ustar-limit';
const LONG_FILE = `${'f'.repeat(120)}.txt`;

/**
 * A tree with what a tar must carry: a path and a name over 100 bytes, a name that is not UTF-8,
 * a hard link, a symlink with a long target, an empty file, a file of several chunks, an empty
 * folder and an executable.
 */
function makeTarTree(root: string): void {
  mkdirSync(path.join(root, LONG_DIR, 'deeper'), { recursive: true });
  mkdirSync(path.join(root, 'empty-dir'));
  writeFileSync(path.join(root, LONG_DIR, 'deeper', LONG_FILE), 'a long path\n');
  writeFileSync(path.join(root, 'empty'), '');
  writeFileSync(path.join(root, 'big.bin'), pseudoRandom(5_000_000, 'tar-big'));
  writeFileSync(path.join(root, 'tool.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(path.join(root, 'text.txt'), 'some text\n'.repeat(1000));
  linkSync(path.join(root, 'text.txt'), path.join(root, 'hard'));
  symlinkSync(`${LONG_DIR}/deeper/${LONG_FILE}`, path.join(root, 'link'));
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x6e, 0xff, 0xfe, 0x2e, 0x62])]), 'not utf-8');
  execFileSync('mkfifo', ['-m', '0640', path.join(root, 'fifo')]);
}

/** What must survive a tar round trip: type, mode, size, content, link target, hard-link group; mtime to `precision`. */
function comparable(w: Map<string, Walked>, precision: 'ns' | 's', withDirTimes = true): Map<string, Walked> {
  const out = new Map<string, Walked>();
  for (const [k, v] of w) {
    const mtime = v.type === 'l' || (v.type === 'd' && !withDirTimes) ? '' : precision === 'ns' ? v.mtime : String(BigInt(v.mtime) / 1_000_000_000n);
    out.set(k, { ...v, mtime, xattrs: [] });
  }
  return out;
}

/** Runs the built CLI as a child with binary output (and optional input). */
function hoardRaw(env: NodeJS.ProcessEnv, argv: string[], cwd: string, input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [HOARD_BIN, ...argv], { cwd, env, input, maxBuffer: 1 << 30, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

async function archived(): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string; src: string }> {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('tar');
  const src = path.join(base, 'src');
  mkdirSync(src);
  makeTarTree(src);
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  if (c.code !== 0) throw new Error(c.stderr);
  return { env, repo, base, src };
}

/** Members of a tar as Python's tarfile reads them: name (latin-1), type, size, link, mtime, content hash. */
function pythonMembers(tarFile: string): Record<string, unknown>[] {
  const script = [
    'import hashlib, json, sys, tarfile',
    'out = []',
    "with tarfile.open(sys.argv[1], 'r:*', encoding='utf-8', errors='surrogateescape') as t:",
    '    for m in t:',
    "        d = {'name': m.name.encode('utf-8', 'surrogateescape').decode('latin-1'), 'type': m.type.decode(), 'size': m.size, 'link': m.linkname, 'mtime': m.mtime, 'mode': m.mode}",
    '        if m.isfile():',
    '            d["sha"] = hashlib.sha256(t.extractfile(m).read()).hexdigest()',
    "        d['pax'] = sorted(m.pax_headers)",
    '        out.append(d)',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, tarFile]).toString('utf8')) as Record<string, unknown>[];
}

test('export-tar writes a GNU tar that tar and Python read back byte for byte', async (t) => {
  const { env, repo, base, src } = await archived();
  const tarFile = path.join(base, 'out.tar');
  const r = await hoardIn(env, ['export-tar', '--list', `${repo}::a`, tarFile], base);
  t.is(r.code, 0, r.stderr);
  t.true(r.stderr.includes(`src/${LONG_DIR}/deeper/${LONG_FILE}\n`), r.stderr);
  const listing = execFileSync('tar', ['-tvf', tarFile]).toString('latin1');
  t.regex(listing, /^hrw-r--r-- .* src\/text\.txt link to src\/hard$/m);
  t.regex(listing, new RegExp(`^lrwxrwxrwx .* src/link -> ${LONG_DIR}/deeper/${LONG_FILE}$`, 'm'));
  t.regex(listing, /^-rwxr-xr-x .* 18 .* src\/tool\.sh$/m);
  const out = tempDir('tar-x');
  execFileSync('tar', ['-xf', tarFile, '-C', out]);
  t.deepEqual(comparable(walk(path.join(out, 'src')), 's', false), comparable(walk(src), 's', false));
  // A second, independent reader.
  const members = pythonMembers(tarFile);
  const names = members.map((m) => m.name);
  t.true(names.includes(`src/${LONG_DIR}/deeper/${LONG_FILE}`));
  t.true(names.includes(Buffer.from([...Buffer.from('src/n'), 0xff, 0xfe, 0x2e, 0x62]).toString('latin1')));
  const big = members.find((m) => m.name === 'src/big.bin');
  t.is(big?.size, 5_000_000);
  t.is(big?.sha, execFileSync('sha256sum', [path.join(src, 'big.bin')]).toString('utf8').slice(0, 64));
  t.deepEqual(members.find((m) => m.name === 'src/empty')?.size, 0);
});

test('export-tar --tar-format PAX keeps nanosecond times and long names in pax headers', async (t) => {
  const { env, repo, base, src } = await archived();
  const tarFile = path.join(base, 'out.tar');
  const r = await hoardIn(env, ['export-tar', '--tar-format', 'PAX', `${repo}::a`, tarFile], base);
  t.is(r.code, 0, r.stderr);
  const members = pythonMembers(tarFile);
  const long = members.find((m) => m.name === `src/${LONG_DIR}/deeper/${LONG_FILE}`);
  t.true((long?.pax as string[]).includes('path'));
  const out = tempDir('tar-x');
  execFileSync('tar', ['-xf', tarFile, '-C', out]);
  t.deepEqual(comparable(walk(path.join(out, 'src')), 'ns', false), comparable(walk(src), 'ns', false));
  const bad = await hoardIn(env, ['export-tar', '--tar-format', 'ZIP', `${repo}::a`, tarFile], base);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'hoard: --tar-format: ZIP is not one of GNU, PAX, BORG\n');
});

test('export-tar compresses by extension or --tar-filter, writes to stdout for -, strips and filters paths', async (t) => {
  const { env, repo, base, src } = await archived();
  const gz = path.join(base, 'out.tar.gz');
  const r = await hoardIn(env, ['export-tar', `${repo}::a`, gz], base);
  t.is(r.code, 0, r.stderr);
  t.deepEqual([...readFileSync(gz).subarray(0, 2)], [0x1f, 0x8b]);
  const out = tempDir('tar-gz');
  execFileSync('tar', ['-xzf', gz, '-C', out]);
  t.deepEqual(comparable(walk(path.join(out, 'src')), 's', false), comparable(walk(src), 's', false));

  const plain = path.join(base, 'plain.tar');
  t.is((await hoardIn(env, ['export-tar', `${repo}::a`, plain], base)).code, 0);
  const piped = hoardRaw(env, ['export-tar', `${repo}::a`, '-'], base);
  t.is(piped.code, 0, piped.stderr);
  t.true(piped.stdout.equals(readFileSync(plain)), 'stdout holds the same tar as the file');
  const filtered = hoardRaw(env, ['export-tar', '--tar-filter', 'gzip -1', `${repo}::a`, '-'], base);
  t.is(filtered.code, 0, filtered.stderr);
  t.deepEqual([...filtered.stdout.subarray(0, 2)], [0x1f, 0x8b]);
  t.true(execFileSync('gzip', ['-dc'], { input: filtered.stdout, maxBuffer: 1 << 30 }).equals(readFileSync(plain)));

  const part = path.join(base, 'part.tar');
  const s = await hoardIn(env, ['export-tar', '--strip-components', '1', '-e', '*.bin', `${repo}::a`, part, 'src'], base);
  t.is(s.code, 0, s.stderr);
  const names = execFileSync('tar', ['-tf', part]).toString('latin1').trimEnd().split('\n');
  t.false(names.some((n) => n.startsWith('src/') || n.endsWith('.bin')), names.join(','));
  t.true(names.includes('text.txt') && names.includes('hard'));
  // A hard link whose file is left out carries the contents itself.
  const linkOnly = path.join(base, 'link-only.tar');
  t.is((await hoardIn(env, ['export-tar', `${repo}::a`, linkOnly, 'src/text.txt'], base)).code, 0);
  const lo = tempDir('link-only');
  execFileSync('tar', ['-xf', linkOnly, '-C', lo]);
  t.true(readFileSync(path.join(lo, 'src', 'text.txt')).equals(readFileSync(path.join(src, 'text.txt'))));
  const failing = await hoardIn(env, ['export-tar', '--tar-filter', 'exit 3', `${repo}::a`, path.join(base, 'x.tar')], base);
  t.is(failing.code, 2);
  t.regex(failing.stderr, /^hoard: --tar-filter 'exit 3' failed \(exit status 3\)\n$/);
});

for (const format of ['gnu', 'pax'] as const) {
  test(`import-tar of a ${format} tarball made by tar, then extract, reproduces the tree`, async (t) => {
    const env = testEnv();
    const repo = await makeRepo(env);
    const base = tempDir('imp');
    const src = path.join(base, 'src');
    mkdirSync(src);
    makeTarTree(src);
    const tarFile = path.join(base, `in.tar${format === 'pax' ? '.gz' : ''}`);
    execFileSync('tar', [`--format=${format}`, format === 'pax' ? '-czf' : '-cf', tarFile, '-C', base, 'src']);
    const r = await hoardIn(env, ['import-tar', '--list', '--json', `${repo}::imp`, tarFile], base);
    t.is(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { archive: { name: string; stats: { nfiles: number; original_size: number } } };
    t.is(json.archive.name, 'imp');
    // Regular files; a hard link is not counted again (as borg).
    t.is(json.archive.stats.nfiles, 6);
    t.regex(r.stderr, /^A src\/big\.bin$/m);
    t.regex(r.stderr, /^h src\/(hard|text\.txt)$/m);
    t.regex(r.stderr, /^s src\/link$/m);
    t.regex(r.stderr, /^d src$/m);
    const out = tempDir('imp-x');
    const x = await hoardIn(env, ['extract', `${repo}::imp`], out);
    t.is(x.code, 0, x.stderr);
    t.deepEqual(comparable(walk(path.join(out, 'src')), format === 'pax' ? 'ns' : 's'), comparable(walk(src), format === 'pax' ? 'ns' : 's'));
  });
}

test('export-tar -> import-tar -> diff shows no changes; import-tar reads stdin', async (t) => {
  const { env, repo, base } = await archived();
  const tarFile = path.join(base, 'rt.tar');
  t.is((await hoardIn(env, ['export-tar', '--tar-format', 'PAX', `${repo}::a`, tarFile], base)).code, 0);
  const imp = await hoardIn(env, ['import-tar', '--stats', `${repo}::b`, tarFile], base);
  t.is(imp.code, 0, imp.stderr);
  t.regex(imp.stderr, /^Archive name: b$/m);
  const d = await hoardIn(env, ['diff', `${repo}::a`, 'b'], base);
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, '');
  const viaStdin = hoardRaw(env, ['import-tar', `${repo}::c`, '-'], base, readFileSync(tarFile));
  t.is(viaStdin.code, 0, viaStdin.stderr);
  const d2 = await hoardIn(env, ['diff', '--content-only', `${repo}::a`, 'c'], base);
  t.is(d2.stdout, '');
  const gzStdin = hoardRaw(env, ['import-tar', '--tar-filter', 'gzip -d', `${repo}::d`, '-'], base, execFileSync('gzip', ['-c', tarFile], { maxBuffer: 1 << 30 }));
  t.is(gzStdin.code, 0, gzStdin.stderr);
  const d3 = await hoardIn(env, ['diff', `${repo}::b`, 'd'], base);
  t.is(d3.stdout, '');
});

test('import-tar refuses a malformed tarball with one line and exit code 2, writing no archive', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('bad');
  writeFileSync(path.join(base, 'noise.tar'), pseudoRandom(4096, 'noise'));
  const noise = await hoardIn(env, ['import-tar', `${repo}::x`, path.join(base, 'noise.tar')], base);
  t.is(noise.code, 2);
  t.is(noise.stderr, 'hoard: not a tar archive, or damaged: bad header checksum at byte 0\n');
  // A real tar cut inside a member's content.
  mkdirSync(path.join(base, 'src'));
  writeFileSync(path.join(base, 'src', 'f'), pseudoRandom(100_000, 'cut'));
  execFileSync('tar', ['-cf', path.join(base, 'whole.tar'), '-C', base, 'src']);
  writeFileSync(path.join(base, 'cut.tar'), readFileSync(path.join(base, 'whole.tar')).subarray(0, 50_000));
  const cut = await hoardIn(env, ['import-tar', `${repo}::x`, path.join(base, 'cut.tar')], base);
  t.is(cut.code, 2);
  t.regex(cut.stderr, /^hoard: the tar stream ends inside a member at byte \d+\n$/);
  const gz = await hoardIn(env, ['import-tar', `${repo}::x`, path.join(base, 'whole.tar.gz')], base);
  t.is(gz.code, 2);
  t.is(gz.stderr.split('\n').length, 2, gz.stderr);
  const list = await hoardIn(env, ['list', '--short', repo]);
  t.is(list.stdout, '');
});

test('import-tar: a path a later member takes keeps its hard links to what it held, as GNU tar extracts them', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const base = tempDir('tar-replace');
  const tarFile = path.join(base, 'replaced.tar');
  // a (OLD), b -> a, a (NEW): b keeps OLD. z, y, c -> z, c -> y: c is y's.
  const script = `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.GNU_FORMAT) as tf:
    def file(name, data):
        i = tarfile.TarInfo(name); i.size = len(data); tf.addfile(i, io.BytesIO(data))
    def link(name, target):
        i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target; tf.addfile(i)
    file('a', b'OLD'); link('b', 'a'); file('a', b'NEW')
    file('z', b'ZZZ'); file('y', b'YYY'); link('c', 'z'); link('c', 'y')
`;
  execFileSync('python3', ['-c', script, tarFile]);
  const imported = await hoardIn(env, ['import-tar', `${repo}::t`, tarFile]);
  t.is(imported.code, 0, imported.stderr);
  const out = path.join(base, 'out');
  mkdirSync(out);
  t.is((await hoardIn(env, ['extract', `${repo}::t`], out)).code, 0);
  const gnu = path.join(base, 'gnu');
  mkdirSync(gnu);
  execFileSync('tar', ['-xf', tarFile, '-C', gnu]);
  for (const name of ['a', 'b', 'c', 'y', 'z']) t.is(readFileSync(path.join(out, name), 'utf8'), readFileSync(path.join(gnu, name), 'utf8'), name);
  t.is(readFileSync(path.join(out, 'b'), 'utf8'), 'OLD');
  t.is(readFileSync(path.join(out, 'c'), 'utf8'), 'YYY');
});
