import test from 'ava';
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';

/** Mode bits, ns mtime and contents of a file, as extract must give them back. */
function state(file: string): { mode: number; mtimeNs: bigint; content: string } {
  const st = lstatSync(file, { bigint: true });
  return { mode: Number(st.mode) & 0o7777, mtimeNs: st.mtimeNs, content: readFileSync(file).toString('utf8') };
}

test('extract restores exact modes (read-only, set-id, none) and ns times, and replaces what is in the way', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  const modes: Record<string, number> = { 'read-only': 0o444, setuid: 0o4755, 'setgid-sticky': 0o3750, 'sub/plain': 0o640 };
  // Only root can back up (and read back) a file of mode 0.
  if (process.getuid?.() === 0) modes.none = 0o000;
  for (const [name, mode] of Object.entries(modes)) {
    const file = path.join(src, name);
    writeFileSync(file, `contents of ${name}\n`);
    chmodSync(file, mode);
    utimesSync(file, 1_500_000_000.123456, 1_600_000_000.987654);
  }
  const c = await hoardIn(env, ['create', `${repo}::a`, 'src'], base);
  t.is(c.code, 0, c.stderr);

  const out = tempDir('out');
  const first = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(first.code, 0, first.stderr);
  for (const name of Object.keys(modes)) t.deepEqual(state(path.join(out, 'src', name)), state(path.join(src, name)), name);

  // Over the first extract, changed: a longer file, a read-only file, a symlink leading out of the
  // target. Each is replaced by the archived file; the symlink's target is left alone.
  const outside = path.join(tempDir('outside'), 'victim');
  writeFileSync(outside, 'untouched');
  writeFileSync(path.join(out, 'src', 'sub', 'plain'), 'a longer content than the archived one, which must not survive\n');
  chmodSync(path.join(out, 'src', 'read-only'), 0o400);
  const link = path.join(out, 'src', 'setuid');
  rmSync(link);
  symlinkSync(outside, link);
  const again = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(again.code, 0, again.stderr);
  for (const name of Object.keys(modes)) t.deepEqual(state(path.join(out, 'src', name)), state(path.join(src, name)), name);
  t.is(readFileSync(outside, 'utf8'), 'untouched');
});
