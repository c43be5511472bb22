import test from 'ava';
import { appendFileSync, chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

import { hoardIn, makeRepo, makeTree, tempDir, testEnv, walk } from './archive-helpers.js';
import { snapshot } from './check-helpers.js';

test('create then extract reproduces the tree: contents, types, modes, times, links and odd names', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  makeTree(src);
  const c = await hoardIn(env, ['create', `${repo}::first`, 'src'], base);
  t.is(c.code, 0, c.stderr);
  t.is(c.stdout, '');
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', `${repo}::first`], out);
  t.is(x.code, 0, x.stderr);
  const want = walk(src);
  const got = walk(path.join(out, 'src'));
  t.true([...want.values()].some((w) => w.xattrs.length > 0), 'the tree has xattrs to compare');
  t.is(want.get('fifo')?.type, 'p');
  t.deepEqual([...got.keys()], [...want.keys()]);
  for (const [k, w] of want) t.deepEqual(got.get(k), w, k);
  // Holes come back as holes with --sparse.
  const sparseOut = tempDir('sparse');
  const s = await hoardIn(env, ['extract', '--sparse', `${repo}::first`, 'src/sparse'], sparseOut);
  t.is(s.code, 0, s.stderr);
  const st = statSync(path.join(sparseOut, 'src', 'sparse'));
  t.is(st.size, 8 << 20);
  t.true(st.blocks * 512 < 1 << 20, `${st.blocks} blocks`);
});

test('list shows archives and items in borg layouts; --json and --json-lines parse', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  mkdirSync(path.join(base, 'd'));
  writeFileSync(path.join(base, 'd', 'f.txt'), 'hello\n');
  t.is((await hoardIn(env, ['create', `${repo}::Monday`, 'd'], base)).code, 0);
  t.is((await hoardIn(env, ['create', `${repo}::Tuesday`, 'd'], base)).code, 0);
  const archives = await hoardIn(env, ['list', repo]);
  t.is(archives.code, 0, archives.stderr);
  const lines = archives.stdout.trimEnd().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[0] ?? '', /^Monday {31}[A-Z][a-z]{2}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[0-9a-f]{64}\]$/);
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'Monday\nTuesday\n');
  t.is((await hoardIn(env, ['list', '--last', '1', '--short', repo])).stdout, 'Tuesday\n');
  t.is((await hoardIn(env, ['list', '-a', 'Tue*', '--format', '{name}{NL}', repo])).stdout, 'Tuesday\n');
  const json = JSON.parse((await hoardIn(env, ['list', '--json', repo])).stdout) as { archives: { name: string; id: string }[]; repository: { id: string } };
  t.deepEqual(
    json.archives.map((a) => a.name),
    ['Monday', 'Tuesday'],
  );
  // The keys a --format names join the JSON, as borg adds them.
  const formatted = JSON.parse((await hoardIn(env, ['list', '--json', '--format', '{comment}{hostname}{end}', '--last', '1', repo])).stdout) as { archives: Record<string, string>[] };
  t.deepEqual(Object.keys(formatted.archives[0] ?? {}).sort(), ['archive', 'barchive', 'comment', 'end', 'hostname', 'id', 'name', 'start', 'time']);
  t.is(formatted.archives[0]?.hostname, hostname());
  const items = await hoardIn(env, ['list', `${repo}::Monday`]);
  t.regex(items.stdout, /^drwx\S+ \S+ +\S+ +0 [A-Z][a-z]{2}, [-\d]+ [:\d]+ d\n-rw\S+ \S+ +\S+ +6 [A-Z][a-z]{2}, [-\d]+ [:\d]+ d\/f\.txt\n$/);
  const jl = (await hoardIn(env, ['list', '--json-lines', `${repo}::Monday`, 'd/f.txt'])).stdout.trimEnd().split('\n');
  t.is(jl.length, 1);
  const item = JSON.parse(jl[0] ?? '{}') as { path: string; size: number; type: string; mode: string };
  t.is(item.path, 'd/f.txt');
  t.is(item.size, 6);
  t.is(item.type, '-');
  // Each JSON form belongs to one kind of listing, as in borg.
  const wrongJson = await hoardIn(env, ['list', '--json', `${repo}::Monday`]);
  t.is(wrongJson.code, 2);
  t.regex(wrongJson.stderr, /--json option is only valid for listing archives/);
  t.is((await hoardIn(env, ['list', '--json-lines', repo])).code, 2);
  // A hard link: 'h' leads its mode, as in borg, while its type stays '-'.
  chmodSync(path.join(base, 'd', 'f.txt'), 0o640);
  linkSync(path.join(base, 'd', 'f.txt'), path.join(base, 'd', 'g.txt'));
  t.is((await hoardIn(env, ['create', `${repo}::Wednesday`, 'd'], base)).code, 0);
  const linked = await hoardIn(env, ['list', `${repo}::Wednesday`, 'd/g.txt']);
  t.regex(linked.stdout, /^hrw-r----- .* d\/g\.txt link to d\/f\.txt\n$/);
  const hl = JSON.parse((await hoardIn(env, ['list', '--json-lines', `${repo}::Wednesday`, 'd/g.txt'])).stdout) as { mode: string; type: string };
  t.deepEqual([hl.mode, hl.type], ['hrw-r-----', '-']);
});

test('a second create reads only changed files and stores only new data; --stats in borg layout', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(src);
  makeTree(src);
  // borg's race guard: files changed in the second before a run are not remembered as unchanged.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const first = await hoardIn(env, ['create', '--stats', `${repo}::one`, 'src'], base);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stderr, /^-{78}\nRepository: .*\nArchive name: one\nArchive fingerprint: [0-9a-f]{64}\nTime \(start\): .*\nTime \(end\): {3}.*\nDuration: [\d.]+ seconds\nNumber of files: \d+\n/);
  t.regex(first.stderr, /\n {23}Original size {6}Compressed size {4}Deduplicated size\nThis archive: +[\d.]+ [kMG]?B +[\d.]+ [kMG]?B +[\d.]+ [kMG]?B\n/);
  appendFileSync(path.join(src, 'docs', 'text.txt'), 'changed');
  const second = await hoardIn(env, ['create', '--list', '--filter', 'AMU', '--stats', `${repo}::two`, 'src'], base);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stderr, /^M src\/docs\/text\.txt$/m);
  t.regex(second.stderr, /^U src\/big\.bin$/m);
  t.notRegex(second.stderr, /^d /m, '--filter leaves out directories');
  const dedup = /This archive: +\S+ \S+ +\S+ \S+ +([\d.]+) ([kMG]?B)/.exec(second.stderr);
  t.truthy(dedup);
  // The 5 MB file and most of the text are not stored again.
  t.true(dedup?.[2] === 'B' || dedup?.[2] === 'kB', `deduplicated ${dedup?.[1]} ${dedup?.[2]}`);
});

test('create --json has borg keys; placeholders expand in the archive name', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  writeFileSync(path.join(base, 'f'), 'x');
  const r = await hoardIn(env, ['create', '--json', `${repo}::{hostname}-{now:%Y}`, 'f'], base);
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { archive: { name: string; id: string; stats: { nfiles: number; original_size: number } }; repository: { id: string }; cache: { stats: { total_unique_chunks: number } } };
  t.regex(j.archive.name, new RegExp(`^[^{]+-${new Date().getFullYear()}$`));
  t.is(j.archive.stats.nfiles, 1);
  t.is(j.archive.stats.original_size, 1);
  t.regex(j.archive.id, /^[0-9a-f]{64}$/);
  t.true(j.cache.stats.total_unique_chunks >= 2);
});

test('excludes, --exclude-caches and --exclude-if-present leave paths out; extract PATHs and --strip-components', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(path.join(src, 'cache'), { recursive: true });
  mkdirSync(path.join(src, 'skip'), { recursive: true });
  mkdirSync(path.join(src, 'keep', 'sub'), { recursive: true });
  writeFileSync(path.join(src, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  writeFileSync(path.join(src, 'cache', 'blob'), 'cached');
  writeFileSync(path.join(src, 'skip', '.nobackup'), '');
  writeFileSync(path.join(src, 'skip', 'x'), 'x');
  writeFileSync(path.join(src, 'keep', 'a.o'), 'object');
  writeFileSync(path.join(src, 'keep', 'sub', 'b.c'), 'source');
  const r = await hoardIn(env, ['create', '--exclude-caches', '--exclude-if-present', '.nobackup', '-e', '*.o', `${repo}::a`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  const names = (await hoardIn(env, ['list', '--short', `${repo}::a`])).stdout.trimEnd().split('\n');
  t.deepEqual(names, ['src', 'src/keep', 'src/keep/sub', 'src/keep/sub/b.c']);
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', '--strip-components', '2', `${repo}::a`, 'src/keep/sub'], out);
  t.is(x.code, 0, x.stderr);
  t.deepEqual(readdirSync(out), ['sub']);
  t.is(readFileSync(path.join(out, 'sub', 'b.c'), 'utf8'), 'source');
  const never = await hoardIn(env, ['extract', `${repo}::a`, 'src/nothing-here'], tempDir('out'));
  t.is(never.code, 1);
  t.regex(never.stderr, /Include pattern 'src\/nothing-here' never matched\./);
});

test('bad input is one line and exit code 2, and changes nothing', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  writeFileSync(path.join(base, 'f'), 'x');
  t.is((await hoardIn(env, ['create', `${repo}::a`, 'f'], base)).code, 0);
  const before = snapshot(repo);
  const cases: [string[], RegExp][] = [
    [['create', `${repo}::a`, 'f'], /Archive a already exists/],
    [['list', `${repo}::nope`], /Archive nope does not exist/],
    [['extract', `${repo}::nope`], /Archive nope does not exist/],
    [['list', path.join(base, 'f')], /is not a hoard repository|does not exist/],
    [['create', '--compression', 'bogus', `${repo}::b`, 'f'], /compression/],
    [['create', '--chunker-params', 'buzhash,1,2', `${repo}::b`, 'f'], /chunker/],
    [['create', '--no-such-option', `${repo}::b`, 'f'], /Unsupported option name|Unknown Syntax Error|no-such-option/],
  ];
  for (const [argv, msg] of cases) {
    const r = await hoardIn(env, argv, base);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, msg, argv.join(' '));
    t.is(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  for (const argv of [['list', repo], ['create', `${repo}::b`, 'f'], ['extract', `${repo}::a`]]) {
    const wrong = await hoardIn({ ...env, HOARD_PASSPHRASE: 'wrong' }, argv, base);
    t.is(wrong.code, 2, argv.join(' '));
    t.regex(wrong.stderr, /^hoard: .*passphrase.*\n$/i, argv.join(' '));
  }
  t.deepEqual(snapshot(repo), before, 'nothing in the repository changed');
});

test('a vanished or unreadable file is a warning (exit 1) and the backup goes on', async (t) => {
  if (process.getuid?.() === 0) {
    // root reads files of mode 000; make one vanish instead: a dangling path given on the command line.
    const env = testEnv();
    const repo = await makeRepo(env);
    const base = tempDir('src');
    writeFileSync(path.join(base, 'ok'), 'fine');
    const r = await hoardIn(env, ['create', `${repo}::a`, 'ok', 'missing'], base);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /missing/);
    t.is((await hoardIn(env, ['list', '--short', `${repo}::a`])).stdout, 'ok\n');
    return;
  }
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  writeFileSync(path.join(base, 'ok'), 'fine');
  writeFileSync(path.join(base, 'secret'), 'no');
  const { chmodSync } = await import('node:fs');
  chmodSync(path.join(base, 'secret'), 0);
  const r = await hoardIn(env, ['create', `${repo}::a`, 'ok', 'secret'], base);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /secret/);
  t.is((await hoardIn(env, ['list', '--short', `${repo}::a`])).stdout, 'ok\n');
});

test('a - pattern leaves a directory out but walks it, so a + pattern before it takes what is below', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  mkdirSync(path.join(base, 'src', 'skip', 'keep'), { recursive: true });
  writeFileSync(path.join(base, 'src', 'skip', 'keep', 'wanted'), 'yes');
  writeFileSync(path.join(base, 'src', 'skip', 'unwanted'), 'no');
  writeFileSync(path.join(base, 'src', 'top'), 'top');
  const r = await hoardIn(env, ['create', '--pattern', '+ src/skip/keep', '--pattern', '- src/skip', `${repo}::a`, 'src'], base);
  t.is(r.code, 0, r.stderr);
  const names = (await hoardIn(env, ['list', '--short', `${repo}::a`])).stdout.trimEnd().split('\n');
  t.deepEqual(names, ['src', 'src/skip/keep', 'src/skip/keep/wanted', 'src/top']);
  const out = tempDir('out');
  t.is((await hoardIn(env, ['extract', `${repo}::a`], out)).code, 0);
  t.is(readFileSync(path.join(out, 'src', 'skip', 'keep', 'wanted'), 'utf8'), 'yes');
  t.deepEqual(readdirSync(path.join(out, 'src', 'skip')), ['keep']);
});
