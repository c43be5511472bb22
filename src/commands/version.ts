import { Command } from 'clipanion';

import { versionWord } from '../version.js';
import { HoardCommand } from './base.js';

/**
 * `hoard --version` / `-V`: prints `hoard 1.4.0+hoard.VERSION`, as borg prints `borg VERSION`: the
 * borg version whose dialect hoard speaks, with hoard's own as a local label (docs/wrappers.md).
 */
export class VersionCommand extends HoardCommand {
  static override paths = [['--version'], ['-V']];
  static override usage = Command.Usage({
    description: 'show the version number and exit',
    details: `
      Prints \`hoard 1.4.0+hoard.VERSION\`: the borg version whose command line, JSON and exit
      codes hoard speaks, then hoard's own version after \`+hoard.\`. Wrappers that read
      \`borg --version\` to choose their flags (borgmatic, vorta) take hoard for borg 1.4.
    `,
    examples: [['Show the version', 'hoard --version']],
  });

  override async execute(): Promise<number> {
    this.context.stdout.write(`hoard ${versionWord()}\n`);
    return 0;
  }
}
