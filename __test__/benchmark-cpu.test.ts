import test from 'ava';

import { runChild, runInProcess } from './helpers.js';

interface Result {
  name: string;
  amount: number;
  unit: string;
  seconds: number;
  rate: number;
}

test('benchmark cpu --json measures every group over the amount asked', async (t) => {
  const r = await runInProcess(['benchmark', 'cpu', '--size', '3MB', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { threads: number; results: Record<string, Result[]> };
  t.true(report.threads >= 1);
  t.deepEqual(Object.keys(report.results), [
    'chunkers', 'ids', 'encryption', 'kdfs', 'compression', 'compressionText', 'decompressionText',
  ]);
  t.deepEqual(report.results.chunkers?.map((x) => x.name), ['buzhash,19,23,21,4095', 'fastcdc,19,23,21,2', 'fixed,1048576']);
  t.deepEqual(report.results.encryption?.map((x) => x.name), ['aes-256-gcm', 'chacha20-poly1305', 'blake3-mac', 'plaintext-blake3']);
  for (const row of report.results.ids ?? []) {
    t.is(row.amount, 3_000_000, row.name);
    t.is(row.unit, 'bytes');
    t.true(row.seconds > 0 && row.rate > 0);
  }
  const kdf = report.results.kdfs?.[0];
  t.is(kdf?.name, 'argon2id');
  t.is(kdf?.amount, 5);
  t.is(kdf?.unit, 'runs');
  // argon2id with 64 MiB and 3 passes cannot take less than a few milliseconds a run.
  t.true((kdf?.seconds ?? 0) > 5 * 0.005);
  t.is(report.results.compression?.[0]?.amount, 300_000);
});

test('benchmark cpu prints borg-style groups and rows as a child process', (t) => {
  const r = runChild(['benchmark', 'cpu', '--size', '2MB']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0] ?? '', /^Chunkers =+$/);
  t.regex(lines[1] ?? '', /^buzhash,19,23,21,4095 +0\.002GB +\d+\.\d{3}s +\d+\.\d MB\/s$/);
  t.true(lines.some((l) => /^KDFs \(slow is GOOD, use argon2!\) =+$/.test(l)));
  t.true(lines.some((l) => /^argon2id +5 +\d+\.\d{3}s/.test(l)));
  t.true(lines.some((l) => /^lzma,9 +/.test(l)));
  t.is(lines.filter((l) => / =+$/.test(l)).length, 7);
});
