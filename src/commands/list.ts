import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { encryptionJson } from '../archive/archive-info.js';
import { findArchive, loadArchive } from '../archive/archives.js';
import { prefixGlob, selectArchives } from '../archive/select.js';
import {
  ARCHIVE_KEYS,
  DEFAULT_ARCHIVE_FORMAT,
  DEFAULT_ITEM_FORMAT,
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
import { extractMatcher, type PatternMatcher } from '../archive/patterns.js';
import { walkTree } from '../archive/tree-reader.js';
import { isoMicro } from '../archive/create.js';
import { InvalidArgumentError } from '../errors.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';

/** The `--format` values of one item. */
export function itemValues(path: Buffer, item: Item): Record<string, FormatValue> {
  const p = path.toString('utf8');
  const target = item.type === 'l' ? (item.target ?? Buffer.alloc(0)).toString('utf8') : item.type === 'h' ? (item.link ?? Buffer.alloc(0)).toString('utf8') : '';
  const size = item.type === 'l' ? (item.target?.length ?? 0) : item.size;
  const type = item.type === 'h' ? '-' : item.type;
  const broken = item.chunksHealthy !== undefined;
  return {
    type,
    mode: modeString(item.type === 'h' ? (item.mode & 0o7777) | 0o100000 : item.mode),
    uid: item.uid,
    gid: item.gid,
    user: item.user ?? String(item.uid),
    group: item.group ?? String(item.gid),
    path: p,
    bpath: p,
    source: target,
    linktarget: target,
    hlid: '',
    flags: item.flags ?? 0,
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
    dsize: 0,
    dcsize: 0,
    unique_chunks: 0,
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
    const meta = await loadArchive(repo, findArchive(repo, archive));
    const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    const lines: string[] = [];
    const flush = (): void => {
      if (lines.length > 0) this.context.stdout.write(lines.join(''));
      lines.length = 0;
    };
    await walkTree(
      repo,
      index,
      meta.root === undefined ? undefined : Buffer.from(meta.root, 'hex'),
      ({ path, item }) => {
        if (item.implied) return;
        const p = path.toString('utf8');
        if (!isIncluded(matcher, p)) return;
        const values = itemValues(path, item);
        if (this.jsonLines) {
          const { mtime, ctime, atime, isomtime, isoctime, isoatime, extra, health, csize, dsize, dcsize, unique_chunks, bpath, num_chunks, hlid, healthy, ...rest } = values;
          void [mtime, ctime, atime, isoctime, isoatime, extra, health, csize, dsize, dcsize, unique_chunks, bpath, num_chunks, hlid];
          lines.push(`${JSON.stringify({ ...rest, healthy: healthy === 1, mtime: isomtime })}\n`);
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
      this.out(
        JSON.stringify(
          {
            archives: selected.map((a) => {
              const time = isoMicro(new Date(a.time));
              return { archive: a.name, barchive: a.name, id: a.id, name: a.name, start: time, time };
            }),
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
        archive: a.name,
        name: a.name,
        barchive: a.name,
        id: a.id,
        time: Timestamp.fromDate(new Date(Math.floor(time.getTime() / 1000) * 1000)),
        start: Timestamp.fromDate(time),
      };
      if (needMeta) {
        const meta = await loadArchive(repo, a);
        Object.assign(values, {
          comment: meta.comment,
          bcomment: meta.comment,
          end: Timestamp.fromDate(new Date(meta.end + 'Z')),
          command_line: meta.commandLine.join(' '),
          hostname: meta.hostname,
          username: meta.username,
        });
      }
      out += fmt(values);
    }
    this.context.stdout.write(out);
    return 0;
  }
}
