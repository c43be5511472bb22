import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { PassThrough } from 'node:stream';

import { run } from '../dist/cli.js';
import { HOARD_BIN, runInProcess } from './helpers.js';

const PASS = { HOARD_PASSPHRASE: 'correct horse', HOARD_TESTONLY_WEAKEN_KDF: '1' };

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'hoard-init-'));
}

/** This file's config dir: its security state, kept apart from the user's. */
const CONFIG = mkdtempSync(path.join(tmpdir(), 'hoard-config-'));

/** The environment without any hoard or borg variables inherited from the caller. */
function clean(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(out)) if (/^(HOARD|BORG)_/.test(k)) delete out[k];
  return { ...out, HOARD_TESTONLY_WEAKEN_KDF: '1', HOARD_CONFIG_DIR: CONFIG, ...env };
}

async function hoard(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return runInProcess(argv, clean(env));
}

test('init repokey makes config, sealed key and the first manifest; info reads them back', async (t) => {
  const repo = path.join(tempDir(), 'repo');
  const r = await hoard(['init', '--encryption=repokey', repo], PASS);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.regex(r.stderr, new RegExp(`kept in ${repo}/keys/repokey`));
  t.regex(r.stderr, /keep a copy of that key file/);
  t.deepEqual(readdirSync(repo).sort(), ['config', 'keys', 'manifest']);
  t.deepEqual(readdirSync(path.join(repo, 'manifest')), ['00000000000000000001']);
  const config = JSON.parse(readFileSync(path.join(repo, 'config'), 'utf8')) as { id: string; encryption: string; format: string; keyStorage: string };
  t.is(config.format, 'hoard');
  t.regex(String(config.encryption), /^repokey-(aes-256-gcm|chacha20-poly1305)$/);
  t.is(config.keyStorage, 'repokey');
  const keyText = readFileSync(path.join(repo, 'keys', 'repokey'), 'utf8');
  t.true(keyText.startsWith(`HOARD_KEY ${String(config.id)}\n`));
  t.false(keyText.includes('correct horse'));
  const info = await hoard(['info', repo], PASS);
  t.is(info.code, 0, info.stderr);
  t.regex(info.stdout, new RegExp(`^Repository ID: ${String(config.id)}\nLocation: ${repo}\nEncrypted: Yes \\(repokey-`));
  t.regex(info.stdout, /\nAll archives: +0 B +0 B +0 B\n\n {23}Unique chunks {9}Total chunks\nChunk index: +0 +0\n$/);
  const json = await hoard(['info', '--json', repo], PASS);
  const parsed = JSON.parse(json.stdout) as { encryption: { mode: string }; repository: { id: string; location: string } };
  t.is(parsed.repository.id, config.id);
  t.is(parsed.repository.location, repo);
  t.is(parsed.encryption.mode, config.encryption);
  t.false('keyfile' in parsed.encryption);
  // --error silences the advice, as borg's log levels do.
  const quiet = await hoard(['init', '--error', '-e', 'repokey', path.join(tempDir(), 'r')], PASS);
  t.is(quiet.code, 0);
  t.is(quiet.stderr, '');
});

test('a wrong passphrase is one line and exit code 2; BORG_ twins, PASSCOMMAND and PASSPHRASE_FD work', async (t) => {
  const repo = path.join(tempDir(), 'repo');
  t.is((await hoard(['init', '-e', 'repokey-chacha20-poly1305', repo], PASS)).code, 0);
  const wrong = await hoard(['info', repo], { HOARD_PASSPHRASE: 'wrong' });
  t.is(wrong.code, 2);
  t.is(wrong.stderr, 'hoard: passphrase supplied in HOARD_PASSPHRASE, by HOARD_PASSCOMMAND or via HOARD_PASSPHRASE_FD is incorrect\n');
  t.is((await hoard(['info', repo], { BORG_PASSPHRASE: 'correct horse' })).code, 0);
  t.is((await hoard(['info', repo], { HOARD_PASSCOMMAND: 'echo "correct horse"' })).code, 0);
  t.is((await hoard(['info', repo], { HOARD_PASSCOMMAND: 'echo wrong' })).code, 2);
  const failing = await hoard(['info', repo], { HOARD_PASSCOMMAND: 'exit 3' });
  t.is(failing.code, 2);
  t.regex(failing.stderr, /passphrase command .* failed with exit code 3/);
  const passFile = path.join(tempDir(), 'pass');
  writeFileSync(passFile, 'correct horse\n');
  const wrongFile = path.join(tempDir(), 'wrong');
  writeFileSync(wrongFile, 'wrong\n');
  const fromWrongFile = spawnSync('/bin/sh', ['-c', `exec 3<"${wrongFile}"; exec "${process.execPath}" "${HOARD_BIN}" info "${repo}"`], {
    env: clean({ HOARD_PASSPHRASE_FD: '3' }),
    encoding: 'utf8',
  });
  t.is(fromWrongFile.status, 2);
  t.regex(fromWrongFile.stderr, /is incorrect/);
  const fromFile = spawnSync('/bin/sh', ['-c', `exec 3<"${passFile}"; exec "${process.execPath}" "${HOARD_BIN}" info "${repo}"`], {
    env: clean({ HOARD_PASSPHRASE_FD: '3' }),
    encoding: 'utf8',
  });
  t.is(fromFile.status, 0, fromFile.stderr);
  t.regex(fromFile.stdout, /Encrypted: Yes \(repokey-chacha20-poly1305\)/);
  const none = await hoard(['info', repo]);
  t.is(none.code, 2);
  t.regex(none.stderr, /^hoard: repository .* needs a passphrase: set HOARD_PASSPHRASE/);
});

test('keyfile mode keeps the key in the keys folder, 0600, and finds it again', async (t) => {
  const base = tempDir();
  const repo = path.join(base, 'repo');
  const keys = path.join(base, 'keys');
  const env = { ...PASS, HOARD_KEYS_DIR: keys };
  const r = await hoard(['init', '--encryption=keyfile', repo], env);
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(path.join(repo, 'keys')));
  const files = readdirSync(keys);
  t.deepEqual(files, ['repo']);
  t.is(statSync(path.join(keys, 'repo')).mode & 0o777, 0o600);
  t.regex(r.stderr, new RegExp(`kept in ${keys}/repo`));
  const info = await hoard(['info', repo], env);
  t.is(info.code, 0, info.stderr);
  t.regex(info.stdout, new RegExp(`Key file: ${keys}/repo`));
  // A second repository of the same name gets a file of its own.
  const other = path.join(base, 'x', 'repo');
  t.is((await hoard(['init', '-e', 'keyfile', '--make-parent-dirs', other], env)).code, 0);
  t.deepEqual(readdirSync(keys).sort(), ['repo', 'repo.2']);
  const lost = await hoard(['info', repo], { ...PASS, HOARD_KEYS_DIR: path.join(base, 'empty') });
  t.is(lost.code, 2);
  t.regex(lost.stderr, /no key file for repository/);
});

test('none and authenticated modes; none needs no passphrase', async (t) => {
  const base = tempDir();
  const plain = path.join(base, 'plain');
  t.is((await hoard(['init', '-e', 'none', plain])).code, 0);
  const info = await hoard(['info', plain]);
  t.is(info.code, 0, info.stderr);
  t.regex(info.stdout, /Encrypted: No\n/);
  const auth = path.join(base, 'auth');
  t.is((await hoard(['init', '-e', 'authenticated-blake2', auth], PASS)).code, 0);
  t.regex((await hoard(['info', auth], PASS)).stdout, /Encrypted: Yes \(authenticated\)/);
});

test('init refuses a non-empty folder, a missing parent, a bad mode and a bad quota, changing nothing', async (t) => {
  const base = tempDir();
  const repo = path.join(base, 'repo');
  t.is((await hoard(['init', '-e', 'repokey', repo], PASS)).code, 0);
  const before = readFileSync(path.join(repo, 'config'));
  const again = await hoard(['init', '-e', 'repokey', repo], PASS);
  t.is(again.code, 2);
  t.regex(again.stderr, /^hoard: a repository \(or something else\) already exists at /);
  t.deepEqual(readFileSync(path.join(repo, 'config')), before);
  const full = path.join(base, 'full');
  mkdirSync(full);
  writeFileSync(path.join(full, 'f'), 'x');
  t.is((await hoard(['init', '-e', 'none', full])).code, 2);
  t.deepEqual(readdirSync(full), ['f']);
  // A file where the repository should be: named for what it is, and left alone.
  const file = path.join(base, 'afile');
  writeFileSync(file, 'mine');
  const onFile = await hoard(['init', '-e', 'none', file]);
  t.is(onFile.code, 2);
  t.is(onFile.stderr, `hoard: ${file}: not a directory, or a part of its path is not\n`);
  t.is(readFileSync(file, 'utf8'), 'mine');
  const deep = path.join(base, 'a', 'b', 'repo');
  const noParent = await hoard(['init', '-e', 'none', deep]);
  t.is(noParent.code, 2);
  t.regex(noParent.stderr, /--make-parent-dirs/);
  t.false(existsSync(path.join(base, 'a')));
  // A folder that cannot be made is one line, not a hang (Node's recursive mkdir loops on /proc).
  const proc = await hoard(['init', '-e', 'none', '--make-parent-dirs', '/proc/hoard-test/repo']);
  t.is(proc.code, 2);
  t.is(proc.stderr, 'hoard: cannot make folder /proc/hoard-test: no such file or directory\n');
  for (const argv of [['-e', 'rot13'], ['-e', 'none', '--storage-quota', 'lots'], []]) {
    const r = await hoard(['init', ...argv, path.join(base, 'new')], PASS);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, /^hoard: [^\n]+\n$/);
  }
  t.false(existsSync(path.join(base, 'new')));
  t.is((await hoard(['init', '-e', 'none', '--append-only', '--storage-quota', '5G', path.join(base, 'q')])).code, 0);
  const q = JSON.parse(readFileSync(path.join(base, 'q', 'config'), 'utf8')) as { appendOnly: boolean; storageQuota: number };
  t.true(q.appendOnly);
  t.is(q.storageQuota, 5e9);
});

test('info names what is wrong: no repository, not a repository, tampered objects, unknown archive', async (t) => {
  const base = tempDir();
  const missing = await hoard(['info', path.join(base, 'nope')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^hoard: repository .*nope does not exist\n$/);
  mkdirSync(path.join(base, 'plain'));
  const notRepo = await hoard(['info', path.join(base, 'plain')]);
  t.is(notRepo.code, 2);
  t.regex(notRepo.stderr, /is not a hoard repository/);
  const repo = path.join(base, 'repo');
  t.is((await hoard(['init', '-e', 'repokey', repo], PASS)).code, 0);
  const unknown = await hoard(['info', `${repo}::Monday`], PASS);
  t.is(unknown.code, 2);
  t.is(unknown.stderr, 'hoard: Archive Monday does not exist\n');
  const viaEnv = await hoard(['info', '::Monday'], { ...PASS, HOARD_REPO: repo });
  t.is(viaEnv.stderr, unknown.stderr);
  const manifest = path.join(repo, 'manifest', '00000000000000000001');
  const good = readFileSync(manifest);
  for (const offset of [0, 1, 5, 20, 30, good.length - 1]) {
    const bad = Buffer.from(good);
    bad[offset] = (bad[offset] ?? 0) ^ 0x01;
    writeFileSync(manifest, bad);
    const r = await hoard(['info', repo], PASS);
    t.is(r.code, 2, `offset ${offset}`);
    t.regex(r.stderr, /^hoard: manifest\/00000000000000000001: /, `offset ${offset}`);
  }
  writeFileSync(manifest, good);
  t.is((await hoard(['info', repo], PASS)).code, 0);
  const keyFile = path.join(repo, 'keys', 'repokey');
  const key = readFileSync(keyFile, 'utf8');
  writeFileSync(keyFile, key.replace(/^HOARD_KEY/, 'BORG_KEY'));
  const badKey = await hoard(['info', repo], PASS);
  t.is(badKey.code, 2);
  t.regex(badKey.stderr, /keys\/repokey is not a hoard key file/);
});

test('HOARD_ passphrase sources win over BORG_ ones, and the error names the twin used', async (t) => {
  const repo = path.join(tempDir(), 'repo');
  t.is((await hoard(['init', '-e', 'repokey', repo], PASS)).code, 0);
  t.is((await hoard(['info', repo], { HOARD_PASSCOMMAND: 'echo "correct horse"', BORG_PASSPHRASE: 'wrong' })).code, 0);
  const borg = await hoard(['info', repo], { BORG_PASSCOMMAND: 'echo wrong' });
  t.is(borg.stderr, 'hoard: passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect\n');
});

test('init refuses REPO::ARCHIVE, and of two inits racing for one folder exactly one succeeds', async (t) => {
  const base = tempDir();
  const r = await hoard(['init', '-e', 'none', `${path.join(base, 'r')}::x`]);
  t.is(r.code, 2);
  t.regex(r.stderr, /init takes a repository, not an archive/);
  t.deepEqual(readdirSync(base), []);
  const repo = path.join(base, 'race');
  const results = await Promise.all([1, 2, 3].map(async () => hoard(['init', '-e', 'repokey', repo], PASS)));
  t.is(results.filter((x) => x.code === 0).length, 1, results.map((x) => x.stderr).join('|'));
  t.is((await hoard(['info', repo], PASS)).code, 0);
});

test('a manifest generation copied under another seq is refused', async (t) => {
  const repo = path.join(tempDir(), 'repo');
  t.is((await hoard(['init', '-e', 'repokey', repo], PASS)).code, 0);
  const dir = path.join(repo, 'manifest');
  writeFileSync(path.join(dir, '00000000000000000002'), readFileSync(path.join(dir, '00000000000000000001')));
  const r = await hoard(['info', repo], PASS);
  t.is(r.code, 2);
  t.regex(r.stderr, /^hoard: manifest\/00000000000000000002: /);
});

test('the passphrase prompt on a terminal asks twice for a new key and once to open it', async (t) => {
  const repo = path.join(tempDir(), 'repo');
  const tty = (text: string) => {
    const s = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (raw: boolean) => void };
    s.isTTY = true;
    s.setRawMode = () => undefined;
    s.end(text);
    return s;
  };
  const sink = () => new PassThrough().resume();
  // Both answers arrive in one chunk, as a paste does; the first has a typo mended with backspace.
  const made = await run(['init', '-e', 'repokey', repo], { stdin: tty('sekrex\x7ft\rsekret\r'), stdout: sink(), stderr: sink(), env: clean({}) });
  t.is(made, 0);
  t.is((await hoard(['info', repo], { HOARD_PASSPHRASE: 'sekret' })).code, 0);
  const opened = await run(['info', repo], { stdin: tty('sekret\n'), stdout: sink(), stderr: sink(), env: clean({}) });
  t.is(opened, 0);
  const interrupted = await run(['info', repo], { stdin: tty('sek\x03'), stdout: sink(), stderr: sink(), env: clean({}) });
  t.is(interrupted, 130);
});

test('the security state refuses an unknown unencrypted repository, a changed mode, a move and a rollback', async (t) => {
  const base = tempDir();
  const plain = path.join(base, 'plain');
  t.is((await hoard(['init', '-e', 'none', plain])).code, 0);
  t.is((await hoard(['info', plain])).code, 0);
  const stranger = { HOARD_CONFIG_DIR: path.join(base, 'other-client') };
  const unknown = await hoard(['info', plain], stranger);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /never used; set HOARD_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes/);
  t.is((await hoard(['info', plain], { ...stranger, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' })).code, 0);
  t.is((await hoard(['info', plain], stranger)).code, 0, 'known from now on');

  // A server swaps an encrypted repository's config for an unencrypted one.
  const repo = path.join(base, 'repo');
  t.is((await hoard(['init', '-e', 'repokey', repo], PASS)).code, 0);
  const configFile = path.join(repo, 'config');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...config, encryption: 'none', suite: 'plaintext-blake3', idAlgorithm: 'blake3', keyStorage: 'none' }));
  const swapped = await hoard(['info', repo], { ...PASS, HOARD_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' });
  t.is(swapped.code, 2);
  t.regex(swapped.stderr, /encryption changed from repokey-.* to none/);
  writeFileSync(configFile, JSON.stringify(config));

  // A client that never saw the repository: the key itself catches a changed suite or id algorithm.
  const fresh = { ...PASS, HOARD_CONFIG_DIR: path.join(base, 'fresh-client') };
  const otherSuite = config.suite === 'aes-256-gcm' ? 'chacha20-poly1305' : 'aes-256-gcm';
  for (const change of [{ suite: otherSuite }, { idAlgorithm: 'blake3' }]) {
    writeFileSync(configFile, JSON.stringify({ ...config, ...change }));
    const r = await hoard(['info', repo], fresh);
    t.is(r.code, 2, JSON.stringify(change));
    t.regex(r.stderr, /^hoard: the repository's config says .*, but its key keys\/repokey was made for .*: the config was changed\n$/, JSON.stringify(change));
  }
  writeFileSync(configFile, JSON.stringify(config));
  t.is((await hoard(['info', repo], fresh)).code, 0, 'the untouched config opens');

  // Moved: refused unless the user says it is fine.
  const moved = path.join(base, 'moved');
  renameSync(repo, moved);
  const relocated = await hoard(['info', moved], PASS);
  t.is(relocated.code, 2);
  t.regex(relocated.stderr, /was previously located at .*repo; set HOARD_RELOCATED_REPO_ACCESS_IS_OK=yes/);
  t.is((await hoard(['info', moved], { ...PASS, BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' })).code, 0);
  t.is((await hoard(['info', moved], PASS)).code, 0, 'the new place is remembered');

  // Rolled back: this client has seen a newer generation than the repository now has.
  const id = String(config.id);
  writeFileSync(path.join(CONFIG, 'security', id, 'manifest-seq'), '7\n');
  const rolled = await hoard(['info', moved], PASS);
  t.is(rolled.code, 2);
  t.regex(rolled.stderr, /newest manifest generation is 1, but this client has seen 7/);
});
