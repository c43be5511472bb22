import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { InvalidArgumentError } from '../dist/errors.js';
import { decodeName } from '../dist/fs-names.js';
import {
  Pattern,
  PatternMatcher,
  createMatcher,
  extractMatcher,
  normpath,
  readPatternFile,
  type MatchAction,
  type PatternOption,
} from '../dist/archive/patterns.js';

function tempFile(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hoard-patterns-'));
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** The actions of `matcher` for each path, in order. */
function actions(matcher: PatternMatcher, paths: readonly string[]): (MatchAction | undefined)[] {
  return paths.map((p) => matcher.match(p));
}

/** The paths `matcher` lets through (include, or no match with an include fallback). */
function kept(matcher: PatternMatcher, paths: readonly string[]): string[] {
  return paths.filter((p) => matcher.match(p) === 'include');
}

// [pattern, default style, archive path, matches]. The examples of `borg help patterns` and
// borg's own test cases for every style, each answer checked against borg 1.4's patterns.py.
const TABLE: readonly (readonly [string, 'fm' | 'sh', string, boolean])[] = [
  ['home/user', 'fm', 'home/user', true],
  ['home/user', 'fm', 'home/user/.bashrc', true],
  ['home/user', 'fm', 'home/username', false],
  ['home/user', 'fm', 'home', false],
  ['/home/user', 'fm', 'home/user/x', true],
  ['home/user/', 'fm', 'home/user', false],
  ['home/user/', 'fm', 'home/user/x', true],
  ['home/user/', 'fm', 'home/user/x/y', true],
  ['*.o', 'fm', 'home/user/file.o', true],
  ['*.o', 'fm', 'home/user/file.odt', false],
  ['*.o', 'fm', 'file.o', true],
  ['*.o', 'fm', 'src/x.o/inner', true],
  ['home/*/junk', 'fm', 'home/user/junk', true],
  ['home/*/junk', 'fm', 'home/user/subdir/junk', true],
  ['home/*/junk', 'fm', 'home/user/importantjunk', false],
  ['home/*/junk', 'fm', 'etc/junk', false],
  ['fm:home/*', 'sh', 'home/a/b/c', true],
  ['fm:home/?', 'fm', 'home/a', true],
  ['fm:home/?', 'fm', 'home/ab', false],
  ['fm:[?]', 'fm', '?', true],
  ['fm:[?]', 'fm', 'a', false],
  ['fm:file[0-9]', 'fm', 'file5', true],
  ['fm:file[0-9]', 'fm', 'filex', false],
  ['fm:file[!0-9]', 'fm', 'filex', true],
  ['fm:file[!0-9]', 'fm', 'file5', false],
  ['fm:a[z-a]b', 'fm', 'a-b', false],
  ['fm:a[z-a]b', 'fm', 'azb', false],
  ['fm:srv*', 'fm', 'srv', true],
  ['fm:srv*', 'fm', 'srv2/x', true],
  ['fm:Home', 'fm', 'home', false],
  ['fm:/./home//..//home/user2/*', 'fm', 'home/user2/.profile', true],
  ['fm:///etc//////*', 'fm', 'etc/x', true],
  ['fm:aa:something/*', 'fm', 'aa:something/x', true],
  ['fm:', 'fm', 'x', false],
  ['fm:/', 'fm', 'anything/at/all', true],
  ['fm:a\\b', 'fm', 'a\\b', true],
  ['sh:home/*', 'fm', 'home/a', true],
  ['sh:home/*', 'fm', 'home/a/b', true],
  ['sh:home/*', 'fm', 'home', false],
  ['sh:*/.pr????e', 'fm', 'home/user/.profile', false],
  ['sh:**/.pr????e', 'fm', 'home/user/.profile', true],
  ['sh:**/.pr????e', 'fm', '.profile', true],
  ['sh:**/steamapps/common/**', 'fm', 'games/steamapps/common', true],
  ['sh:**/steamapps/common/**', 'fm', 'a/b/steamapps/common/x/y', true],
  ['sh:**/steamapps/common/**', 'fm', 'steamapps/commonx', false],
  ['sh:home/user/.cache/**', 'fm', 'home/user/.cache', true],
  ['sh:home/user/.cache/**', 'fm', 'home/user/.cache/x', true],
  ['sh:home/user/.cache/**/', 'fm', 'home/user/.cache', false],
  ['sh:home/user/.cache/**/', 'fm', 'home/user/.cache/x', true],
  ['sh:/srv*', 'fm', 'srv', true],
  ['sh:/srv*', 'fm', 'srv2/blafasel', true],
  ['sh:/srv*/', 'fm', 'srv', false],
  ['sh:/srv*/', 'fm', 'srv/x', true],
  ['sh:/home/*/.thumbnails', 'fm', 'home/foo/.thumbnails', true],
  ['sh:/home/*/.thumbnails', 'fm', 'home/foo/bar/.thumbnails', false],
  ['sh:**', 'fm', 'x/y', true],
  ['sh:a**', 'fm', 'abc/d', true],
  ['sh:a**', 'fm', 'xa', false],
  ['sh:a/**/b', 'fm', 'a/b', true],
  ['sh:a/**/b', 'fm', 'a/x/y/b/c', true],
  ['sh:a/**/b', 'fm', 'a/xb', false],
  ['sh:a?c', 'fm', 'a/c', false],
  ['sh:a[/]c', 'fm', 'a/c', true],
  ['sh:x[!a]', 'fm', 'x/', true],
  ['sh:x/**/**', 'fm', 'x', true],
  ['sh:Home', 'fm', 'home', false],
  ['sh:*.iso', 'fm', 'a/b.iso', false],
  ['sh:**/*.iso', 'fm', 'a/b.iso', true],
  ['pp:root/somedir', 'fm', 'root/somedir', true],
  ['pp:root/somedir', 'fm', 'root/somedir/x', true],
  ['pp:root/somedir', 'fm', 'root/somedirx', false],
  ['pp:root/somedir/', 'fm', 'root/somedir', true],
  ['pp:/', 'fm', 'x', true],
  ['pp:', 'fm', 'x', false],
  ['pp:/./home//..//home/user2', 'fm', 'home/user2/x', true],
  ['pp:home/*', 'fm', 'home/x', false],
  ['pp:home/*', 'fm', 'home/*/x', true],
  ['pp:Home', 'fm', 'home', false],
  ['pf:root/file.ext', 'fm', 'root/file.ext', true],
  ['pf:root/file.ext', 'fm', 'root/file.ext/x', false],
  ['pf:root/file.ext', 'fm', 'root', false],
  ['pf:/home///', 'fm', 'home', true],
  ['pf:/./home', 'fm', 'home', true],
  ['pf:', 'fm', '.', true],
  ['re:^home/[^/]+\\.tmp/', 'fm', 'home/a.tmp/x', true],
  ['re:^home/[^/]+\\.tmp/', 'fm', 'home/a.tmp', false],
  ['re:\\.tmp', 'fm', 'a/b.tmp/c', true],
  ['re:^/home', 'fm', 'home', false],
  ['re:^home$', 'fm', 'home', true],
  ['re:(?i)BAR|ME$', 'fm', 'foo/bar', true],
  ['re:(?i)BAR|ME$', 'fm', 'home', true],
  ['re:BAR', 'fm', 'foo/bar', false],
  ['re:', 'fm', 'x', true],
  ['re:^(?!srv|opt)', 'fm', 'srv/x', false],
  ['re:^(?!srv|opt)', 'fm', 'home/x', true],
  ['re:(dev|proc)$', 'fm', 'proc', true],
  ['re:^(dev|proc|run|sys|tmp)', 'fm', 'procfs', true],
  ['fm:a*b', 'fm', 'a\nb', true],
  ['fm:a?b', 'fm', 'a\nb', true],
  ['sh:a*b', 'fm', 'a\nb', true],
  ['sh:a?b', 'fm', 'a\nb', true],
  ['sh:**/x', 'fm', 'd\ne/x', true],
  ['pp:a\nb', 'fm', 'a\nb/c', true],
  ['pf:a\nb', 'fm', 'a\nb', true],
  ['re:a.b', 'fm', 'a\nb', false],
  ['re:(?s)a.b', 'fm', 'a\nb', true],
  ['re:name$', 'fm', 'name\n', true],
  ['re:name\\Z', 'fm', 'name\n', false],
  ['re:^b', 'fm', 'a\nb', false],
  ['re:(?m)^b', 'fm', 'a\nb', true],
  ['fm:caf?', 'fm', 'caf\u00e9', true],
  ['sh:caf?', 'fm', 'cafe\u0301', false],
  ['fm:x?y', 'fm', 'x\u{1f600}y', true],
  ['sh:x?y', 'fm', 'x\u{1f600}y', true],
  ['re:^x.y$', 'fm', 'x\u{1f600}y', true],
  ['fm:caf\u00e9', 'fm', 'cafe\u0301', false],
  ['sh:\u00e9t\u00e9/**', 'fm', '\u00e9t\u00e9/x', true],
  ['re:\\w+$', 'fm', '\u00e9t\u00e9', true],
  ['re:^\\d$', 'fm', '\u0663', true],
  ['re:(?a)^\\d$', 'fm', '\u0663', false],
  ['fm:x\ufffdy', 'fm', 'x\ufffdy', true],
];

test('every style matches as borg 1.4 does (table of documented cases)', (t) => {
  for (const [source, style, p, expected] of TABLE) {
    t.is(new Pattern(source, style).matches(p), expected, `${JSON.stringify(source)} on ${JSON.stringify(p)}`);
  }
});

test('the style prefix decides the style; without one the default applies', (t) => {
  t.is(new Pattern('a/*', 'fm').style, 'fm');
  t.is(new Pattern('a/*', 'sh').style, 'sh');
  for (const style of ['fm', 'sh', 're', 'pp', 'pf'] as const) {
    const p = new Pattern(`${style}:x`, 'fm');
    t.is(p.style, style);
    t.is(p.text, 'x');
    t.is(p.source, `${style}:x`);
  }
  // Only the first prefix is a style; the rest is pattern text.
  t.is(new Pattern('fm:sh:x', 'sh').text, 'sh:x');
  t.is(new Pattern('re:re:^x', 'sh').text, 're:^x');
  // One character before ':' is no style (a Windows drive letter would be a pattern).
  t.is(new Pattern('C:x', 'fm').style, 'fm');
});

test('normpath is POSIX os.path.normpath', (t) => {
  const cases: [string, string][] = [
    ['', '.'],
    ['/', '/'],
    ['//', '//'],
    ['///', '/'],
    ['//a//b/', '//a/b'],
    ['a/./b/../c', 'a/c'],
    ['../a/..', '..'],
    ['/../a', '/a'],
    ['a/../..', '..'],
    ['./', '.'],
  ];
  for (const [input, expected] of cases) t.is(normpath(input), expected, input);
});

test('--exclude is fnmatch by default and excludes without recursing', (t) => {
  const m = new PatternMatcher('include');
  m.addExclude('home/*/.cache');
  m.addExclude('sh:**/*.iso');
  t.deepEqual(actions(m, ['home/u/.cache', 'home/u/.cache/x', 'home/u/a/.cache', 'd/e.iso', 'home/u/x']), [
    'exclude-norecurse',
    'exclude-norecurse',
    'exclude-norecurse',
    'exclude-norecurse',
    'include',
  ]);
});

test('pattern lines: + includes, - excludes, ! excludes without recursing, sh is the default', (t) => {
  const m = new PatternMatcher('include');
  m.addPatternLine('+ home/susan');
  m.addPatternLine('-home/*');
  m.addPatternLine('!   proc');
  m.addPatternLine('- fm:*.tmp');
  t.deepEqual(actions(m, ['home/susan/x', 'home/bob', 'home', 'proc', 'proc/1/x', 'a/b.tmp', 'etc']), [
    'include',
    'exclude',
    'include',
    'exclude-norecurse',
    'exclude-norecurse',
    'exclude',
    'include',
  ]);
  // sh: '*' stops at '/'; the fm pattern above is what caught a/b.tmp.
  const sh = new PatternMatcher();
  sh.addPatternLine('-*.tmp');
  t.is(sh.match('a/b.tmp'), undefined);
  t.is(sh.match('b.tmp'), 'exclude');
});

test('the first matching pattern wins, in the order added', (t) => {
  const files = ['data', 'data/something00.txt', 'data/subdir/something01.txt', 'home', 'home/leo', 'home/leo/t', 'home/other'];
  const right = new PatternMatcher('include');
  right.addPatternLines(['+/home/leo', '-/home/*']);
  t.deepEqual(kept(right, files), ['data', 'data/something00.txt', 'data/subdir/something01.txt', 'home', 'home/leo', 'home/leo/t']);
  const wrong = new PatternMatcher('include');
  wrong.addPatternLines(['-/home/*', '+/home/leo']);
  t.deepEqual(kept(wrong, files), ['data', 'data/something00.txt', 'data/subdir/something01.txt', 'home']);
  // An exclude added with --exclude before a --pattern include wins over it.
  const mixed = new PatternMatcher('include');
  mixed.addExclude('home/leo');
  mixed.addPatternLine('+home/leo');
  t.is(mixed.match('home/leo/t'), 'exclude-norecurse');
});

test('pf: patterns are looked up before all others, and a later one replaces an earlier one', (t) => {
  const m = new PatternMatcher('include');
  m.addPatternLine('- home/**');
  m.addPatternLine('+ pf:home/bobby/specialfile.txt');
  t.is(m.match('home/bobby/specialfile.txt'), 'include');
  t.is(m.match('home/bobby/other.txt'), 'exclude');
  // pf matches only the exact path, never what lies below.
  t.is(m.match('home/bobby/specialfile.txt/x'), 'exclude');
  m.addPatternLine('! pf:/home/bobby/specialfile.txt');
  t.is(m.match('home/bobby/specialfile.txt'), 'exclude-norecurse');
  t.false(m.isEmpty);
});

test('no match gives the fallback; a leading slash on the path is ignored', (t) => {
  const m = new PatternMatcher();
  t.true(m.isEmpty);
  t.is(m.match('x'), undefined);
  m.addExclude('/etc');
  t.is(m.match('/etc/passwd'), 'exclude-norecurse');
  t.is(m.match('//etc'), 'exclude-norecurse');
  t.is(m.match('usr'), undefined);
  m.fallback = 'include';
  t.is(m.match('usr'), 'include');
});

test('pattern files: comments, blank lines, whitespace, every line type, P scoped to its file', async (t) => {
  const file = tempFile(
    'patterns.lst',
    [
      '# "sh:" is the default, so this line changes nothing:',
      'P sh',
      'R /',
      '   ',
      '  # an indented comment',
      '- home/*/.cache   ',
      '\t+ home/susan',
      '+ pf:home/bobby/specialfile.txt',
      'p fm',
      '- home/*/junk',
      'r /srv',
      'P re',
      '! ^(dev|proc)(/|$)',
      '- home/*',
      '',
    ].join('\r\n'),
  );
  const lines = await readPatternFile(file);
  t.deepEqual(lines, [
    'P sh',
    'R /',
    '- home/*/.cache',
    '+ home/susan',
    '+ pf:home/bobby/specialfile.txt',
    'p fm',
    '- home/*/junk',
    'r /srv',
    'P re',
    '! ^(dev|proc)(/|$)',
    '- home/*',
  ]);
  const m = new PatternMatcher('include');
  m.addPatternLines(lines);
  t.deepEqual(m.roots, ['/', '/srv']);
  t.deepEqual(
    actions(m, ['home/bob/.cache', 'home/susan/.cache', 'home/susan/x', 'home/bobby/specialfile.txt', 'home/bob/a/junk', 'proc/1', 'procfs', 'home/bob', 'etc']),
    ['exclude', 'exclude', 'include', 'include', 'exclude', 'exclude-norecurse', 'include', 'exclude', 'include'],
  );
  // 'P re' ended with its file: the next file and --pattern start from sh again.
  m.addPatternLines(['- x*']);
  t.is(m.match('x1'), 'exclude');
  t.is(m.match('ax1'), 'include');
  // On the command line a P line is checked, but changes nothing.
  m.addPatternLine('P re');
  m.addPatternLine('- y*');
  t.is(m.match('y1'), 'exclude');
  t.is(m.match('ay1'), 'include');
});

test('exclude files: one fnmatch pattern a line, stripped, with comments', async (t) => {
  const file = tempFile(
    'exclude.txt',
    ['# Comment line', 'home/*/junk', '*.tmp', 'fm:aa:something/*', 're:^home/[^/]+\\.tmp/', 'sh:home/*/.thumbnails', '# spaces inside need no quoting', '  some file with spaces.txt  '].join('\n'),
  );
  const lines = await readPatternFile(file);
  t.is(lines.length, 6);
  const m = new PatternMatcher('include');
  m.addExcludeLines(lines);
  const paths = ['home/u/junk', 'a/b.tmp', 'aa:something/x', 'home/x.tmp/y', 'home/u/.thumbnails', 'some file with spaces.txt', 'home/u/keep', ' some file with spaces.txt'];
  t.deepEqual(kept(m, paths), ['home/u/keep', ' some file with spaces.txt']);
  // Stripping means a name with trailing whitespace needs a regular expression.
  const ws = new PatternMatcher('include');
  ws.addExcludeLines(await readPatternFile(tempFile('ws.txt', 're:^x\\s$\n')));
  t.is(ws.match('x '), 'exclude-norecurse');
  t.is(ws.match('x'), 'include');
});

test('pattern files: lone CR ends a line, a byte-order mark is dropped, a byte that is not UTF-8 is kept (escaped, as borg)', async (t) => {
  t.deepEqual(await readPatternFile(tempFile('cr.txt', 'a\rb\r\n\n c\n# d\n\u2003e\u3000')), ['a', 'b', 'c', 'e']);
  t.deepEqual(await readPatternFile(tempFile('bom.txt', '\ufeff# comment\n- x\n')), ['- x']);
  const bad = await readPatternFile(tempFile('bad.txt', Buffer.from([0x78, 0xff, 0x79, 0x0a])));
  t.deepEqual(bad, ['x\udcffy']);
  const m = new PatternMatcher('include');
  m.addExcludeLines(bad);
  // It matches the name with that byte, not one with another byte Node would decode alike.
  t.is(m.match(decodeName(Buffer.from([0x78, 0xff, 0x79]))), 'exclude-norecurse');
  t.is(m.match(decodeName(Buffer.from([0x78, 0xfe, 0x79]))), 'include');
  t.deepEqual(await readPatternFile(tempFile('empty.txt', '')), []);
});

test('createMatcher applies the options in command-line order and collects roots', async (t) => {
  const patterns = tempFile('p.lst', 'R /home\n+ home/keep\n');
  const excludes = tempFile('e.txt', 'home/*\n');
  const options: PatternOption[] = [
    { option: 'patterns-from', value: patterns },
    { option: 'exclude-from', value: excludes },
    { option: 'pattern', value: 'R /etc' },
    { option: 'exclude', value: 'etc/shadow' },
  ];
  const m = await createMatcher(options);
  t.deepEqual(m.roots, ['/home', '/etc']);
  t.deepEqual(actions(m, ['home/keep/x', 'home/other', 'etc/shadow', 'etc/hosts']), ['include', 'exclude-norecurse', 'exclude-norecurse', 'include']);
  // The other order: the exclude file now comes first, so home/keep is excluded too.
  const reversed = await createMatcher([options[1] as PatternOption, options[0] as PatternOption]);
  t.is(reversed.match('home/keep/x'), 'exclude-norecurse');
});

test('extractMatcher: PATHs are path-prefix includes after the patterns; others are excluded', async (t) => {
  const m = await extractMatcher(['home/user', 'sh:etc/*.conf', 'srv/missing', 'pf:var/exact'], [{ option: 'exclude', value: 'home/user/.cache' }]);
  t.false(m.isEmpty);
  t.deepEqual(actions(m, ['home/user', 'home/user/a/b', 'home/username', 'home/user/.cache/x', 'etc/a.conf', 'etc/x/a.conf', 'var/exact', 'var', 'tmp']), [
    'include',
    'include',
    'exclude',
    'exclude-norecurse',
    'include',
    'exclude',
    'include',
    'exclude',
    'exclude',
  ]);
  // borg warns "Include pattern 'srv/missing' never matched." (pf: PATHs are never counted).
  t.deepEqual(m.unmatchedIncludes(), ['srv/missing']);
  // A PATH shadowed by an earlier exclude for everything it covers never matches either.
  const shadowed = await extractMatcher(['home/user/.cache'], [{ option: 'exclude', value: 'home' }]);
  shadowed.match('home/user/.cache/x');
  t.deepEqual(shadowed.unmatchedIncludes(), ['home/user/.cache']);
});

test('extractMatcher: no PATH means everything not excluded; R lines act as PATHs', async (t) => {
  const all = await extractMatcher([], [{ option: 'pattern', value: '- **/*.o' }]);
  t.deepEqual(actions(all, ['a/b.c', 'a/b.o']), ['include', 'exclude']);
  t.deepEqual(all.unmatchedIncludes(), []);
  const none = await extractMatcher([], []);
  t.true(none.isEmpty);
  t.is(none.match('x'), 'include');
  const rooted = await extractMatcher([], [
    { option: 'pattern', value: 'R /home/susan' },
    { option: 'pattern', value: 'R /opt' },
  ]);
  t.deepEqual(actions(rooted, ['home/susan/x', 'home/bob']), ['include', 'exclude']);
  t.deepEqual(rooted.unmatchedIncludes(), ['/opt']);
});

test('--pattern keeps the text after the command as given; files strip it', (t) => {
  const m = new PatternMatcher('include');
  m.addPatternLine('-path/item name ');
  t.is(m.match('path/item name '), 'exclude');
  t.is(m.match('path/item name'), 'include');
});

/** Asserts that `fn` throws an InvalidArgumentError whose single-line message contains `part`. */
function throwsOneLine(t: import('ava').ExecutionContext, fn: () => unknown, part: string): void {
  const e = t.throws(fn, { instanceOf: InvalidArgumentError });
  t.true(e !== undefined && e.message.includes(part), `${e?.message} should contain ${part}`);
  t.false(e?.message.includes('\n'), 'one line');
}

test('bad patterns and pattern lines throw one clear line naming them', (t) => {
  const m = new PatternMatcher();
  throwsOneLine(t, () => m.addExclude('ab:x'), "unknown pattern style 'ab' in pattern 'ab:x'");
  throwsOneLine(t, () => m.addExclude('x1:abc'), "unknown pattern style 'x1'");
  throwsOneLine(t, () => m.addPatternLine(''), 'must not be empty');
  throwsOneLine(t, () => m.addPatternLine('X /data'), "pattern line 'X /data' must start with one of +, -, !, R, r, P, p");
  throwsOneLine(t, () => m.addPatternLine('/data'), 'must start with one of');
  throwsOneLine(t, () => m.addPatternLine('+   '), "pattern line '+   ' has nothing after its '+'");
  throwsOneLine(t, () => m.addPatternLine('P xx'), "invalid pattern style 'xx' in 'P xx'");
  throwsOneLine(t, () => m.addPatternLine('P sh '), "invalid pattern style 'sh '");
  throwsOneLine(t, () => m.addPatternLine('- re:(unclosed'), "invalid regular expression in pattern 're:(unclosed': missing ), unterminated subpattern at position 0");
  throwsOneLine(t, () => m.addExclude('re:a**'), 'multiple repeat at position 2');
  throwsOneLine(t, () => m.addExclude('re:\\q'), 'bad escape \\q');
  throwsOneLine(t, () => m.addExclude('re:(?>a)'), 'atomic groups (?>...) are not supported');
  throwsOneLine(t, () => m.addExclude('re:a++'), 'possessive repeats');
  throwsOneLine(t, () => m.addExclude('re:(?i:a)b'), 'changes case sensitivity');
  throwsOneLine(t, () => m.addExclude('re:a(?i)'), 'global flags not at the start');
  throwsOneLine(t, () => m.addExclude('sh:[z-a]'), "invalid pattern 'sh:[z-a]': bad character range z-a");
  throwsOneLine(t, () => m.addExclude('re:x\n('), "'re:x\\n('");
  t.true(m.isEmpty, 'nothing was added by the failed calls');
});

test('unreadable files and bad lines in files name the file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hoard-patterns-'));
  const missing = path.join(dir, 'missing.lst');
  const e1 = await t.throwsAsync(readPatternFile(missing), { instanceOf: InvalidArgumentError });
  t.is(e1?.message, `cannot read pattern file '${missing}': no such file or directory`);
  const sub = path.join(dir, 'sub');
  mkdirSync(sub);
  const e2 = await t.throwsAsync(createMatcher([{ option: 'patterns-from', value: sub }]), { instanceOf: InvalidArgumentError });
  t.is(e2?.message, `cannot read pattern file '${sub}': is a directory`);
  const bad = tempFile('bad.lst', '+ ok\n/data\n');
  const e3 = await t.throwsAsync(createMatcher([{ option: 'patterns-from', value: bad }]), { instanceOf: InvalidArgumentError });
  t.is(e3?.message, `pattern file '${bad}': pattern line '/data' must start with one of +, -, !, R, r, P, p`);
  const badExclude = tempFile('bad.txt', 'ok\nzz:x\n');
  const e4 = await t.throwsAsync(createMatcher([{ option: 'exclude-from', value: badExclude }]), { instanceOf: InvalidArgumentError });
  t.true(e4?.message.startsWith(`exclude file '${badExclude}': unknown pattern style 'zz'`));
});

test('names with newlines and other characters match as any other character', (t) => {
  const m = new PatternMatcher('include');
  m.addPatternLines(['- pp:dir\nwith/newline', '- sh:**/x\ny', '- fm:*\r*', '- re:^t(.|\\n)*z$', '! pf:exact\n']);
  t.deepEqual(actions(m, ['dir\nwith/newline/f', 'dir\nwith/newlinex', 'a/b/x\ny', 'a\rb', 'tab\nz', 'exact\n', 'exact', 'plain']), [
    'exclude',
    'include',
    'exclude',
    'exclude',
    'exclude',
    'exclude-norecurse',
    'include',
    'include',
  ]);
});

test('matching is case-sensitive and does not normalise Unicode (as borg on Linux)', (t) => {
  const composed = 'caf\u00e9';
  const decomposed = 'cafe\u0301';
  for (const style of ['fm', 'sh', 'pp', 'pf'] as const) {
    const p = new Pattern(`${style}:${composed}`, 'fm');
    t.true(p.matches(composed), style);
    t.false(p.matches(decomposed), style);
    t.false(p.matches('CAF\u00c9'), style);
  }
  t.true(new Pattern('re:(?i)^CAF\u00c9$', 'fm').matches(composed));
  t.false(new Pattern('re:^CAF\u00c9$', 'fm').matches(composed));
});

test('Python regex syntax: the differences from JavaScript keep Python meaning', (t) => {
  const cases: [string, string, boolean][] = [
    ['a{,2}b', 'aab', true], // {,n} is {0,n}
    ['a{x}', 'a{x}', true], // an invalid repeat is literal text
    ['^{', '{', true],
    ['[]a]', ']', true], // ']' first in a set is a member
    ['\\101', 'A', true], // octal escape
    ['(a)\\1', 'aa', true],
    ['(?P<n>b)(?P=n)', 'bb', true],
    ['a(?#comment)b', 'ab', true],
    ['(?x) a b  # spaced out', 'ab', true],
    ['\\d', '\u0663', true], // Unicode digits
    ['(?a)\\d', '\u0663', false],
    ['\\s', '\x1c', true], // Python whitespace, not JS whitespace
    ['\\s', '\ufeff', false],
    ['\\bb', 'a\u00e9b', false], // \\b uses Unicode word characters
    ['\\Bb', 'a\u00e9b', true],
    ['[^\\W\\d]', '5', false],
    ['[^\\W\\d]', 'x', true],
    ['x$', 'x\n', true], // $ also before a final newline
    ['x$', 'x\ny', false],
    ['(?m)x$', 'x\ny', true],
    ['.', '\n', false],
    ['(?s:.)', '\n', true],
    ['(?!\u{1f600})', '\u{1f600}', true], // at the end, not between the halves of the pair
    ['^(?!\u{1f600})', '\u{1f600}', false],
    ['^.$', '\u{1f600}', true],
    ['(?=a)*b', 'b', true],
  ];
  for (const [re, s, expected] of cases) t.is(new Pattern(`re:${re}`, 'fm').matches(s), expected, `${JSON.stringify(re)} on ${JSON.stringify(s)}`);
});

test('a pattern compiles once and matches many paths without state between calls', (t) => {
  // Patterns with and without wildcards, anchored or not, give the same answers however often
  // and in whatever order they are asked (no RegExp lastIndex state).
  const m = new PatternMatcher('include');
  m.addPatternLines(['- re:\\.o$', '- sh:build/**', '+ fm:src/*', '- pp:tmp']);
  const paths = ['a.o', 'build', 'build/x', 'src/a/b.o', 'src/a/b.c', 'tmp/x', 'tmpx', 'x'];
  const first = actions(m, paths);
  t.deepEqual(first, ['exclude', 'exclude', 'exclude', 'exclude', 'include', 'exclude', 'include', 'include']);
  for (let i = 0; i < 3; i++) t.deepEqual(actions(m, [...paths].reverse()).reverse(), first);
});
