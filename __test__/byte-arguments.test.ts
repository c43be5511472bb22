import test from 'ava';
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { HOARD_BIN, type CliResult } from './helpers.js';

/** `text` with `\xNN` escapes as the bytes they name (so 'd\\xff' is the two bytes 64 ff). */
function b(text: string): Buffer {
  return Buffer.from(text.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1');
}

/**
 * Runs hoard as a child in `cwd` with arguments (and `cwd`) given as bytes: Node's spawn encodes
 * them as UTF-8, so Python passes them on as they are. `input` goes to its stdin.
 */
async function hoardBytes(env: NodeJS.ProcessEnv, argv: Buffer[], cwd: string | Buffer, input?: Buffer): Promise<CliResult> {
  const exec = 'import os,sys; os.chdir(bytes.fromhex(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:4] + [bytes.fromhex(a) for a in sys.argv[4:]])';
  const args = [Buffer.from(cwd).toString('hex'), process.execPath, HOARD_BIN, ...argv.map((a) => a.toString('hex'))];
  const child = spawn('python3', ['-c', exec, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.end(input ?? Buffer.alloc(0));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The archive's paths (and hard link sources) as `list --json-lines` gives them. */
async function listed(env: NodeJS.ProcessEnv, target: string): Promise<string[]> {
  const r = await hoardIn(env, ['list', '--json-lines', target]);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { path: string; source: string })
    .map((i) => (i.source === '' ? i.path : `${i.path} -> ${i.source}`));
}

test('PATH arguments, patterns and --paths-from-stdin names with bytes that are not UTF-8 name exactly those bytes, as borg; borg shows each such byte as "?"', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = Buffer.from(path.join(base, 'src'));
  const at = (rel: string): Buffer => Buffer.concat([src, Buffer.from('/'), b(rel)]);
  mkdirSync(src);
  mkdirSync(at('d\\xff'));
  writeFileSync(at('d\\xff/f\\xe9'), 'one');
  writeFileSync(at('d\\xfe'), 'a file whose name differs from the directory only in a byte Node cannot decode');
  writeFileSync(at('d\\xff/g'), 'two');
  linkSync(at('d\\xff/f\\xe9'), at('hl\\xfe'));
  writeFileSync(at('plain'), 'three');

  const made = await hoardBytes(env, [b('create'), b('--list'), b(`${repo}::a`), b('src/d\\xff'), b('src/hl\\xfe'), b('src/plain')], base);
  t.is(made.code, 0, made.stderr);
  // (A file's line comes once it is stored, so the order is the threads'.)
  t.deepEqual(made.stderr.split('\n').sort(), ['', 'A src/d?/f?', 'A src/d?/g', 'A src/plain', 'd src/d?', 'h src/hl?']);
  t.deepEqual(await listed(env, `${repo}::a`), ['src/d?', 'src/d?/f?', 'src/d?/g', 'src/hl? -> src/d?/f?', 'src/plain']);

  // The whole archive comes back with the very bytes, the hard link linked.
  const all = tempDir('out');
  t.is((await hoardIn(env, ['extract', `${repo}::a`], all)).code, 0);
  const names = (dir: Buffer): string[] => readdirSync(dir, { encoding: 'buffer' }).map((n) => n.toString('hex')).sort();
  const back = Buffer.from(path.join(all, 'src'));
  t.deepEqual(names(back), [b('d\\xff'), b('hl\\xfe'), b('plain')].map((n) => n.toString('hex')).sort());
  t.deepEqual(names(Buffer.concat([back, b('/d\\xff')])), [b('f\\xe9'), b('g')].map((n) => n.toString('hex')).sort());
  t.is(statSync(Buffer.concat([back, b('/hl\\xfe')])).ino, statSync(Buffer.concat([back, b('/d\\xff/f\\xe9')])).ino);
  // Into a folder whose own name has such a byte.
  const odd = Buffer.concat([Buffer.from(tempDir('odd')), b('/\\xe9')]);
  mkdirSync(odd);
  const into = await hoardBytes(env, [b('extract'), b(`${repo}::a`), b('src/plain')], odd);
  t.is(into.code, 0, into.stderr);
  t.deepEqual(names(Buffer.concat([odd, b('/src')])), [b('plain').toString('hex')]);
  // And a relative PATH of create is found from there.
  const fromOdd = await hoardBytes(env, [b('create'), b(`${repo}::from-odd`), b('src')], odd);
  t.is(fromOdd.code, 0, fromOdd.stderr);
  t.deepEqual(await listed(env, `${repo}::from-odd`), ['src', 'src/plain']);

  // A PATH argument of extract picks the one file with those bytes.
  const one = tempDir('one');
  const picked = await hoardBytes(env, [b('extract'), b('--list'), b(`${repo}::a`), b('src/d\\xff/f\\xe9')], one);
  t.is(picked.code, 0, picked.stderr);
  t.is(picked.stderr, 'src/d?/f?\n');
  t.deepEqual(names(Buffer.from(path.join(one, 'src'))), [b('d\\xff').toString('hex')]);
  t.deepEqual(names(Buffer.concat([Buffer.from(path.join(one, 'src')), b('/d\\xff')])), [b('f\\xe9').toString('hex')]);

  // An exclude pattern with such a byte leaves out that name and only that one.
  const excluded = await hoardBytes(env, [b('create'), b('-e'), b('*/d\\xff'), b(`${repo}::b`), b('src')], base);
  t.is(excluded.code, 0, excluded.stderr);
  t.deepEqual(await listed(env, `${repo}::b`), ['src', 'src/d?', 'src/hl?', 'src/plain']);

  // Files that options name are opened by their bytes; the text a person reads shows '?'.
  const tar = await hoardBytes(env, [b('export-tar'), b(`${repo}::a`), b('out\\xe9.tar')], base);
  t.is(tar.code, 0, tar.stderr);
  t.true(names(Buffer.from(base)).includes(b('out\\xe9.tar').toString('hex')));
  const missing = await hoardBytes(env, [b('create'), b(`${repo}::w`), b('src/plain'), b('src/gone\\xff')], base);
  t.is(missing.code, 1, missing.stderr);
  t.regex(missing.stderr, /src\/gone\?: /);
  const diff = await hoardIn(env, ['diff', `${repo}::a`, 'b']);
  t.is(diff.code, 0, diff.stderr);
  t.regex(diff.stdout, /src\/d\?\/f\?/);
  for (const out of [made.stderr, tar.stderr, missing.stderr, diff.stdout]) t.false(out.includes('\ufffd'), out);

  // Paths read from stdin keep their bytes too.
  const list = Buffer.concat([b('src/d\\xfe'), Buffer.from([0]), b('src/d\\xff/g'), Buffer.from([0])]);
  const stdin = await hoardBytes(env, [b('create'), b('--paths-from-stdin'), b('--paths-delimiter'), b('\\0'), b(`${repo}::c`)], base, list);
  t.is(stdin.code, 0, stdin.stderr);
  const c = tempDir('c');
  t.is((await hoardIn(env, ['extract', `${repo}::c`], c)).code, 0);
  t.deepEqual(names(Buffer.from(path.join(c, 'src'))), [b('d\\xfe'), b('d\\xff')].map((n) => n.toString('hex')).sort());
});

test('a repository in a folder whose name is not UTF-8: init, create, list, check, extract, delete and compact use exactly that folder', async (t) => {
  const env = testEnv();
  const base = Buffer.from(tempDir('repo-bytes'));
  const folder = Buffer.concat([base, b('/backups\\xff')]);
  mkdirSync(folder);
  const repo = Buffer.concat([folder, b('/r')]);
  const at = (suffix: string): Buffer => Buffer.concat([repo, b(suffix)]);
  mkdirSync(Buffer.concat([base, b('/src')]));
  writeFileSync(Buffer.concat([base, b('/src/f')]), 'contents');

  const init = await hoardBytes(env, [b('init'), b('-e'), b('repokey'), repo], base);
  t.is(init.code, 0, init.stderr);
  t.true(statSync(Buffer.concat([repo, b('/config')])).isFile());
  // Nothing went to the name Node would have made of it (U+FFFD in place of the byte).
  t.deepEqual(readdirSync(base, { encoding: 'buffer' }).map((n) => n.toString('hex')).sort(), [b('backups\\xff'), b('src')].map((n) => n.toString('hex')).sort());
  for (const step of [
    [b('create'), at('::a'), b('src')],
    [b('create'), at('::b'), b('src')],
    [b('check'), b('--verify-data'), repo],
    [b('delete'), at('::a')],
    [b('compact'), repo],
  ]) {
    const r = await hoardBytes(env, step, base);
    t.is(r.code, 0, `${step.map((s) => s.toString('latin1')).join(' ')}: ${r.stderr}`);
  }
  const list = await hoardBytes(env, [b('list'), b('--short'), repo], base);
  t.is(list.stdout, 'b\n');
  const out = Buffer.concat([base, b('/out')]);
  mkdirSync(out);
  const x = await hoardBytes(env, [b('extract'), at('::b')], out);
  t.is(x.code, 0, x.stderr);
  t.is(readFileSync(Buffer.concat([out, b('/src/f')]), 'utf8'), 'contents');
  // A relative repository path from inside that folder (Node's own current folder has lost the byte).
  const relative = await hoardBytes(env, [b('list'), b('--short'), b('r')], folder);
  t.is(relative.code, 0, relative.stderr);
  t.is(relative.stdout, 'b\n');
  const second = await hoardBytes(env, [b('init'), b('-e'), b('none'), b('r2')], folder);
  t.is(second.code, 0, second.stderr);
  t.true(statSync(Buffer.concat([folder, b('/r2/config')])).isFile());
});

test('benchmark crud with a PATH whose name is not UTF-8 makes its data there, and removes what it made', async (t) => {
  const env = testEnv({ HOARD_TESTONLY_CRUD_SCALE: '0.001' });
  const repo = await makeRepo(env, 'none');
  const base = Buffer.from(tempDir('crud-bytes'));
  const folder = Buffer.concat([base, b('/data\\xff')]);
  const r = await hoardBytes(env, [b('benchmark'), b('crud'), Buffer.from(repo), Buffer.concat([folder, b('/sub')])], base);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trimEnd().split('\n').length, 24, r.stdout);
  // Both folders it made for PATH are gone again, and nothing went to another name.
  t.deepEqual(readdirSync(base), []);
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, '');
});
