/**
 * `--progress` and `--log-json` through the CLI: a live line on a real pseudo-terminal (made by
 * Python's pty module), nothing when stderr is not a terminal, and borg's JSON lines
 * (`archive_progress`, `progress_percent`, `file_status`, `log_message`) under `--log-json`.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN, pastFilesCacheGuard, pseudoRandom, textLike } from './helpers.js';

/**
 * Runs hoard with stderr on a new pseudo-terminal of 100 columns (stdout on a pipe) and returns
 * what the terminal received, stdout and the exit code.
 */
function onTerminal(argv: string[], env: NodeJS.ProcessEnv, cwd: string): { code: number; tty: string; stdout: string } {
  const script = [
    'import fcntl, json, os, pty, struct, subprocess, sys, termios',
    'master, slave = pty.openpty()',
    "fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))",
    'p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)',
    'os.close(slave)',
    "got = b''",
    'while True:',
    '    try:',
    '        data = os.read(master, 65536)',
    '    except OSError:',
    '        break',
    '    if not data:',
    '        break',
    '    got += data',
    'out = p.stdout.read()',
    'rc = p.wait()',
    "print(json.dumps({'code': rc, 'tty': got.decode('utf-8', 'replace'), 'stdout': out.decode('utf-8', 'replace')}))",
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, process.execPath, HOARD_BIN, ...argv], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pty helper failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; tty: string; stdout: string };
}

/** A repository with one archive `one` of a small tree; returns the environment, repository and work folder. */
async function setup(tag: string): Promise<{ env: NodeJS.ProcessEnv; repo: string; work: string; src: string }> {
  const env = testEnv();
  const repo = await makeRepo(env);
  const work = tempDir(tag);
  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  writeFileSync(path.join(src, 'sub', 'text.txt'), textLike(200_000));
  writeFileSync(path.join(src, 'random.bin'), pseudoRandom(1_500_000, tag));
  await pastFilesCacheGuard();
  const r = await hoardIn(env, ['create', `${repo}::one`, 'src'], work);
  if (r.code !== 0) throw new Error(r.stderr);
  return { env, repo, work, src };
}

/** The JSON objects of stderr, one a line; fails on a line that is not one. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('on a terminal, create, extract and check show a progress line on stderr and clear it', async (t) => {
  const { env, repo, work } = await setup('tty');
  const created = onTerminal(['create', '--progress', `${repo}::two`, 'src'], env, work);
  t.is(created.code, 0, created.tty);
  // borg's line: ORIGINAL O COMPRESSED C DEDUPLICATED D FILES N PATH, rewritten in place.
  t.regex(created.tty, /\r\d+(\.\d\d)? [kMG]?B O \d+(\.\d\d)? [kMG]?B C \d+(\.\d\d)? [kMG]?B D \d+ N src/);
  t.false(created.tty.includes('\n'), 'only \\r-rewritten lines, no newline');
  t.regex(created.tty, /\r +\r$/, 'the line is cleared at the end');
  t.true(created.tty.split('\r').every((l) => l.length <= 99), 'no line is wider than the terminal');

  const dest = tempDir('tty-extract');
  const extracted = onTerminal(['extract', '--progress', `${repo}::two`], env, dest);
  t.is(extracted.code, 0, extracted.tty);
  t.regex(extracted.tty, /\r *\d+\.\d% Extracting: src/);
  t.regex(extracted.tty, /\r +\r$/);

  const checked = onTerminal(['check', '--progress', repo], env, work);
  t.is(checked.code, 0, checked.tty);
  t.regex(checked.tty, /\r *\d+\.\d% Checking index objects and packs \(\d+\/\d+\)/);
  t.regex(checked.tty, /\r *\d+\.\d% Checking archive (one|two) \(\d+\/2\)/);
  t.regex(checked.tty, /\r +\r$/);

  // Without --progress the terminal gets nothing.
  const quiet = onTerminal(['create', `${repo}::three`, 'src'], env, work);
  t.is(quiet.code, 0);
  t.is(quiet.tty, '');
});

test('--progress writes nothing when stderr is not a terminal', async (t) => {
  const { env, repo, work } = await setup('notty');
  const created = await hoardIn(env, ['create', '--progress', `${repo}::two`, 'src'], work);
  t.is(created.code, 0, created.stderr);
  t.is(created.stderr, '');
  const dest = tempDir('notty-extract');
  const extracted = await hoardIn(env, ['extract', '--progress', `${repo}::two`], dest);
  t.is(extracted.code, 0, extracted.stderr);
  t.is(extracted.stderr, '');
  const checked = await hoardIn(env, ['check', '-p', repo], work);
  t.is(checked.code, 0, checked.stderr);
  t.is(checked.stderr, '');
});

test('--log-json --progress: archive_progress and progress_percent lines, also when not a terminal', async (t) => {
  const { env, repo, work } = await setup('jsonprogress');
  const created = await hoardIn(env, ['create', '--progress', '--log-json', `${repo}::two`, 'src'], work);
  t.is(created.code, 0, created.stderr);
  const cl = jsonLines(created.stderr);
  t.true(cl.length >= 2);
  t.true(cl.every((o) => o.type === 'archive_progress'));
  const first = cl[0] as Record<string, unknown>;
  t.deepEqual(Object.keys(first).sort(), ['compressed_size', 'deduplicated_size', 'finished', 'nfiles', 'original_size', 'path', 'time', 'type']);
  t.is(first.finished, false);
  t.is(typeof first.time, 'number');
  t.regex(String(first.path), /^src/);
  const end = cl[cl.length - 1] as Record<string, unknown>;
  t.deepEqual(Object.keys(end).sort(), ['finished', 'time', 'type']);
  t.is(end.finished, true);

  const dest = tempDir('jsonprogress-extract');
  const extracted = await hoardIn(env, ['extract', '--progress', '--log-json', `${repo}::two`], dest);
  t.is(extracted.code, 0, extracted.stderr);
  const el = jsonLines(extracted.stderr);
  t.true(el.every((o) => o.type === 'progress_percent' && o.msgid === 'extract'));
  const shown = el.filter((o) => o.finished === false);
  t.true(shown.length >= 1);
  t.deepEqual(Object.keys(shown[0] ?? {}).sort(), ['current', 'finished', 'info', 'message', 'msgid', 'operation', 'time', 'total', 'type']);
  t.is(shown[0]?.total, 1_700_000, 'the total is the bytes of the files to extract');
  t.regex(String(shown[0]?.message), /^ *\d+\.\d% Extracting: src/);
  const done = el[el.length - 1];
  t.deepEqual(Object.keys(done ?? {}).sort(), ['finished', 'msgid', 'operation', 'time', 'type']);
  t.is(done?.finished, true);

  const checked = await hoardIn(env, ['check', '--progress', '--log-json', repo], work);
  t.is(checked.code, 0, checked.stderr);
  const kl = jsonLines(checked.stderr);
  t.true(kl.every((o) => o.type === 'progress_percent'));
  t.deepEqual([...new Set(kl.map((o) => o.msgid))], ['check.repository', 'check.archives']);
  t.is(kl.filter((o) => o.finished === true).length, 2, 'each part finishes once');
  const ops = new Set(kl.map((o) => o.operation));
  t.is(ops.size, 2, 'the two parts are two operations');

  // --log-json alone shows no progress.
  const plain = await hoardIn(env, ['create', '--log-json', `${repo}::three`, 'src'], work);
  t.is(plain.code, 0);
  t.is(plain.stderr, '');
});

test('--log-json: file_status for create --list, log_message for log lines, --show-rc and errors', async (t) => {
  const { env, repo, work } = await setup('logjson');
  writeFileSync(path.join(work, 'src', 'new.txt'), 'new');
  const created = await hoardIn(env, ['create', '--log-json', '--list', '--filter', 'AM', '--stats', '--show-rc', `${repo}::two`, 'src'], work);
  t.is(created.code, 0, created.stderr);
  const lines = jsonLines(created.stderr);
  const files = lines.filter((o) => o.type === 'file_status');
  t.deepEqual(files, [{ type: 'file_status', status: 'A', path: 'src/new.txt' }]);
  const messages = lines.filter((o) => o.type === 'log_message');
  t.is(messages.length, 2, 'the statistics and the return code');
  for (const m of messages) {
    t.deepEqual(Object.keys(m).sort(), ['levelname', 'message', 'name', 'time', 'type']);
    t.is(typeof m.time, 'number');
    t.true(Math.abs((m.time as number) - Date.now() / 1000) < 600);
  }
  t.regex(String(messages[0]?.message), /Archive name: two/);
  t.is(messages[0]?.levelname, 'INFO');
  t.deepEqual({ ...messages[1], time: 0 }, {
    type: 'log_message',
    time: 0,
    message: 'terminating with success status, rc 0',
    levelname: 'INFO',
    name: 'hoard.output.show-rc',
  });

  // check -v logs its summaries at info level, as log_message objects named for the command.
  const checked = await hoardIn(env, ['check', '-v', '--log-json', repo], work);
  t.is(checked.code, 0);
  const cm = jsonLines(checked.stderr);
  t.true(cm.length >= 2);
  t.true(cm.every((o) => o.type === 'log_message' && o.name === 'hoard.check' && o.levelname === 'INFO'));
  t.true(cm.some((o) => /Archive consistency check complete/.test(String(o.message))));

  // An error: one log_message at ERROR with the error's code as msgid, and exit code 2.
  const missing = await hoardIn(env, ['list', '--log-json', '--show-rc', `${repo}::nope`], work);
  t.is(missing.code, 2);
  const [error, rc, ...rest] = jsonLines(missing.stderr);
  t.deepEqual(rest, []);
  t.is(error?.type, 'log_message');
  t.is(error?.levelname, 'ERROR');
  t.is(error?.msgid, 'HOARD_NO_SUCH_ARCHIVE');
  t.regex(String(error?.message), /nope/);
  t.false(String(error?.message).startsWith('hoard:'));
  t.is(rc?.levelname, 'ERROR');
  t.is(rc?.message, 'terminating with error status, rc 2');

  // Without --log-json the same lines are text.
  const text = await hoardIn(env, ['list', '--show-rc', `${repo}::nope`], work);
  t.regex(text.stderr, /^hoard: [^\n]*nope[^\n]*\nterminating with error status, rc 2\n$/);
});
