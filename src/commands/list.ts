import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import type { ArchiveMeta } from '../archive/archive-object.js';
import { encryptionJson, utc } from '../archive/archive-info.js';
import { findArchive, loadArchive } from '../archive/archives.js';
import { prefixGlob, selectArchives } from '../archive/select.js';
import {
  ARCHIVE_KEYS,
  DEFAULT_ARCHIVE_FORMAT,
  DEFAULT_ITEM_FORMAT,
  HASH_KEYS,
  ITEM_KEYS,
  SHORT_ARCHIVE_FORMAT,
  SHORT_ITEM_FORMAT,
  Timestamp,
  compileFormat,
  type CompiledFormat,
  isoTime,
  modeString,
  type FormatValue,
} from '../archive/format.js';
import type { Item } from '../archive/item.js';
import { chunkReferenceCounts, contentValues, needsReferenceCounts, type ContentKeyContext } from '../archive/item-content-keys.js';
import { extractMatcher, type PatternMatcher } from '../archive/patterns.js';
import { walkTree } from '../archive/tree-reader.js';
import { isoMicro } from '../archive/create.js';
import { InvalidArgumentError } from '../errors.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';
import { pythonJson, type JsonValue } from './python-json.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';
import { decodeName, shownName } from '../fs-names.js';

/** Linux inode flags (`chattr`) that borg 1.4 maps to BSD flags on Linux, with the BSD flag of each. */
const LINUX_TO_BSD_FLAGS: readonly (readonly [number, number])[] = [
  [0x40, 0x1], // FS_NODUMP_FL -> UF_NODUMP
  [0x10, 0x2], // FS_IMMUTABLE_FL -> UF_IMMUTABLE
  [0x20, 0x4], // FS_APPEND_FL -> UF_APPEND
];

/**
 * An item's stored Linux inode flags as borg 1.4 stores them on Linux (`bsdflags`): only nodump,
 * immutable and append, as their BSD bits; the others (extents, ...) are 0.
 */
export function bsdFlags(linux: number): number {
  let bsd = 0;
  for (const [l, b] of LINUX_TO_BSD_FLAGS) if ((linux & l) !== 0) bsd |= b;
  return bsd;
}

/**
 * The `--format` values of one item that it holds itself (the checksum and unique-chunk keys
 * come from src/archive/item-content-keys.ts, the archive keys from the archive).
 */
export function itemValues(path: Buffer, item: Item): Record<string, FormatValue> {
  // As borg: a name's bytes that are not UTF-8 show as '?'.
  const p = shownName(decodeName(path));
  const link = item.type === 'l' ? item.target : item.type === 'h' ? item.link : undefined;
  const target = link === undefined ? '' : shownName(decodeName(link));
  const size = item.type === 'l' ? (item.target?.length ?? 0) : item.size;
  const type = item.type === 'h' ? '-' : item.type;
  const broken = item.chunksHealthy !== undefined;
  return {
    type,
    // As borg: a hard link's mode starts with 'h' (its type stays '-').
    mode: item.type === 'h' ? `h${modeString((item.mode & 0o7777) | 0o100000).slice(1)}` : modeString(item.mode),
    uid: item.uid,
    gid: item.gid,
    user: item.user ?? String(item.uid),
    group: item.group ?? String(item.gid),
    path: p,
    bpath: p,
    source: target,
    linktarget: target,
    hlid: '',
    flags: bsdFlags(item.flags ?? 0),
    size,
    num_chunks: item.chunkSizes?.length ?? 0,
    mtime: new Timestamp(item.mtime),
    ctime: new Timestamp(item.ctime ?? item.mtime),
    atime: new Timestamp(item.atime ?? item.mtime),
    isomtime: isoTime(item.mtime),
    isoctime: isoTime(item.ctime ?? item.mtime),
    isoatime: isoTime(item.atime ?? item.mtime),
    health: broken ? 'broken' : 'healthy',
    healthy: broken ? 0 : 1,
    extra: item.type === 'l' ? ` -> ${target}` : item.type === 'h' ? ` link to ${target}` : '',
    csize: item.csize ?? 0,
  };
}

/** The keys borg 1.4 computes for a format that uses them, in the order its `--json-lines` adds them. */
const JSON_CALL_KEYS = ['size', 'csize', 'dsize', 'dcsize', 'num_chunks', 'unique_chunks', 'isomtime', 'isoctime', 'isoatime', 'mtime', 'ctime', 'atime', ...HASH_KEYS];

/**
 * One item of `list --json-lines`, as borg 1.4 builds it: `archivename`/`archiveid` when the format
 * uses them, then type, mode, user, group, uid, gid, path, healthy, source, linktarget, flags,
 * then the computed keys the format uses (the default format's size and mtime). Times are ISO text.
 */
function jsonLine(item: Item, values: Record<string, FormatValue>, keys: ReadonlySet<string>): { [key: string]: JsonValue } {
  const o: { [key: string]: JsonValue } = {};
  for (const k of ['archivename', 'archiveid']) if (keys.has(k)) o[k] = String(values[k]);
  Object.assign(o, {
    type: values.type as string,
    mode: values.mode as string,
    user: item.user ?? item.uid,
    group: item.group ?? item.gid,
    uid: item.uid,
    gid: item.gid,
    path: values.path as string,
    healthy: values.healthy === 1,
    source: values.source as string,
    linktarget: values.linktarget as string,
    flags: values.flags as number,
  });
  for (const k of JSON_CALL_KEYS) {
    if (!keys.has(k)) continue;
    const v = ['mtime', 'ctime', 'atime'].includes(k) ? values[`iso${k}`] : values[k];
    o[k] = typeof v === 'number' || typeof v === 'string' ? v : String(v);
  }
  return o;
}

/** The archive keys of `--format` (and `--json`) that need its archive object, as text. */
function archiveTexts(repo: Repository, meta: ArchiveMeta): Record<string, string> {
  return {
    comment: meta.comment,
    bcomment: meta.comment,
    command_line: meta.commandLine.join(' '),
    hostname: meta.hostname,
    username: meta.username,
    // borg's TAM state: loading the archive authenticated it, except in mode none, which has no key.
    tam: repo.config.encryption === 'none' ? 'none' : 'verified',
  };
}

/** `hoard list REPO` / `hoard list REPO::ARCHIVE [PATH...]`: lists archives or an archive's items. */
export class ListCommand extends HoardCommand {
  static override paths = [['list']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'list archive or repository contents',
    details: `
      Without an archive, lists the repository's archives (name, time, id). With REPO::ARCHIVE,
      lists its items like \`ls -l\`, optionally only under the PATHs. \`--format\` takes borg's
      keys (\`hoard list --help\` lists them in the help of \`hoard help list\`); \`--json\` and
      \`--json-lines\` print borg's JSON shapes.
    `,
    examples: [
      ['List archives', 'hoard list /path/to/repo'],
      ['List the files of an archive', 'hoard list /path/to/repo::Monday'],
      ['Only names', 'hoard list --short /path/to/repo::Monday'],
    ],
  });

  short = Option.Boolean('--short', false, { description: 'only print file/directory names, nothing else' });
  format = Option.String('--format,--list-format', { description: 'specify format for file or archive listing' });
  json = Option.Boolean('--json', false, { description: 'format archive listing as JSON' });
  jsonLines = Option.Boolean('--json-lines', false, { description: 'format file listing as JSON lines' });
  consider = Option.Boolean('--consider-checkpoints', false, { description: 'accepted (hoard has no checkpoint archives)' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: t.isNumber(), description: 'consider first N archives' });
  last = Option.String('--last', { validator: t.isNumber(), description: 'consider last N archives' });
  exclude = Option.Array('-e,--exclude', [], { description: 'exclude paths matching PATTERN' });
  excludeFrom = Option.Array('--exclude-from', [], { description: 'read exclude patterns from EXCLUDEFILE' });
  pattern = Option.Array('--pattern', [], { description: 'include/exclude paths matching PATTERN' });
  patternsFrom = Option.Array('--patterns-from', [], { description: 'read include/exclude patterns from PATTERNFILE' });
  patternOrder = patternOrderOption();
  /** REPO_OR_ARCHIVE then PATHs: one rest list, since clipanion cannot tell an optional positional from a rest. */
  args = Option.Rest({ name: 'REPO_OR_ARCHIVE [PATH...]' });

  override async execute(): Promise<number> {
    const [first, ...paths] = this.args;
    const target = parseTarget(first, this.context.env);
    // As borg: each JSON form belongs to one kind of listing.
    if (target.archive !== undefined && this.json) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'the --json option is only valid for listing archives, not archive contents (use --json-lines)');
    }
    if (target.archive === undefined && this.jsonLines) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'the --json-lines option is only valid for listing archive contents, not archives (use --json)');
    }
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    if (target.archive === undefined) return this.listArchives(repo, target.repo.text);
    const fmt = compileFormat(this.format ?? (this.short ? SHORT_ITEM_FORMAT : DEFAULT_ITEM_FORMAT), ITEM_KEYS);
    const matcher = await extractMatcher(paths, patternOptions(this));
    const archive = target.archive;
    // A shared lock: compact (exclusive) must not delete packs while they are read.
    return this.locked(repo.storage, 'shared', () => this.listItems(repo, archive, fmt, matcher));
  }

  private async listItems(repo: Repository, archive: string, fmt: CompiledFormat, matcher: PatternMatcher): Promise<number> {
    await repo.refreshManifest();
    const entry = findArchive(repo, archive);
    const meta = await loadArchive(repo, entry);
    const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    const content: ContentKeyContext = {
      repo,
      index,
      keys: fmt.keys,
      refcounts: needsReferenceCounts(fmt.keys) ? await chunkReferenceCounts(repo, index) : undefined,
    };
    const withContent = [...fmt.keys].some((k) => HASH_KEYS.includes(k)) || content.refcounts !== undefined;
    const lines: string[] = [];
    const flush = (): void => {
      if (lines.length > 0) this.print(lines.join(''));
      lines.length = 0;
    };
    await walkTree(
      repo,
      index,
      meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'),
      async ({ path, item }) => {
        if (item.implied) return;
        const p = decodeName(path);
        if (!isIncluded(matcher, p)) return;
        const values = { ...itemValues(path, item), archivename: meta.name, archiveid: entry.id };
        if (withContent) Object.assign(values, await contentValues(item, content));
        if (this.jsonLines) {
          lines.push(`${pythonJson(jsonLine(item, values, fmt.keys), false)}\n`);
        } else {
          lines.push(fmt(values));
        }
        if (lines.length >= 1000) flush();
      },
    );
    flush();
    return 0;
  }

  private async listArchives(repo: Repository, location: string): Promise<number> {
    if (this.prefix !== undefined && this.globArchives !== undefined) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '-P/--prefix and -a/--glob-archives exclude each other');
    }
    const glob = this.globArchives ?? (this.prefix !== undefined ? prefixGlob(this.prefix) : undefined);
    const selected = selectArchives(repo.manifest.archives, {
      ...(glob !== undefined ? { glob } : {}),
      sortBy: this.sortBy,
      ...(this.first !== undefined ? { first: this.first } : {}),
      ...(this.last !== undefined ? { last: this.last } : {}),
    });
    if (this.json) {
      // As borg: the keys a --format names are added to each archive's object.
      const asked = this.format === undefined ? [] : [...compileFormat(this.format, ARCHIVE_KEYS).keys];
      const extra = asked.filter((k) => ['comment', 'bcomment', 'end', 'command_line', 'hostname', 'username', 'tam'].includes(k));
      const archives: Record<string, string>[] = [];
      for (const a of selected) {
        const time = isoMicro(new Date(a.time));
        // As borg: `archive` and `name` show a name's bytes that are not UTF-8 as '?', `barchive` keeps them.
        const shown = shownName(a.name);
        const one: Record<string, string> = { archive: shown, barchive: a.name, id: a.id, name: shown, start: time, time };
        if (extra.length > 0) {
          const meta = await loadArchive(repo, a);
          const values: Record<string, string> = { ...archiveTexts(repo, meta), end: meta.end };
          for (const k of extra) one[k] = values[k] ?? '';
        }
        archives.push(one);
      }
      this.out(
        JSON.stringify(
          {
            archives,
            encryption: encryptionJson(repo),
            repository: { id: repo.config.id, last_modified: isoMicro(new Date(repo.manifest.timestamp)), location },
          },
          null,
          4,
        ),
      );
      return 0;
    }
    const fmt = compileFormat(this.format ?? (this.short ? SHORT_ARCHIVE_FORMAT : DEFAULT_ARCHIVE_FORMAT), ARCHIVE_KEYS);
    const needMeta = [...fmt.keys].some((k) => !['archive', 'name', 'barchive', 'id', 'time', 'start'].includes(k));
    let out = '';
    for (const a of selected) {
      const time = new Date(a.time);
      const values: Record<string, FormatValue> = {
        archive: shownName(a.name),
        name: shownName(a.name),
        barchive: a.name,
        id: a.id,
        time: Timestamp.fromDate(new Date(Math.floor(time.getTime() / 1000) * 1000)),
        start: Timestamp.fromDate(time),
      };
      if (needMeta) {
        const meta = await loadArchive(repo, a);
        Object.assign(values, archiveTexts(repo, meta), { end: Timestamp.fromDate(utc(meta.end)) });
      }
      out += fmt(values);
    }
    this.print(out);
    return 0;
  }
}
