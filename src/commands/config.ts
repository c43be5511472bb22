import { Command, Option, UsageError } from 'clipanion';

import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { saveConfig } from '../repository/config.js';
import { CACHE_KEYS, REPOSITORY_KEYS, listSection, readOnly, resolveKey, type CacheRecord } from '../repository/config-keys.js';
import { parseTarget, type Location } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { loadState, saveState } from '../repository/security.js';
import { HoardCommand } from './base.js';

/** `hoard config REPO NAME [VALUE]`, `--list`, `--delete`: the repository's (or, `--cache`, this client's) settings. */
export class ConfigCommand extends HoardCommand {
  static override paths = [['config']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'get and set configuration values',
    details: `
      Gets, sets and deletes keys of a local repository's config. A NAME is \`section.key\` or
      just \`key\`: the section is \`repository\`, or \`cache\` with --cache. NAME alone prints
      the value, NAME VALUE sets it (under the exclusive lock, as one atomic write), --delete
      NAME sets it back to its default, --list prints every key. No passphrase is needed.

      Settable: \`additional_free_space\` (a size such as 2G: backups stop while that much space
      would not stay free on the repository's file system), \`storage_quota\` (a size of at least
      10M, or 0 for none: backups stop before the repository grows beyond it) and
      \`append_only\` (0 or 1: with 1, delete and prune only hide archives and compact frees
      nothing). Read-only: \`version\`, \`id\`, \`encryption\`, \`suite\`, \`id_algorithm\`,
      \`key_storage\`. With --cache: \`previous_location\` can be set; \`repository\`,
      \`key_type\` and \`manifest_seq\` are read-only.
    `,
    examples: [
      ['Find the repository id', 'hoard config /path/to/repo id'],
      ['Reserve some space', 'hoard config /path/to/repo additional_free_space 2G'],
      ['Make a repository append-only', 'hoard config /path/to/repo append_only 1'],
      ['List the settings', 'hoard config --list /path/to/repo'],
    ],
  });

  cache = Option.Boolean('-c,--cache', false, { description: "get and set values of this client's record of the repository" });
  delete = Option.Boolean('-d,--delete', false, { description: 'delete the key from the config (back to its default)' });
  list = Option.Boolean('-l,--list', false, { description: 'list the configuration of the repository' });
  target = Option.String({ required: false, name: 'REPOSITORY' });
  name = Option.String({ required: false, name: 'NAME' });
  value = Option.String({ required: false, name: 'VALUE' });

  override async execute(): Promise<number> {
    if (this.list && this.delete) throw new UsageError('--list and --delete cannot be combined');
    const target = parseTarget(this.target, this.context.env);
    if (target.archive !== undefined) throw new UsageError('config takes a repository, not an archive');
    if (this.list) {
      if (this.name !== undefined) throw new UsageError('The --list option does not take NAME.');
      return this.cache ? this.cacheConfig(target.repo, undefined) : this.repositoryConfig(target.repo, undefined);
    }
    if (this.name === undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', 'No config key name was provided.');
    if (this.delete && this.value !== undefined) throw new UsageError('--delete takes NAME only, not a VALUE');
    const { key } = resolveKey(this.name, this.cache);
    return this.cache ? this.cacheConfig(target.repo, key) : this.repositoryConfig(target.repo, key);
  }

  /** Prints, sets or deletes `key` of the repository's config (all keys with `key` undefined). */
  private async repositoryConfig(location: Location, key: string | undefined): Promise<number> {
    const { storage, config } = await Repository.readConfig(location);
    if (key === undefined) {
      for (const line of listSection('repository', REPOSITORY_KEYS, config)) this.out(line);
      return 0;
    }
    const spec = REPOSITORY_KEYS[key];
    if (spec === undefined) throw new Error(`unknown key ${key}`);
    if (!this.delete && this.value === undefined) {
      this.out(spec.show(config));
      return 0;
    }
    const change = this.delete ? spec.reset : spec.set;
    if (change === undefined) throw readOnly('repository', key, this.delete);
    const value = this.value ?? '';
    change(config, value); // validate before taking the lock
    await this.locked(storage, 'exclusive', async () => {
      // Read again under the lock: another config change may have come first.
      const current = (await Repository.readConfig(location)).config;
      await saveConfig(storage, change(current, value));
    });
    return 0;
  }

  /** The `--cache` section: this client's security record of the repository. */
  private async cacheConfig(location: Location, key: string | undefined): Promise<number> {
    const { config } = await Repository.readConfig(location);
    const state = await loadState(this.context.env, config.id);
    if (state === undefined) throw new NotFoundError('HOARD_NOT_FOUND', `this client has no record of repository ${location.text} yet (it is made when the repository is first used)`);
    const record: CacheRecord = { repository: config.id, state };
    if (key === undefined) {
      for (const line of listSection('cache', CACHE_KEYS, record)) this.out(line);
      return 0;
    }
    const spec = CACHE_KEYS[key];
    if (spec === undefined) throw new Error(`unknown key ${key}`);
    if (!this.delete && this.value === undefined) {
      this.out(spec.show(record));
      return 0;
    }
    if (this.delete) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `cache.${key} cannot be deleted${spec.set !== undefined ? ' (set it instead)' : ''}`);
    if (spec.set === undefined) throw readOnly('cache', key, false);
    await saveState(this.context.env, config.id, spec.set(record, this.value ?? '').state);
    return 0;
  }
}
