import { Command } from 'clipanion';

import { version } from '../version.js';
import { HoardCommand } from './base.js';

/** `hoard --version` / `-V`: prints `hoard VERSION`, as borg prints `borg VERSION`. */
export class VersionCommand extends HoardCommand {
  static override paths = [['--version'], ['-V']];
  static override usage = Command.Usage({ description: 'show the version number and exit' });

  override async execute(): Promise<number> {
    this.context.stdout.write(`hoard ${version}\n`);
    return 0;
  }
}
