import test from 'ava';

import { InvalidArgumentError } from '../dist/errors.js';
import {
  ARCHIVE_KEYS,
  DEFAULT_ARCHIVE_FORMAT,
  DEFAULT_ITEM_FORMAT,
  FIXED_KEYS,
  HASH_KEYS,
  ITEM_KEYS,
  ITEM_KEYS_NEEDING_CACHE,
  SHORT_ARCHIVE_FORMAT,
  SHORT_ITEM_FORMAT,
  Timestamp,
  compileFormat,
  formatTime,
  isoTime,
  modeString,
} from '../dist/archive/format.js';
import { type FormatValue, formatWithSpec } from '../dist/archive/format-spec.js';
import { runPython, seededRandom } from './python-oracle.js';

// Every test here runs in UTC unless it says otherwise; the strftime suite covers other zones.
process.env['TZ'] = 'UTC';

type Plain = string | number | bigint;

/** How a JavaScript value is sent to Python: its kind and text. */
function toPython(v: Plain): [string, string] {
  if (typeof v === 'string') return ['str', v];
  if (typeof v === 'bigint') return ['int', v.toString()];
  if (Number.isInteger(v)) return ['int', BigInt(v).toString()];
  if (Number.isNaN(v)) return ['float', 'nan'];
  if (v === Infinity) return ['float', 'inf'];
  if (v === -Infinity) return ['float', '-inf'];
  return ['float', String(v)];
}

const FORMAT_SCRIPT = `
import sys, json
out = []
for kind, text, spec in json.load(sys.stdin):
    v = int(text) if kind == 'int' else float(text) if kind == 'float' else text
    try:
        out.append(format(v, spec))
    except (ValueError, TypeError, OverflowError):
        out.append(None)
print(json.dumps(out))
`;

function ours(v: Plain, spec: string): string | null {
  try {
    return formatWithSpec(v, spec);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return null;
    throw e;
  }
}

/** Compares hoard's formatting of every case with Python's, reporting the first mismatches. */
function compareWithPython(cases: [Plain, string][]): string[] {
  const expected = runPython(
    FORMAT_SCRIPT,
    cases.map(([v, s]) => [...toPython(v), s]),
  ) as (string | null)[];
  const bad: string[] = [];
  cases.forEach(([v, s], i) => {
    const got = ours(v, s);
    if (got !== expected[i] && bad.length < 20) {
      bad.push(`format(${toPython(v).join(':')}, ${JSON.stringify(s)}): python ${JSON.stringify(expected[i])}, hoard ${JSON.stringify(got)}`);
    }
  });
  return bad;
}

const INTS: Plain[] = [
  0, 1, -1, 7, 42, -42, 255, -255, 1000, 1234, -1234, 65535, 1234567, -987654321, 2 ** 31, 2 ** 53 - 1,
  0x10ffff, 0x110000, 9007199254740993n, -(10n ** 25n), 10n ** 400n,
];
const FLOATS: Plain[] = [
  0.5, -0.5, 1.5, 2.5, -2.5, 0.125, 0.375, -0.0001, 0.1, 0.2, 1 / 3, -2 / 3, 9.995, 99.5, 1234.5678, 123456.789,
  1e-7 + 1e-20, 1.5e-300, 5e-324, 2.2250738585072014e-308 / 3, 12345678.9, 0.000123456, 9.9999999, 1e15 + 0.5,
  4.35, 0.045, 1.0000000000000002, Infinity, -Infinity, NaN,
];
const STRINGS: Plain[] = ['', 'a', 'hello', 'ünïcødé', '日本語', '😀x😀', 'a b', '0123'];

test('format specs agree with Python on a grid of values and hand-picked specs', (t) => {
  const specs = [
    '', '5', '<5', '>5', '^5', '^6', '=8', '*<7', '*>7', '*^7', '*=9', '08', '0=8', '+', '-', ' ', '+8', ' 8',
    ',', '_', '010,', '012_', '011,d', ',d', '_d', 'd', 'b', 'o', 'x', 'X', '#b', '#o', '#x', '#X', '#010x',
    '_x', '_b', '#_b', 'c', '^5c', '05c', 'n', ',n', 'e', 'E', '.0e', '.3e', '#.0e', 'f', 'F', '.0f', '.2f',
    '#.0f', '.10f', ',.2f', '_.3f', '012,.2f', 'g', 'G', '.0g', '.1g', '.3g', '.12g', '#g', '#.3g', '%', '.1%',
    '.0%', '10.3%', '.3', '.1', '.20', '#.3', 'z.2f', 'z', 'z.0e', '+z.1f', '.0', '.3s', '10.3s', 's', '>10s',
    '^10.2', '\u0000<3', 'é^9', '😀>6', '#', '=', '+s', '.3d', 'zd', 'zs', ',s', 'q', 'dd', '.', '1.', ',_',
    '_,', ',,', ',x', '+c', '#c', ',c', '15,.4e', '-^15_.3G',
  ];
  const cases: [Plain, string][] = [];
  for (const v of [...INTS, ...FLOATS, ...STRINGS]) for (const s of specs) cases.push([v, s]);
  t.deepEqual(compareWithPython(cases), []);
});

test('format specs agree with Python on thousands of generated specs and values', (t) => {
  const rand = seededRandom(1234);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const parts = {
    align: ['', '', '<', '>', '^', '=', '*<', '*>', '*^', '*=', '0<', '0=', ' >'],
    sign: ['', '', '+', '-', ' '],
    z: ['', '', '', 'z'],
    alt: ['', '', '#'],
    zero: ['', '', '0'],
    width: ['', '', '1', '3', '8', '13', '21'],
    grouping: ['', '', ',', '_'],
    precision: ['', '', '.0', '.1', '.2', '.5', '.9', '.17', '.30'],
    type: ['', '', '', 's', 'd', 'b', 'o', 'x', 'X', 'c', 'n', 'e', 'E', 'f', 'F', 'g', 'G', '%'],
  };
  const randomFloat = (): number => {
    for (;;) {
      const x = (rand() * 2 - 1) * 10 ** Math.floor(rand() * 60 - 30);
      if (!Number.isInteger(x)) return x;
    }
  };
  const randomInt = (): Plain =>
    rand() < 0.8 ? Math.floor((rand() * 2 - 1) * 10 ** Math.floor(rand() * 15)) : BigInt(Math.floor(rand() * 1e15)) ** 2n;
  const cases: [Plain, string][] = [];
  for (let i = 0; i < 30000; i++) {
    const spec =
      pick(parts.align) + pick(parts.sign) + pick(parts.z) + pick(parts.alt) + pick(parts.zero) + pick(parts.width) +
      pick(parts.grouping) + pick(parts.precision) + pick(parts.type);
    const r = rand();
    const v = r < 0.35 ? randomFloat() : r < 0.7 ? randomInt() : r < 0.85 ? pick(FLOATS) : pick([...INTS, ...STRINGS]);
    cases.push([v, spec]);
  }
  t.deepEqual(compareWithPython(cases), []);
});

test('plain floats print as Python repr, exactly rounded floats as Python does', (t) => {
  const rand = seededRandom(99);
  const cases: [Plain, string][] = [];
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 3000; i++) {
    // Random bit patterns cover every exponent, subnormals included.
    view.setUint32(0, Math.floor(rand() * 2 ** 32));
    view.setUint32(4, Math.floor(rand() * 2 ** 32));
    const x = view.getFloat64(0);
    if (Number.isNaN(x) || Number.isInteger(x)) continue;
    for (const s of ['', '.17g', '.3e', 'f', '.25', 'g']) cases.push([x, s]);
  }
  t.deepEqual(compareWithPython(cases), []);
});

test('errors from a spec that does not fit the value are InvalidArgumentError with one line', (t) => {
  for (const [v, s] of [
    ['abc', 'd'],
    ['abc', '+'],
    ['abc', '='],
    [5, '.2'],
    [5, 's'],
    [1.5, 'd'],
    [-1, 'c'],
    [5, 'xx'],
    [5, ',_'],
    [5, '.'],
    [10n ** 400n, 'f'],
  ] as [Plain, string][]) {
    const e = t.throws(() => formatWithSpec(v, s), { instanceOf: InvalidArgumentError });
    t.false(e.message.includes('\n'));
    t.regex(e.message, /invalid format spec/);
  }
});

test('a value that formats itself takes the spec as its own', (t) => {
  const v: FormatValue = { formatSpec: (spec: string) => `<${spec}>` };
  t.is(formatWithSpec(v, ''), '<>');
  t.is(formatWithSpec(v, '%Y>>x'), '<%Y>>x>');
});

const ITEM_DATA_SCRIPT = `
import sys, json
from datetime import datetime

class Time:
    def __init__(self, ns):
        self.dt = datetime.fromtimestamp(ns / 1e9)
    def __format__(self, spec):
        return self.dt.strftime(spec or '%a, %Y-%m-%d %H:%M:%S')

out = []
for fmt, data in json.load(sys.stdin):
    values = {'NL': '\\n', 'NEWLINE': '\\n', 'LF': '\\n', 'CR': '\\r', 'TAB': '\\t', 'SPACE': ' ', 'NUL': '\\0'}
    for k, (kind, v) in data.items():
        values[k] = int(v) if kind == 'int' else Time(int(v)) if kind == 'time' else v
    out.append(fmt.format_map(values))
print(json.dumps(out))
`;

type Item = Record<string, Plain | Timestamp>;

function renderBoth(formats: string[], items: Item[], keys: ReadonlySet<string>): { python: string[]; hoard: string[] } {
  const input: [string, Record<string, [string, string]>][] = [];
  const hoard: string[] = [];
  for (const fmt of formats) {
    const f = compileFormat(fmt, keys);
    for (const item of items) {
      const data: Record<string, [string, string]> = {};
      for (const [k, v] of Object.entries(item)) data[k] = v instanceof Timestamp ? ['time', v.ns.toString()] : toPython(v);
      input.push([fmt, data]);
      hoard.push(f(item));
    }
  }
  return { python: runPython(ITEM_DATA_SCRIPT, input) as string[], hoard };
}

function item(mode: number, user: string | number, size: number, ns: bigint, path: string, extra = ''): Item {
  return {
    type: modeString(mode)[0] ?? '?',
    mode: modeString(mode),
    user,
    group: user,
    uid: 0,
    gid: 0,
    size,
    mtime: new Timestamp(ns),
    ctime: new Timestamp(ns + 1234567n),
    atime: new Timestamp(ns - 999_999_999n),
    isomtime: isoTime(ns),
    path,
    bpath: path,
    extra,
    source: '',
    linktarget: '',
    flags: 0,
    health: 'healthy',
    num_chunks: 3,
  };
}

test('item lines render as borg 1.4 (Python format_map) renders them', (t) => {
  const items = [
    item(0o40755, 'root', 0, 1_795_592_589_891_442_000n, 'src'),
    item(0o100644, 'alice', 100000, 1_795_592_589_890_040_123n, 'src/b.bin'),
    item(0o120777, 'root', 10, 1_700_000_000_000_000_500n, 'src/link', ' -> docs/a.txt'),
    item(0o100600, 1000, 12345678901, 0n, 'ünïcødé/日本語.txt'),
    item(0o104755, 'bob', 7, 1_234_567_890_123_456_789n, 'bin/su'),
  ];
  const formats = [
    DEFAULT_ITEM_FORMAT,
    SHORT_ITEM_FORMAT,
    '{mode} {user:>6} {group:>6} {size:<8} {mtime} {path}{extra}{NL}',
    '{size:,} {size:_x} {num_chunks:03d} {isomtime} {mtime:%Y-%m-%d %H:%M:%S.%f} {ctime:%j %U %a} {atime:30}{TAB}{path:^30}|{LF}',
    '{{literal}} {type}{SPACE}{flags:+d} {health:.4} {uid:#x}{CR}{NUL}{NEWLINE:>3}',
    '{user:*<8}|{size:_>9}|{size:0>5}|{size:=4}|{path:😀<25}|{path:.<25}|{group:3}|{size:1}|{uid:^5}',
  ];
  const { python, hoard } = renderBoth(formats, items, ITEM_KEYS);
  t.deepEqual(hoard, python);
});

test('the default formats reproduce borg 1.2 transcript lines', (t) => {
  // mtime 2026-11-25T07:43:09.891442 UTC, as the transcript's --json-lines shows.
  const mtime = new Timestamp(1_795_592_589_891_442_000n);
  const items = compileFormat(DEFAULT_ITEM_FORMAT, ITEM_KEYS);
  const base = { user: 'root', group: 'root', mtime, extra: '' };
  t.is(
    items({ ...base, mode: modeString(0o40755), size: 0, path: 'src' }),
    'drwxr-xr-x root   root          0 Wed, 2026-11-25 07:43:09 src\n',
  );
  t.is(
    items({ ...base, mode: modeString(0o100644), size: 100000, path: 'src/b.bin' }),
    '-rw-r--r-- root   root     100000 Wed, 2026-11-25 07:43:09 src/b.bin\n',
  );
  t.is(
    items({ ...base, mode: modeString(0o120777), size: 10, path: 'src/link', extra: ' -> docs/a.txt' }),
    'lrwxrwxrwx root   root         10 Wed, 2026-11-25 07:43:09 src/link -> docs/a.txt\n',
  );
  const archives = compileFormat(DEFAULT_ARCHIVE_FORMAT, ARCHIVE_KEYS);
  t.deepEqual([...archives.keys], ['archive', 'time', 'id']);
  t.is(
    archives({
      archive: 'Monday',
      time: new Timestamp(1_795_592_590_000_000_000n),
      id: '98553fa241e02e7e1b3aba3ebf787770fbe14d84215aed3d8db58435b8a45336',
    }),
    'Monday                               Wed, 2026-11-25 07:43:10 [98553fa241e02e7e1b3aba3ebf787770fbe14d84215aed3d8db58435b8a45336]\n',
  );
  t.is(compileFormat(SHORT_ARCHIVE_FORMAT, ARCHIVE_KEYS)({ archive: 'Monday' }), 'Monday\n');
});

test('key lists are borg 1.4 list keys', (t) => {
  t.deepEqual(
    [...ARCHIVE_KEYS],
    ['archive', 'name', 'barchive', 'comment', 'bcomment', 'id', 'tam', 'start', 'time', 'end', 'command_line', 'hostname', 'username'],
  );
  t.deepEqual(
    [...ITEM_KEYS],
    [
      'type', 'mode', 'uid', 'gid', 'user', 'group', 'path', 'bpath', 'source', 'linktarget', 'flags',
      'size', 'csize', 'dsize', 'dcsize', 'num_chunks', 'unique_chunks',
      'mtime', 'ctime', 'atime', 'isomtime', 'isoctime', 'isoatime',
      ...HASH_KEYS,
      'archiveid', 'archivename', 'extra', 'health',
    ],
  );
  // Python's hashlib guarantees these (less the shake_ ones), plus borg's xxh64, sorted as Python sorts.
  const guaranteed = runPython(
    `import hashlib, json; print(json.dumps(sorted(hashlib.algorithms_guaranteed.union({'xxh64'}).difference({'shake_128', 'shake_256'}))))`,
    null,
  );
  t.deepEqual([...HASH_KEYS], guaranteed);
  t.deepEqual([...ITEM_KEYS_NEEDING_CACHE].sort(), ['dcsize', 'dsize', 'unique_chunks']);
  t.deepEqual(Object.keys(FIXED_KEYS).sort(), ['CR', 'LF', 'NEWLINE', 'NL', 'NUL', 'SPACE', 'TAB']);
});

test('compileFormat reports unknown keys and malformed formats at compile time, in one line', (t) => {
  const bad = t.throws(() => compileFormat('{archive} {bogus} {nope:>5} {bogus}', ARCHIVE_KEYS), {
    instanceOf: InvalidArgumentError,
  });
  t.regex(bad.message, /unknown key \{bogus\}, \{nope\} in format/);
  t.regex(bad.message, /known keys: archive, name,/);
  t.false(bad.message.includes('\n'));
  // An item key is unknown to archive listings.
  t.throws(() => compileFormat('{path}', ARCHIVE_KEYS), { instanceOf: InvalidArgumentError, message: /unknown key \{path\}/ });
  for (const fmt of ['{archive', 'x}', '{archive!r}', '{}', '{:>5}', '{archive:{width}}', '{a.b}', '{a[0]}', '{', '}', '{archive}{NL']) {
    const e = t.throws(() => compileFormat(fmt, ARCHIVE_KEYS), { instanceOf: InvalidArgumentError });
    t.false(e.message.includes('\n'), fmt);
  }
  // A spec that fits no value fails at compile time; one that fits no string fails on render.
  t.throws(() => compileFormat('{archive:xyz}', ARCHIVE_KEYS), { instanceOf: InvalidArgumentError });
  const f = compileFormat('{archive:d}', ARCHIVE_KEYS);
  t.throws(() => f({ archive: 'x' }), { instanceOf: InvalidArgumentError });
  // A strftime pattern is kept for time values.
  const g = compileFormat('{time:%Y-%m}', ARCHIVE_KEYS);
  t.is(g({ time: new Timestamp(1_795_592_590_000_000_000n) }), '2026-11');
  t.throws(() => g({ time: 'text' }), { instanceOf: InvalidArgumentError });
  // A missing value is a caller's bug, not the user's.
  const h = compileFormat('{archive}', ARCHIVE_KEYS);
  t.throws(() => h({}), { instanceOf: Error, message: /no value given for format key \{archive\}/ });
});

test('escaped braces and fixed keys with specs', (t) => {
  const f = compileFormat('{{}}{{{archive}}}{NL:>3}{TAB}{SPACE:*^3}{NUL}{CR}{LF}', ARCHIVE_KEYS);
  t.is(f({ archive: 'x' }), '{}{x}  \n\t* *\0\r\n');
  t.deepEqual([...f.keys], ['archive']);
});

const TIME_SCRIPT = `
import sys, json
from datetime import datetime
out = []
for ns in json.load(sys.stdin):
    dt = datetime.fromtimestamp(int(ns) / 1e9)
    out.append([dt.strftime('%a, %Y-%m-%d %H:%M:%S'), dt.strftime('%Y-%m-%dT%H:%M:%S.%f')])
print(json.dumps(out))
`;

for (const tz of ['UTC', 'Europe/Berlin', 'America/St_Johns']) {
  test.serial(`formatTime and isoTime match borg's conversion of ns times in ${tz}`, (t) => {
    const saved = process.env['TZ'];
    process.env['TZ'] = tz;
    try {
      const rand = seededRandom(7);
      const times: bigint[] = [0n, 1n, 499n, 500n, 1500n, 999_999_999n, 1_000_000_000n, 1_795_592_589_891_442_000n];
      for (let i = 0; i < 2000; i++) {
        const s = BigInt(Math.floor(rand() * 4_000_000_000));
        // Nanoseconds near half a microsecond test the float rounding borg inherits from Python.
        const frac = i % 3 === 0 ? BigInt(Math.floor(rand() * 1e6)) * 1000n + 500n : BigInt(Math.floor(rand() * 1e9));
        times.push(s * 1_000_000_000n + frac);
      }
      const expected = runPython(TIME_SCRIPT, times.map(String), { TZ: tz }) as [string, string][];
      t.deepEqual(
        times.map((ns) => [formatTime(ns), isoTime(ns)]),
        expected,
      );
      const ts = new Timestamp(1_795_592_589_891_442_000n);
      t.is(String(ts), formatTime(ts.ns));
      t.is(ts.iso(), isoTime(ts.ns));
    } finally {
      process.env['TZ'] = saved;
    }
  });
}

test('formatTime and isoTime take Dates too', (t) => {
  const d = new Date(Date.UTC(2022, 8, 12, 12, 34, 56, 123));
  t.is(formatTime(d), 'Mon, 2022-09-12 12:34:56');
  t.is(isoTime(d), '2022-09-12T12:34:56.123000');
  t.is(Timestamp.fromDate(d).iso(), '2022-09-12T12:34:56.123000');
});

test('modeString matches Python stat.filemode for every file type and many permission sets', (t) => {
  const rand = seededRandom(5);
  const modes: number[] = [];
  for (let type = 0; type < 16; type++) {
    for (const perm of [0, 0o7777, 0o644, 0o755, 0o4755, 0o2755, 0o1777, 0o4644, 0o2644, 0o1666]) modes.push((type << 12) | perm);
    for (let i = 0; i < 20; i++) modes.push((type << 12) | Math.floor(rand() * 0o10000));
  }
  const expected = runPython('import sys, json, stat; print(json.dumps([stat.filemode(m) for m in json.load(sys.stdin)]))', modes);
  t.deepEqual(modes.map(modeString), expected);
  t.is(modeString(0o100644), '-rw-r--r--');
  t.is(modeString(0o40755), 'drwxr-xr-x');
  t.is(modeString(0o120777), 'lrwxrwxrwx');
  t.is(modeString(0o104755), '-rwsr-xr-x');
  t.is(modeString(0o41777), 'drwxrwxrwt');
  t.is(modeString(0o41776), 'drwxrwxrwT');
});
