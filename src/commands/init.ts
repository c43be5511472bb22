import { Command, Option, UsageError } from 'clipanion';

import { encryptionMode } from '../repository/encryption.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { parseSize } from '../units.js';
import { HoardCommand } from './base.js';
import { relatedSecretsUnsupported } from './related-secrets.js';

/** `hoard init`: makes a new, empty repository. */
export class InitCommand extends HoardCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'initialize an empty repository',
    details: `
      Makes a new repository at REPO (a path; HOARD_REPO when omitted). The folder must not exist or
      must be empty.

      Encryption modes: \`repokey\` keeps the master key, sealed under your passphrase, in the
      repository; \`keyfile\` keeps it in your keys folder (HOARD_KEYS_DIR, default
      ~/.config/hoard/keys). Both encrypt with AES-256-GCM (ChaCha20-Poly1305 where the CPU lacks
      AES instructions; name it with \`repokey-chacha20-poly1305\` to choose it). \`authenticated\`
      stores data in the clear but detects tampering; \`none\` only detects corruption. borg's
      \`-blake2\` names and borg 2's \`-aes-ocb\` names are accepted.

      The passphrase comes from HOARD_PASSPHRASE, HOARD_PASSCOMMAND or HOARD_PASSPHRASE_FD (or
      their BORG_ twins), else it is asked for twice.
    `,
    examples: [
      ['Make an encrypted repository', 'hoard init --encryption=repokey /path/to/repo'],
      ['Keep the key outside the repository', 'hoard init --encryption=keyfile /path/to/repo'],
    ],
  });

  encryption = Option.String('-e,--encryption', { required: true, description: 'select encryption key mode' });
  appendOnly = Option.Boolean('--append-only', false, { description: 'create an append-only mode repository' });
  storageQuota = Option.String('--storage-quota', { description: 'set storage quota of the new repository (e.g. 5G, 1.5T)' });
  makeParentDirs = Option.Boolean('--make-parent-dirs', false, { description: 'create the parent directories of the repository' });
  keyAlgorithm = Option.String('--key-algorithm', {
    description: 'the passphrase KDF: argon2 (pbkdf2 is accepted for borg compatibility and also means argon2id)',
  });
  importRelatedSecrets = Option.String('--import-related-secrets', {
    description: "borg 1.4's related repositories: not supported (exit code 2, see hoard help key export-related-secrets)",
  });
  repo = Option.String({ required: false, name: 'REPO' });

  override async execute(): Promise<number> {
    if (this.importRelatedSecrets !== undefined) throw relatedSecretsUnsupported('--import-related-secrets');
    const mode = encryptionMode(this.encryption);
    if (this.keyAlgorithm !== undefined && !['argon2', 'pbkdf2'].includes(this.keyAlgorithm)) {
      throw new UsageError(`--key-algorithm: expected argon2 or pbkdf2, got "${this.keyAlgorithm}"`);
    }
    const quota = this.storageQuota === undefined ? 0 : parseSize(this.storageQuota);
    if (quota === undefined) throw new UsageError(`--storage-quota: expected a size such as 5G, got "${this.storageQuota}"`);
    // borg's floor: a quota (0 means none) of at least 10 MB.
    if (quota !== 0 && quota < 10_000_000) throw new UsageError(`quota is too small (${this.storageQuota ?? ''}). At least 10M are required.`);
    const target = parseTarget(this.repo, this.context.env);
    if (target.archive !== undefined) throw new UsageError(`init takes a repository, not an archive: ${this.repo ?? ''}`);
    const location = target.repo;
    const keyFile = await Repository.init(
      location,
      { mode, appendOnly: this.appendOnly, storageQuota: quota, makeParentDirs: this.makeParentDirs },
      this.context.env,
      this.context,
    );
    if (mode.keyStorage !== 'none') this.adviseKeyBackup(location.text, keyFile);
    return 0;
  }

  private adviseKeyBackup(repo: string, keyFile: string | undefined): void {
    const where = keyFile === undefined ? `in ${repo}/keys/repokey` : `in ${keyFile}`;
    this.log(
      'warning',
      [
        '',
        `The key of this repository is kept ${where}, sealed under your passphrase.`,
        'Without the key AND the passphrase, nobody can read the backups, including you. So:',
        '  - keep a copy of that key file somewhere safe, away from the repository;',
        '  - write the passphrase down and keep it safe too.',
        '',
      ].join('\n'),
    );
  }
}
