import test from 'ava';

import { commandLineArguments, decodeName, encodeName, shownName } from '../dist/fs-names.js';
import { runPython, seededRandom } from './python-oracle.js';

/** Byte strings that mix ASCII, valid sequences of every length, and every kind of invalid one. */
function samples(): Buffer[] {
  const next = seededRandom(7);
  const pieces = [
    [0x61], [0x2f], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xf0, 0x9f, 0x92, 0x80], [0xef, 0xbf, 0xbd],
    [0xff], [0xfe], [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80],
    [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3],
  ];
  const out: Buffer[] = [Buffer.alloc(0), Buffer.from([0xff]), Buffer.from('plain/ascii')];
  for (let i = 0; i < 400; i += 1) {
    const n = 1 + Math.floor(next() * 8);
    out.push(Buffer.from(Array.from({ length: n }, () => pieces[Math.floor(next() * pieces.length)] ?? []).flat()));
  }
  return out;
}

test("decodeName is Python's surrogateescape decoding, and encodeName gives the bytes back", (t) => {
  const bytes = samples();
  const python = runPython(
    'import json,sys; print(json.dumps([bytes.fromhex(h).decode("utf-8", "surrogateescape") for h in json.load(sys.stdin)]))',
    bytes.map((b) => b.toString('hex')),
  ) as string[];
  for (const [i, b] of bytes.entries()) {
    const text = decodeName(b);
    t.is(text, python[i] ?? '', b.toString('hex'));
    t.true(encodeName(text).equals(b), `round trip of ${b.toString('hex')}`);
  }
  // Names that Node decodes to the same text stay apart.
  t.not(decodeName(Buffer.from([0x64, 0xff])), decodeName(Buffer.from([0x64, 0xfe])));
  // A real astral character is not taken for an escaped byte, even where its low half (U+DC80)
  // is in the escapes' range.
  t.true(encodeName('\u{1F480}\udcff').equals(Buffer.from([0xf0, 0x9f, 0x92, 0x80, 0xff])));
});

test("shownName is borg's remove_surrogates: escaped bytes and lone surrogates show as '?'", (t) => {
  t.is(shownName(decodeName(Buffer.from([0x64, 0xff, 0x2f, 0xc3, 0xa9, 0xe9]))), 'd?/é?');
  t.is(shownName('\ud800x\u{1F600}'), '?x\u{1F600}');
});

test('commandLineArguments keeps process.argv where the kernel\'s arguments do not line up with it', (t) => {
  // (A child run with such bytes is in byte-arguments.test.ts.)
  t.deepEqual(commandLineArguments(['node', 'script', 'not', 'these']), ['not', 'these']);
});
