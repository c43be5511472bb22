import { Command, Option, UsageError } from 'clipanion';

import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/**
 * `hoard upgrade [options] [REPOSITORY]`: borg converts attic and borg 0.xx repositories and
 * turns manifest and archive authentication (TAM) on or off; hoard has one format, which
 * authenticates every object always, so there is never anything to do. Every borg 1.4 option is
 * accepted; the repository must exist (exit code 2 otherwise); one line says so; exit code 0.
 */
export class UpgradeCommand extends HoardCommand {
  static override paths = [['upgrade']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'upgrade a repository from a previous version (nothing to do for hoard)',
    details: `
      borg's upgrade converts attic and borg 0.xx repositories, and \`--tam\`, \`--archives-tam\`
      and \`--disable-tam\` switch the authentication of the manifest and archives. hoard has a
      single repository format, which authenticates every object (manifest and archives
      included) and cannot be switched off, so there is nothing to upgrade. The command accepts
      borg 1.4's options, checks that REPOSITORY is a hoard repository (exit code 2 if not),
      says in one line that there is nothing to upgrade, changes nothing and exits with 0.
    `,
    examples: [['A script written for borg', 'hoard upgrade --tam /path/to/repo']],
  });

  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'do not change the repository (it never changes)' });
  inplace = Option.Boolean('-i,--inplace', false, { description: 'accepted for borg compatibility (no-op)' });
  force = Option.Boolean('--force', false, { description: 'accepted for borg compatibility (no-op)' });
  tam = Option.Boolean('--tam', false, { description: 'accepted: hoard always authenticates the manifest' });
  disableTam = Option.Boolean('--disable-tam', false, { description: 'accepted: hoard cannot turn authentication off' });
  checkTam = Option.Boolean('--check-tam', false, { description: 'accepted: every object is authenticated on every read' });
  archivesTam = Option.Boolean('--archives-tam', false, { description: 'accepted: hoard always authenticates archives' });
  checkArchivesTam = Option.Boolean('--check-archives-tam', false, { description: 'accepted: every archive is authenticated on every read' });
  repo = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.repo, this.context.env);
    if (target.archive !== undefined) throw new UsageError('upgrade takes a repository, not an archive');
    const { config } = await Repository.readConfig(target.repo);
    this.log('warning', `${target.repo.text}: nothing to upgrade: hoard has one repository format (version ${config.version}), which authenticates every object`);
    return 0;
  }
}
