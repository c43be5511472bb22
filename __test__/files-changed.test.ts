import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';

/**
 * Starts a process that changes `file`'s mode (so its ctime, not its mtime) over and over until
 * it is killed; resolves once it has changed it at least once.
 */
async function keepChmodding(file: string): Promise<ChildProcess> {
  const code = `const fs = require('fs'); process.stdout.write('go\\n'); for (;;) { fs.chmodSync(${JSON.stringify(file)}, 0o600); fs.chmodSync(${JSON.stringify(file)}, 0o644); }`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('error', reject);
  });
  return child;
}

/** Kills `child` and waits until it is gone. */
async function stop(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

test("a file whose ctime moves while it is read is status C with borg's warning, exit 1; --files-changed mtime or disabled do not flag a chmod", async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  fs.mkdirSync(path.join(base, 'd'));
  const big = path.join(base, 'd', 'big');
  const content = randomBytes(24 << 20);
  fs.writeFileSync(big, content);
  fs.writeFileSync(path.join(base, 'd', 'small'), 'still');
  const child = await keepChmodding(big);
  try {
    let r = await hoardIn(env, ['create', '--list', `${repo}::ctime`, 'd'], base);
    t.is(r.code, 1, r.stderr);
    const lines = r.stderr.split('\n');
    t.true(lines.includes('d/big: file changed while we backed it up'), r.stderr);
    t.true(lines.includes('C d/big'), r.stderr);
    t.true(lines.includes('A d/small'), r.stderr);
    for (const mode of ['mtime', 'disabled']) {
      r = await hoardIn(env, ['create', '--list', '--files-changed', mode, `${repo}::${mode}`, 'd'], base);
      t.is(r.code, 0, `${mode}: ${r.stderr}`);
      t.notRegex(r.stderr, /changed while we backed it up|^C /m, mode);
    }
  } finally {
    await stop(child);
  }
  // The archive holds what was read: here the whole, unchanged contents.
  const out = tempDir('out');
  const r = await hoardIn(env, ['extract', `${repo}::ctime`], out);
  t.is(r.code, 0, r.stderr);
  t.true(fs.readFileSync(path.join(out, 'd', 'big')).equals(content));
});
