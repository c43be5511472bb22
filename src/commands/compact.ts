import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { compactRepository } from '../repository/compact.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { formatSize } from '../units.js';
import { HoardCommand } from './base.js';

/** `hoard compact REPO`: frees the space of deleted archives. */
export class CompactCommand extends HoardCommand {
  static override paths = [['compact']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'compact the repository: free the space of deleted archives',
    details: `
      \`delete\` and \`prune\` only drop archives from the manifest; their data stays until
      \`compact\` runs. It marks every blob that some archive references, deletes the packs that
      hold none, and rewrites the packs whose unreferenced share exceeds --threshold percent by
      copying their live blobs into new packs. It also removes what interrupted runs left behind.
      It holds the repository's exclusive lock; with -v it reports the space it freed.

      In an append-only repository it deletes nothing. \`--dry-run\` changes nothing and, with
      -v, says how much a run would free. \`--cleanup-commits\` is accepted and does nothing
      (hoard has no commit tags).
    `,
    examples: [
      ['Free the space of deleted archives', 'hoard compact -v /path/to/repo'],
      ['Rewrite only packs that are at least half unused', 'hoard compact --threshold 50 /path/to/repo'],
    ],
  });

  threshold = Option.String('--threshold', '10', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0), t.isAtMost(100)]),
    description: 'rewrite packs whose unused share exceeds PERCENT (default: 10)',
  });
  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'change nothing; with -v, say how much would be freed' });
  cleanupCommits = Option.Boolean('--cleanup-commits', false, { description: 'accepted for borg compatibility (no-op)' });
  target = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    if (target.archive !== undefined) throw new UsageError('compact takes a repository, not an archive');
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    const result = await this.locked(repo.storage, this.dryRun ? 'shared' : 'exclusive', (lock) =>
      compactRepository(repo, { threshold: Number(this.threshold), lock, dryRun: this.dryRun, log: (level, line) => this.log(level, line) }),
    );
    if (this.dryRun) {
      this.log('info', `compaction would free about ${formatSize(result.freed)} repository space (${result.deletedPacks} packs to delete, ${result.rewrittenPacks} to rewrite, ${result.garbagePacks} unlisted).`);
    } else if (!result.appendOnly) {
      this.log(
        'debug',
        `packs: ${result.deletedPacks} deleted, ${result.rewrittenPacks} rewritten into ${result.newPacks}, ${result.garbagePacks} unlisted removed; ` +
          `index objects: ${result.indexObjectsDeleted} replaced by ${result.indexObjectsWritten}; archive objects removed: ${result.garbageArchives}; ` +
          `manifest generations removed: ${result.manifests}; objects spared as younger than the oldest lock: ${result.spared}; temporary files of interrupted writes removed: ${result.temporaries}`,
      );
      this.log('info', `compaction freed about ${formatSize(Math.max(0, result.freed))} repository space.`);
    }
    return result.missing > 0 ? 1 : 0;
  }
}
