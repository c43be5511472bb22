/**
 * `--exclude`, `--exclude-from`, `--pattern` and `--patterns-from` apply in command-line order, as
 * borg's argparse actions append them to one list: the first pattern that matches a path decides,
 * whichever option it came from. Each case below gives different results in its two orders; the
 * expected sets follow `borg help patterns` (fm: `*` crosses `/`; sh: `**\/` spans directories;
 * `--exclude` and `!` do not recurse into a directory they exclude, `-` does). Where borg is
 * installed, the create cases are compared with what it archives from the same tree.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir, testEnv } from './archive-helpers.js';

const ALL = ['src', 'src/a.txt', 'src/b.dat', 'src/sub', 'src/sub/c.txt', 'src/sub/d.dat'];

/** A tree to back up: two files at the top, two in a folder. */
function makeSource(work: string): void {
  mkdirSync(path.join(work, 'src', 'sub'), { recursive: true });
  writeFileSync(path.join(work, 'src', 'a.txt'), 'a\n');
  writeFileSync(path.join(work, 'src', 'b.dat'), 'b\n');
  writeFileSync(path.join(work, 'src', 'sub', 'c.txt'), 'c\n');
  writeFileSync(path.join(work, 'src', 'sub', 'd.dat'), 'd\n');
}

/** A file holding `lines`, for --exclude-from and --patterns-from. */
function listFile(work: string, name: string, lines: string[]): string {
  const file = path.join(work, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The cases for create: options (given a work folder for files), and the paths borg archives. */
function createCases(work: string): { name: string; options: string[]; expected: string[] }[] {
  const subFile = listFile(work, 'exclude-sub', ['src/sub']);
  const datIncludes = listFile(work, 'include-dat', ['+ **/*.dat']);
  return [
    { name: 'include before exclude', options: ['--pattern', '+ **/*.txt', '--exclude', 'src/*'], expected: ['src', 'src/a.txt'] },
    { name: 'exclude before include', options: ['--exclude', 'src/*', '--pattern', '+ **/*.txt'], expected: ['src'] },
    {
      name: '--exclude-from between two --pattern (no recursion into src/sub)',
      options: ['--pattern', '+ src/sub/c.txt', '--exclude-from', subFile, '--pattern', '- src/sub'],
      expected: ['src', 'src/a.txt', 'src/b.dat'],
    },
    {
      name: '--exclude-from after a recursing - line',
      options: ['--pattern', '+ src/sub/c.txt', '--pattern', '- src/sub', '--exclude-from', subFile],
      expected: ['src', 'src/a.txt', 'src/b.dat', 'src/sub/c.txt'],
    },
    { name: '--patterns-from before --exclude', options: ['--patterns-from', datIncludes, '--exclude', '*.dat'], expected: ALL },
    {
      name: '--exclude before --patterns-from',
      options: ['--exclude', '*.dat', '--patterns-from', datIncludes],
      expected: ['src', 'src/a.txt', 'src/sub', 'src/sub/c.txt'],
    },
    {
      name: '-e after --pattern',
      options: ['--pattern', '+ src/b.dat', '-e', '*.dat'],
      expected: ['src', 'src/a.txt', 'src/b.dat', 'src/sub', 'src/sub/c.txt'],
    },
    {
      name: 'bound values: --exclude= before --pattern=',
      options: ['--exclude=*.dat', '--pattern=+ src/b.dat'],
      expected: ['src', 'src/a.txt', 'src/sub', 'src/sub/c.txt'],
    },
  ];
}

/** The paths `list --short` shows, sorted. */
function paths(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l !== '').sort();
}

async function setUp(): Promise<{ env: NodeJS.ProcessEnv; work: string; repo: string }> {
  const env = testEnv();
  const work = tempDir('pattern-order');
  makeSource(work);
  const repo = path.join(work, 'repo');
  const r = await hoardIn(env, ['init', '-e', 'repokey', repo], work);
  if (r.code !== 0) throw new Error(r.stderr);
  return { env, work, repo };
}

test('create: the pattern options apply in command-line order', async (t) => {
  const { env, work, repo } = await setUp();
  for (const [i, c] of createCases(work).entries()) {
    const created = await hoardIn(env, ['create', ...c.options, `${repo}::c${i}`, 'src'], work);
    t.is(created.code, 0, `${c.name}: ${created.stderr}`);
    const listed = await hoardIn(env, ['list', '--short', `${repo}::c${i}`], work);
    t.is(listed.code, 0, listed.stderr);
    t.deepEqual(paths(listed.stdout), [...c.expected].sort(), c.name);
  }
});

test('list, extract, recreate, export-tar and diff apply them in command-line order too', async (t) => {
  const { env, work, repo } = await setUp();
  t.is((await hoardIn(env, ['create', `${repo}::all`, 'src'], work)).code, 0);
  const datFile = listFile(work, 'exclude-dat', ['*.dat']);

  // list: each path on its own (no recursion to prune).
  const list = async (options: string[]): Promise<string[]> => {
    const r = await hoardIn(env, ['list', '--short', ...options, `${repo}::all`], work);
    t.is(r.code, 0, r.stderr);
    return paths(r.stdout);
  };
  t.deepEqual(await list(['--pattern', '+ **/*.txt', '--exclude', '*']), ['src/a.txt', 'src/sub/c.txt']);
  t.deepEqual(await list(['--exclude', '*', '--pattern', '+ **/*.txt']), []);

  // extract: what lands on disk.
  const extract = async (tag: string, options: string[]): Promise<string[]> => {
    const dest = tempDir(`pattern-order-${tag}`);
    const r = await hoardIn(env, ['extract', ...options, `${repo}::all`], dest);
    t.is(r.code, 0, r.stderr);
    return ALL.filter((p) => existsSync(path.join(dest, p)));
  };
  t.deepEqual(await extract('x1', ['--exclude-from', datFile, '--pattern', '+ src/sub/d.dat']), ['src', 'src/a.txt', 'src/sub', 'src/sub/c.txt']);
  t.deepEqual(await extract('x2', ['--pattern', '+ src/sub/d.dat', '--exclude-from', datFile]), ['src', 'src/a.txt', 'src/sub', 'src/sub/c.txt', 'src/sub/d.dat']);

  // recreate --target: the new archive holds what the patterns let through.
  const recreate = async (target: string, options: string[]): Promise<string[]> => {
    const r = await hoardIn(env, ['recreate', '--target', target, ...options, `${repo}::all`], work);
    t.is(r.code, 0, r.stderr);
    const l = await hoardIn(env, ['list', '--short', `${repo}::${target}`], work);
    return paths(l.stdout);
  };
  t.deepEqual(await recreate('r1', ['--pattern', '+ src/sub/c.txt', '--exclude', 'src/sub']), ['src', 'src/a.txt', 'src/b.dat', 'src/sub/c.txt']);
  t.deepEqual(await recreate('r2', ['--exclude', 'src/sub', '--pattern', '+ src/sub/c.txt']), ['src', 'src/a.txt', 'src/b.dat']);

  // export-tar --list: the paths written to the tarball.
  const exportTar = async (tag: string, options: string[]): Promise<string[]> => {
    const r = await hoardIn(env, ['export-tar', '--list', ...options, `${repo}::all`, path.join(work, `${tag}.tar`)], work);
    t.is(r.code, 0, r.stderr);
    return paths(r.stderr);
  };
  t.deepEqual(await exportTar('t1', ['--pattern', '+ **/*.dat', '--exclude', 'src/sub']), ['src', 'src/a.txt', 'src/b.dat', 'src/sub/d.dat']);
  t.deepEqual(await exportTar('t2', ['--exclude', 'src/sub', '--pattern', '+ **/*.dat']), ['src', 'src/a.txt', 'src/b.dat']);

  // diff: only the changes under paths the patterns let through.
  writeFileSync(path.join(work, 'src', 'sub', 'c.txt'), 'c, changed\n');
  writeFileSync(path.join(work, 'src', 'sub', 'd.dat'), 'd, changed\n');
  t.is((await hoardIn(env, ['create', `${repo}::changed`, 'src'], work)).code, 0);
  const diff = async (options: string[]): Promise<string[]> => {
    const r = await hoardIn(env, ['diff', '--json-lines', ...options, `${repo}::all`, 'changed'], work);
    t.is(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => String((JSON.parse(l) as { path: unknown }).path)).sort();
  };
  t.deepEqual(await diff([]), ['src/sub/c.txt', 'src/sub/d.dat']);
  t.deepEqual(await diff(['--pattern', '+ **/c.txt', '--exclude', 'src/sub']), ['src/sub/c.txt']);
  t.deepEqual(await diff(['--exclude', 'src/sub', '--pattern', '+ **/c.txt']), []);
});

/** Whether a borg (1.2 or later) is installed to compare with. */
function borgVersion(): string | undefined {
  const r = spawnSync('borg', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const borg = borgVersion();

(borg !== undefined ? test : test.skip)('create: hoard archives the same paths as the installed borg for each order', async (t) => {
  const { env, work, repo } = await setUp();
  const borgRepo = path.join(work, 'borg-repo');
  const borgEnv: NodeJS.ProcessEnv = { ...process.env, BORG_BASE_DIR: tempDir('borg-base'), BORG_PASSPHRASE: '' };
  for (const k of Object.keys(borgEnv)) if (k.startsWith('HOARD_')) delete borgEnv[k];
  execFileSync('borg', ['init', '-e', 'none', borgRepo], { env: borgEnv, cwd: work, stdio: 'pipe' });
  for (const [i, c] of createCases(work).entries()) {
    execFileSync('borg', ['create', ...c.options, `${borgRepo}::c${i}`, 'src'], { env: borgEnv, cwd: work, stdio: 'pipe' });
    const fromBorg = paths(execFileSync('borg', ['list', '--short', `${borgRepo}::c${i}`], { env: borgEnv, cwd: work, encoding: 'utf8' }));
    t.deepEqual(fromBorg, [...c.expected].sort(), `${borg ?? 'borg'}: ${c.name}`);
    t.is((await hoardIn(env, ['create', ...c.options, `${repo}::c${i}`, 'src'], work)).code, 0);
    const fromHoard = paths((await hoardIn(env, ['list', '--short', `${repo}::c${i}`], work)).stdout);
    t.deepEqual(fromHoard, fromBorg, `hoard as borg: ${c.name}`);
  }
  // borg's list with patterns, in both orders.
  execFileSync('borg', ['create', `${borgRepo}::all`, 'src'], { env: borgEnv, cwd: work, stdio: 'pipe' });
  t.is((await hoardIn(env, ['create', `${repo}::all`, 'src'], work)).code, 0);
  for (const options of [
    ['--pattern', '+ **/*.txt', '--exclude', '*'],
    ['--exclude', '*', '--pattern', '+ **/*.txt'],
  ]) {
    const fromBorg = paths(execFileSync('borg', ['list', '--short', ...options, `${borgRepo}::all`], { env: borgEnv, cwd: work, encoding: 'utf8' }));
    const fromHoard = paths((await hoardIn(env, ['list', '--short', ...options, `${repo}::all`], work)).stdout);
    t.deepEqual(fromHoard, fromBorg, options.join(' '));
  }
  t.truthy(readFileSync(path.join(borgRepo, 'config')).length);
});
