/**
 * `hoard with-lock REPO COMMAND [ARGS...]` through the CLI: the command runs while the exclusive
 * lock is held, with hoard's streams, and hoard exits with its code; a held lock refuses it.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN } from './helpers.js';

test('runs the command holding the exclusive lock, passes its arguments and output, exits with its code', async (t) => {
  const env = testEnv({ HOARD_PASSPHRASE: 'not needed' });
  const repo = await makeRepo(testEnv({ HOARD_CONFIG_DIR: env.HOARD_CONFIG_DIR, HOARD_CACHE_DIR: env.HOARD_CACHE_DIR }));
  const work = tempDir('with-lock');
  // Options after COMMAND belong to it, not to hoard: not split (-vClz4), not completed (--warn).
  const script = 'ls "$1/locks"; echo "args: $2 $3 $4 $5"; echo to-stderr >&2; exit 7';
  const r = await hoardIn({ ...env, HOARD_PASSPHRASE: undefined }, ['with-lock', repo, 'sh', '-c', script, 'sh', repo, '-v', '--json', '--warn', '-vClz4'], work);
  t.is(r.code, 7, r.stderr);
  t.regex(r.stdout, /^exclusive-[0-9a-f]{12}-[0-9a-f]{16}\nargs: -v --json --warn -vClz4\n$/);
  t.is(r.stderr, 'to-stderr\n');
  t.deepEqual(readdirSync(path.join(repo, 'locks')), [], 'the lock is released');

  const ok = await hoardIn(env, ['with-lock', '--show-rc', repo, 'true'], work);
  t.is(ok.code, 0);
  t.is(ok.stderr, 'terminating with success status, rc 0\n');

  // A command ended by a signal: 128 + N, as borg reports signals.
  const killed = await hoardIn(env, ['with-lock', repo, 'sh', '-c', 'kill -TERM $$'], work);
  t.is(killed.code, 143);

  // In-process too (the streams of the run are piped to the command).
  const inProcess = await hoardIn(env, ['with-lock', repo, 'sh', '-c', 'echo in-process; exit 3']);
  t.is(inProcess.code, 3);
  t.is(inProcess.stdout, 'in-process\n');
});

test('a held lock refuses with-lock after --lock-wait, and other commands give up on it too', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const work = tempDir('with-lock-held');
  const marker = path.join(work, 'inner-ran');
  // The outer with-lock holds the lock while its command runs hoard itself: a second with-lock,
  // a create and an info, each giving up after 0.3 s.
  const inner = [
    `"${process.execPath}" "${HOARD_BIN}" with-lock --lock-wait 0.3 "${repo}" touch "${marker}"; echo "with-lock=$?"`,
    `"${process.execPath}" "${HOARD_BIN}" create --lock-wait 0.3 "${repo}::x" "${work}"; echo "create=$?"`,
    `"${process.execPath}" "${HOARD_BIN}" info --lock-wait 0.3 "${repo}"; echo "info=$?"`,
  ].join('\n');
  const outer = await hoardIn(env, ['with-lock', repo, 'sh', '-c', inner], work);
  t.is(outer.code, 0, outer.stderr);
  t.regex(outer.stdout, /with-lock=2\ncreate=2\ninfo=2\n$/);
  t.false(existsSync(marker), 'the refused command did not run');
  const lines = outer.stderr.trim().split('\n');
  t.is(lines.length, 3);
  for (const l of lines) t.regex(l, /^hoard: Failed to create\/acquire the lock .* \(timeout\): held by an exclusive lock of pid \d+/);

  // Once released, the same command runs.
  const after = await hoardIn(env, ['with-lock', repo, 'touch', marker], work);
  t.is(after.code, 0, after.stderr);
  t.true(existsSync(marker));
});

test('with-lock refuses a missing command, an archive, and a folder that is no repository', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const work = tempDir('with-lock-bad');
  const missing = await hoardIn(env, ['with-lock', repo, 'no-such-command-here'], work);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^hoard: Error while trying to run 'no-such-command-here': [^\n]*ENOENT\n$/);
  t.deepEqual(readdirSync(path.join(repo, 'locks')), []);
  const archive = await hoardIn(env, ['with-lock', `${repo}::a`, 'true'], work);
  t.is(archive.code, 2);
  t.regex(archive.stderr, /^hoard: with-lock takes a repository, not an archive\n$/);
  const none = await hoardIn(env, ['with-lock', work, 'true'], work);
  t.is(none.code, 2);
  t.regex(none.stderr, /^hoard: [^\n]+\n$/);
  const noCommand = await hoardIn(env, ['with-lock', repo], work);
  t.is(noCommand.code, 2);
  t.regex(noCommand.stderr, /^hoard: [^\n]+\n$/);
});

test('SIGTERM to hoard reaches the command, and the lock is released after it ends', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const loop = 'trap "echo got-term; exit 5" TERM; echo "ready $$"; while :; do sleep 0.05; done';
  const child = spawn(process.execPath, [HOARD_BIN, 'with-lock', repo, 'sh', '-c', loop], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  // 'exit', not 'close': a command that outlived hoard would hold the pipes open.
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const shPid = await Promise.race([
    new Promise<number>((resolve) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /ready (\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    }),
    exited.then(() => 0),
  ]);
  try {
    t.true(shPid > 0, `the command started: ${err}`);
    t.is(readdirSync(path.join(repo, 'locks')).length, 1);
    child.kill('SIGTERM');
    // A hoard that did not pass the signal on would wait forever: give it a minute, then fail.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(guard);
    t.is(code, 5, err);
    await new Promise<void>((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.once('end', () => resolve())));
    t.regex(out, /ready \d+\ngot-term\n/);
    t.deepEqual(readdirSync(path.join(repo, 'locks')), []);
  } finally {
    try {
      if (shPid > 0) process.kill(shPid, 'SIGKILL');
    } catch {
      // gone already, as it should be
    }
  }
});
