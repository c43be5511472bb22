import test from 'ava';
import { hostname as osHostname } from 'node:os';

import { InvalidArgumentError } from '../dist/errors.js';
import { BORG_DIALECT, PLACEHOLDER_KEYS, expandPlaceholders, lookupFqdn } from '../dist/archive/placeholders.js';
import { type BrokenDownTime, localTime, strftime, utcTime } from '../dist/archive/strftime.js';
import { version } from '../dist/version.js';
import { runPython, seededRandom } from './python-oracle.js';

// Each test sets TZ itself and runs synchronously, so no two tests see each other's zone.
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Asia/Dubai',
  'America/St_Johns',
  'EST5EDT',
];

function inZone<T>(tz: string, f: () => T): T {
  const saved = process.env['TZ'];
  process.env['TZ'] = tz;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env['TZ'];
    else process.env['TZ'] = saved;
  }
}

/** Moments that exercise year ends, ISO weeks, leap days, DST changes and 32-bit limits (seconds). */
function moments(): number[] {
  const fixed = [
    0, 1, 86399, 951782400, 951868799, 1e9, 1230768000, 1293840000, 1609372800, 1609632000, 1709622489, 1711846799,
    1711846800, 1729990799, 1729990800, 1730001600, 1735516800, 1798761600, 2147483647, 4102444800, 1704067199,
    1704067200, 1703980800, 1262304000, 1136073600,
  ];
  const rand = seededRandom(42);
  for (let i = 0; i < 25; i++) fixed.push(Math.floor(rand() * 4_200_000_000));
  return fixed;
}

type Mode = 'naive' | 'local' | 'utc';

const STRFTIME_SCRIPT = `
import sys, json
from datetime import datetime, timezone
out = []
for s, us, mode, pattern in json.load(sys.stdin):
    if mode == 'utc':
        dt = datetime.fromtimestamp(s, timezone.utc)
    elif mode == 'local':
        dt = datetime.fromtimestamp(s, timezone.utc).astimezone(None)
    else:
        dt = datetime.fromtimestamp(s)
    out.append(dt.replace(microsecond=us).strftime(pattern))
print(json.dumps(out))
`;

function broken(s: number, us: number, mode: Mode): BrokenDownTime {
  return mode === 'utc' ? utcTime(s, us) : localTime(s, us, mode === 'local');
}

/** Whether `s` is within an hour of a change of the local offset, where `%s` has two readings. */
function nearOffsetChange(s: number): boolean {
  const offset = (x: number): number => new Date(x * 1000).getTimezoneOffset();
  return offset(s - 3600) !== offset(s) || offset(s + 3600) !== offset(s);
}

function compareStrftime(tz: string, cases: [number, number, Mode, string][]): string[] {
  // glibc's mktime (behind %s) picks either reading of a repeated hour depending on its earlier calls.
  const kept = cases.filter(([s, , mode, pattern]) => !(pattern.includes('%s') && mode !== 'utc' && nearOffsetChange(s)));
  const expected = runPython(STRFTIME_SCRIPT, kept, { TZ: tz }) as string[];
  const bad: string[] = [];
  kept.forEach(([s, us, mode, pattern], i) => {
    const got = strftime(pattern, broken(s, us, mode));
    if (got !== expected[i] && bad.length < 20) {
      bad.push(`${tz} ${mode} ${s}.${us} ${JSON.stringify(pattern)}: python ${JSON.stringify(expected[i])}, hoard ${JSON.stringify(got)}`);
    }
  });
  return bad;
}

const CONVERSIONS = 'aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyY%';

for (const tz of ZONES) {
  test.serial(`strftime agrees with Python in ${tz}`, (t) => {
    inZone(tz, () => {
      const patterns = [
        ...[...CONVERSIONS].map((c) => `%${c}`),
        '%f',
        '%z',
        '%Z',
        '%Y-%m-%dT%H:%M:%S',
        '%Y-%m-%dT%H:%M:%S.%f%z %Z',
        '%a, %Y-%m-%d %H:%M:%S',
        '%G-W%V-%u %g %U %W %j %w',
        '%c|%x|%X|%D|%F|%r|%R|%T',
        'literal text, 100%% sure',
        '%%Y%%%Y',
        '%Ec %EC %Ex %EX %Ey %EY %Od %Oe %OH %OI %Om %OM %OS %Ou %OU %OV %Ow %OW %Oy',
        'ünï %Y 😀 %B',
      ];
      const cases: [number, number, Mode, string][] = [];
      for (const s of moments()) {
        for (const mode of ['naive', 'local', 'utc'] as Mode[]) {
          for (const p of patterns) cases.push([s, 123456, mode, p]);
        }
      }
      t.deepEqual(compareStrftime(tz, cases), []);
    });
  });
}

test.serial('strftime flags and widths agree with glibc through Python', (t) => {
  inZone('Europe/Berlin', () => {
    const patterns: string[] = [];
    for (const c of CONVERSIONS) {
      for (const flags of ['', '-', '_', '0', '^', '#', '^#', '0_', '_0', '-0']) {
        for (const width of ['', '1', '3', '12']) patterns.push(`%${flags}${width}${c}`);
      }
    }
    const cases: [number, number, Mode, string][] = [];
    for (const s of [0, 1709622489, 1709658489, 1735516800, 4102444800, 951782400]) {
      for (const p of patterns) cases.push([s, 5, 'naive', p], [s, 5, 'local', p]);
    }
    t.deepEqual(compareStrftime('Europe/Berlin', cases), []);
  });
});

test.serial('strftime works for times before 1970 and for early years in UTC', (t) => {
  inZone('UTC', () => {
    const cases: [number, number, Mode, string][] = [];
    for (const s of [-1, -86400 * 365 * 30, -2208988800, -30610224000, -62135596800 + 86400, 253402300799]) {
      for (const p of ['%Y-%m-%d %H:%M:%S %a %j %U %W %G %V %u', '%C %y %g', '%F %D %c', '%s']) {
        cases.push([s, 0, 'naive', p], [s, 999999, 'utc', p]);
      }
    }
    t.deepEqual(compareStrftime('UTC', cases), []);
  });
});

test('strftime rejects unknown directives and a lone %, in one line', (t) => {
  const time = utcTime(0, 0);
  for (const p of ['%Q', 'abc%', '%E', '%Ea', '%OY', '%-f', '%5z', '%_Z', '%E5Y', '%+']) {
    const e = t.throws(() => strftime(p, time), { instanceOf: InvalidArgumentError });
    t.false(e.message.includes('\n'), p);
    t.regex(e.message, /invalid time format/);
  }
  t.is(strftime('%:z', utcTime(0, 0)), '+00:00');
  t.is(strftime('%:z|%z|%Z', localTime(0, 0, false)), '||');
});

// 2024-03-05 06:08:09.123 UTC: 07:08:09 in Berlin, 01:08:09 in New York.
const NOW = new Date(Date.UTC(2024, 2, 5, 6, 8, 9, 123));

const CTX = {
  now: NOW,
  hostname: 'myhost',
  fqdn: 'myhost.example.com',
  user: 'alice',
  pid: 4242,
  uuid4: '3f2c7a52-0d6b-4a5e-9a53-6d1f2b3c4d5e',
  hoardVersion: '9.8.7',
};

test.serial('placeholders expand with a fixed context', (t) => {
  inZone('Europe/Berlin', () => {
    t.is(expandPlaceholders('{hostname}-{user}-{now}', CTX), 'myhost-alice-2024-03-05T07:08:09');
    t.is(expandPlaceholders('{utcnow}', CTX), '2024-03-05T06:08:09');
    t.is(expandPlaceholders('{now:%Y-%m-%d_%H:%M:%S}', CTX), '2024-03-05_07:08:09');
    t.is(expandPlaceholders('{now:%z %Z %f}|{utcnow:%z %Z}', CTX), '+0100 CET 123000|+0000 UTC');
    t.is(expandPlaceholders('{unixtime}', CTX), '1709618889');
    t.is(expandPlaceholders('{fqdn} {reverse-fqdn}', CTX), 'myhost.example.com com.example.myhost');
    t.is(expandPlaceholders('{pid} {pid:08d} {pid:x}', CTX), '4242 00004242 1092');
    t.is(expandPlaceholders('{uuid4}={uuid4}', CTX), `${CTX.uuid4}=${CTX.uuid4}`);
    t.is(expandPlaceholders('{borgversion} {borgmajor} {borgminor} {borgpatch}', CTX), '1.4.0 1 1.4 1.4.0');
    t.is(BORG_DIALECT, '1.4.0');
    t.is(expandPlaceholders('{hoardversion}', CTX), '9.8.7');
    t.is(expandPlaceholders('{hoardversion}', { now: NOW }), version);
    t.is(expandPlaceholders('{hostname:>10}|{user:^9}|{user:.3}', CTX), '    myhost|  alice  |ali');
    t.is(expandPlaceholders('repo::{{literal_text}}-{hostname}', CTX), 'repo::{literal_text}-myhost');
    t.is(expandPlaceholders('no placeholders here', CTX), 'no placeholders here');
    t.is(expandPlaceholders('', CTX), '');
    // A time's spec is a strftime pattern, as in Python: it cannot be padded.
    t.is(expandPlaceholders('{now:>20}', CTX), '>20');
  });
});

test.serial('now and utcnow agree with Python in every zone', (t) => {
  const script = `
import sys, json
from datetime import datetime, timezone
moments, patterns = json.load(sys.stdin)
out = []
for ms in moments:
    now = datetime.fromtimestamp(ms // 1000, timezone.utc).replace(microsecond=ms % 1000 * 1000)
    local = now.astimezone(None)
    for p in patterns:
        out.append([local.strftime(p or '%Y-%m-%dT%H:%M:%S'), now.strftime(p or '%Y-%m-%dT%H:%M:%S')])
print(json.dumps(out))
`;
  const patterns = ['', '%Y-%m-%d_%H:%M:%S', '%z %Z', '%c', '%A %B %j %U %W %V %G', '%I %p %f', '%s'];
  const moments = [NOW.getTime(), 1711846799000, 1711846800500, 1729990799999, 0, 4102444800001];
  for (const tz of ZONES) {
    inZone(tz, () => {
      const expected = runPython(script, [moments, patterns], { TZ: tz }) as string[][];
      const got: string[][] = [];
      for (const ms of moments) {
        const ctx = { ...CTX, now: new Date(ms) };
        for (const p of patterns) {
          got.push([
            expandPlaceholders(p ? `{now:${p}}` : '{now}', ctx),
            expandPlaceholders(p ? `{utcnow:${p}}` : '{utcnow}', ctx),
          ]);
        }
      }
      // %s of a local time in a repeated hour has two readings (see compareStrftime).
      const skip = (i: number): boolean => patterns[i % patterns.length] === '%s' && nearOffsetChange(Math.floor((moments[Math.floor(i / patterns.length)] ?? 0) / 1000));
      t.deepEqual(
        got.map((pair, i) => (skip(i) ? [pair[1]] : pair)),
        expected.map((pair, i) => (skip(i) ? [pair[1]] : pair)),
        tz,
      );
    });
  }
});

test('placeholders default to the system and share one uuid per text', (t) => {
  const short = osHostname().split('.')[0] ?? '';
  t.is(expandPlaceholders('{hostname}'), short);
  t.is(expandPlaceholders('{fqdn}'), osHostname());
  t.is(expandPlaceholders('{pid}'), String(process.pid));
  t.regex(expandPlaceholders('{user}'), /^.+$/);
  const [a, b] = expandPlaceholders('{uuid4} {uuid4}').split(' ');
  t.regex(a ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(a, b);
  t.not(expandPlaceholders('{uuid4}'), a);
  // Without a fixed now, the current time is used.
  const before = Math.floor(Date.now() / 1000);
  const unixtime = Number(expandPlaceholders('{unixtime}'));
  t.true(unixtime >= before && unixtime <= before + 5);
  t.deepEqual(PLACEHOLDER_KEYS.length, 14);
});

test('every listed placeholder expands', (t) => {
  for (const key of PLACEHOLDER_KEYS) t.notThrows(() => expandPlaceholders(`{${key}}`, CTX), key);
});

test('bad placeholders are InvalidArgumentError with one clear line', (t) => {
  const cases: [string, RegExp][] = [
    ['{nope}', /unknown placeholder \{nope\} in "\{nope\}" \(known placeholders: hostname, fqdn,/],
    ['{Hostname}', /unknown placeholder \{Hostname\}/],
    ['{now!r}', /conversions/],
    ['{}', /empty field/],
    ['{now', /not closed/],
    ['x}', /single '\}'/],
    ['{', /not closed/],
    ['{now:{utcnow}}', /nested fields/],
    ['{now:%Q}', /invalid time format "%Q": unknown directive "%Q"/],
    ['{now:%Y%}', /lone '%'/],
    ['{hostname:d}', /invalid format spec "d"/],
    ['{pid:.3}', /invalid format spec/],
    ['{hostname.x}', /attribute and index access/],
  ];
  for (const [text, message] of cases) {
    const e = t.throws(() => expandPlaceholders(text, CTX), { instanceOf: InvalidArgumentError, message }, text);
    t.false(e.message.includes('\n'), text);
    t.is(e.code, 'HOARD_INVALID_ARGUMENT');
  }
});

test('lookupFqdn answers a name and falls back to the host it was given', async (t) => {
  t.is(await lookupFqdn('no-such-host.invalid', 2000), 'no-such-host.invalid');
  const name = await lookupFqdn();
  t.true(name.length > 0);
});
