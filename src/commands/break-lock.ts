import { Command, Option, UsageError } from 'clipanion';

import { parseTarget } from '../repository/location.js';
import { breakLocks } from '../repository/locks.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/** `hoard break-lock REPO`: removes every lock of the repository. */
export class BreakLockCommand extends HoardCommand {
  static override paths = [['break-lock']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'break the repository lock (e.g. in case it was left by a dead hoard process)',
    details: `
      Removes every lock object of the repository, whoever holds it. Use it only when no hoard
      process on any machine is using the repository: a lock of a dead process on this host is
      removed automatically, but one of another host stays until break-lock. No passphrase is
      needed. With -v it names each lock it removed.
    `,
    examples: [['Break the lock of a repository', 'hoard break-lock /path/to/repo']],
  });

  target = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    if (target.archive !== undefined) throw new UsageError('break-lock takes a repository, not an archive');
    const { storage } = await Repository.readConfig(target.repo);
    for (const name of await breakLocks(storage)) this.log('info', `removed the lock ${name}`);
    return 0;
  }
}
