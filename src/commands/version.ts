import { Command, Option } from 'clipanion';

import { InvalidArgumentError } from '../errors.js';
import { parseTarget } from '../repository/location.js';
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

/**
 * `hoard version [REPOSITORY]`: borg 1.4's `CLIENT / SERVER` versions. hoard has no server (every
 * repository is a path), so both are hoard's own; a REPOSITORY given must be a repository, not an archive.
 */
export class VersionReportCommand extends HoardCommand {
  static override paths = [['version']];
  static override usage = Command.Usage({
    description: 'display hoard client version / hoard server version',
    details: `
      Prints \`CLIENT / SERVER\` as borg 1.4 does, each as \`hoard --version\` writes it. hoard
      reaches every repository as a path, with no server process, so both are this hoard's
      version; REPOSITORY is accepted for borg compatibility and only checked to be one.
    `,
    examples: [['Show the versions', 'hoard version /path/to/repo']],
  });

  repo = Option.String({ required: false, name: 'REPOSITORY' });

  override async execute(): Promise<number> {
    if (this.repo !== undefined && parseTarget(this.repo, this.context.env).archive !== undefined) {
      throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `version takes a repository, not an archive: ${this.repo}`);
    }
    this.context.stdout.write(`${versionWord()} / ${versionWord()}\n`);
    return 0;
  }
}
