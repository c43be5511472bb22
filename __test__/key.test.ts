import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import { decodeQR } from 'qr/decode.js';

import { run } from '../dist/cli.js';
import { formatKeyFile, openMasterKey, parseKeyFile, sealMasterKey, type KeyBinding } from '../dist/repository/key-file.js';
import { kdfParams } from '../dist/native.js';
import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import type { CliResult } from './helpers.js';

const WRONG_ENV_PASSPHRASE = 'hoard: passphrase supplied in HOARD_PASSPHRASE, by HOARD_PASSCOMMAND or via HOARD_PASSPHRASE_FD is incorrect\n';

/** Runs hoard in this process with `input` on standard input (a terminal if `tty`). */
async function hoardWithInput(env: NodeJS.ProcessEnv, argv: string[], input: string, tty = false): Promise<CliResult> {
  const stdin = new PassThrough();
  if (tty) Object.assign(stdin, { isTTY: true });
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const code = await run(argv, { stdin, stdout, stderr, env });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A repository of `mode` holding archive `a1` of a small tree; returns its path and the tree's folder. */
async function repoWithArchive(env: NodeJS.ProcessEnv, mode: string): Promise<{ repo: string; base: string }> {
  const repo = await makeRepo(env, mode);
  const base = tempDir('key-src');
  mkdirSync(path.join(base, 'data', 'sub'), { recursive: true });
  writeFileSync(path.join(base, 'data', 'hello.txt'), 'hello, key\n');
  writeFileSync(path.join(base, 'data', 'sub', 'random.bin'), randomBytes(200_000));
  const c = await hoardIn(env, ['create', `${repo}::a1`, 'data'], base);
  if (c.code !== 0) throw new Error(`create failed: ${c.stderr}`);
  return { repo, base };
}

/** Asserts that the repository lists archive `a1` and extracts it byte for byte. */
async function assertUsable(t: import('ava').ExecutionContext, env: NodeJS.ProcessEnv, repo: string, base: string): Promise<void> {
  const list = await hoardIn(env, ['list', '--short', repo]);
  t.is(list.code, 0, list.stderr);
  t.is(list.stdout, 'a1\n');
  const out = tempDir('key-out');
  const x = await hoardIn(env, ['extract', `${repo}::a1`], out);
  t.is(x.code, 0, x.stderr);
  for (const f of ['data/hello.txt', 'data/sub/random.bin']) {
    t.true(readFileSync(path.join(out, f)).equals(readFileSync(path.join(base, f))), f);
  }
}

function repoId(repo: string): string {
  return (JSON.parse(readFileSync(path.join(repo, 'config'), 'utf8')) as { id: string }).id;
}

test('repokey: the export is the key file; a repository whose keys/repokey was deleted is restored from it', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const original = readFileSync(keyFile, 'utf8');
  const toStdout = await hoardIn(env, ['key', 'export', repo]);
  t.is(toStdout.code, 0, toStdout.stderr);
  t.is(toStdout.stdout, original);
  t.is((await hoardIn(env, ['key', 'export', repo, '-'])).stdout, original);
  const exported = path.join(tempDir('key-exp'), 'repo.key');
  const toFile = await hoardIn(env, ['key', 'export', repo, exported]);
  t.is(toFile.code, 0, toFile.stderr);
  t.is(toFile.stdout, '');
  t.is(readFileSync(exported, 'utf8'), original);
  t.is(statSync(exported).mode & 0o777, 0o600);
  t.true(original.startsWith(`HOARD_KEY ${repoId(repo)}\n`));

  rmSync(keyFile);
  const lost = await hoardIn(env, ['list', repo]);
  t.is(lost.code, 2);
  t.is(lost.stderr, `hoard: ${repo} has no keys/repokey; restore the key from an export with hoard key import\n`);
  const nothing = await hoardIn(env, ['key', 'export', repo]);
  t.is(nothing.code, 2);
  t.is(nothing.stdout, '');

  const imported = await hoardIn(env, ['key', 'import', '-v', repo, exported]);
  t.is(imported.code, 0, imported.stderr);
  t.is(imported.stderr, 'Key imported into keys/repokey\n');
  t.is(readFileSync(keyFile, 'utf8'), original);
  await assertUsable(t, env, repo, base);

  // From standard input with `-`, over a damaged key.
  writeFileSync(keyFile, 'HOARD_KEY damaged\n');
  t.is((await hoardIn(env, ['list', repo])).code, 2);
  const fromStdin = await hoardWithInput(env, ['key', 'import', repo, '-'], original);
  t.is(fromStdin.code, 0, fromStdin.stderr);
  t.is(readFileSync(keyFile, 'utf8'), original);
  await assertUsable(t, env, repo, base);
});

test('keyfile: a repository whose key file was deleted is restored from the export into the keys folder', async (t) => {
  const keysDir = path.join(tempDir('keys'), 'keys');
  const env = testEnv({ HOARD_KEYS_DIR: keysDir });
  const { repo, base } = await repoWithArchive(env, 'keyfile');
  const [name] = readdirSync(keysDir);
  t.truthy(name);
  const keyFile = path.join(keysDir, name ?? '');
  const original = readFileSync(keyFile, 'utf8');
  const exported = path.join(tempDir('key-exp'), 'repo.key');
  t.is((await hoardIn(env, ['key', 'export', repo, exported])).code, 0);
  t.is(readFileSync(exported, 'utf8'), original);

  rmSync(keyFile);
  const lost = await hoardIn(env, ['list', repo]);
  t.is(lost.code, 2);
  t.regex(lost.stderr, /^hoard: no key file for repository [0-9a-f]{64} in .*; restore the key from an export with hoard key import\n$/);

  const imported = await hoardIn(env, ['key', 'import', '--info', repo, exported]);
  t.is(imported.code, 0, imported.stderr);
  const files = readdirSync(keysDir);
  t.is(files.length, 1);
  const restored = path.join(keysDir, files[0] ?? '');
  t.is(imported.stderr, `Key imported into ${restored}\n`);
  t.is(readFileSync(restored, 'utf8'), original);
  t.is(statSync(restored).mode & 0o777, 0o600);
  await assertUsable(t, env, repo, base);

  // Importing again replaces this repository's file in place: still one file.
  t.is((await hoardIn(env, ['key', 'import', repo, exported])).code, 0);
  t.deepEqual(readdirSync(keysDir), files);
});

test('paper: the export is typable lines with checksums; stdin or a file brings the key back, a wrong line is named', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const id = repoId(repo);
  const keyFile = path.join(repo, 'keys', 'repokey');
  const original = readFileSync(keyFile, 'utf8');
  const paper = await hoardIn(env, ['key', 'export', '--paper', repo]);
  t.is(paper.code, 0, paper.stderr);
  const lines = paper.stdout.trimEnd().split('\n');
  t.is(lines[0], `To restore this key, run: hoard key import --paper ${repo}`);
  t.is(lines[2], 'HOARD PAPER KEY v1');
  const g = (hex: string): string => (hex.match(/.{1,6}/g) ?? []).join(' ');
  const idLine = new RegExp(`^id: (\\d+) / ${g(id.slice(0, 18))} / [0-9a-f]{6} [0-9a-f]{6} - [0-9a-f]{2}$`).exec(lines[3] ?? '');
  t.truthy(idLine, lines[3]);
  const count = Number(idLine?.[1]);
  const body = lines.slice(4);
  t.is(body.length, count);
  body.forEach((l, i) => t.regex(l, new RegExp(`^${String(i + 1).padStart(2)}: ([0-9a-f]{6} ){0,5}[0-9a-f]{2,6} - [0-9a-f]{2}$`)));
  // The lines spell the key file's payload.
  const hex = body.map((l) => l.replace(/^ *\d+: /, '').replace(/ - ..$/, '').replace(/ /g, '')).join('');
  t.is(`HOARD_KEY ${id}\n${Buffer.from(hex, 'hex').toString('base64')}\n`, original);

  rmSync(keyFile);
  // A typo in line 3's first digit that its checksum catches: two hex digits of SHA-256 over the
  // line's number and bytes let 1 typo in 256 through, so the digit is picked to be caught.
  const [, data3 = '', sum3 = ''] = /^ *3: (.*) - (..)$/m.exec(paper.stdout) ?? [];
  const caught = (digits: string): boolean => createHash('sha256').update(Buffer.concat([Buffer.from([0, 3]), Buffer.from(digits.replace(/ /g, ''), 'hex')])).digest('hex').slice(0, 2) !== sum3;
  const digit = [...'0123456789abcdef'].find((d) => d !== data3[0] && caught(d + data3.slice(1))) ?? '';
  const typo = paper.stdout.replace(/^( 3: )[0-9a-f]/m, (_m, p: string) => `${p}${digit}`);
  const bad = await hoardWithInput(env, ['key', 'import', '--paper', repo], typo);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'hoard: paper key: line 3: the checksum does not match (a typo in that line?)\n');
  const missing = await hoardWithInput(env, ['key', 'import', '--paper', repo], paper.stdout.replace(/^ 5: .*\n/m, ''));
  t.is(missing.stderr, 'hoard: paper key: line 5 is missing\n');
  const swapped = lines.slice(0, 4).concat(body.map((l, i) => l.replace(/^ *\d+: /, `${String(body.length - i).padStart(2)}: `)).reverse());
  const order = await hoardWithInput(env, ['key', 'import', '--paper', repo], swapped.join('\n'));
  t.is(order.code, 2);
  // Each line's checksum covers its number, so lines out of order are refused; the checksum has two
  // hex digits, so the first line may still match by chance (1 in 256) and a later one is named.
  t.regex(order.stderr, /^hoard: paper key: line \d+: the checksum does not match/);
  const noId = await hoardWithInput(env, ['key', 'import', '--paper', repo], 'hello\n');
  t.is(noId.stderr, 'hoard: paper key: no id line found (it starts with "id:")\n');
  t.false(existsSync(keyFile), 'nothing was written');

  // Typed back with different spacing and capitals: still fine.
  const retyped = paper.stdout.replace(/ /g, '').toUpperCase().replace(/^ID:/m, 'id:');
  const ok = await hoardWithInput(env, ['key', 'import', '--paper', repo], retyped);
  t.is(ok.code, 0, ok.stderr);
  t.is(readFileSync(keyFile, 'utf8'), original);
  await assertUsable(t, env, repo, base);

  // From a file too.
  const paperFile = path.join(tempDir('paper'), 'key.txt');
  writeFileSync(paperFile, paper.stdout);
  rmSync(keyFile);
  t.is((await hoardIn(env, ['key', 'export', '--paper', repo, paperFile])).code, 2, 'no key to export now');
  const fromFile = await hoardIn(env, ['key', 'import', '--paper', repo, paperFile]);
  t.is(fromFile.code, 0, fromFile.stderr);
  t.is(readFileSync(keyFile, 'utf8'), original);
  // A paper key given without --paper says so.
  const plain = await hoardIn(env, ['key', 'import', repo, paperFile]);
  t.is(plain.stderr, `hoard: ${paperFile} is a paper key: import it with --paper\n`);

  // Another repository's paper key is refused by its id line.
  const other = await makeRepo(env);
  rmSync(path.join(other, 'keys', 'repokey'));
  const foreign = await hoardWithInput(env, ['key', 'import', '--paper', other], paper.stdout);
  t.is(foreign.code, 2);
  t.is(foreign.stderr, `hoard: the paper key is for another repository, not for ${other}\n`);
  t.false(existsSync(path.join(other, 'keys', 'repokey')));
});

test('paper on a terminal: asks line by line, asks again for a wrong line, and can be aborted', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const original = readFileSync(keyFile, 'utf8');
  const paper = (await hoardIn(env, ['key', 'export', '--paper', repo])).stdout.trimEnd().split('\n');
  const idLine = (paper[3] ?? '').replace(/^id: /, '');
  const body = paper.slice(4).map((l) => l.replace(/^ *\d+: /, ''));
  rmSync(keyFile);
  // Line 2 first with a typo, then right; the rest as printed (with their labels, which are dropped).
  const typo = (body[1] ?? '').replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
  const typed = [idLine, body[0], typo, ...body.slice(1).map((l, i) => `${i + 2}: ${l}`)].join('\n');
  const r = await hoardWithInput(env, ['key', 'import', '--paper', repo], `${typed}\n`, true);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, `id:  1:  2: line 2: the checksum does not match (a typo in that line?); try again\n 2: ${body.slice(2).map((_l, i) => `${String(i + 3).padStart(2)}: `).join('')}`);
  t.is(readFileSync(keyFile, 'utf8'), original);
  await assertUsable(t, env, repo, base);

  rmSync(keyFile);
  // An empty line offers to abort; "n" goes on, "y" aborts.
  const aborted = await hoardWithInput(env, ['key', 'import', '--paper', repo], `${idLine}\n\nn\n\ny\n`, true);
  t.is(aborted.code, 2);
  t.is(aborted.stderr, 'id:  1: Abort import? [yN]:  1: Abort import? [yN]: hoard: key import aborted\n');
  const eof = await hoardWithInput(env, ['key', 'import', '--paper', repo], `${idLine}\n${body[0]}\n`, true);
  t.is(eof.code, 2);
  t.regex(eof.stderr, /hoard: key import aborted\n$/);
  const badId = await hoardWithInput(env, ['key', 'import', '--paper', repo], `${idLine.replace(/- ..$/, '- zz')}\n`, true);
  t.regex(badId.stderr, /^id: the id line checksum does not match; try again\nid: \nhoard: key import aborted\n$/);
  // Another repository's id line is refused before its lines are typed.
  const other = await makeRepo(env);
  rmSync(path.join(other, 'keys', 'repokey'));
  const foreign = await hoardWithInput(env, ['key', 'import', '--paper', other], `${idLine}\n`, true);
  t.is(foreign.code, 2);
  t.is(foreign.stderr, 'id: hoard: the paper key is for another repository: its id line names another repository id\n');
  t.false(existsSync(keyFile));
});

test('--qr-html: a page with the paper lines and a QR code that decodes to the key file', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const original = readFileSync(path.join(repo, 'keys', 'repokey'), 'utf8');
  const paper = (await hoardIn(env, ['key', 'export', '--paper', repo])).stdout;
  const file = path.join(tempDir('qr'), 'key.html');
  const r = await hoardIn(env, ['key', 'export', '--qr-html', repo, file]);
  t.is(r.code, 0, r.stderr);
  const html = readFileSync(file, 'utf8');
  t.true(html.startsWith('<!DOCTYPE html>'));
  t.false(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html), 'no script, nothing fetched');
  t.true(html.includes(`<pre>\n${paper}</pre>`), 'the paper lines');
  // Draw the SVG's runs of dark modules (4 pixels a module) and read the QR code back.
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(html)?.[1]);
  t.true(size > 21);
  const scale = 4;
  const px = size * scale;
  const data = new Uint8Array(px * px * 4).fill(255);
  const d = /<path fill="#000" d="([^"]+)"/.exec(html)?.[1] ?? '';
  let runs = 0;
  for (const m of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
    runs += 1;
    const [x, y, w] = [Number(m[1]), Number(m[2]), Number(m[3])];
    for (let yy = y * scale; yy < (y + 1) * scale; yy += 1) {
      for (let xx = x * scale; xx < (x + w) * scale; xx += 1) data.fill(0, (yy * px + xx) * 4, (yy * px + xx) * 4 + 3);
    }
  }
  t.true(runs > 100);
  t.is(decodeQR({ width: px, height: px, data }), original);
});

test('change-passphrase: the key is resealed with a fresh salt; the old passphrase fails, the new one works', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const before = readFileSync(keyFile, 'utf8');
  const wrong = await hoardIn({ ...env, HOARD_PASSPHRASE: 'nope', HOARD_NEW_PASSPHRASE: 'x' }, ['key', 'change-passphrase', repo]);
  t.is(wrong.code, 2);
  t.is(wrong.stderr, WRONG_ENV_PASSPHRASE);
  t.is(readFileSync(keyFile, 'utf8'), before, 'unchanged');

  const r = await hoardIn({ ...env, HOARD_NEW_PASSPHRASE: 'new secret' }, ['key', 'change-passphrase', '-v', repo]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, 'Key updated\n');
  const after = readFileSync(keyFile, 'utf8');
  t.not(after, before);
  const salt = (text: string): string => (JSON.parse(Buffer.from(text.split('\n')[1] ?? '', 'base64').toString('utf8')) as { kdf: { salt: string } }).kdf.salt;
  t.not(salt(after), salt(before));
  t.false(after.includes('new secret'));
  const old = await hoardIn(env, ['list', repo]);
  t.is(old.code, 2);
  t.is(old.stderr, WRONG_ENV_PASSPHRASE);
  const newEnv = { ...env, HOARD_PASSPHRASE: 'new secret' };
  await assertUsable(t, newEnv, repo, base);
  // BORG_NEW_PASSPHRASE is honoured too; without any new passphrase, as in borg, the current one stays.
  const borg = await hoardIn({ ...newEnv, BORG_NEW_PASSPHRASE: 'third' }, ['key', 'change-passphrase', repo]);
  t.is(borg.code, 0, borg.stderr);
  t.is((await hoardIn({ ...env, HOARD_PASSPHRASE: 'third' }, ['list', '--short', repo])).stdout, 'a1\n');
  t.is((await hoardIn({ ...env, HOARD_PASSPHRASE: 'third' }, ['key', 'change-passphrase', repo])).code, 0);
  t.is((await hoardIn({ ...env, HOARD_PASSPHRASE: 'third' }, ['list', '--short', repo])).stdout, 'a1\n');
  // An export made before still opens with the passphrase it was sealed under.
  const exported = path.join(tempDir('key-exp'), 'old.key');
  writeFileSync(exported, before);
  t.is((await hoardIn({ ...env, HOARD_PASSPHRASE: 'third' }, ['key', 'import', repo, exported])).stderr, 'hoard: passphrase supplied in HOARD_PASSPHRASE, by HOARD_PASSCOMMAND or via HOARD_PASSPHRASE_FD is incorrect\n');
  t.is((await hoardIn(env, ['key', 'import', repo, exported])).code, 0);
  await assertUsable(t, env, repo, base);
});

test('a key sealed in one lane (the default before 4 lanes) still opens; change-passphrase reseals it with today\'s costs', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const passphrase = { value: Buffer.from(env.HOARD_PASSPHRASE ?? ''), source: 'environment' as const };
  const current = parseKeyFile(readFileSync(keyFile, 'utf8'), keyFile);
  const master = await openMasterKey(current, passphrase);
  const oneLane = { timeCost: 1, memoryKib: 8, parallelism: 1 };
  const binds = JSON.parse(readFileSync(path.join(repo, 'config'), 'utf8')) as KeyBinding;
  writeFileSync(keyFile, formatKeyFile(await sealMasterKey(master, Buffer.from(repoId(repo), 'hex'), binds, passphrase, oneLane)));
  const costs = (): unknown => {
    const { salt: _salt, ...rest } = parseKeyFile(readFileSync(keyFile, 'utf8'), keyFile).kdf;
    return rest;
  };
  t.deepEqual(costs(), { algorithm: 'argon2id', ...oneLane });
  await assertUsable(t, env, repo, base);
  t.is((await hoardIn({ ...env, HOARD_NEW_PASSPHRASE: 'new secret' }, ['key', 'change-passphrase', repo])).code, 0);
  t.deepEqual(costs(), { algorithm: 'argon2id', ...kdfParams(env) });
  t.is(kdfParams(env).parallelism, 4);
  await assertUsable(t, { ...env, HOARD_PASSPHRASE: 'new secret' }, repo, base);
});

test('change-passphrase on a terminal asks for the current passphrase, then the new one twice', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const noPass = { ...env };
  delete noPass.HOARD_PASSPHRASE;
  const mismatch = 'test passphrase\nfirst\nsecond\nfresh one\nfresh one\n';
  const r = await hoardWithInput(noPass, ['key', 'change-passphrase', repo], mismatch, true);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stderr,
    `Enter passphrase for repository ${repo}: \nEnter new passphrase: \nEnter same passphrase again: \nPassphrases do not match, try again.\n` +
      'Enter new passphrase: \nEnter same passphrase again: \n',
  );
  t.is((await hoardIn(env, ['list', repo])).code, 2);
  await assertUsable(t, { ...env, HOARD_PASSPHRASE: 'fresh one' }, repo, base);
  const wrong = await hoardWithInput(noPass, ['key', 'change-passphrase', repo], 'test passphrase\n', true);
  t.is(wrong.code, 2);
  t.is(wrong.stderr, `Enter passphrase for repository ${repo}: \nhoard: passphrase is incorrect\n`);
});

test('change-passphrase in keyfile mode replaces the key file in place, mode 0600', async (t) => {
  const keysDir = path.join(tempDir('keys'), 'keys');
  const env = testEnv({ HOARD_KEYS_DIR: keysDir });
  const { repo, base } = await repoWithArchive(env, 'keyfile');
  const files = readdirSync(keysDir);
  const keyFile = path.join(keysDir, files[0] ?? '');
  const before = readFileSync(keyFile, 'utf8');
  const r = await hoardIn({ ...env, HOARD_NEW_PASSPHRASE: 'other' }, ['key', 'change-passphrase', '--info', repo]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, `Key updated\nKey location: ${keyFile}\n`);
  t.deepEqual(readdirSync(keysDir), files);
  t.not(readFileSync(keyFile, 'utf8'), before);
  t.is(statSync(keyFile).mode & 0o777, 0o600);
  t.is((await hoardIn(env, ['list', repo])).code, 2);
  await assertUsable(t, { ...env, HOARD_PASSPHRASE: 'other' }, repo, base);
});

test('authenticated mode has a key to export and import; none mode has none', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'authenticated');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const exported = path.join(tempDir('key-exp'), 'auth.key');
  t.is((await hoardIn(env, ['key', 'export', repo, exported])).code, 0);
  rmSync(keyFile);
  t.is((await hoardIn(env, ['key', 'import', repo, exported])).code, 0);
  await assertUsable(t, env, repo, base);

  const plain = await makeRepo(env, 'none');
  const before = readdirSync(plain).sort();
  for (const argv of [['key', 'export', plain], ['key', 'export', '--paper', plain], ['key', 'import', plain, exported], ['key', 'change-passphrase', plain]]) {
    const r = await hoardIn(env, argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.stderr, `hoard: ${plain} is not encrypted: it has no key to manage\n`);
    t.is(r.stdout, '');
  }
  t.deepEqual(readdirSync(plain).sort(), before);
});

test('import refuses, with one line and nothing changed: another repository\'s key, a malformed file, a wrong passphrase, a forged key', async (t) => {
  const env = testEnv();
  const { repo, base } = await repoWithArchive(env, 'repokey');
  const keyFile = path.join(repo, 'keys', 'repokey');
  const dir = tempDir('key-exp');
  const exported = path.join(dir, 'repo.key');
  t.is((await hoardIn(env, ['key', 'export', repo, exported])).code, 0);
  rmSync(keyFile);

  const other = await makeRepo(env);
  const otherKey = path.join(dir, 'other.key');
  t.is((await hoardIn(env, ['key', 'export', other, otherKey])).code, 0);
  const cases: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['another repository', ['key', 'import', repo, otherKey], env, `hoard: ${otherKey} is the key of repository ${repoId(other)}, not of ${repo}\n`],
    ['wrong passphrase', ['key', 'import', repo, exported], { ...env, HOARD_PASSPHRASE: 'wrong' }, WRONG_ENV_PASSPHRASE],
    ['missing file', ['key', 'import', repo, path.join(dir, 'nope')], env, `hoard: input file does not exist: ${path.join(dir, 'nope')}\n`],
    ['no file named', ['key', 'import', repo], env, 'hoard: input file to import key from expected\n'],
    ['a folder', ['key', 'import', repo, dir], env, `hoard: '${dir}' must be a file, not a directory\n`],
  ];
  const malformed = path.join(dir, 'malformed.key');
  for (const [tag, text] of [
    ['garbage', 'hello\n'],
    ['truncated', readFileSync(exported, 'utf8').slice(0, 200)],
    ['bad base64 JSON', `HOARD_KEY ${repoId(repo)}\nbm90IGpzb24=\n`],
  ] as const) {
    writeFileSync(malformed, text);
    const r = await hoardIn(env, ['key', 'import', repo, malformed]);
    t.is(r.code, 2, tag);
    t.is(r.stderr, `hoard: ${malformed} is not a hoard key file\n`, tag);
  }
  // A key that names this repository and opens with the passphrase, but holds another master key.
  const forged = path.join(dir, 'forged.key');
  const binds = JSON.parse(readFileSync(path.join(repo, 'config'), 'utf8')) as KeyBinding;
  const sealed = await sealMasterKey(randomBytes(64), Buffer.from(repoId(repo), 'hex'), binds, { value: Buffer.from('test passphrase'), source: 'environment' }, kdfParams(env));
  writeFileSync(forged, formatKeyFile(sealed));
  cases.push(['forged', ['key', 'import', repo, forged], env, `hoard: ${forged} does not open ${repo}: it is not this repository's key\n`]);
  for (const [tag, argv, e, message] of cases) {
    const r = await hoardIn(e, argv);
    t.is(r.code, 2, tag);
    t.is(r.stderr, message, tag);
    t.false(existsSync(keyFile), `${tag}: nothing written`);
  }
  const notRepo = await hoardIn(env, ['key', 'import', dir, exported]);
  t.is(notRepo.code, 2);
  t.is(notRepo.stderr, `hoard: ${dir} is not a hoard repository\n`);
  t.is((await hoardIn(env, ['key', 'export', dir])).stderr, `hoard: ${dir} is not a hoard repository\n`);
  t.is((await hoardIn(env, ['key', 'change-passphrase', dir])).stderr, `hoard: ${dir} is not a hoard repository\n`);

  t.is((await hoardIn(env, ['key', 'import', repo, exported])).code, 0);
  await assertUsable(t, env, repo, base);
});

test('export refuses a folder as PATH and both forms at once; it replaces an existing file', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const dir = tempDir('key-exp');
  const folder = await hoardIn(env, ['key', 'export', repo, dir]);
  t.is(folder.code, 2);
  t.is(folder.stderr, `hoard: '${dir}' must be a file, not a directory\n`);
  const both = await hoardIn(env, ['key', 'export', '--paper', '--qr-html', repo]);
  t.is(both.code, 2);
  t.is(both.stderr, 'hoard: --paper and --qr-html exclude each other\n');
  const file = path.join(dir, 'k');
  writeFileSync(file, 'old contents that are longer than nothing');
  t.is((await hoardIn(env, ['key', 'export', repo, file])).code, 0);
  t.is(readFileSync(file, 'utf8'), readFileSync(path.join(repo, 'keys', 'repokey'), 'utf8'));
  t.deepEqual(readdirSync(dir), ['k'], 'no temporary file left');
  const missingParent = path.join(dir, 'no', 'k');
  const r = await hoardIn(env, ['key', 'export', repo, missingParent]);
  t.is(r.code, 2);
  t.is(r.stderr, `hoard: ${path.join(dir, 'no')}: no such directory\n`);
});
