import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { archiveInfoJson, encryptionJson, archiveInfoText, repositoryStatsText, type ArchiveInfo } from '../archive/archive-info.js';
import { cacheStatsJson } from '../archive/stats-report.js';
import { findArchive, loadArchive, repositoryTotals } from '../archive/archives.js';
import { isoMicro } from '../archive/create.js';
import { markArchives } from '../archive/marking.js';
import { selectArchives } from '../archive/select.js';
import { newMarks } from '../native.js';
import { repositoryCacheDir, syncChunkIndex } from '../repository/chunk-cache.js';
import { parseTarget } from '../repository/location.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { Repository } from '../repository/repository.js';
import { securityDir } from '../repository/security.js';
import { HoardCommand } from './base.js';

/** `hoard info REPO` and `hoard info REPO::ARCHIVE`: the repository's, or archives', details and sizes. */
export class InfoCommand extends HoardCommand {
  static override paths = [['info']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'show repository or archive information',
    details: `
      Without an archive: the repository's id, location, encryption, cache and security folders,
      and the sizes of all archives. With REPO::ARCHIVE, or with -a, -P, --first or --last: each
      archive's metadata and sizes, in borg's layout. An archive's deduplicated size is the file
      data it alone references (what deleting it and compacting would free, but for its trees,
      which borg 1.4 leaves out of "This archive" as metadata), computed on demand by marking
      every archive. \`--json\` prints borg's JSON shapes.

      The repository's deduplicated size and unique chunks count every blob the index objects list,
      so the data of deleted archives counts until \`hoard compact\` frees it.
    `,
    examples: [
      ['Show a repository', 'hoard info /path/to/repo'],
      ['Show an archive', 'hoard info /path/to/repo::Monday'],
      ['The last two archives as JSON', 'hoard info --json --last 2 /path/to/repo'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'format output as JSON' });
  considerCheckpoints = Option.Boolean('--consider-checkpoints', false, { description: 'accepted (hoard has no checkpoint archives)' });
  prefix = Option.String('-P,--prefix', { description: 'only consider archive names starting with this prefix (deprecated)' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', 'timestamp', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider first N archives' });
  last = Option.String('--last', { validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]), description: 'consider last N archives' });
  target = Option.String({ required: false, name: 'REPOSITORY_OR_ARCHIVE' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    const filtered = this.prefix !== undefined || this.globArchives !== undefined || this.first !== undefined || this.last !== undefined;
    return this.locked(repo.storage, 'shared', async () => {
      await repo.refreshManifest();
      if (target.archive === undefined && !filtered) return this.repositoryInfo(repo);
      const glob = this.globArchives ?? (this.prefix !== undefined ? `${this.prefix.replace(/[[\]*?]/g, '[$&]')}*` : undefined);
      const chosen =
        target.archive !== undefined
          ? [findArchive(repo, target.archive)]
          : selectArchives(repo.manifest.archives, {
              ...(glob !== undefined ? { glob } : {}),
              sortBy: this.sortBy,
              ...(this.first !== undefined ? { first: Number(this.first) } : {}),
              ...(this.last !== undefined ? { last: Number(this.last) } : {}),
            });
      return this.archivesInfo(repo, chosen);
    });
  }

  private repositoryHeader(repo: Repository): { encryption: Record<string, string>; repository: Record<string, string> } {
    const { config, manifest, location } = repo;
    return {
      encryption: encryptionJson(repo),
      repository: { id: config.id, last_modified: isoMicro(new Date(manifest.timestamp)), location: location.text },
    };
  }

  private async repositoryInfo(repo: Repository): Promise<number> {
    const { config, location } = repo;
    const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, config.id);
    const all = await repositoryTotals(repo, index);
    const cache = repositoryCacheDir(this.context.env, config.id);
    const security = securityDir(this.context.env, config.id);
    if (this.json) {
      const head = this.repositoryHeader(repo);
      this.out(JSON.stringify({ cache: { path: cache, stats: cacheStatsJson(all) }, ...head, security_dir: security }, null, 4));
      return 0;
    }
    const lines = [
      `Repository ID: ${config.id}`,
      `Location: ${location.kind === 'local' ? location.path : location.text}`,
      `Encrypted: ${config.keyStorage === 'none' ? 'No' : `Yes (${config.encryption})`}`,
      ...(config.keyStorage === 'keyfile' && repo.keyLocation !== undefined ? [`Key file: ${repo.keyLocation}`] : []),
      `Cache: ${cache}`,
      `Security dir: ${security}`,
      '-'.repeat(78),
      repositoryStatsText(all),
    ];
    this.out(lines.join('\n'));
    return 0;
  }

  private async archivesInfo(repo: Repository, chosen: ManifestArchive[]): Promise<number> {
    const { index } = await syncChunkIndex(repo.storage, repo.key, this.context.env, repo.config.id);
    const all = await repositoryTotals(repo, index);
    const archives = repo.manifest.archives;
    let deduplicated: number[] = [];
    if (chosen.length > 0) {
      // Each archive marks as its own owner; what only one owner marked is that archive's alone.
      // As borg 1.4 counts "This archive", its trees (metadata) are left out.
      const marks = newMarks(index);
      const treeMarks = newMarks(index);
      await markArchives(repo, index, marks, archives, undefined, treeMarks);
      const trees = treeMarks.totals(archives.length).owners;
      deduplicated = marks.totals(archives.length).owners.map((o, i) => o.bytes - (trees[i]?.bytes ?? 0));
    }
    const infos: ArchiveInfo[] = [];
    for (const a of chosen) {
      const meta = await loadArchive(repo, a);
      infos.push({ id: a.id, meta: { ...meta, name: a.name }, deduplicated: deduplicated[archives.indexOf(a)] ?? 0 });
    }
    if (this.json) {
      const head = this.repositoryHeader(repo);
      this.out(
        JSON.stringify(
          { archives: infos.map(archiveInfoJson), cache: { path: repositoryCacheDir(this.context.env, repo.config.id), stats: cacheStatsJson(all) }, ...head },
          null,
          4,
        ),
      );
      return 0;
    }
    if (infos.length > 0) this.out(infos.map((info) => archiveInfoText(info, info.meta.name, all)).join('\n\n'));
    return 0;
  }
}
