import test from 'ava';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, tempDir } from './archive-helpers.js';
import { SMALL_CHUNKS, flip, packFiles, twoArchiveRepo } from './check-helpers.js';
import { sameBytes } from './helpers.js';

const YES = { HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' };
/** borg 1.4's warning for a broken file, with hoard's name. */
const warning = (file: string): string => `${file}: File has damaged (all-zero) chunks. Try running hoard check --repair.`;
const FILES = ['src', 'src/big', 'src/sub', 'src/sub/a.txt', 'src/sub/b.txt'];

/** `{health} {path}` of every item of archive `a`, sorted by path. */
async function health(env: NodeJS.ProcessEnv, repo: string): Promise<string[]> {
  const r = await hoardIn(env, ['list', '--format', '{health} {path}{NL}', `${repo}::a`]);
  if (r.code !== 0) throw new Error(`list failed: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n').sort((x, y) => x.split(' ')[1]!.localeCompare(y.split(' ')[1]!));
}

test('a broken file: extract warns naming it (exit 1), list shows it broken; after compact, the same data again and a repair heal it', async (t) => {
  const { env, repo, base } = await twoArchiveRepo();

  // A flipped byte in the first data blob of the oldest pack: the repair replaces that chunk of
  // the file it belongs to (src/big or a small one, as the pipeline ordered them) by zeros.
  const [first] = packFiles(repo);
  if (first === undefined) throw new Error('no pack');
  flip(first, 20);
  const r = await hoardIn({ ...env, ...YES }, ['check', '--repair', repo]);
  t.is(r.code, 0, r.stderr);
  const named = [...r.stderr.matchAll(/^archive a: (.+): 1 missing chunks \(of \d+\), replaced by all-zero chunks$/gm)].map((m) => m[1] ?? '');
  t.is(named.length, 1, r.stderr);
  const broken = named[0] ?? '';
  t.true(FILES.includes(broken) && broken !== 'src' && broken !== 'src/sub', broken);
  const original = readFileSync(path.join(base, broken));

  // extract restores it with zeros and warns for it alone, with and without --dry-run.
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', `${repo}::a`], out);
  t.is(x.code, 1, x.stderr);
  t.deepEqual(x.stderr.trimEnd().split('\n'), [warning(broken)]);
  const got = readFileSync(path.join(out, broken));
  t.is(got.length, original.length);
  t.false(got.equals(original));
  for (const f of ['src/big', 'src/sub/a.txt', 'src/sub/b.txt'].filter((f) => f !== broken)) {
    sameBytes(t, readFileSync(path.join(out, f)), readFileSync(path.join(base, f)), `${f} intact`);
  }
  const dry = await hoardIn(env, ['extract', '--dry-run', `${repo}::a`], tempDir('dry'));
  t.is(dry.code, 1, dry.stderr);
  t.deepEqual(dry.stderr.trimEnd().split('\n'), [warning(broken)]);
  const xb = await hoardIn(env, ['extract', `${repo}::b`], tempDir('outb'));
  t.is(xb.code, 0, xb.stderr);
  t.is(xb.stderr, '');

  // list: {health} and --json-lines' healthy.
  t.deepEqual(await health(env, repo), FILES.map((f) => `${f === broken ? 'broken' : 'healthy'} ${f}`));
  const jl = await hoardIn(env, ['list', '--json-lines', `${repo}::a`]);
  t.deepEqual(
    jl.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; healthy: boolean }).filter((i) => !i.healthy).map((i) => i.path),
    [broken],
  );

  // compact with the chunk still lost: nothing is missing that is not known (exit 0, no warning).
  const c1 = await hoardIn(env, ['compact', repo]);
  t.is(c1.code, 0, c1.stderr);
  t.is(c1.stderr, '');

  // The same data again brings the lost chunk back; the archive that brought it goes, and compact
  // keeps the chunk because the broken file's chunksHealthy names it.
  const again = await hoardIn(env, ['create', '--chunker-params', SMALL_CHUNKS, `${repo}::again`, 'src'], base);
  t.is(again.code, 0, again.stderr);
  t.is((await hoardIn(env, ['delete', `${repo}::again`])).code, 0);
  const c2 = await hoardIn(env, ['compact', repo]);
  t.is(c2.code, 0, c2.stderr);
  const v = await hoardIn(env, ['check', '-v', repo]);
  t.is(v.code, 0, v.stderr);
  t.true(v.stderr.split('\n').some((l) => l.startsWith(`archive a: ${broken}: a broken file `) && l.endsWith('check --repair heals it')), v.stderr);

  const heal = await hoardIn({ ...env, ...YES }, ['check', '-v', '--repair', repo]);
  t.is(heal.code, 0, heal.stderr);
  t.true(heal.stderr.split('\n').includes(`archive a: ${broken}: healed, every original chunk is back`), heal.stderr);
  const out2 = tempDir('out2');
  const x2 = await hoardIn(env, ['extract', `${repo}::a`], out2);
  t.is(x2.code, 0, x2.stderr);
  t.is(x2.stderr, '');
  sameBytes(t, readFileSync(path.join(out2, broken)), original, `${broken} healed`);
  t.deepEqual(await health(env, repo), FILES.map((f) => `healthy ${f}`));
  const full = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(full.code, 0, full.stderr);
});
