import test from 'ava';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { SMALL_CHUNKS, filesUnder, hoardChild, makeSmallTree } from './check-helpers.js';

/** Packs of at most 16 KiB: the small tree makes about 20 of them, and an index object every 8. */
const PACK_SIZE = '16384';
/** The random (incompressible) file of the small tree. */
const BIG = 300_000;

function packCount(repo: string): number {
  return filesUnder(path.join(repo, 'packs')).filter((f) => !path.basename(f).startsWith('.tmp-')).length;
}

/** The deduplicated size a `create --json` reports. */
function deduplicated(stdout: string): number {
  return (JSON.parse(stdout) as { archive: { stats: { deduplicated_size: number } } }).archive.stats.deduplicated_size;
}

/** What a crashed create left and what the create after it did. */
interface Outcome {
  repo: string;
  /** Packs the crashed run stored. */
  leftPacks: number;
  /** New packs and the deduplicated size of the next create. */
  retryPacks: number;
  retryStored: number;
  /** What `check -v --verify-data` said after the crash. */
  checkLog: string;
}

/**
 * Kills a create of the small tree at `point` with SIGKILL (a real kill, in a child process),
 * then: check passes (garbage is only info), list works and shows no archive, the next create
 * succeeds, and check passes again.
 */
async function crashThenRetry(point: string): Promise<Outcome> {
  const env = testEnv({ HOARD_TESTONLY_PACK_SIZE: PACK_SIZE });
  const base = tempDir('src');
  makeSmallTree(base, BIG);
  const repo = await makeRepo(env);
  const argv = ['create', '--chunker-params', SMALL_CHUNKS, `${repo}::a`, 'src'];
  const crashed = await hoardChild({ ...env, HOARD_TESTONLY_CRASH_AT: point }, argv, base);
  if (crashed.signal !== 'SIGKILL') throw new Error(`${point}: not killed (${crashed.code}): ${crashed.stderr}`);
  const leftPacks = packCount(repo);
  const check = await hoardIn(env, ['check', '-v', '--verify-data', repo]);
  if (check.code !== 0) throw new Error(`${point}: check after the crash: ${check.stderr}`);
  const list = await hoardIn(env, ['list', repo]);
  if (list.code !== 0 || list.stdout !== '') throw new Error(`${point}: list after the crash: ${list.code} ${list.stdout}${list.stderr}`);
  const retry = await hoardChild(env, ['create', '--json', ...argv.slice(1)], base);
  if (retry.code !== 0) throw new Error(`${point}: create after the crash: ${retry.stderr}`);
  const after = await hoardIn(env, ['check', '--verify-data', repo]);
  if (after.code !== 0) throw new Error(`${point}: check after the retry: ${after.stderr}`);
  if ((await hoardIn(env, ['list', '--short', repo])).stdout !== 'a\n') throw new Error(`${point}: archive a is not listed`);
  return { repo, leftPacks, retryPacks: packCount(repo) - leftPacks, retryStored: deduplicated(retry.stdout), checkLog: check.stderr };
}

const garbageLine = /^pack [0-9a-f]{64} is in no index object: garbage for compact$/gm;

test('SIGKILL while the first pack is written leaves nothing a check minds', async (t) => {
  const r = await crashThenRetry('mid-put:packs');
  t.is(r.leftPacks, 0);
  t.notRegex(r.checkLog, /garbage/);
  t.true(r.retryStored > BIG, `${r.retryStored}`);
  // The half-written packs are temporary files, invisible to every listing: the two being put,
  // and the staging files of the pack being filled, the one queued and one per worker waiting.
  const temps = filesUnder(path.join(r.repo, 'packs')).filter((f) => path.basename(f).startsWith('.tmp-')).length;
  t.true(temps >= 1 && temps <= 6, `${temps} temporary files`);
});

test('SIGKILL after packs without an index object: they are garbage for compact, and stored again', async (t) => {
  const r = await crashThenRetry('after-pack:3');
  // Two puts run at once: the one after the third may have finished before the kill.
  t.true(r.leftPacks === 3 || r.leftPacks === 4, `${r.leftPacks} packs`);
  t.is((r.checkLog.match(garbageLine) ?? []).length, r.leftPacks);
  t.regex(
    r.checkLog,
    new RegExp(`^Repository check complete: 0 index objects, 0 packs \\(every blob read\\); garbage for compact: ${r.leftPacks} packs, 0 archive objects; no problems found\\.$`, 'm'),
  );
  t.true(r.retryStored > BIG, `${r.retryStored}`);
});

test('SIGKILL just before the first index object is stored: its 8 packs are garbage', async (t) => {
  const r = await crashThenRetry('before-index');
  t.is(r.leftPacks, 8);
  t.is((r.checkLog.match(garbageLine) ?? []).length, 8);
  t.regex(r.checkLog, /garbage for compact: 8 packs, 0 archive objects; no problems found/);
});

test('SIGKILL after an index object: the next create does not store its 8 packs again', async (t) => {
  const r = await crashThenRetry('after-pack:10');
  // As above, the put after the tenth may have finished too.
  t.true(r.leftPacks === 10 || r.leftPacks === 11, `${r.leftPacks} packs`);
  t.regex(
    r.checkLog,
    new RegExp(`^Repository check complete: 1 index object, 8 packs \\(every blob read\\); garbage for compact: ${r.leftPacks - 8} packs, 0 archive objects; no problems found\\.$`, 'm'),
  );
  // Each of the 8 indexed packs holds at least 16 KiB of the random file: stored again, the
  // retry would add more than the whole file.
  t.true(r.retryStored < BIG - 8 * 16384 + 20_000, `${r.retryStored} bytes stored again`);
});

for (const point of ['before-archive', 'before-manifest', 'mid-put:manifest']) {
  test(`SIGKILL at ${point}: everything is indexed and the next create stores nothing again`, async (t) => {
    const r = await crashThenRetry(point);
    t.true(r.leftPacks > 8, `${r.leftPacks} packs`);
    const garbageArchives = point === 'before-archive' ? 0 : 1;
    t.regex(r.checkLog, new RegExp(`; (garbage for compact: 0 packs, ${garbageArchives} archive objects?; )?no problems found\\.$`, 'm'));
    if (garbageArchives === 0) t.notRegex(r.checkLog, /garbage/);
    t.is(r.retryPacks, 0);
    t.is(r.retryStored, 0);
    t.is(readdirSync(path.join(r.repo, 'archives')).length, 1 + garbageArchives);
  });
}
