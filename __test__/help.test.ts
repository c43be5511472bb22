/** `hoard help`: the topics (patterns, placeholders, compression) and every command's usage, details and examples. */
import test from 'ava';

import { runChild, runInProcess } from './helpers.js';

test('help patterns, placeholders and compression explain the topics; help lists them', async (t) => {
  const patterns = await runInProcess(['help', 'patterns']);
  t.is(patterns.code, 0);
  for (const word of ['fm:', 'sh:', 're:', 'pp:', 'pf:', '--exclude-from', '--patterns-from', 'R PATH', 'P STYLE', 'CACHEDIR.TAG']) {
    t.true(patterns.stdout.includes(word), word);
  }
  const placeholders = await runInProcess(['help', 'placeholders']);
  t.is(placeholders.code, 0);
  for (const key of ['{hostname}', '{fqdn}', '{reverse-fqdn}', '{now}', '{utcnow}', '{unixtime}', '{user}', '{pid}', '{uuid4}', '{borgversion}', '{borgmajor}', '{borgminor}', '{borgpatch}', '{hoardversion}']) {
    t.true(placeholders.stdout.includes(key), key);
  }
  const compression = await runInProcess(['help', 'compression']);
  t.is(compression.code, 0);
  for (const spec of ['none', 'lz4', 'zstd[,L]', 'zlib[,L]', 'lzma[,L]', 'auto,C[,L]']) t.true(compression.stdout.includes(spec), spec);
  const all = runChild(['help']);
  t.is(all.code, 0);
  t.regex(all.stdout, /hoard help patterns\n\s+hoard help placeholders\n\s+hoard help compression\n/);
  const bad = await runInProcess(['help', 'nonsense']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^hoard: no such command or help topic: nonsense/);
});

test('the examples of help compression and help placeholders are specs and names hoard takes', async (t) => {
  const compression = (await runInProcess(['help', 'compression'])).stdout;
  const specs = [...compression.matchAll(/hoard create (?:-C|--compression) (\S+)/g)].map((m) => m[1] ?? '');
  t.true(specs.length >= 3);
  const { parseCompression } = await import('../dist/native.js');
  for (const s of specs) t.notThrows(() => parseCompression(s), s);
  const { expandPlaceholders } = await import('../dist/archive/placeholders.js');
  const placeholders = (await runInProcess(['help', 'placeholders'])).stdout;
  for (const m of placeholders.matchAll(/::(\S+)/g)) t.notThrows(() => expandPlaceholders(m[1] ?? ''), m[1]);
  t.regex(expandPlaceholders('{now:%Y-%m-%d}'), /^\d{4}-\d\d-\d\d$/);
});

test('every command has a description, details and examples in hoard help COMMAND', async (t) => {
  const { commands } = await import('../dist/cli.js');
  const paths = commands
    .map((c) => c.paths?.[0])
    .filter((p): p is string[] => p !== undefined && !p[0]?.startsWith('-'));
  t.true(paths.length >= 13);
  for (const p of paths) {
    const r = await runInProcess(['help', ...p]);
    t.is(r.code, 0, p.join(' '));
    t.regex(r.stdout, /\nUsage\n/, p.join(' '));
    t.regex(r.stdout, /\nDetails\n/, p.join(' '));
    t.regex(r.stdout, /\nExamples\n/, p.join(' '));
  }
  const version = await runInProcess(['--version', '--help']);
  t.regex(version.stdout, /\nDetails\n/);
});
