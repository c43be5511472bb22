import test from 'ava';
import { readFileSync } from 'node:fs';

import { HOARD_BIN, runChild, runInProcess } from './helpers.js';

test('the bundle is ASCII, so V8 keeps its source at one byte a character', (t) => {
  // One character above U+00FF (a `…` in a kept comment) made V8 hold the whole 0.8 MB source
  // as UTF-16: a megabyte more in every command's peak memory.
  const text = readFileSync(HOARD_BIN, 'latin1');
  const at = text.search(/[^\x00-\x7f]/);
  t.is(at, -1, `non-ASCII at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`);
});

test('--version prints "hoard 1.4.0+hoard.VERSION" like borg prints "borg VERSION"', async (t) => {
  const r = await runInProcess(['--version']);
  t.is(r.code, 0);
  t.regex(r.stdout, /^hoard 1\.4\.0\+hoard\.\d+\.\d+\.\d+\n$/);
  const child = runChild(['-V']);
  t.is(child.code, 0);
  t.is(child.stdout, r.stdout);
});

test('help lists the commands and help COMMAND shows one command in detail', async (t) => {
  const all = await runInProcess(['help']);
  t.is(all.code, 0);
  t.regex(all.stdout, /hoard benchmark cpu/);
  t.regex(all.stdout, /hoard help/);
  const one = await runInProcess(['help', 'benchmark', 'cpu']);
  t.is(one.code, 0);
  t.regex(one.stdout, /Benchmark CPU-bound operations/);
  t.regex(one.stdout, /--size/);
  t.regex(one.stdout, /hoard benchmark cpu --size 100MB --json/);
  t.false(/\u001b\[/.test(one.stdout), 'no colour codes when not on a terminal');
});

test('an unknown command or option is one line on stderr and exit code 2', async (t) => {
  for (const argv of [['help', 'nope'], ['frobnicate'], ['benchmark', 'cpu', '--bogus'], ['benchmark', 'cpu', '--size', 'lots']]) {
    const r = await runInProcess(argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stdout, '', argv.join(' '));
    t.regex(r.stderr, /^hoard: [^\n]+\n$/, argv.join(' '));
  }
  const child = runChild(['benchmark', 'cpu', '--bogus']);
  t.is(child.code, 2);
  t.is(child.stderr, 'hoard: Unsupported option name ("--bogus").\n');
});

test("borg's common options are accepted, and --show-rc logs the return code", async (t) => {
  const r = await runInProcess([
    'benchmark', 'cpu', '--size', '2MB', '--json', '--show-rc', '--lock-wait', '5', '--umask', '0077',
    '--remote-path', 'borg', '-v', '--iec', '--log-json', '--upload-ratelimit', '100', '--rsh', 'ssh',
  ]);
  t.is(r.code, 0, r.stderr);
  // Under --log-json the return code is a log_message object.
  t.regex(r.stderr, /"message":"terminating with success status, rc 0","levelname":"INFO"[^\n]*\}\n$/);
  const bad = await runInProcess(['help', 'nope', '--show-rc']);
  t.regex(bad.stderr, /terminating with error status, rc 2\n$/);
});

test('--debug adds the stack to an error', async (t) => {
  const r = await runInProcess(['benchmark', 'cpu', '--size', 'x', '--debug']);
  t.is(r.code, 2);
  t.true(r.stderr.split('\n').length > 3);
  t.regex(r.stderr, /at /);
});
