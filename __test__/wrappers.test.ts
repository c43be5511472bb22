/**
 * hoard driven the way borgmatic drives borg 1.4: `--version` parsed for its second word,
 * `init`, `create` with borgmatic's usual flags and `--json`, `list --json`, `info --json`,
 * `check`, `prune --list`; every JSON output parsed and checked for the keys borg documents.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir, testEnv } from './archive-helpers.js';
import { pastFilesCacheGuard, pseudoRandom, runChild, textLike } from './helpers.js';

/** PEP 440's version grammar (its appendix B), as packaging parses versions. */
const PEP440 =
  /^v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)(?<pre>[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?(?<post>(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?(?<dev>[-_.]?dev[-_.]?[0-9]*)?)(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

/** The release numbers of a PEP 440 version, padded to three. */
function release(version: string): number[] {
  const m = PEP440.exec(version);
  if (!m?.groups?.release) throw new Error(`not a PEP 440 version: ${version}`);
  const parts = m.groups.release.split('.').map(Number);
  while (parts.length < 3) parts.push(0);
  return parts;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function hasPythonPackaging(): boolean {
  try {
    execFileSync('python3', ['-c', 'import packaging.version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

test('--version: the second word is a PEP 440 version of borg 1.4 that names hoard, as borgmatic parses it', async (t) => {
  // borgmatic runs `borg --version` (plus --info, or --debug --show-rc) and takes stdout.split(' ')[1].
  for (const extra of [[], ['--info'], ['--debug', '--show-rc']]) {
    const r = runChild(['--version', ...extra]);
    t.is(r.code, 0, r.stderr);
    const word = (r.stdout.split(' ')[1] ?? '').trim();
    t.regex(r.stdout, /^hoard \S+\n$/);
    t.regex(word, PEP440);
    t.true(compare(release(word), [1, 4, 0]) >= 0, `${word} >= 1.4.0`);
    t.true(compare(release(word), [2, 0, 0]) < 0, `${word} < 2.0.0`);
    t.regex(word, /\+hoard\.\d+\.\d+\.\d+/, "hoard's own version is the local label");
  }
  if (hasPythonPackaging()) {
    const word = (runChild(['--version']).stdout.split(' ')[1] ?? '').trim();
    // As borgmatic compares: packaging.version against its feature thresholds.
    const script = [
      'import sys',
      'from packaging.version import Version',
      'v = Version(sys.argv[1])',
      "assert Version('1.4.0') <= v < Version('2.0.0a2'), v",
      "assert v >= Version('1.2.0b3') and v >= Version('1.1.12'), v",
      'print(v.release, v.local)',
    ].join('\n');
    const out = execFileSync('python3', ['-c', script, word], { encoding: 'utf8' });
    t.regex(out, /^\(1, 4, 0\) hoard\.\d+\.\d+\.\d+\n$/);
  } else {
    t.log('python3 packaging is not installed: the PEP 440 regex above stands for it');
  }
});

test('create --list names paths as given (absolute stay absolute); a /./ in a path leaves out what is before it in the archive', async (t) => {
  const env = testEnv();
  const work = tempDir('slashdot');
  mkdirSync(path.join(work, 'run', 'dumps'), { recursive: true });
  writeFileSync(path.join(work, 'run', 'dumps', 'db.sql'), 'dump');
  mkdirSync(path.join(work, 'src'));
  writeFileSync(path.join(work, 'src', 'f'), 'f');
  const repo = path.join(work, 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'none', repo], work)).code, 0);
  // borgmatic's dry run before each create reads these lines for the special files to exclude.
  const dumps = path.join(work, 'run', 'dumps');
  const dry = await hoardIn(env, ['create', '-n', '--list', `${repo}::a`, dumps, 'src/'], work);
  t.is(dry.code, 0, dry.stderr);
  t.deepEqual(dry.stderr.trim().split('\n').sort(), [`- ${dumps}`, `- ${dumps}/db.sql`, '- src', '- src/f'].sort());
  // borgmatic 1.9's runtime folder: archived from the /./ on.
  const made = await hoardIn(env, ['create', '--list', `${repo}::b`, `${work}/run/./dumps`, `${work}/./src`], work);
  t.is(made.code, 0, made.stderr);
  t.true(made.stderr.includes(`A ${dumps}/db.sql\n`), made.stderr);
  const listed = await hoardIn(env, ['list', '--format', '{path}{NL}', `${repo}::b`], work);
  t.deepEqual(listed.stdout.trim().split('\n').sort(), ['dumps', 'dumps/db.sql', 'src', 'src/f']);
});

test('a borgmatic run: init, create --json with its flags, list --json, info --json, check, prune --list', async (t) => {
  const env = testEnv();
  const work = tempDir('borgmatic');
  const src = path.join(work, 'home');
  mkdirSync(path.join(src, 'docs'), { recursive: true });
  mkdirSync(path.join(src, 'cache'), { recursive: true });
  mkdirSync(path.join(src, 'skip'), { recursive: true });
  writeFileSync(path.join(src, 'docs', 'a.txt'), textLike(50_000));
  writeFileSync(path.join(src, 'b.bin'), pseudoRandom(300_000, 'borgmatic'));
  writeFileSync(path.join(src, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  writeFileSync(path.join(src, 'cache', 'junk'), 'cached');
  writeFileSync(path.join(src, 'skip', 'x.tmp'), 'tmp');
  writeFileSync(path.join(src, 'docs', 'y.tmp'), 'tmp');
  // borgmatic writes its excludes and patterns to temporary files.
  const excludes = path.join(work, 'excludes');
  writeFileSync(excludes, '*.tmp\n');
  const patterns = path.join(work, 'patterns');
  writeFileSync(patterns, `R ${src}\n`);
  const repo = path.join(work, 'repo');

  const init = await hoardIn(env, ['init', '--encryption', 'repokey-blake2', '--debug', '--show-rc', repo], work);
  t.is(init.code, 0, init.stderr);
  t.regex(init.stderr, /terminating with success status, rc 0\n$/);

  const archive = '{hostname}-{now:%Y-%m-%dT%H:%M:%S.%f}';
  const createArgs = [
    'create',
    '--patterns-from', patterns,
    '--exclude-from', excludes,
    '--exclude-caches',
    '--one-file-system',
    '--files-cache', 'ctime,size,inode',
    '--lock-wait', '5',
    '--umask', '0077',
    '--compression', 'lz4',
    '--checkpoint-interval', '1800',
    '--stats',
    '--list', '--filter', 'AME-',
    '--debug', '--show-rc',
    '--json',
    `${repo}::${archive}`,
  ];
  await pastFilesCacheGuard();
  const created = await hoardIn(env, createArgs, work);
  t.is(created.code, 0, created.stderr);
  const cj = JSON.parse(created.stdout) as Record<string, any>;
  t.deepEqual(Object.keys(cj).sort(), ['archive', 'cache', 'encryption', 'repository']);
  t.deepEqual(Object.keys(cj.archive).sort(), ['command_line', 'duration', 'end', 'id', 'limits', 'name', 'start', 'stats']);
  t.regex(cj.archive.id, HEX64);
  t.regex(cj.archive.name, /^[^-]+-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/, 'placeholders with %f expanded');
  t.regex(cj.archive.start, ISO_MICRO);
  t.regex(cj.archive.end, ISO_MICRO);
  t.is(typeof cj.archive.duration, 'number');
  t.true(Array.isArray(cj.archive.command_line));
  t.is(typeof cj.archive.limits.max_archive_size, 'number');
  t.deepEqual(Object.keys(cj.archive.stats).sort(), ['compressed_size', 'deduplicated_size', 'nfiles', 'original_size']);
  t.is(cj.archive.stats.nfiles, 2, 'a.txt and b.bin: the .tmp files and the tagged cache are left out');
  t.is(cj.archive.stats.original_size, 350_000);
  t.true(cj.archive.stats.deduplicated_size > 300_000);
  t.deepEqual(Object.keys(cj.cache).sort(), ['path', 'stats']);
  t.deepEqual(Object.keys(cj.cache.stats).sort(), ['total_chunks', 'total_csize', 'total_size', 'total_unique_chunks', 'unique_csize', 'unique_size']);
  t.deepEqual(Object.keys(cj.encryption), ['mode']);
  t.regex(cj.encryption.mode, /^repokey/);
  t.deepEqual(Object.keys(cj.repository).sort(), ['id', 'last_modified', 'location']);
  t.regex(cj.repository.id, HEX64);
  t.is(cj.repository.location, repo);
  // --list --filter AME- on stderr: the new files, nothing excluded or unchanged.
  const listed = created.stderr.split('\n').filter((l) => /^[A-Za-z-] /.test(l));
  t.deepEqual(listed.sort(), [`A ${src}/b.bin`, `A ${src}/docs/a.txt`]);
  t.regex(created.stderr, /terminating with success status, rc 0\n$/);

  // A second run: the files cache knows both files, so --filter AME- lists nothing.
  const again = await hoardIn(env, createArgs, work);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(again.stderr.split('\n').filter((l) => /^[AME-] /.test(l)), []);
  const aj = JSON.parse(again.stdout) as Record<string, any>;
  t.is(aj.archive.stats.nfiles, 2);
  t.is(aj.archive.stats.deduplicated_size, 0, 'nothing new but the trees, which borg 1.4 leaves out');

  // borgmatic's `list` (repo-list for borg 1.x) and `info`.
  const list = await hoardIn(env, ['list', '--json', '--lock-wait', '5', repo], work);
  t.is(list.code, 0, list.stderr);
  const lj = JSON.parse(list.stdout) as Record<string, any>;
  t.deepEqual(Object.keys(lj).sort(), ['archives', 'encryption', 'repository']);
  t.is(lj.archives.length, 2);
  for (const a of lj.archives) {
    t.deepEqual(Object.keys(a).sort(), ['archive', 'barchive', 'id', 'name', 'start', 'time']);
    t.regex(a.id, HEX64);
    t.regex(a.time, ISO_MICRO);
    t.is(a.archive, a.name);
  }
  t.is(lj.archives[0].id, cj.archive.id);
  t.is(lj.archives[1].id, aj.archive.id);

  const info = await hoardIn(env, ['info', '--json', '--lock-wait', '5', repo], work);
  t.is(info.code, 0, info.stderr);
  const ij = JSON.parse(info.stdout) as Record<string, any>;
  t.deepEqual(Object.keys(ij).sort(), ['cache', 'encryption', 'repository', 'security_dir']);
  t.deepEqual(Object.keys(ij.cache.stats).sort(), Object.keys(cj.cache.stats).sort());
  t.is(ij.repository.id, cj.repository.id);

  const last = await hoardIn(env, ['info', '--json', '--last', '1', repo], work);
  t.is(last.code, 0, last.stderr);
  const lastJ = JSON.parse(last.stdout) as Record<string, any>;
  t.deepEqual(Object.keys(lastJ).sort(), ['archives', 'cache', 'encryption', 'repository']);
  t.is(lastJ.archives.length, 1);
  t.deepEqual(Object.keys(lastJ.archives[0]).sort(), [
    'chunker_params', 'command_line', 'comment', 'duration', 'end', 'hostname', 'id', 'limits', 'name', 'start', 'stats', 'username',
  ]);
  t.deepEqual(lastJ.archives[0].chunker_params, ['buzhash', 19, 23, 21, 4095]);
  t.is(lastJ.archives[0].name, aj.archive.name);
  t.is(lastJ.archives[0].stats.nfiles, 2);
  t.is(lastJ.archives[0].stats.original_size, 350_000);

  // `list --json-lines` of an archive, as borgmatic's `list --archive`.
  const items = await hoardIn(env, ['list', '--json-lines', `${repo}::${aj.archive.name}`], work);
  t.is(items.code, 0, items.stderr);
  const lines = items.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const file = lines.find((l) => typeof l.path === 'string' && l.path.endsWith('/b.bin'));
  t.truthy(file);
  for (const k of ['type', 'mode', 'user', 'group', 'uid', 'gid', 'path', 'healthy', 'source', 'linktarget', 'flags', 'size', 'mtime']) {
    t.true(file !== undefined && k in file, k);
  }
  t.is(file?.size, 300_000);

  // borgmatic's check: repository and archives, the last ones by glob.
  const check = await hoardIn(env, ['check', '--glob-archives', '*-*', '--last', '3', '--lock-wait', '5', '--show-rc', repo], work);
  t.is(check.code, 0, check.stderr);
  t.regex(check.stderr, /terminating with success status, rc 0\n$/);

  // TODO(prune): `prune` is being written beside this; this step runs once the command exists.
  const help = await hoardIn(env, ['help', 'prune'], work);
  if (help.code !== 0) {
    t.log('prune does not exist yet: the prune step is skipped');
    return;
  }
  const prune = await hoardIn(env, ['prune', '--keep-last', '1', '--glob-archives', '*-*', '--list', '--stats', '--lock-wait', '5', '--show-rc', repo], work);
  t.is(prune.code, 0, prune.stderr);
  t.true(prune.stderr.includes(aj.archive.name), 'the kept archive is listed');
  t.true(prune.stderr.includes(cj.archive.name), 'the pruned archive is listed');
  const after = await hoardIn(env, ['list', '--json', repo], work);
  t.deepEqual((JSON.parse(after.stdout) as Record<string, any>).archives.map((a: { id: string }) => a.id), [aj.archive.id]);
});
