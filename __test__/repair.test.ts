import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { SMALL_CHUNKS, filesUnder, flip, packFiles, packParts, snapshot, twoArchiveRepo } from './check-helpers.js';

const YES = { HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' };

const setup = twoArchiveRepo;

/** The files a repair names as damaged in archive `archive`: `archive NAME: PATH: N missing chunks`. */
function damagedFiles(stderr: string, archive: string): string[] {
  const re = new RegExp(`^archive ${archive}: (.+): \\d+ missing chunks \\(of \\d+\\), replaced by all-zero chunks$`, 'gm');
  return [...stderr.matchAll(re)].map((m) => m[1] ?? '');
}

/**
 * Extracts archive `name` and compares each file with the source: returns those that differ. Each
 * of those is a broken file, which extract names in a warning (exit code 1), and only those.
 */
async function differing(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string, base: string, name: string, dir: string): Promise<string[]> {
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', `${repo}::${name}`], out);
  const differ: string[] = [];
  for (const f of filesUnder(path.join(base, dir))) {
    const p = path.join(out, dir, f);
    let got: Buffer | undefined;
    try {
      got = readFileSync(p);
    } catch {
      got = undefined;
    }
    const want = readFileSync(path.join(base, dir, f));
    if (got === undefined || !got.equals(want)) differ.push(`${dir}/${f}`);
    if (got !== undefined) t.is(got.length, want.length, `${dir}/${f} keeps its size`);
  }
  t.is(x.code, differ.length > 0 ? 1 : 0, x.stderr);
  const warned = x.stderr.split('\n').filter((l) => l !== '').sort();
  t.deepEqual(warned, differ.map((f) => `${f}: File has damaged (all-zero) chunks. Try running hoard check --repair.`).sort());
  return differ;
}

/**
 * After damage: check finds it (exit 1), `check --repair` repairs (exit 0), a second check and
 * `--verify-data` pass clean; returns the repair's stderr.
 */
async function repairCycle(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string, found: RegExp): Promise<string> {
  const c = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(c.code, 1, c.stderr);
  t.regex(c.stderr, found);
  const r = await hoardIn({ ...env, ...YES }, ['check', '-v', '--repair', repo]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^Type 'YES' if you understand this and want to continue: YES \(from HOARD_CHECK_I_KNOW_WHAT_I_AM_DOING\)$/m);
  const again = await hoardIn(env, ['check', repo]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stderr, '');
  const full = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(full.code, 0, full.stderr);
  return r.stderr;
}

/** A later create of the same data, then `check --repair`, heals every broken file of `a`. */
async function heals(t: ExecutionContext, env: NodeJS.ProcessEnv, repo: string, base: string, broken: string[]): Promise<void> {
  const c = await hoardIn(env, ['create', '--chunker-params', SMALL_CHUNKS, `${repo}::again`, 'src'], base);
  t.is(c.code, 0, c.stderr);
  const v = await hoardIn(env, ['check', '-v', repo]);
  t.is(v.code, 0, v.stderr);
  for (const f of broken) t.regex(v.stderr, new RegExp(`^archive a: ${f}: a broken file .*check --repair heals it$`, 'm'));
  const r = await hoardIn({ ...env, ...YES }, ['check', '-v', '--repair', repo]);
  t.is(r.code, 0, r.stderr);
  for (const f of broken) t.regex(r.stderr, new RegExp(`^archive a: ${f}: healed, every original chunk is back$`, 'm'));
  const clean = await hoardIn(env, ['check', '-v', repo]);
  t.is(clean.code, 0, clean.stderr);
  t.notRegex(clean.stderr, /broken file/);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
  // compact then frees the zero chunks and the old trees and archive objects; all still checks.
  t.is((await hoardIn(env, ['delete', `${repo}::again`])).code, 0);
  const c2 = await hoardIn(env, ['compact', repo]);
  t.is(c2.code, 0, c2.stderr);
  const after = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(after.code, 0, after.stderr);
  t.notRegex(after.stderr, /garbage/);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
}

test('a flipped byte in a data blob: the file is named, zero-filled, everything else intact, and a later create heals it', async (t) => {
  const { env, repo, base } = await setup();
  const [first] = packFiles(repo);
  if (first === undefined) throw new Error('no pack');
  flip(first, 20);
  const r = await repairCycle(t, env, repo, /^pack [0-9a-f]{64} offset 8: chunk [0-9a-f]{64}: /m);
  // The repair reads every pack whole, as --verify-data does.
  t.regex(r, /^pack [0-9a-f]{64} offset 8: chunk [0-9a-f]{64}: .*; dropped$/m);
  // The pack's first blob is whichever file's chunk a worker sealed first: exactly one file of
  // `a` is damaged, and it is the one extract finds different.
  const broken = damagedFiles(r, 'a');
  t.is(broken.length, 1, r);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), broken);
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
  await heals(t, env, repo, base, broken);
});

test('a deleted pack: the files that had chunks in it are named, then healed', async (t) => {
  const { env, repo, base } = await setup();
  const [first] = packFiles(repo);
  if (first === undefined) throw new Error('no pack');
  rmSync(first);
  const r = await repairCycle(t, env, repo, /^pack [0-9a-f]{64} is missing \(index object [0-9a-f]{64} lists it\)$/m);
  t.regex(r, /^pack [0-9a-f]{64} is missing .*its blobs are lost$/m);
  const broken = damagedFiles(r, 'a');
  t.true(broken.length >= 1, r);
  t.deepEqual((await differing(t, env, repo, base, 'a', 'src')).sort(), [...broken].sort());
  await heals(t, env, repo, base, broken);
});

test('a flipped byte in a pack table of contents, trailer or magic loses nothing: the pack is rewritten from its listing', async (t) => {
  const { env, repo, base } = await setup();
  for (const at of [(p: { blobsEnd: number }) => p.blobsEnd + 3, (p: { size: number }) => p.size - 2, (p: { size: number }) => p.size - 10, () => 2]) {
    // The oldest packs are the original ones: each repair writes its new pack last.
    const file = packFiles(repo)[0];
    if (file === undefined) throw new Error('no pack');
    flip(file, at(packParts(file)));
    const r = await repairCycle(t, env, repo, new RegExp(`^pack ${path.basename(file)}: `, 'm'));
    t.regex(r, new RegExp(`^pack ${path.basename(file)}: \\d+ sound blobs copied into new packs`, 'm'));
    t.deepEqual(damagedFiles(r, 'a'), [], r);
    t.throws(() => statSync(file), undefined, 'the damaged pack is replaced by a new one');
  }
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
});

test('a damaged trailer with no index object left: the pack table is found by scanning, nothing lost', async (t) => {
  const { env, repo, base } = await setup();
  const file = packFiles(repo)[0];
  if (file === undefined) throw new Error('no pack');
  flip(file, -2);
  for (const n of readdirSync(path.join(repo, 'index'))) rmSync(path.join(repo, 'index', n));
  const r = await repairCycle(t, env, repo, /^archive a: .* is missing from the repository/m);
  t.regex(r, new RegExp(`^pack ${path.basename(file)}: \\d+ sound blobs copied into new packs \\(table from the pack, found by scanning\\), 0 dropped$`, 'm'));
  t.regex(r, /^pack [0-9a-f]{64} is in no index object: listed again$/m);
  t.deepEqual(damagedFiles(r, 'a'), []);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
});

test('index objects: a damaged one and a deleted one are written afresh from the packs, nothing lost', async (t) => {
  const { env, repo, base } = await setup();
  const ids = readdirSync(path.join(repo, 'index'));
  t.true(ids.length >= 2);
  flip(path.join(repo, 'index', ids[0] ?? ''), 40);
  rmSync(path.join(repo, 'index', ids[1] ?? ''));
  const r = await repairCycle(t, env, repo, /^index object [0-9a-f]{64}: /m);
  t.deepEqual(damagedFiles(r, 'a'), []);
  t.notDeepEqual(readdirSync(path.join(repo, 'index')).sort(), [...ids].sort());
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
  // The client's chunk index was synced: a create deduplicates and a list works.
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'a\nb\n');
});

test('a damaged tree: its directory is reported lost and left empty, the rest extracts', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  for (const d of ['x', 'y']) mkdirSync(path.join(base, 'tree', d), { recursive: true });
  writeFileSync(path.join(base, 'tree', 'x', '1'), '');
  writeFileSync(path.join(base, 'tree', 'y', '2'), '');
  t.is((await hoardIn(env, ['create', `${repo}::a`, 'tree'], base)).code, 0);
  const [file] = packFiles(repo);
  if (file === undefined) throw new Error('no pack');
  // Trees are stored leaves first: the first blob is the tree of tree/x or of tree/y.
  flip(file, 30);
  const r = await repairCycle(t, env, repo, /^pack [0-9a-f]{64} offset 8: tree /m);
  const lost = /^archive a: the tree of tree\/(x|y): the directory is lost$/m.exec(r)?.[1];
  t.truthy(lost, r);
  const out = tempDir('out');
  t.is((await hoardIn(env, ['extract', `${repo}::a`], out)).code, 0);
  t.deepEqual(readdirSync(path.join(out, 'tree', 'x')), lost === 'x' ? [] : ['1']);
  t.deepEqual(readdirSync(path.join(out, 'tree', 'y')), lost === 'y' ? [] : ['2']);
});

test('a damaged archive object leaves the manifest; a damaged newest manifest is rebuilt from the archive objects', async (t) => {
  const { env, repo, base } = await setup();
  const list = JSON.parse((await hoardIn(env, ['list', '--json', repo])).stdout) as { archives: { name: string; id: string }[] };
  const idA = list.archives.find((a) => a.name === 'a')?.id ?? '';
  flip(path.join(repo, 'archives', idA), 30);
  const r = await repairCycle(t, env, repo, new RegExp(`^archive a: archive object ${idA}: `, 'm'));
  t.regex(r, /the archive is removed from the manifest$/m);
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'b\n');
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);

  const gens = readdirSync(path.join(repo, 'manifest')).sort();
  const newest = gens[gens.length - 1] ?? '';
  flip(path.join(repo, 'manifest', newest), 10);
  // As borg: check reports a damaged manifest and goes on (exit 1); other commands stop (exit 2).
  t.is((await hoardIn(env, ['list', repo])).code, 2);
  const m = await repairCycle(t, env, repo, new RegExp(`^manifest/${newest}: `, 'm'));
  t.regex(m, /the archive list is rebuilt from the archive objects/);
  t.false(readdirSync(path.join(repo, 'manifest')).includes(newest));
  t.is((await hoardIn(env, ['list', '--short', repo])).stdout, 'b\n');
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
});

test('--archives-only and --repository-only select the part checked and repaired', async (t) => {
  const { env, repo, base } = await setup();
  const packs = packFiles(repo);
  const first = packs[0];
  if (first === undefined) throw new Error('no pack');
  const { blobsEnd } = packParts(first);
  // A damaged table of contents is a repository problem; the archives still find their chunks.
  flip(first, blobsEnd + 5);
  t.is((await hoardIn(env, ['check', '--repository-only', repo])).code, 1);
  t.is((await hoardIn(env, ['check', '--archives-only', repo])).code, 0);
  const before = snapshot(repo);
  t.is((await hoardIn({ ...env, ...YES }, ['check', '--repair', '--archives-only', repo])).code, 0);
  t.is((await hoardIn(env, ['check', '--repository-only', repo])).code, 1, 'an archives-only repair leaves packs alone');
  t.deepEqual(snapshot(repo), before);
  t.is((await hoardIn({ ...env, ...YES }, ['check', '--repair', '--repository-only', repo])).code, 0);
  t.is((await hoardIn(env, ['check', repo])).code, 0);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
});

test('-a, --first and --last select the archives checked and repaired; a lost index object loses nothing', async (t) => {
  const { env, repo, base } = await setup();
  // The oldest index object lists packs of archive a only: without it a's chunks are missing,
  // and b is clean whichever way it is selected.
  const oldest = readdirSync(path.join(repo, 'index'))
    .map((n) => path.join(repo, 'index', n))
    .sort((x, y) => statSync(x).mtimeMs - statSync(y).mtimeMs)[0];
  rmSync(oldest ?? '');
  for (const [argv, code] of [
    [['-a', 'b'], 0],
    [['-a', 'a'], 1],
    [['--first', '1'], 1],
    [['--last', '1'], 0],
    [['-a', '*', '--sort-by', 'name', '--last', '1'], 0],
  ] as const) {
    const c = await hoardIn(env, ['check', '--archives-only', ...argv, repo]);
    t.is(c.code, code, `${argv.join(' ')}: ${c.stderr}`);
  }
  // Repairing only b leaves a as it is; a full repair lists the packs again and loses nothing.
  const rb = await hoardIn({ ...env, ...YES }, ['check', '--repair', '--archives-only', '-a', 'b', repo]);
  t.is(rb.code, 0, rb.stderr);
  t.deepEqual(damagedFiles(rb.stderr, 'a'), []);
  t.is((await hoardIn(env, ['check', '--archives-only', '-a', 'a', repo])).code, 1);
  const ra = await hoardIn({ ...env, ...YES }, ['check', '-v', '--repair', repo]);
  t.is(ra.code, 0, ra.stderr);
  t.regex(ra.stderr, /^pack [0-9a-f]{64} is in no index object: listed again$/m);
  t.deepEqual(damagedFiles(ra.stderr, 'a'), []);
  t.is((await hoardIn(env, ['check', repo])).code, 0);
  t.deepEqual(await differing(t, env, repo, base, 'a', 'src'), []);
  t.deepEqual(await differing(t, env, repo, base, 'b', 'other'), []);
});

test('--repair asks first: without the variable or a terminal it aborts (exit 2, nothing changed); --max-duration is refused', async (t) => {
  const { env, repo } = await setup();
  const [first] = packFiles(repo);
  if (first === undefined) throw new Error('no pack');
  flip(first, 20);
  const before = snapshot(repo);
  const no = await hoardIn(env, ['check', '--repair', repo], tempDir('cwd'));
  t.is(no.code, 2, no.stderr);
  t.regex(no.stderr, /^This is a potentially dangerous function\.$/m);
  t.regex(no.stderr, /^hoard: Aborting\.$/m);
  const wrong = await hoardIn({ ...env, BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'yes' }, ['check', '--repair', repo]);
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /Invalid answer, aborting\./);
  const dur = await hoardIn({ ...env, ...YES }, ['check', '--repair', '--repository-only', '--max-duration', '10', repo]);
  t.is(dur.code, 2);
  t.regex(dur.stderr, /--repair does not allow --max-duration/);
  t.deepEqual(snapshot(repo), before);
  // The BORG_ twin answers too.
  const borg = await hoardIn({ ...env, BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES' }, ['check', '--repair', repo]);
  t.is(borg.code, 0, borg.stderr);
  t.is((await hoardIn(env, ['check', '--verify-data', repo])).code, 0);
});

test('--progress prints nothing when stderr is not a terminal; --save-space is accepted', async (t) => {
  const { env, repo } = await setup();
  const c = await hoardIn(env, ['check', '--progress', '--save-space', '--verify-data', repo], tempDir('cwd'));
  t.is(c.code, 0, c.stderr);
  t.is(c.stderr, '');
  const r = await hoardIn({ ...env, ...YES }, ['check', '--progress', '--repair', repo], tempDir('cwd'));
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stderr, /%/);
});
