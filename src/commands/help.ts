import { Command, Option, UsageError } from 'clipanion';

import { HoardCommand } from './base.js';


/** `hoard help [COMMAND...]`: the command list, or one command's usage, details and examples. */
export class HelpCommand extends HoardCommand {
  static override paths = [['help']];
  static override usage = Command.Usage({
    description: 'show help for hoard or one of its commands',
    examples: [
      ['List every command', 'hoard help'],
      ['Show how `benchmark cpu` is used', 'hoard help benchmark cpu'],
    ],
  });

  topic = Option.Rest();

  override async execute(): Promise<number> {
    if (this.topic.length === 0) {
      this.context.stdout.write(this.cli.usage(null));
      return 0;
    }
    const wanted = `${this.cli.binaryName} ${this.topic.join(' ')}`;
    const known = this.cli.definitions().some((d) => d.path === wanted);
    if (!known) throw new UsageError(`no such command: ${this.topic.join(' ')} (see 'hoard help')`);
    return this.cli.run([...this.topic, '--help']);
  }
}
