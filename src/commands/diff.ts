import { Command, Option, UsageError } from 'clipanion';

import { findArchive, loadArchive } from '../archive/archives.js';
import { diffArchives, isActualChange, type ItemDifference } from '../archive/diff.js';
import { extractMatcher } from '../archive/patterns.js';
import { InvalidArgumentError } from '../errors.js';
import { parseChunkerParams } from '../native.js';
import { syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';
import { isIncluded, patternOptions, patternOrderOption } from './pattern-options.js';
import { pythonJson } from './python-json.js';
import { decodeName, shownName } from '../fs-names.js';

/** The fields `--sort-by` accepts, as borg 1.4. */
const SORT_FIELDS = new Set(['path', 'size_added', 'size_removed', 'size_diff', 'size', 'user', 'group', 'uid', 'gid', 'ctime', 'mtime', 'ctime_diff', 'mtime_diff']);

type SortValue = string | number | bigint;

/** A path as borg prints it: each byte that is not UTF-8 becomes `?` (its `remove_surrogates`). */
function printablePath(path: Buffer): string {
  return shownName(decodeName(path));
}

/** The value of one `--sort-by` field for a difference, as borg computes it. */
function sortValue(field: string, d: ItemDifference): SortValue {
  if (field === 'path') return printablePath(d.path);
  if (field === 'size_diff' || field === 'size_added' || field === 'size_removed') {
    let added = 0;
    let removed = 0;
    for (const { json } of d.changes) {
      const type = String(json.type);
      if (type === 'modified') {
        added += Number(json.added ?? 0);
        removed += Number(json.removed ?? 0);
      } else if (type.startsWith('added')) added += Number(json.size ?? 0);
      else if (type.startsWith('removed')) removed += Number(json.size ?? 0);
    }
    return field === 'size_diff' ? added - removed : field === 'size_added' ? added : removed;
  }
  if (field === 'ctime_diff' || field === 'mtime_diff') {
    const attr = field === 'ctime_diff' ? 'ctime' : 'mtime';
    return (d.item2?.[attr] ?? 0n) - (d.item1?.[attr] ?? 0n);
  }
  if (field === 'size') return d.item2?.size ?? 0;
  const it = d.item2 ?? d.item1;
  switch (field) {
    case 'user':
      return it?.user ?? '';
    case 'group':
      return it?.group ?? '';
    case 'uid':
      return it?.uid ?? -1;
    case 'gid':
      return it?.gid ?? -1;
    case 'ctime':
      return it?.ctime ?? 0n;
    default:
      return it?.mtime ?? 0n;
  }
}

/** Sorts stably by each spec from the last to the first (`>` descending, `<` or none ascending). */
export function sortDifferences(diffs: ItemDifference[], specs: string[]): ItemDifference[] {
  let out = [...diffs];
  for (const spec of [...specs].reverse()) {
    const desc = spec.startsWith('>');
    const field = spec.startsWith('>') || spec.startsWith('<') ? spec.slice(1) : spec;
    const keyed = out.map((d) => ({ d, k: sortValue(field, d) }));
    keyed.sort((x, y) => {
      const c = x.k < y.k ? -1 : x.k > y.k ? 1 : 0;
      return desc ? -c : c;
    });
    out = keyed.map((x) => x.d);
  }
  return out;
}

/** `hoard diff REPO::ARCHIVE1 ARCHIVE2 [PATH...]`: what changed between two archives. */
export class DiffCommand extends HoardCommand {
  static override paths = [['diff']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'find differences in archive contents',
    details: `
      Lists the items that differ between ARCHIVE1 and ARCHIVE2 of one repository, one line per
      path, as borg 1.4: content changes (\`+12 B -3 B\` of chunk data added and removed, or
      \`added SIZE\` / \`removed SIZE\`), link, directory and device presence, and unless
      \`--content-only\`, owner, mode, ctime and mtime changes. Contents are compared by their
      chunk lists when both archives were chunked alike; otherwise they are read and compared.
    `,
    examples: [
      ['What changed between two archives', 'hoard diff /path/to/repo::Monday Tuesday'],
      ['Only under a folder, as JSON lines', 'hoard diff --json-lines /path/to/repo::Monday Tuesday home/me/src'],
    ],
  });

  numericIds = Option.Boolean('--numeric-ids,--numeric-owner', false, { description: 'only consider numeric user and group identifiers' });
  sameChunkerParams = Option.Boolean('--same-chunker-params', false, { description: 'override check of chunker parameters' });
  sort = Option.Boolean('--sort', false, { description: 'sort the output by path (deprecated, use --sort-by=path)' });
  sortBy = Option.String('--sort-by', { description: 'sort by FIELDS (comma-separated; > descending, < ascending)' });
  contentOnly = Option.Boolean('--content-only', false, { description: 'only compare differences in content (exclude metadata differences)' });
  jsonLines = Option.Boolean('--json-lines', false, { description: 'format output as JSON lines' });
  exclude = Option.Array('-e,--exclude', [], { description: 'exclude paths matching PATTERN' });
  excludeFrom = Option.Array('--exclude-from', [], { description: 'read exclude patterns from EXCLUDEFILE' });
  pattern = Option.Array('--pattern', [], { description: 'include/exclude paths matching PATTERN' });
  patternsFrom = Option.Array('--patterns-from', [], { description: 'read include/exclude patterns from PATTERNFILE' });
  patternOrder = patternOrderOption();
  target = Option.String({ name: 'REPO::ARCHIVE1' });
  archive2 = Option.String({ name: 'ARCHIVE2' });
  pathArgs = Option.Rest({ name: 'PATH' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    const name1 = target.archive;
    if (name1 === undefined) throw new UsageError('an archive is required: REPO::ARCHIVE1');
    if (this.archive2.includes('::')) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `ARCHIVE2 is an archive name, not a location: ${this.archive2}`);
    const specs = this.sortBy !== undefined ? this.sortBy.split(',').map((s) => s.trim()).filter((s) => s !== '') : this.sort ? ['path'] : [];
    for (const s of specs) {
      const field = s.startsWith('>') || s.startsWith('<') ? s.slice(1) : s;
      if (!SORT_FIELDS.has(field)) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--sort-by: unsupported sort field: ${field}`);
    }
    if (this.sortBy !== undefined && specs.length === 0) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '--sort-by: unsupported sort field: empty spec');
    const options = patternOptions(this);
    const matcher = await extractMatcher(this.pathArgs, options);
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', async () => {
      await repo.refreshManifest();
      const meta1 = await loadArchive(repo, findArchive(repo, name1));
      const meta2 = await loadArchive(repo, findArchive(repo, this.archive2));
      let sameChunker = this.sameChunkerParams;
      if (!sameChunker) {
        sameChunker = parseChunkerParams(meta1.chunkerParams) === parseChunkerParams(meta2.chunkerParams);
        if (!sameChunker) this.log('warning', '--chunker-params are different between archives, diff will be slow.');
      }
      const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
      let warnings = 0;
      const diffs = await diffArchives(repo, index, meta1.root === undefined ? undefined : Buffer.from(meta1.root, 'hex'), meta2.root === undefined ? undefined : Buffer.from(meta2.root, 'hex'), {
        numericIds: this.numericIds,
        contentOnly: this.contentOnly,
        sameChunker,
        included: (p) => isIncluded(matcher, p),
        skipEqualTrees: this.pathArgs.length === 0 && options.length === 0,
        onWarning: (message) => {
          warnings += 1;
          this.log('warning', message);
        },
      });
      const lines: string[] = [];
      for (const d of specs.length > 0 ? sortDifferences(diffs, specs) : diffs) {
        const changes = d.changes.filter(isActualChange);
        const path = printablePath(d.path);
        if (this.jsonLines) lines.push(`${pythonJson({ path, changes: changes.map((c) => c.json) })}\n`);
        else lines.push(`${changes.map((c) => c.text).join(' ').padEnd(19)} ${path}\n`);
        if (lines.length >= 1000) this.print(lines.splice(0).join(''));
      }
      if (lines.length > 0) this.print(lines.join(''));
      for (const p of matcher.unmatchedIncludes()) {
        warnings += 1;
        this.log('warning', `Include pattern '${p}' never matched.`);
      }
      return warnings > 0 ? 1 : 0;
    });
  }
}
