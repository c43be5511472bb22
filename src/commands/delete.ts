import * as fs from 'node:fs/promises';

import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { archiveLine } from '../archive/archives.js';
import { deletedDataReport, removeArchives } from '../archive/deletion.js';
import { prefixGlob, selectArchives } from '../archive/select.js';
import { ExitCode, InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import { repositoryCacheDir } from '../repository/chunk-cache.js';
import { confirm } from '../repository/confirm.js';
import { parseTarget } from '../repository/location.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { Repository } from '../repository/repository.js';
import { securityDir } from '../repository/security.js';
import type { Storage } from '../storage/storage.js';
import { HoardCommand, isInt } from './base.js';

const RULE = '-'.repeat(78);

/** `hoard delete REPO::ARCHIVE [ARCHIVE...]`, `hoard delete REPO ARCHIVE...` and `hoard delete REPO`. */
export class DeleteCommand extends HoardCommand {
  static override paths = [['delete']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'delete archives, or a whole repository',
    details: `
      With archives (\`REPO::ARCHIVE\`, more names after it, or the filters -a, --first, --last),
      removes them from the repository's manifest. Their data stays until \`hoard compact\` frees
      it. An unknown name fails the whole command before anything is deleted.

      Without archives, deletes the whole repository, after you type YES (or with
      HOARD_DELETE_I_KNOW_WHAT_I_AM_DOING=YES, or --force), and this client's cache and security
      records of it (--keep-security-info keeps the latter). --cache-only deletes only the cache.
      An append-only repository cannot be deleted whole.

      --save-space, --checkpoint-interval and --consider-checkpoints are accepted for borg
      compatibility and do nothing.
    `,
    examples: [
      ['Delete one archive', 'hoard delete /path/to/repo::Monday'],
      ['Delete two archives', 'hoard delete /path/to/repo Monday Tuesday'],
      ['See which archives a glob would delete', 'hoard delete --dry-run --list -a "Mon*" /path/to/repo'],
      ['Delete the whole repository', 'hoard delete /path/to/repo'],
    ],
  });

  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not change the repository' });
  list = Option.Boolean('--list', false, { description: 'output verbose list of archives' });
  stats = Option.Boolean('-s,--stats', false, { description: 'print statistics for the deleted archives' });
  quickStats = Option.Boolean('--quick-stats', false, { description: 'print only deletion statistics, skipping repository-wide statistics' });
  cacheOnly = Option.Boolean('--cache-only', false, { description: 'delete only the local cache for the given repository' });
  force = Option.Counter('--force', 0, { description: 'do not ask before deleting a whole repository' });
  keepSecurityInfo = Option.Boolean('--keep-security-info', false, { description: 'keep the local security info when deleting a repository' });
  saveSpace = Option.Boolean('--save-space', false, { description: 'accepted for borg compatibility (no-op)' });
  checkpointInterval = Option.String('-c,--checkpoint-interval', { validator: isInt, description: 'accepted for borg compatibility (no-op)' });
  considerCheckpoints = Option.Boolean('--consider-checkpoints', false, { description: 'accepted (hoard has no checkpoint archives)' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider first N archives' });
  last = Option.String('--last', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider last N archives' });
  /** REPOSITORY_OR_ARCHIVE then ARCHIVEs: one rest list, since clipanion cannot tell an optional positional from a rest. */
  args = Option.Rest({ name: 'REPOSITORY_OR_ARCHIVE [ARCHIVE...]' });

  override async execute(): Promise<number> {
    if (this.stats && this.quickStats) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '--stats and --quick-stats are mutually exclusive.');
    const [first, ...more] = this.args;
    const target = parseTarget(first, this.context.env);
    const names = target.archive !== undefined ? [target.archive, ...more] : more;
    const filtered = this.prefix !== undefined || this.globArchives !== undefined || this.first !== undefined || this.last !== undefined;
    if (filtered && names.length > 0) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'archive filters (-a, -P, --first, --last) and archive names cannot be combined');
    }
    if (!filtered && names.length === 0) {
      if (this.cacheOnly) return this.deleteCache(target.repo);
      return this.deleteRepository(await Repository.open(target.repo, this.context.env, this.context));
    }
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', () => this.deleteArchives(repo, names));
  }

  /**
   * The archives to delete, from the newest manifest generation: by name (a name the manifest
   * lacks stays a string, which borg 1.4 warns about and skips), or by the filters.
   */
  private choose(repo: Repository, names: string[]): (ManifestArchive | string)[] {
    if (names.length > 0) {
      const unique = [...new Set(names)];
      return unique.map((n) => repo.manifest.archives.find((a) => a.name === n) ?? n);
    }
    const glob = this.globArchives ?? (this.prefix !== undefined ? prefixGlob(this.prefix) : undefined);
    return selectArchives(repo.manifest.archives, {
      ...(glob !== undefined ? { glob } : {}),
      sortBy: this.sortBy,
      ...(this.first !== undefined ? { first: Number(this.first) } : {}),
      ...(this.last !== undefined ? { last: Number(this.last) } : {}),
    });
  }

  private async deleteArchives(repo: Repository, names: string[]): Promise<number> {
    await repo.refreshManifest();
    const entries = this.choose(repo, names);
    const chosen = entries.filter((a): a is ManifestArchive => typeof a !== 'string');
    const report = this.stats || this.quickStats ? await deletedDataReport(repo, chosen, this.context.env, this.quickStats) : undefined;
    let missing = 0;
    entries.forEach((a, i) => {
      const of = `(${i + 1}/${entries.length})`;
      if (typeof a === 'string') {
        missing += 1;
        this.log('warning', `Archive ${a} not found ${of}.`);
      } else if (this.list) this.logger.output('hoard.output.list', `${this.dryRun ? 'Would delete' : 'Deleting'} archive: ${archiveLine(a)} ${of}`);
    });
    if (!this.dryRun && chosen.length > 0) await removeArchives(repo, chosen);
    if (report !== undefined) this.logger.output('hoard.output.stats', report);
    return missing > 0 ? ExitCode.warning : ExitCode.ok;
  }

  /** `--cache-only`: removes this client's cache of the repository, nothing else. */
  private async deleteCache(location: Parameters<typeof Repository.readConfig>[0]): Promise<number> {
    const { config } = await Repository.readConfig(location);
    const dir = repositoryCacheDir(this.context.env, config.id);
    if (this.dryRun) {
      this.log('info', 'Would delete cache.');
      return 0;
    }
    await fs.rm(dir, { recursive: true, force: true });
    this.log('info', 'Cache deleted.');
    return 0;
  }

  private async deleteRepository(repo: Repository): Promise<number> {
    const { config, location } = repo;
    if (config.appendOnly) {
      throw new PermissionDeniedError('HOARD_PERMISSION_DENIED', `${location.text} is an append-only repository: it cannot be deleted`);
    }
    if (this.force === 0) {
      const n = repo.manifest.archives.length;
      const lines = [
        `You asked to DELETE this repository completely, with the ${n} archive${n === 1 ? '' : 's'} in it:`,
        RULE,
        `Repository ID: ${config.id}`,
        `Location: ${location.kind === 'local' ? location.path : location.text}`,
      ];
      if (this.list) {
        lines.push('', 'Archives:');
        if (n === 0) lines.push('(none)');
        for (const a of [...repo.manifest.archives].sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0))) lines.push(archiveLine(a));
      }
      lines.push(RULE, "Type 'YES' if you understand this and want to continue: ");
      await confirm(this.context.env, this.context, lines.join('\n'), 'DELETE_I_KNOW_WHAT_I_AM_DOING', ['YES'], { json: this.logJson });
    }
    const cache = repositoryCacheDir(this.context.env, config.id);
    const security = securityDir(this.context.env, config.id);
    if (this.dryRun) {
      this.log('info', 'Would delete repository.');
      this.log('info', `Would ${this.keepSecurityInfo ? 'keep' : 'delete'} security info.`);
      this.log('info', 'Would delete cache.');
      return 0;
    }
    await this.locked(repo.storage, 'exclusive', () => destroyRepository(repo.storage));
    this.log('info', 'Repository deleted.');
    if (!this.keepSecurityInfo) await fs.rm(security, { recursive: true, force: true });
    await fs.rm(cache, { recursive: true, force: true });
    this.log('info', 'Cache deleted.');
    return 0;
  }
}

/**
 * Deletes every object of a repository, then the store itself. Packs, index and archive objects go
 * first, so a deletion interrupted among them leaves a repository that still opens (its archives
 * damaged) and can be deleted again; the manifest, keys and `config` go last.
 */
async function destroyRepository(storage: Storage): Promise<void> {
  const folders = [...(await storage.list('packs')).map((d) => `packs/${d}`), 'index', 'archives', 'manifest', 'keys'];
  for (const dir of folders) {
    for (const info of await storage.listInfo(dir)) await storage.delete(`${dir}/${info.name}`);
  }
  await storage.delete('config');
  await storage.destroy();
}
