import { Command, Option, UsageError } from 'clipanion';

import { envVar } from '../context.js';
import { keyedRepository, openForRepository, readStoredKey, resealKey } from '../repository/key-store.js';
import { parseTarget } from '../repository/location.js';
import { getPassphrase, newPassphrase, type Passphrase, type PromptIo } from '../repository/passphrase.js';
import { canonical } from '../repository/repository.js';
import { checkBeforeOpen } from '../repository/security.js';
import { HoardCommand } from './base.js';

/** The new passphrase: `HOARD_NEW_PASSPHRASE` (or `BORG_NEW_PASSPHRASE`), else as for a new key. */
async function nextPassphrase(env: NodeJS.ProcessEnv, io: PromptIo): Promise<Passphrase> {
  const direct = envVar(env, 'NEW_PASSPHRASE');
  if (direct !== undefined) return { value: Buffer.from(direct, 'utf8'), source: 'environment' };
  return newPassphrase(env, io);
}

/** `hoard key change-passphrase [REPOSITORY]`: seals the repository's key under a new passphrase. */
export class KeyChangePassphraseCommand extends HoardCommand {
  static override paths = [['key', 'change-passphrase']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'change the repository passphrase',
    details: `
      Opens the repository's key with its passphrase and seals the same key again under a new one
      (with a fresh salt), replacing the key file (keys/repokey, or the keyfile) atomically. The
      master key does not change, so the data need not be rewritten; but an export of the key made
      before still opens with the OLD passphrase.

      The new passphrase comes from HOARD_NEW_PASSPHRASE (or BORG_NEW_PASSPHRASE); where it is
      unset, as in borg, from HOARD_PASSPHRASE and its kin, else it is asked for twice.
    `,
    examples: [['Change the passphrase', 'hoard key change-passphrase /path/to/repo']],
  });

  repo = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    const { env } = this.context;
    const target = parseTarget(this.repo, env);
    if (target.archive !== undefined) throw new UsageError('key change-passphrase takes a repository, not an archive');
    const repo = await keyedRepository(target.repo);
    await checkBeforeOpen(env, repo.config, canonical(target.repo));
    const stored = await readStoredKey(repo, env);
    const old = await getPassphrase(env, this.context, `repository ${target.repo.text}`);
    const master = await openForRepository(repo, stored.sealed, old, stored.where);
    await resealKey(repo, env, stored, master, await nextPassphrase(env, this.context));
    this.log('info', 'Key updated');
    if (repo.config.keyStorage === 'keyfile') this.log('info', `Key location: ${stored.where}`);
    return 0;
  }
}
