/**
 * `--log-json` for every command on a real repository: each line on stderr is one JSON object of a
 * type borg writes (`log_message`, `file_status`, `question_*`) with borg's keys; the lines carry
 * what the text form shows; standard output is the same with and without it.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir, testEnv } from './archive-helpers.js';
import { pastFilesCacheGuard } from './helpers.js';
import type { CliResult } from './helpers.js';

const LEVELS = new Set(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']);

/** Every stderr line as an object, each checked for the keys borg gives its type. */
function jsonLines(t: ExecutionContext, stderr: string, what: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split('\n').filter((l) => l !== '')) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      t.fail(`${what}: stderr line is not JSON: ${line}`);
      continue;
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      t.fail(`${what}: not an object: ${line}`);
      continue;
    }
    const r = o as Record<string, unknown>;
    switch (r.type) {
      case 'log_message':
        t.deepEqual(Object.keys(r).filter((k) => k !== 'msgid'), ['type', 'time', 'message', 'levelname', 'name'], `${what}: ${line}`);
        t.is(typeof r.time, 'number', line);
        t.is(typeof r.message, 'string', line);
        t.true(LEVELS.has(String(r.levelname)), line);
        t.regex(String(r.name), /^hoard(\.[a-z-]+)*$/, line);
        break;
      case 'file_status':
        t.deepEqual(Object.keys(r), ['type', 'status', 'path'], `${what}: ${line}`);
        t.regex(String(r.status), /^[A-Zadhsbcfiux?-]$/, line);
        break;
      case 'question_prompt':
        t.deepEqual(Object.keys(r), ['type', 'msgid', 'message'], `${what}: ${line}`);
        break;
      case 'question_env_answer':
        t.deepEqual(Object.keys(r), ['env_var', 'type', 'msgid', 'message'], `${what}: ${line}`);
        break;
      default:
        t.fail(`${what}: unexpected type: ${line}`);
    }
    out.push(r);
  }
  return out;
}

/** The text a JSON line stands for: its message, or `STATUS PATH` for file_status. */
function asText(o: Record<string, unknown>): string {
  return o.type === 'file_status' ? `${String(o.status)} ${String(o.path)}` : String(o.message);
}

test('--log-json: every command writes only JSON objects on stderr and the same stdout', async (t) => {
  const env = testEnv();
  const work = tempDir('log-json');
  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(src, 'b.dat'), 'bravo\n');
  writeFileSync(path.join(src, 'sub', 'c.txt'), 'charlie\n');
  // The same steps run on two repositories: `json` with --log-json, `plain` without.
  const json = path.join(work, 'json-repo');
  const plain = path.join(work, 'plain-repo');
  const norm = (s: string): string =>
    s
      .replaceAll(json, 'REPO')
      .replaceAll(plain, 'REPO')
      .replaceAll('json-', 'X-')
      .replaceAll('plain-', 'X-')
      .replace(/[0-9a-f]{64}/g, 'ID')
      .replace(/\w{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'TIME');

  /** Runs `words ... --log-json rest(json)` and `words ... rest(plain)`; checks stderr, compares stdout. */
  const step = async (
    words: string[],
    rest: (repo: string, tag: string) => string[],
    opts: { compare?: boolean; same?: boolean; expectLines?: boolean; extraEnv?: NodeJS.ProcessEnv } = {},
  ): Promise<{ j: CliResult; p: CliResult; lines: Record<string, unknown>[] }> => {
    const what = [...words, ...rest('REPO', 'X')].join(' ');
    const e = { ...env, ...opts.extraEnv };
    // `same`: both runs on the json repository (the step changes nothing there).
    const j = await hoardIn(e, [...words, '--log-json', ...rest(json, 'json')], work);
    const p = await hoardIn(e, [...words, ...rest(opts.same === true ? json : plain, opts.same === true ? 'json' : 'plain')], work);
    t.is(j.code, p.code, `${what}: exit codes\n${j.stderr}\n${p.stderr}`);
    t.true(j.code === 0 || j.code === 1, `${what}: ${j.stderr}`);
    const lines = jsonLines(t, j.stderr, what);
    t.is(norm(j.stdout), norm(p.stdout), `${what}: stdout`);
    if (opts.expectLines === true) t.true(lines.length > 0, `${what}: some lines`);
    if (opts.compare === true) {
      const fromJson = lines.flatMap((o) => asText(o).split('\n')).map(norm).sort();
      const fromText = p.stderr.split('\n').filter((l) => l !== '').map(norm).sort();
      t.deepEqual(fromJson, fromText, `${what}: the same lines as text`);
    }
    return { j, p, lines };
  };

  await step(['init'], (r) => ['-e', 'repokey', r]);
  await pastFilesCacheGuard();
  const created = await step(['create'], (r) => ['--list', '--info', `${r}::one`, 'src'], { compare: true, expectLines: true });
  t.true(created.lines.some((o) => o.type === 'file_status' && o.path === 'src/sub/c.txt'));
  writeFileSync(path.join(src, 'a.txt'), 'alpha, changed\n');
  writeFileSync(path.join(src, 'sub', 'd.txt'), 'delta\n');
  await step(['create'], (r) => ['--list', '--info', `${r}::two`, 'src'], { compare: true, expectLines: true });
  await step(['list'], (r) => [r], { same: true });
  await step(['list'], (r) => ['--info', `${r}::two`], { same: true });
  await step(['info'], (r) => ['--info', `${r}::two`], { same: true });
  await step(['diff'], (r) => ['--info', `${r}::one`, 'two'], { same: true });
  const pruned = await step(['prune'], (r) => ['--list', '--dry-run', '--keep-last', '1', r], { same: true, compare: true, expectLines: true });
  // borgmatic reads prune --list lines as log_message objects of the list logger.
  t.deepEqual(
    pruned.lines.map((o) => [o.type, o.name, o.levelname, String(o.message).split(':')[0]]),
    [
      ['log_message', 'hoard.output.list', 'INFO', 'Keeping archive (rule'],
      ['log_message', 'hoard.output.list', 'INFO', 'Would prune'],
    ],
  );
  await step(['rename'], (r) => ['--info', `${r}::one`, 'first']);
  const recreated = await step(['recreate'], (r) => ['--list', '--info', '--exclude', 'src/sub', `${r}::two`], { compare: true, expectLines: true });
  t.true(recreated.lines.some((o) => o.type === 'file_status' && o.status === 'x' && o.path === 'src/sub'), recreated.j.stderr);
  const exported = await step(['export-tar'], (r, tag) => ['--list', '--info', `${r}::two`, path.join(work, `${tag}.tar`)], { compare: true, expectLines: true });
  t.deepEqual(exported.lines.map((o) => o.name), ['hoard.output.list', 'hoard.output.list', 'hoard.output.list']);
  t.deepEqual(readFileSync(path.join(work, 'json.tar')).length, readFileSync(path.join(work, 'plain.tar')).length);
  await step(['import-tar'], (r, tag) => ['--list', '--info', `${r}::imported`, path.join(work, `${tag}.tar`)], { compare: true, expectLines: true });
  await step(['delete'], (r) => ['--list', '--dry-run', `${r}::first`], { same: true, compare: true, expectLines: true });
  await step(['delete'], (r) => ['--list', `${r}::first`], { compare: true, expectLines: true });
  // The space freed differs by a few bytes between the two repositories (random session keys, padding).
  await step(['compact'], (r) => ['--info', r], { expectLines: true });
  await step(['check'], (r) => ['--info', r], { same: true, expectLines: true });
  const repaired = await step(['check'], (r) => ['--repair', '--info', r], { extraEnv: { BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' }, expectLines: true });
  t.deepEqual(repaired.lines.slice(0, 2).map((o) => [o.type, o.msgid]), [['question_prompt', null], ['question_env_answer', null]]);
  t.is(repaired.lines[1]?.message, 'YES (from BORG_CHECK_I_KNOW_WHAT_I_AM_DOING)');
  t.is(repaired.lines[1]?.env_var, 'BORG_CHECK_I_KNOW_WHAT_I_AM_DOING');
  const config = await step(['config'], (r) => ['--info', r, 'additional_free_space'], { same: true });
  t.is(config.j.stdout, '0\n');
  const key = await step(['key', 'export'], (r) => ['--info', r], { same: true });
  t.regex(key.j.stdout, /^HOARD_KEY [0-9a-f]{64}\n/);
  await step(['with-lock'], (r) => ['--info', r, 'true'], { same: true });
  await step(['break-lock'], (r) => ['--info', r], { same: true });
  await step(['delete'], (r) => ['--info', r], { extraEnv: { BORG_DELETE_I_KNOW_WHAT_I_AM_DOING: 'YES' }, expectLines: true });
});

test('--log-json: a refused confirmation is JSON too, and the error a log_message', async (t) => {
  const env = testEnv();
  const work = tempDir('log-json-no');
  const repo = path.join(work, 'repo');
  t.is((await hoardIn(env, ['init', '-e', 'repokey', repo], work)).code, 0);
  const r = await hoardIn({ ...env, HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING: 'no' }, ['delete', '--log-json', repo], work);
  t.is(r.code, 2);
  const lines = jsonLines(t, r.stderr, 'delete');
  t.deepEqual(lines.map((o) => o.type), ['question_prompt', 'question_env_answer', 'log_message']);
  t.is(lines[1]?.env_var, 'HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING');
  t.is(lines[2]?.message, 'Aborting.');
  t.is(lines[2]?.levelname, 'ERROR');
  t.is(r.stdout, '');
});
