import { Command, Option } from 'clipanion';

import { NotFoundError } from '../errors.js';
import { parseTarget } from '../repository/location.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/** `hoard info REPO`: the repository's id, location, encryption and totals. */
export class InfoCommand extends HoardCommand {
  static override paths = [['info']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'show repository or archive information',
    details: `
      Shows the repository's id, location, encryption and number of archives, in borg's layout;
      \`--json\` prints them as JSON with borg's keys. (Sizes and chunk counts come with archives.)
    `,
    examples: [['Show a repository', 'hoard info /path/to/repo']],
  });

  json = Option.Boolean('--json', false, { description: 'format output as JSON' });
  globArchives = Option.String('-a,--glob-archives', { description: 'only consider archive names matching the glob' });
  sortBy = Option.String('--sort-by', { description: 'comma-separated list of sorting keys' });
  first = Option.String('--first', { description: 'consider first N archives after other filters were applied' });
  last = Option.String('--last', { description: 'consider last N archives after other filters were applied' });
  target = Option.String({ required: false, name: 'REPO_OR_ARCHIVE' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    const { config, manifest } = repo;
    if (target.archive !== undefined && !manifest.archives.some((a) => a.name === target.archive)) {
      throw new NotFoundError('HOARD_NO_SUCH_ARCHIVE', `archive ${target.archive} does not exist`);
    }
    const encrypted = config.keyStorage === 'none' ? 'No' : `Yes (${config.encryption})`;
    if (this.json) {
      this.out(
        JSON.stringify(
          {
            encryption: { mode: config.encryption, ...(config.keyStorage === 'keyfile' ? { keyfile: repo.keyLocation } : {}) },
            repository: { id: config.id, last_modified: manifest.timestamp.replace('Z', ''), location: target.repo.text },
          },
          null,
          4,
        ),
      );
      return 0;
    }
    const lines = [
      `Repository ID: ${config.id}`,
      `Location: ${target.repo.kind === 'local' ? target.repo.path : target.repo.text}`,
      `Encrypted: ${encrypted}`,
      ...(config.keyStorage === 'keyfile' && repo.keyLocation !== undefined ? [`Key file: ${repo.keyLocation}`] : []),
      `Archives: ${manifest.archives.length}`,
    ];
    this.out(lines.join('\n'));
    return 0;
  }
}
