/**
 * The help topics of `hoard help TOPIC` (borg's `borg help patterns`, `placeholders`,
 * `compression`): what hoard does, in its own words. Each text says what the code in
 * src/archive/patterns/, src/archive/placeholders.ts and crates/hoard-core/src/codec.rs does.
 */

const PATTERNS = `
Patterns: what create, extract and list take and leave out
===========================================================

Paths in an archive have no leading "/": /home/me/a.txt is stored as home/me/a.txt.
Patterns are matched against that form (a leading "/" in an fm:, sh:, pp: or pf:
pattern is dropped).

Styles, chosen by a prefix (fm: for --exclude and --exclude-from, sh: for --pattern
and --patterns-from, when a pattern has none):

  fm:  fnmatch. "*" is any run of characters, "/" included; "?" one character;
       "[abc]", "[a-z]", "[!abc]" a set (a reversed range like [z-a] matches nothing).
  sh:  shell. "*" and "?" stop at "/"; "**/" is zero or more whole directories
       (sh:home/**/junk matches home/junk and home/a/b/junk); sets as in fm:, but a
       reversed range is an error.
  re:  a Python regular expression, searched anywhere in the path (anchor it with
       ^ and $ yourself): re:\\.tmp$ matches every path that ends in .tmp.
  pp:  a path prefix: pp:home/me matches home/me and everything below it.
  pf:  a full path: pf:home/me/a.txt matches that path only. pf: patterns are looked
       up first, by exact path, before every other pattern.

An fm:, sh: or pp: pattern matches a path when it matches all of it, or the path up
to a "/": home/me matches home/me/x but not home/meta. A pattern that ends in "/"
matches only what lies below (home/me/ matches home/me/x, not home/me). Any other
two letters or digits before ":" are an unknown style and an error.

Options (create, extract, list):

  -e PATTERN, --exclude PATTERN     leave out what PATTERN matches
  --exclude-from FILE               one --exclude pattern a line
  --pattern LINE                    one pattern line (below)
  --patterns-from FILE              one pattern line a line

A pattern line starts with its kind:

  + PATTERN   include
  - PATTERN   exclude; create still walks into an excluded directory, so a later
              + can take something below it (the directory then stays, as an
              implied parent, without its other contents)
  ! PATTERN   exclude, and do not walk into it (faster)
  R PATH      a root path to back up (create) or to select (extract, list)
  P STYLE     the default style of the lines after it in the same file (fm, sh,
              re, pp, pf); on the command line it is checked and has no effect

In files, white space is stripped at both ends of a line; empty lines and lines
starting with "#" are skipped.

The first pattern that matches a path decides. hoard reads the options in a fixed
order, not in command-line order: every --exclude-from, then every --exclude, then
every --patterns-from, then every --pattern (each in the order given).

create: a path that no pattern matches is backed up. --exclude-caches leaves out a
directory holding a CACHEDIR.TAG file that starts with the cache directory signature;
--exclude-if-present NAME one holding an entry called NAME; --keep-exclude-tags keeps
such a directory with only its tag files.

extract and list: PATH arguments and R paths are path-prefix includes (pp: unless
prefixed) after the patterns. With any of them, a path that no pattern matches is
left out; with none, it is taken. extract warns "Include pattern 'PATH' never
matched." for each one that matched nothing (exit code 1).

Examples:

  # Leave out every .pyc file and the tmp folder of home/me:
  hoard create -e '*.pyc' -e home/me/tmp /path/to/repo::{hostname}-{now} /home/me

  # Only .jpg files below home/me/photos, nothing else of home:
  hoard create --pattern '+ sh:home/me/photos/**/*.jpg' --pattern '- home' \\
      /path/to/repo::photos /home

  # A patterns file:
  #   P sh
  #   R /home/me
  #   ! home/me/.cache
  #   - **/*.tmp
  #   + home/me/src
  #   - home/me/*
  hoard create --patterns-from backup.lst /path/to/repo::{now}

  # Extract one folder, without its .o files:
  hoard extract -e 're:\\.o$' /path/to/repo::Monday home/me/src
`;

const PLACEHOLDERS = `
Placeholders: names that fill themselves in
==========================================

As in borg, every repository or archive location of every command (REPO,
REPO::ARCHIVE, ::ARCHIVE, and HOARD_REPO/BORG_REPO), rename's NEWNAME, archive
globs (-a/--glob-archives) and comments (--comment) may hold these placeholders;
hoard fills them in when the command runs.

  {hostname}      the short host name (up to its first dot)
  {fqdn}          the host name as the system gives it
  {reverse-fqdn}  the host name with its dot-separated parts reversed
  {now}           the local time of the run: 2024-05-01T13:14:15
  {utcnow}        the same moment in UTC
  {unixtime}      the same moment in seconds since 1970 (UTC)
  {user}          the name of the user running hoard
  {pid}           hoard's process id
  {uuid4}         a random UUID (the same for every {uuid4} in one text)
  {borgversion}   the borg version hoard speaks: 1.4.0
  {borgmajor}     1     {borgminor} 1.4     {borgpatch} 1.4.0
  {hoardversion}  hoard's own version

{now} and {utcnow} take a strftime pattern after a colon: {now:%Y-%m-%d} gives
2024-05-01, {utcnow:%Y-%m-%dT%H:%M} 2024-05-01T11:14. Every {now}, {utcnow} and
{unixtime} of one command shows the same moment. Other placeholders take Python
format specs: {pid:08d}, {user:>10}. {{ and }} are a literal { and }. An unknown
placeholder is an error (exit code 2), so a typo never makes an odd archive name.

In a shell, quote names with braces only when they also hold spaces; the braces
themselves are safe in sh and bash (but a crontab line needs % escaped as \\%).

Examples:

  hoard create /path/to/repo::{hostname}-{now} ~
  hoard create /path/to/repo::{user}-{now:%Y-%m-%d_%H:%M:%S} ~
  hoard list -a '{hostname}-*' /path/to/repo
`;

const COMPRESSION = `
Compression: -C, --compression SPEC
==================================

create compresses each chunk (and each tree) before it encrypts it. SPEC is one of:

  none          store as is
  lz4           very fast, modest ratio (the default)
  zstd[,L]      zstandard, level 1 to 22 (default 3): fast at low levels, strong at high
  zlib[,L]      deflate with zlib's header, level 0 to 9 (default 6)
  lzma[,L]      xz, preset 0 to 9 (default 6): slow, strong
  auto,C[,L]    decide per chunk: compress with lz4 first; if that does not bring the
                chunk below 97% of its size, keep lz4's result (or the chunk as is,
                where lz4 did not make it smaller at all); else compress with C
                (at level L) and keep that when it is below 99% of lz4's size, else
                lz4's. So incompressible data costs one fast lz4 attempt, not C.
  obfuscate,SPEC,C[,L]
                compress with C[,L] (any of the above), then add zeros so that
                the stored size tells less about the data (use it with
                encryption, or it hides nothing). SPEC 1 to 6: a random amount
                relative to the size, at least 10^SPEC/1000 times it (1% for 1,
                1000 times for 6), mostly up to ten times that, rarely far more;
                SPEC 110 to 123: up to 2^(SPEC-100) bytes (1 KiB to 8 MiB),
                uniformly at random; SPEC 250: Padmé, up to the next of a set of
                sizes (at most 12% more). Trees are padded alike. No blob is
                padded past 20 MiB.

A chunk whose compressed form would not be smaller than itself is stored as is,
whatever SPEC says, so compression never makes data grow (beyond a 6-byte header),
but for obfuscate's padding. Each blob records its codec and level, so archives
made with different specs deduplicate against each other and extract without
being told the spec. Changing -C changes only how new chunks are stored; chunks
already in the repository stay as they are. A spec outside the forms above (a
level out of range, an unknown name, extra fields) is refused with exit code 2.

\`hoard benchmark cpu\` measures every codec on this machine.

Examples:

  hoard create -C zstd,10 /path/to/repo::{now} ~
  hoard create --compression auto,lzma,6 /path/to/repo::{now} ~/data
  hoard create -C none /path/to/repo::{now} ~/videos
  hoard create -C obfuscate,250,zstd,3 /path/to/repo::{now} ~
`;

/** The help topics: name to text. */
export const HELP_TOPICS: Readonly<Record<string, string>> = Object.freeze({
  patterns: PATTERNS.trimStart(),
  placeholders: PLACEHOLDERS.trimStart(),
  compression: COMPRESSION.trimStart(),
});
