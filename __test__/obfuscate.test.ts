import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { extractAll, filesIn } from './maintenance-helpers.js';

interface Made {
  archive: { stats: { original_size: number; deduplicated_size: number } };
  cache: { stats: { unique_size: number; unique_csize: number } };
}

/** A tree of a 200 kB random file and 10 kB of text, in a fresh repository. */
async function setUp(): Promise<{ env: NodeJS.ProcessEnv; repo: string; base: string }> {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { rand: 200_000 });
  writeFileSync(path.join(base, 'd', 'text'), Array.from({ length: 1_500 }, (_, i) => `line ${i}`).join('\n'));
  return { env, repo, base };
}

test('-C obfuscate,6 pads each blob to many times its size (at most 20 MiB); extract and check --verify-data see the data as it was', async (t) => {
  const { env, repo, base } = await setUp();
  const r = await hoardIn(env, ['create', '--json', '-C', 'obfuscate,6,lz4', `${repo}::a`, 'd'], base);
  t.is(r.code, 0, r.stderr);
  const made = JSON.parse(r.stdout) as Made;
  // The random file's frame (200 kB stored as is) times at least 1,000 is past the cap: 20 MiB.
  t.true(made.archive.stats.deduplicated_size > 20_000_000, `${made.archive.stats.deduplicated_size}`);
  t.true(made.archive.stats.deduplicated_size < 3 * 20 * 2 ** 20, `${made.archive.stats.deduplicated_size}`);
  t.true(made.cache.stats.unique_csize > made.cache.stats.unique_size);
  const out = await extractAll(t, env, `${repo}::a`);
  for (const f of ['rand', 'text']) t.deepEqual(readFileSync(path.join(out, 'd', f)), readFileSync(path.join(base, 'd', f)), f);
  const check = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(check.code, 0, check.stderr);
  // Trees are padded too: an archive of an empty folder stores only a tree, of some hundred bytes.
  const empty = tempDir('empty');
  mkdirSync(path.join(empty, 'nothing'));
  const trees = await hoardIn(env, ['create', '--json', '-C', 'obfuscate,6,none', `${repo}::empty`, 'nothing'], empty);
  t.is(trees.code, 0, trees.stderr);
  const grown = (JSON.parse(trees.stdout) as Made).cache.stats.unique_csize - made.cache.stats.unique_csize;
  t.true(grown > 100_000, `the empty folder's trees took ${grown} bytes`);
});

test('-C obfuscate,110 adds at most 1 KiB a blob; obfuscated and plain blobs of the same data deduplicate', async (t) => {
  const { env, repo, base } = await setUp();
  const plain = await hoardIn(env, ['create', '--json', '-C', 'none', `${repo}::plain`, 'd'], base);
  t.is(plain.code, 0, plain.stderr);
  const stored = (JSON.parse(plain.stdout) as Made).archive.stats.deduplicated_size;
  // The same data under another spec: nothing new is stored.
  const again = await hoardIn(env, ['create', '--json', '-C', 'obfuscate,110,none', `${repo}::again`, 'd'], base);
  t.is(again.code, 0, again.stderr);
  t.is((JSON.parse(again.stdout) as Made).archive.stats.deduplicated_size, 0);
  // New data: its two file chunks each grow by the frames' headers, the envelope and up to 1 KiB.
  filesIn(base, 'e', { one: 50_000, two: 60_000 });
  const r = await hoardIn(env, ['create', '--json', '-C', 'obfuscate,110,none', `${repo}::b`, 'e'], base);
  t.is(r.code, 0, r.stderr);
  const made = JSON.parse(r.stdout) as Made;
  // At least the obfuscate frame's 10 bytes around each inner frame (6) and its envelope (42).
  t.true(made.archive.stats.deduplicated_size >= 110_000 + 2 * (10 + 6 + 42), `${made.archive.stats.deduplicated_size}`);
  t.true(made.archive.stats.deduplicated_size < 110_000 + 2 * (1024 + 100), `${made.archive.stats.deduplicated_size} (plain: ${stored})`);
  const out = await extractAll(t, env, `${repo}::b`);
  for (const f of ['one', 'two']) t.deepEqual(readFileSync(path.join(out, 'e', f)), readFileSync(path.join(base, 'e', f)), f);
  const check = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(check.code, 0, check.stderr);
});
