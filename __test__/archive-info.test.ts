import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { hoardIn, makeRepo, tempDir, testEnv } from './archive-helpers.js';
import { create, filesIn } from './maintenance-helpers.js';
import { filesAndTrees } from './helpers.js';

interface Stats {
  compressed_size: number;
  deduplicated_size: number;
  nfiles: number;
  original_size: number;
}

interface CacheStats {
  total_chunks: number;
  total_csize: number;
  total_size: number;
  total_unique_chunks: number;
  unique_csize: number;
  unique_size: number;
}

interface InfoJson {
  archives: { name: string; id: string; stats: Stats; chunker_params: unknown[]; command_line: string[]; hostname: string; username: string; start: string; end: string; duration: number; comment: string; limits: unknown }[];
  cache: { path: string; stats: CacheStats };
  encryption: { mode: string };
  repository: { id: string; location: string; last_modified: string };
}

test('"All archives" counts the trees, as the chunk index does: its compressed size is at least its deduplicated one; "This archive" counts the files', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  // 3 x 200 files of 10 bytes: the trees' bytes outweigh the files' 6,000.
  for (const d of ['a', 'b', 'c']) filesIn(base, `tiny/${d}`, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, 10])));
  const r = await hoardIn(env, ['create', '--json', `${repo}::one`, 'tiny'], base);
  t.is(r.code, 0, r.stderr);
  const made = JSON.parse(r.stdout) as { archive: { stats: Stats }; cache: { stats: CacheStats } };
  const { stats } = made.archive;
  t.is(stats.nfiles, 600);
  t.is(stats.original_size, 6_000);
  const all = made.cache.stats;
  t.true(all.total_size > 6_000 + 600 * 10, `all archives: original ${all.total_size}, the files and their items`);
  t.true(all.total_csize > stats.compressed_size);
  t.true(all.total_csize >= all.unique_csize, `all archives: compressed ${all.total_csize} >= deduplicated ${all.unique_csize}`);
  // A second archive of the same tree adds the same again to the totals, and nothing to the index.
  const again = await hoardIn(env, ['create', '--json', `${repo}::two`, 'tiny'], base);
  t.is(again.code, 0, again.stderr);
  const both = (JSON.parse(again.stdout) as { cache: { stats: CacheStats } }).cache.stats;
  t.is(both.total_size, 2 * all.total_size);
  t.is(both.total_csize, 2 * all.total_csize);
  t.is(both.unique_csize, all.unique_csize);
  const info = JSON.parse((await hoardIn(env, ['info', '--json', repo])).stdout) as InfoJson;
  t.deepEqual(info.cache.stats, both);
});

test('unique_size is the plaintext of the unique blobs: the whole of one archive without duplicates, kept in the cache and rebuilt without it', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'random', { a: 70_000, b: 3_000 });
  // 260 kB of text in one chunk: it compresses, so its plaintext is well above its stored size.
  const text = Array.from({ length: 30_000 }, (_, i) => `line ${i}`).join('\n');
  writeFileSync(path.join(base, 'random', 'text'), text);
  const first = await hoardIn(env, ['create', '--json', `${repo}::one`, 'random'], base);
  t.is(first.code, 0, first.stderr);
  const one = (JSON.parse(first.stdout) as { cache: { stats: CacheStats } }).cache.stats;
  // Every blob of a lone archive without duplicates is unique: files and trees.
  t.is(one.unique_size, one.total_size);
  t.true(one.unique_size > 73_000 + text.length, `unique_size ${one.unique_size}`);
  t.true(one.unique_size > one.unique_csize + 150_000, `unique_size ${one.unique_size}, unique_csize ${one.unique_csize}`);
  // A second archive of the same tree references the same blobs (the chunk index comes from the cache).
  const again = await hoardIn(env, ['create', '--json', `${repo}::two`, 'random'], base);
  t.is(again.code, 0, again.stderr);
  const two = (JSON.parse(again.stdout) as { cache: { stats: CacheStats } }).cache.stats;
  t.is(two.total_size, 2 * one.total_size);
  t.is(two.unique_size, one.unique_size);
  // Rebuilt from the repository's index objects, the sums are the same.
  rmSync(env.HOARD_CACHE_DIR ?? '', { recursive: true, force: true });
  const info = await hoardIn(env, ['info', '--json', repo]);
  t.is(info.code, 0, info.stderr);
  t.deepEqual((JSON.parse(info.stdout) as InfoJson).cache.stats, two);
});

test('info REPO::ARCHIVE agrees with create --json; deduplicated sizes are what each archive alone holds', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'common', { c: 400_000 });
  filesIn(base, 'first', { f: 300_000 });
  filesIn(base, 'second', { s: 200_000 });
  const made = await hoardIn(env, ['create', '--json', '--comment', 'the first one', `${repo}::one`, 'common', 'first'], base);
  t.is(made.code, 0, made.stderr);
  const created = JSON.parse(made.stdout) as { archive: { id: string; stats: Stats }; cache: { stats: CacheStats } };
  const alone = await hoardIn(env, ['info', '--json', `${repo}::one`]);
  t.is(alone.code, 0, alone.stderr);
  const a = JSON.parse(alone.stdout) as InfoJson;
  t.is(a.archives.length, 1);
  const one = a.archives[0];
  t.is(one?.id, created.archive.id);
  // The only archive holds every blob alone: its deduplicated size is everything it stored.
  t.deepEqual(one?.stats, created.archive.stats);
  t.deepEqual(a.cache.stats, created.cache.stats);
  t.deepEqual(one?.chunker_params, ['buzhash', 19, 23, 21, 4095]);
  t.is(one?.comment, 'the first one');
  t.deepEqual(Object.keys(one ?? {}), ['chunker_params', 'command_line', 'comment', 'duration', 'end', 'hostname', 'id', 'limits', 'name', 'start', 'stats', 'username']);
  t.regex(one?.start ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);

  await create(t, env, base, `${repo}::two`, 'common', 'second');
  const both = JSON.parse((await hoardIn(env, ['info', '--json', '-a', '*', repo])).stdout) as InfoJson;
  t.deepEqual(
    both.archives.map((x) => x.name),
    ['one', 'two'],
  );
  const [d1, d2] = both.archives.map((x) => x.stats.deduplicated_size);
  // Now "common" is shared: each archive alone holds its own file, one chunk stored as is (a
  // 6-byte frame header and a 42-byte envelope); its own trees are left out, as borg 1.4 does.
  t.is(d1, 300_048);
  t.is(d2, 200_048);
  t.is(both.archives[0]?.stats.original_size, 700_000);
  const lastOnly = JSON.parse((await hoardIn(env, ['info', '--json', '--last', '1', repo])).stdout) as InfoJson;
  t.deepEqual(
    lastOnly.archives.map((x) => x.name),
    ['two'],
  );
  t.is(lastOnly.archives[0]?.stats.deduplicated_size, d2);
  const firstOnly = JSON.parse((await hoardIn(env, ['info', '--json', '--first', '1', repo])).stdout) as InfoJson;
  t.deepEqual(
    firstOnly.archives.map((x) => x.name),
    ['one'],
  );
  // After deleting "two", "one" holds "common" alone again.
  t.is((await hoardIn(env, ['delete', `${repo}::two`])).code, 0);
  const again = JSON.parse((await hoardIn(env, ['info', '--json', `${repo}::one`])).stdout) as InfoJson;
  t.is(again.archives[0]?.stats.deduplicated_size, created.archive.stats.deduplicated_size);
});

test('info prints borg\'s layouts for an archive and for the repository', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  filesIn(base, 'd', { f: 100_000, g: 5_000 });
  await create(t, env, base, `${repo}::Monday`, 'd');
  await create(t, env, base, `${repo}::Tuesday`, 'd');
  const r = await hoardIn(env, ['info', `${repo}::Monday`]);
  t.is(r.code, 0, r.stderr);
  const rule = '-'.repeat(78);
  t.regex(
    r.stdout,
    new RegExp(
      '^Archive name: Monday\nArchive fingerprint: [0-9a-f]{64}\nComment: \nHostname: .+\nUsername: .+\n' +
        'Time \\(start\\): [A-Z][a-z]{2}, \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\nTime \\(end\\): [A-Z][a-z]{2}, [-\\d]+ [:\\d]+\n' +
        'Duration: \\d+\\.\\d\\d seconds\nNumber of files: 2\nCommand line: .*create .*::Monday d\nUtilization of max\\. archive size: 0%\n' +
        `${rule}\n {23}Original size {6}Compressed size {4}Deduplicated size\n` +
        'This archive: +105\\.00 kB +105\\.\\d\\d kB +\\d+ B\nAll archives: +21\\d\\.\\d\\d kB +21\\d\\.\\d\\d kB +105\\.\\d\\d kB\n\n' +
        ' {23}Unique chunks {9}Total chunks\nChunk index: +\\d+ +\\d+\n$',
    ),
  );
  const two = await hoardIn(env, ['info', '-a', '*day', repo]);
  t.is(two.code, 0, two.stderr);
  t.is(two.stdout.match(/^Archive name: /gm)?.length, 2);
  t.regex(two.stdout, /Chunk index: +\d+ +\d+\n\nArchive name: Tuesday\n/);
  const none = await hoardIn(env, ['info', '-a', 'nothing*', repo]);
  t.is(none.code, 0);
  t.is(none.stdout, '');
  const unknown = await hoardIn(env, ['info', `${repo}::Sunday`]);
  t.is(unknown.code, 2);
  t.is(unknown.stderr, 'hoard: Archive Sunday does not exist\n');

  const repoInfo = await hoardIn(env, ['info', repo]);
  t.is(repoInfo.code, 0, repoInfo.stderr);
  t.regex(
    repoInfo.stdout,
    new RegExp(
      `^Repository ID: [0-9a-f]{64}\nLocation: ${repo}\nEncrypted: Yes \\(repokey-[a-z0-9-]+\\)\nCache: .+\nSecurity dir: .+\n${rule}\n` +
        ' {23}Original size {6}Compressed size {4}Deduplicated size\nAll archives: +21\\d\\.\\d\\d kB +21\\d\\.\\d\\d kB +105\\.\\d\\d kB\n\n' +
        ' {23}Unique chunks {9}Total chunks\nChunk index: +\\d+ +\\d+\n$',
    ),
  );
  const json = JSON.parse((await hoardIn(env, ['info', '--json', repo])).stdout) as InfoJson & { security_dir: string };
  t.deepEqual(Object.keys(json), ['cache', 'encryption', 'repository', 'security_dir']);
  filesAndTrees(t, json.cache.stats.total_size, 210_000, 2);
  t.regex(json.repository.last_modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
});
