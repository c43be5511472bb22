import test from 'ava';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { create, filesIn, snapshot } from './maintenance-helpers.js';
import { pseudoRandom } from './helpers.js';

test('an unknown option after the positionals, or a missing required one, is one line naming it, exit code 2', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  await create(t, env, base, `${repo}::a`, 'd');
  const before = snapshot(repo);
  const cases: [string[], string][] = [
    [['list', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['info', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['delete', `${repo}::a`, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['compact', repo, '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['create', `${repo}::b`, base, '--bogus=1'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['-v', 'list', repo, '-Z'], 'hoard: Unsupported option name ("-Z").\n'],
    [['list', repo, '--format'], 'hoard: Option --format expects a value.\n'],
    [['init', '-e', 'none', path.join(tempDir('r'), 'r'), '--bogus'], 'hoard: Unsupported option name ("--bogus").\n'],
    [['init', path.join(tempDir('r'), 'r')], 'hoard: Missing required option: -e/--encryption.\n'],
    [['compact', repo, 'extra'], 'hoard: Extraneous positional argument ("extra").\n'],
    [['init', '-e', 'none', path.join(tempDir('r'), 'r'), 'more'], 'hoard: Extraneous positional argument ("more").\n'],
    // borg's options that may be given once (its Highlander action), however each use is spelt.
    [['list', '-a', 'a*', '--glob-archives=b*', repo], 'hoard: argument -a/--glob-archives: There can be only one.\n'],
    [['delete', '-P', 'a', '--prefix', 'b', repo], `Warning: "--prefix" has been deprecated. Use "--glob-archives 'yourprefix*'" (-a) instead.\nhoard: argument -P/--prefix: There can be only one.\n`],
    [['create', '--filter=AM', '--filt', 'E', `${repo}::b`, base], 'hoard: argument --filter: There can be only one.\n'],
    [['create', '--files-cache', 'mtime,size', '--files-cache=ctime', `${repo}::b`, base], 'hoard: argument --files-cache: There can be only one.\n'],
    [['recreate', '--chunker-params', 'default', '--chunker-params', '10,23,16,4095', repo], 'hoard: argument --chunker-params: There can be only one.\n'],
    [['create', '--files-changed', 'mtime', '--files-changed', 'ctime', `${repo}::b`, base], 'hoard: argument --files-changed: There can be only one.\n'],
    [['create', '--chunker-params', 'default', '--chunker-params', '10,23,16,4095', '--chunker-params', 'default', `${repo}::b`, base], 'hoard: argument --chunker-params: There can be only one.\n'],
  ];
  for (const [argv, line] of cases) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stderr, line, argv.join(' '));
    t.is(r.stdout, '');
  }
  // As borg, a first use that gives the default leaves room for a second (recreate's
  // --chunker-params, above, has no default).
  const fromDefault = await hoardIn(env, ['create', '-n', '--files-changed', 'ctime', '--files-changed', 'mtime', '--chunker-params', 'buzhash,19,23,21,4095', '--chunker-params', '10,23,16,4095', `${repo}::c`, base]);
  t.is(fromDefault.code, 0, fromDefault.stderr);
  // Other options take the last use, as argparse does.
  const twice = await hoardIn(env, ['list', '--sort-by', 'name', '--sort-by', 'timestamp', '--last', '2', '--last', '1', '--short', repo]);
  t.is(twice.code, 0, twice.stderr);
  t.is(twice.stdout, 'a\n');
  t.deepEqual(snapshot(repo), before);
});

test('a short option takes its value attached, as argparse does (-Clz4, -esrc/b.bin, -a"a*"); flags still combine', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'src', { 'b.bin': 1000, c: 1000 });
  let r = await hoardIn(env, ['create', '-Clz4', '-esrc/b.bin', `${repo}::a1`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  r = await hoardIn(env, ['create', '-vsCzstd,3', `${repo}::b1`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Number of files: 2/);
  r = await hoardIn(env, ['list', '--short', `${repo}::a1`]);
  t.deepEqual(r.stdout.trim().split('\n'), ['src', 'src/c']);
  r = await hoardIn(env, ['list', '--short', '-a', 'a*', repo]);
  t.deepEqual(r.stdout.trim().split('\n'), ['a1']);
  r = await hoardIn(env, ['list', '--short', '-ab*', repo]);
  t.deepEqual(r.stdout.trim().split('\n'), ['b1']);
  // Flags that end in a letter taking a value: the value is the next argument (-sC zstd,3 as -s -C zstd,3).
  r = await hoardIn(env, ['create', '-sC', 'zstd,3', '-xe', 'src/c', `${repo}::c1`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Number of files: 1/);
  r = await hoardIn(env, ['list', '--short', '-va', 'c*', repo]);
  t.deepEqual(r.stdout.trim().split('\n'), ['c1']);
});

test('a long option may be shortened to any start no other option of the command shares, as argparse takes it', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'src', { a: 1000, b: 2000 });
  let r = await hoardIn(env, ['create', '--stat', '--compress', 'zstd,3', '--exclude', 'src/b', `${repo}::one`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Number of files: 1/);
  r = await hoardIn(env, ['create', '--comm=shortened', `${repo}::two`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  r = await hoardIn(env, ['list', '--glob', 't*', '--lock-w', '5', '--format', '{archive} {comment}{NL}', repo]);
  t.is(r.stdout, 'two shortened\n', r.stderr);
  // A start that several options share is refused, with exit code 2.
  r = await hoardIn(env, ['create', '--ex', 'x', `${repo}::three`, 'src'], base);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: .*--ex/);
});

test("borg 1.4's remaining options are accepted: --remote-buffer, list -P, create --exclude-dataless/--files-changed/--quick-stats, delete --quick-stats", async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 5000 });
  let r = await hoardIn(env, ['create', '--remote-buffer', '8', '--exclude-dataless', '--files-changed', 'mtime', '--quick-stats', `${repo}::tue-1`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  // --quick-stats: this archive's row, no "All archives" and no chunk index.
  t.regex(r.stderr, /^This archive: +5\.00 kB /m);
  t.notRegex(r.stderr, /All archives|Chunk index/);
  r = await hoardIn(env, ['create', '--json', '--quick-stats', `${repo}::wed-1`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as Record<string, unknown>;
  t.false('cache' in json);
  t.true('archive' in json);
  r = await hoardIn(env, ['list', '--short', '-P', 'tue', repo]);
  t.is(r.stdout, 'tue-1\n');
  r = await hoardIn(env, ['list', '--short', '--prefix=we', repo]);
  t.is(r.stdout, 'wed-1\n');
  r = await hoardIn(env, ['list', '-P', 'tue', '-a', 'w*', repo]);
  t.is(r.code, 2);
  for (const argv of [
    ['create', '--files-changed', 'size', `${repo}::x`, 'd'],
    ['create', '--stats', '--quick-stats', `${repo}::x`, 'd'],
    ['delete', '--stats', '--quick-stats', `${repo}::tue-1`],
  ]) {
    r = await hoardIn(env, argv, base);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
  r = await hoardIn(env, ['delete', '--quick-stats', `${repo}::wed-1`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^Deleted data: +-5\.\d\d kB /m);
  t.notRegex(r.stderr, /All archives|Chunk index/);
  r = await hoardIn(env, ['list', '--short', repo]);
  t.is(r.stdout, 'tue-1\n');
});

test('create --timestamp takes a reference file (its mtime) and borg\'s year-day form; bad obfuscate specs are refused', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 100 });
  const ref = path.join(base, 'ref');
  fs.writeFileSync(ref, '');
  fs.utimesSync(ref, new Date('2020-05-06T07:08:09Z'), new Date('2020-05-06T07:08:09Z'));
  for (const [name, ts] of [['a', ref], ['b', '2024-366'], ['c', '2024-01-02 03:04']]) {
    const r = await hoardIn(env, ['create', '--timestamp', ts ?? '', `${repo}::${name ?? ''}`, 'd'], base);
    t.is(r.code, 0, r.stderr);
  }
  const r = await hoardIn(env, ['list', '--format', '{archive} {time}{NL}', repo]);
  t.is(r.stdout, 'a Wed, 2020-05-06 07:08:09\nc Tue, 2024-01-02 03:04:00\nb Tue, 2024-12-31 00:00:00\n');
  // As borg, the run's start is the timestamp and its end as much later as the run took.
  const started = await hoardIn(env, ['list', '--format', '{start}|{end}{NL}', '-a', 'c', repo]);
  t.regex(started.stdout, /^Tue, 2024-01-02 03:04:00\|Tue, 2024-01-02 03:04:\d\d\n$/);
  const info = await hoardIn(env, ['info', '--json', `${repo}::c`]);
  const archive = (JSON.parse(info.stdout) as { archives: { start: string; end: string }[] }).archives[0];
  t.regex(archive?.start ?? '', /^2024-01-02T03:04:00\.\d{6}$/);
  t.regex(archive?.end ?? '', /^2024-01-02T03:04:\d\d\.\d{6}$/);
  const before = snapshot(repo);
  for (const [argv, msg] of [
    [['create', '--timestamp', '2023-366', `${repo}::x`, 'd'], /^hoard: --timestamp 2023-366: 2023 has no day 366\n$/],
    [['create', '--timestamp', '99999-01-01', `${repo}::x`, 'd'], /^hoard: --timestamp 99999-01-01: the year must be from 1 to 9999, as borg's\n$/],
    // Integers to borg's argparse, even where hoard does nothing with them.
    [['create', '--upload-ratelimit', 'abc', `${repo}::x`, 'd'], /^hoard: Invalid value for --upload-ratelimit: expected a number \(got "abc"\)\n$/],
    [['create', '--checkpoint-interval', '1.5', `${repo}::x`, 'd'], /^hoard: Invalid value for --checkpoint-interval: /],
    // Checked before the run, a dry run too; not one of borg's sets.
    [['create', '-n', '--files-cache', 'ctime', `${repo}::x`, 'd'], /^hoard: --files-cache ctime: not one of borg's modes/],
    [['create', '-C', 'obfuscate,7,none', `${repo}::x`, 'd'], /^hoard: compression "obfuscate,7,none": obfuscate's SPEC must be 1 to 6, 110 to 123 or 250, got "7"\n$/],
    [['create', '-Cauto,obfuscate,3,lz4', `${repo}::x`, 'd'], /^hoard: compression "auto,obfuscate,3,lz4": /],
  ] as const) {
    const bad = await hoardIn(env, [...argv], base);
    t.is(bad.code, 2, argv.join(' '));
    t.regex(bad.stderr, msg);
  }
  t.deepEqual(snapshot(repo), before);
});

test('version prints CLIENT / SERVER; help --usage-only and --epilog-only split a command\'s help', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  let r = await hoardIn(env, ['version', repo]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^1\.4\.0\+hoard\.\S+ \/ 1\.4\.0\+hoard\.\S+\n$/);
  r = await hoardIn(env, ['version', `${repo}::a`]);
  t.is(r.code, 2);
  const usage = await hoardIn(env, ['help', 'rename', '--usage-only']);
  const epilog = await hoardIn(env, ['help', '--epilog-only', 'rename']);
  const full = await hoardIn(env, ['help', 'rename']);
  t.is(usage.code, 0);
  t.is(epilog.code, 0);
  t.regex(usage.stdout, /\$ hoard rename <ARCHIVE> <NEWNAME>/);
  t.notRegex(usage.stdout, /Details|Examples/);
  t.regex(epilog.stdout, /^Details\n[\s\S]*Examples/);
  t.is(usage.stdout + epilog.stdout, full.stdout);
});

test('related secrets: init --import-related-secrets and key export-related-secrets parse, then say what is unsupported (exit code 2)', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const dir = tempDir('rel');
  const out = path.join(dir, 'secrets.json');
  let r = await hoardIn(env, ['key', 'export-related-secrets', repo, out]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: key export-related-secrets is not supported: [^\n]+\n$/);
  t.false(fs.existsSync(out));
  fs.writeFileSync(out, '{"version": 1}');
  const target = path.join(dir, 'r2');
  r = await hoardIn(env, ['init', '-e', 'repokey', '--import-related-secrets', out, target]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: --import-related-secrets is not supported: [^\n]+\n$/);
  t.false(fs.existsSync(target));
});

test('--stats and --quick-stats under --dry-run are ignored with borg 1.4\'s warning, and no table (create, recreate)', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  let r = await hoardIn(env, ['create', '--dry-run', '--stats', `${repo}::a`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, 'Ignoring --stats. It is not supported when using --dry-run.\n');
  r = await hoardIn(env, ['create', '-n', '--quick-stats', `${repo}::a`, 'd'], base);
  t.is(r.stderr, 'Ignoring --quick-stats. It is not supported when using --dry-run.\n');
  await create(t, env, base, `${repo}::a`, 'd');
  r = await hoardIn(env, ['recreate', '-n', '-s', '-C', 'zstd', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, 'Ignoring --stats. It is not supported when using --dry-run.\n');
  // --error hides the warning, as any warning.
  r = await hoardIn(env, ['create', '--error', '--dry-run', '--stats', `${repo}::b`, 'd'], base);
  t.is(r.stderr, '');
});

test('placeholders expand in every location (repository and archive parts, HOARD_REPO/BORG_REPO) and in --comment; "::" alone is the repository from the environment', async (t) => {
  const env = testEnv();
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  const host = os.hostname().split('.')[0] ?? '';
  const year = String(new Date().getFullYear());
  const parent = tempDir('repos');
  let r = await hoardIn(env, ['init', '-e', 'repokey', path.join(parent, 'r-{hostname}')]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(fs.readdirSync(parent), [`r-${host}`]);
  const repo = path.join(parent, 'r-{hostname}');
  r = await hoardIn(env, ['create', '--comment', 'by {user} in {now:%Y}', `${repo}::{hostname}-{now:%Y}`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  r = await hoardIn(env, ['info', '--json', `${repo}::{hostname}-{now:%Y}`]);
  t.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { archives: { name: string; comment: string }[] };
  t.is(info.archives[0]?.name, `${host}-${year}`);
  t.is(info.archives[0]?.comment, `by ${os.userInfo().username} in ${year}`);
  for (const name of ['HOARD_REPO', 'BORG_REPO']) {
    const fromEnv = { ...env, [name]: repo };
    r = await hoardIn(fromEnv, ['list', '--short', '::']);
    t.is(r.stdout, `${host}-${year}\n`, name);
    r = await hoardIn(fromEnv, ['list', '--short', '::{hostname}-{now:%Y}']);
    t.is(r.stdout, 'd\nd/f\n', name);
  }
  r = await hoardIn(env, ['list', `${repo}::{nosuchplaceholder}`]);
  t.is(r.code, 2);
  t.is(r.stderr.trimEnd().split('\n').length, 1);
});

test('an archive name with "/" is refused, as borg refuses it (exit code 2, nothing written)', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000 });
  const before = snapshot(repo);
  for (const argv of [['create', `${repo}::a/b`, 'd'], ['create', `${repo}::{hostname}/x`, 'd'], ['list', `${repo}::a/b`]]) {
    const r = await hoardIn(env, argv, base);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, /^hoard: invalid archive name: "[^"]+\/[^"]*" \(an archive name must not contain "\/"\)\n$/);
  }
  t.deepEqual(snapshot(repo), before);
});

test('list --format computes the checksum keys, {dsize}/{dcsize}/{unique_chunks} and {archivename}/{archiveid} as borg 1.4', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const base = tempDir('src');
  const shared = pseudoRandom(300_000, 'shared');
  const own = pseudoRandom(5_000, 'own');
  fs.mkdirSync(path.join(base, 'd'));
  fs.writeFileSync(path.join(base, 'd', 'own'), own);
  fs.writeFileSync(path.join(base, 'd', 'x'), shared);
  fs.writeFileSync(path.join(base, 'd', 'y'), shared);
  fs.writeFileSync(path.join(base, 'd', 'empty'), '');
  await create(t, env, base, `${repo}::a`, 'd');
  const id = /\[([0-9a-f]{64})\]/.exec((await hoardIn(env, ['list', repo])).stdout)?.[1];
  const hashes = ['blake2b', 'blake2s', 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha3_224', 'sha3_256', 'sha3_384', 'sha3_512', 'sha512'];
  const node: Record<string, string> = { blake2b: 'blake2b512', blake2s: 'blake2s256', sha3_224: 'sha3-224', sha3_256: 'sha3-256', sha3_384: 'sha3-384', sha3_512: 'sha3-512' };
  const format = `{path}|${hashes.map((h) => `{${h}}`).join('|')}|{xxh64}|{size}|{dsize}|{dcsize}|{unique_chunks}|{num_chunks}|{archivename}|{archiveid}{NL}`;
  const r = await hoardIn(env, ['list', '--format', format, `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  const rows = new Map(r.stdout.trimEnd().split('\n').map((l) => [l.split('|')[0], l.split('|').slice(1)]));
  for (const [name, data] of [['own', own], ['x', shared], ['empty', Buffer.alloc(0)]] as const) {
    const row = rows.get(`d/${name}`) ?? [];
    hashes.forEach((h, i) => t.is(row[i], createHash(node[h] ?? h).update(data).digest('hex'), `${name} ${h}`));
    t.is(row.at(-2), 'a');
    t.is(row.at(-1), id);
  }
  // XXH64 as borg 1.2's StreamingXXH64 gives it for the same bytes.
  t.is(rows.get('d/empty')?.[12], 'ef46db3751d8e999');
  t.is(rows.get('d/own')?.[12], 'b440f822a3f4747a');
  t.is(rows.get('d/x')?.[12], 'c5fbb427643be637');
  // own's chunks are its own; x's are y's too; a directory has no content.
  const [ownSize, ownD, ownDc, ownUnique, ownChunks] = (rows.get('d/own') ?? []).slice(13, 18);
  t.is(ownSize, '5000');
  t.is(ownD, '5000');
  t.true(Number(ownDc) > 0);
  t.is(ownUnique, ownChunks);
  t.deepEqual((rows.get('d/x') ?? []).slice(14, 17), ['0', '0', '0']);
  t.deepEqual((rows.get('d') ?? []).slice(0, 13), Array(13).fill(''));
  // A second archive references own's chunks too: they are unique no more.
  await create(t, env, base, `${repo}::b`, 'd');
  const again = await hoardIn(env, ['list', '--format', '{dsize} {unique_chunks}{NL}', `${repo}::a`, 'd/own']);
  t.is(again.stdout, '0 0\n');
});

test('list --json-lines is Python json.dumps in borg\'s key order, with the --format keys added; flags as borg stores them on Linux', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env, 'none');
  const base = tempDir('src');
  fs.mkdirSync(path.join(base, 'd'));
  fs.writeFileSync(path.join(base, 'd', 'f'), 'hello\n');
  fs.symlinkSync('f', path.join(base, 'd', 'l'));
  fs.utimesSync(path.join(base, 'd', 'f'), new Date('2026-01-02T03:04:05.5Z'), new Date('2026-01-02T03:04:05.5Z'));
  await create(t, env, base, `${repo}::a`, 'd');
  const user = os.userInfo();
  const owner = `"user": "${user.username}", "group": "${(await hoardIn(env, ['list', '--format', '{group}', `${repo}::a`, 'd/f'])).stdout}", "uid": ${user.uid}, "gid": ${user.gid}`;
  let r = await hoardIn(env, ['list', '--json-lines', `${repo}::a`, 'd/f']);
  t.is(r.stdout, `{"type": "-", "mode": "-rw-r--r--", ${owner}, "path": "d/f", "healthy": true, "source": "", "linktarget": "", "flags": 0, "size": 6, "mtime": "2026-01-02T03:04:05.500000"}\n`);
  r = await hoardIn(env, ['list', '--json-lines', '--format', '{archivename}{sha256}{path}', `${repo}::a`, 'd/l']);
  t.is(r.stdout, `{"archivename": "a", "type": "l", "mode": "lrwxrwxrwx", ${owner}, "path": "d/l", "healthy": true, "source": "f", "linktarget": "f", "flags": 0, "sha256": ""}\n`);
  const { bsdFlags } = await import('../dist/commands/list.js');
  t.is(bsdFlags(0x80000), 0, 'extents: not a flag borg keeps');
  t.is(bsdFlags(0x40 | 0x10 | 0x20 | 0x80000), 0x7, 'nodump, immutable, append');
});

test('create: -v logs "Creating archive at", a dry run lists every item with status "-", stdin data is root:root unless --stdin-user/--stdin-group say otherwise', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 1000, g: 10 });
  fs.symlinkSync('f', path.join(base, 'd', 'l'));
  let r = await hoardIn(env, ['create', '-v', '-n', '--list', '-e', 'd/g', `${repo}::{hostname}`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines[0], `Creating archive at "${repo}::${os.hostname().split('.')[0] ?? ''}"`);
  t.deepEqual(lines.slice(1).sort(), ['- d', '- d/f', '- d/l', 'x d/g']);
  const stdinCase = async (name: string, extra: string[]): Promise<string> => {
    // A command's output is stored as standard input is (the same owner rules).
    const child = await hoardIn(env, ['create', '--content-from-command', ...extra, `${repo}::${name}`, '--', 'printf', 'data']);
    t.is(child.code, 0, child.stderr);
    return (await hoardIn(env, ['list', '--format', '{user}:{group}:{uid}:{gid}', `${repo}::${name}`])).stdout;
  };
  t.is(await stdinCase('s1', []), 'root:root:0:0');
  t.is(await stdinCase('s2', ['--stdin-user', 'nobody', '--stdin-group', 'staff']), 'nobody:staff:65534:50');
  r = await hoardIn(env, ['create', '--content-from-command', '--stdin-user', 'no-such-user', `${repo}::s3`, '--', 'printf', 'data']);
  t.is(r.code, 2);
  t.is(r.stderr, 'hoard: no such user: no-such-user\n');
});

test('number options are checked as borg checks them: --first/--last >= 1, compact --threshold whole, init --storage-quota >= 10M, --umask octal; --sort-by archive', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10 });
  await create(t, env, base, `${repo}::b`, 'd');
  await create(t, env, base, `${repo}::a`, 'd');
  const cases: [string[], RegExp][] = [
    [['list', '--first', '0', repo], /^hoard: --first: a positive integer is required: 0\n$/],
    [['delete', '--last', '0', repo], /^hoard: --last: a positive integer is required: 0\n$/],
    [['compact', '--threshold', '1.5', repo], /^hoard: Invalid value for --threshold: expected to be an integer/],
    [['init', '-e', 'none', '--storage-quota', '9M', path.join(tempDir('q'), 'r')], /^hoard: quota is too small \(9M\)\. At least 10M are required\.\n$/],
    [['list', '--umask', '0999', repo], /^hoard: Invalid value for --umask/],
    [['list', '--sort-by', 'ts', repo], /^hoard: --sort-by: unknown key ts/],
  ];
  for (const [argv, msg] of cases) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, msg, argv.join(' '));
  }
  let r = await hoardIn(env, ['list', '--short', '--sort-by', 'archive', '--umask', '0077', repo]);
  t.is(r.stdout, 'a\nb\n');
  r = await hoardIn(env, ['init', '-e', 'none', '--storage-quota', '10M', path.join(tempDir('q'), 'r')]);
  t.is(r.code, 0, r.stderr);
});

test('--iec writes sizes in powers of 1024 (KiB, MiB), as borg; without it, decimal', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  fs.mkdirSync(path.join(base, 'd'));
  fs.writeFileSync(path.join(base, 'd', 'f'), pseudoRandom(2_000_000, 'iec'));
  let r = await hoardIn(env, ['create', '--iec', '--stats', '-C', 'none', `${repo}::a`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^This archive: +1\.91 MiB +1\.91 MiB +1\.91 MiB$/m);
  r = await hoardIn(env, ['info', repo]);
  t.regex(r.stdout, /^All archives: +2\.00 MB /m);
  r = await hoardIn(env, ['info', '--iec', repo]);
  t.regex(r.stdout, /^All archives: +1\.91 MiB /m);
});

test('a directory excluded by its tag is listed "x" also when --keep-exclude-tags keeps it, in a dry run and a real one', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10 });
  filesIn(base, 'd/cache', { 'CACHEDIR.TAG': 0, junk: 10 });
  fs.writeFileSync(path.join(base, 'd', 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55');
  for (const dry of [['-n'], []]) {
    const r = await hoardIn(env, ['create', ...dry, '--list', '--exclude-caches', '--keep-exclude-tags', `${repo}::a`, 'd'], base);
    t.is(r.code, 0, r.stderr);
    const status = new Map(r.stderr.trimEnd().split('\n').map((l) => [l.slice(2), l[0]]));
    t.is(status.get('d/cache'), 'x', r.stderr);
    t.is(status.get('d/cache/CACHEDIR.TAG'), dry.length > 0 ? '-' : 'A', r.stderr);
    t.false(status.has('d/cache/junk'));
  }
  const r = await hoardIn(env, ['list', '--short', `${repo}::a`]);
  t.deepEqual(r.stdout.trimEnd().split('\n').sort(), ['d', 'd/cache', 'd/cache/CACHEDIR.TAG', 'd/f']);
});

test('recreate --target expands placeholders, as borg\'s archive name validator does', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10 });
  await create(t, env, base, `${repo}::a`, 'd');
  const r = await hoardIn(env, ['recreate', '--target', '{hostname}-copy', `${repo}::a`]);
  t.is(r.code, 0, r.stderr);
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, `a\n${os.hostname().split('.')[0] ?? ''}-copy\n`);
});

test("list --format {tam} is borg's TAM state: 'verified' where archives are authenticated, 'none' in mode none", async (t) => {
  const env = testEnv();
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10 });
  for (const [mode, tam] of [['repokey', 'verified'], ['authenticated', 'verified'], ['none', 'none']]) {
    const repo = await makeRepo(env, mode);
    await create(t, env, base, `${repo}::a`, 'd');
    const r = await hoardIn(env, ['list', '--format', '{archive} {tam}{NL}', repo]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, `a ${tam}\n`, mode);
  }
});

test("borg's deprecated option names work and print borg's warning first, one line each", async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 10 });
  let r = await hoardIn(env, ['create', '--noatime', '--numeric-owner', '--nobsdflags', '--remote-ratelimit=100', `${repo}::tue`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stderr,
    [
      'Warning: "--noatime" has been deprecated because it is the default now.',
      'Warning: "--numeric-owner" has been deprecated. Use --numeric-ids instead.',
      'Warning: "--nobsdflags" has been deprecated. Use --noflags instead.',
      'Warning: "--remote-ratelimit" has been deprecated. Use --upload-ratelimit instead.',
      '',
    ].join('\n'),
  );
  r = await hoardIn(env, ['list', '--short', '--prefix', 'tu', repo]);
  t.is(r.stdout, 'tue\n');
  t.is(r.stderr, 'Warning: "--prefix" has been deprecated. Use "--glob-archives \'yourprefix*\'" (-a) instead.\n');
  // -P (the short name) and words after "--" are not deprecated options.
  r = await hoardIn(env, ['list', '--short', '-P', 'tu', repo]);
  t.is(r.stderr, '');
});
