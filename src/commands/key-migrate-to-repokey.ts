import { Command, Option, UsageError } from 'clipanion';

import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/**
 * `hoard key migrate-to-repokey [REPOSITORY]`: borg moves a repository of the old passphrase mode
 * (removed in borg 1.0) to repokey; hoard never had that mode, so there is nothing to migrate.
 * The repository must exist (exit code 2 otherwise); one line says so; exit code 0.
 */
export class KeyMigrateToRepokeyCommand extends HoardCommand {
  static override paths = [['key', 'migrate-to-repokey']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'migrate passphrase mode to repokey (nothing to do for hoard)',
    details: `
      borg uses this to move a repository of the passphrase mode that borg 1.0 removed to repokey
      mode. hoard never had passphrase mode, so there is nothing to migrate: the command checks
      that REPOSITORY is a hoard repository (exit code 2 if not), says in one line that there is
      nothing to migrate and which key mode the repository uses, changes nothing and exits with
      0. (It does not move a keyfile key into the repository.)
    `,
    examples: [['A script written for borg', 'hoard key migrate-to-repokey /path/to/repo']],
  });

  repo = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.repo, this.context.env);
    if (target.archive !== undefined) throw new UsageError('key migrate-to-repokey takes a repository, not an archive');
    const { config } = await Repository.readConfig(target.repo);
    this.log('warning', `${target.repo.text}: nothing to migrate: hoard has no passphrase mode (this repository's key mode is ${config.encryption})`);
    return 0;
  }
}
