import { Command, Option } from 'clipanion';

import { InvalidArgumentError } from '../errors.js';
import { HoardCommand } from './base.js';

/**
 * Why hoard refuses borg 1.4's related secrets (`key export-related-secrets`,
 * `init --import-related-secrets`): they would give two repositories one chunk-id key and chunker
 * seed under separate encryption keys, but hoard derives all three subkeys from the one master key
 * (docs/format.md, section 1), so it cannot.
 */
export function relatedSecretsUnsupported(what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'HOARD_INVALID_ARGUMENT',
    `${what} is not supported: hoard derives a repository's chunk-id and chunker keys from its one master key, so two repositories cannot share them under separate keys`,
  );
}

/** `hoard key export-related-secrets [REPOSITORY] PATH`: accepted as borg 1.4 spells it, and refused with the reason. */
export class KeyExportRelatedSecretsCommand extends HoardCommand {
  static override paths = [['key', 'export-related-secrets']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'export related secrets for related repositories (not supported)',
    details: `
      borg 1.4 writes the chunk-id key and chunker seed of a repository to PATH, so that
      \`init --import-related-secrets\` can make a repository that deduplicates like it under its
      own encryption key. hoard derives all of a repository's keys from one master key, so it
      cannot; this command always ends with exit code 2 and says so.
    `,
    examples: [['What borg would export (refused by hoard)', 'hoard key export-related-secrets /path/to/repo secrets.json']],
  });

  repo = Option.String({ required: false, name: 'REPOSITORY' });
  file = Option.String({ required: false, name: 'PATH' });

  override async execute(): Promise<number> {
    throw relatedSecretsUnsupported('key export-related-secrets');
  }
}
