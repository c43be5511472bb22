import { Command, Option, UsageError } from 'clipanion';
import { Writable } from 'node:stream';

import { HoardCommand } from './base.js';
import { HELP_TOPICS } from './help-topics.js';

/** `hoard help [COMMAND... | TOPIC]`: the command list, one command's usage, details and examples, or a topic. */
export class HelpCommand extends HoardCommand {
  static override paths = [['help']];
  static override usage = Command.Usage({
    description: 'show help for hoard, one of its commands, or a topic',
    details: `
      Without arguments, lists every command. With a COMMAND (\`hoard help create\`,
      \`hoard help benchmark cpu\`), shows its usage, options, details and examples, as
      \`hoard COMMAND --help\` does. With a TOPIC, explains it: \`patterns\` (what create,
      extract and list take and leave out), \`placeholders\` (\`{hostname}\`, \`{now}\`, ... in
      archive names) and \`compression\` (the \`-C\` specs).
    `,
    examples: [
      ['List every command', 'hoard help'],
      ['Show how `benchmark cpu` is used', 'hoard help benchmark cpu'],
      ['Explain include and exclude patterns', 'hoard help patterns'],
    ],
  });

  usageOnly = Option.Boolean('--usage-only', false, { description: "only a command's usage and options, without its details and examples" });
  epilogOnly = Option.Boolean('--epilog-only', false, { description: "only a command's details and examples" });
  topic = Option.Rest();

  override async execute(): Promise<number> {
    if (this.topic.length === 0) {
      this.context.stdout.write(this.cli.usage(null));
      this.context.stdout.write(`Help topics\n\n${Object.keys(HELP_TOPICS).map((k) => `  hoard help ${k}\n`).join('')}\n`);
      return 0;
    }
    const text = this.topic.length === 1 ? HELP_TOPICS[this.topic[0] ?? ''] : undefined;
    if (text !== undefined) {
      this.context.stdout.write(text);
      return 0;
    }
    const wanted = `${this.cli.binaryName} ${this.topic.join(' ')}`;
    const known = this.cli.definitions().some((d) => d.path === wanted);
    if (!known) throw new UsageError(`no such command or help topic: ${this.topic.join(' ')} (see 'hoard help')`);
    if (!this.usageOnly && !this.epilogOnly) return this.cli.run([...this.topic, '--help']);
    // As borg: the epilog is the text after the options (here the Details and Examples sections).
    let page = '';
    const capture = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        page += chunk.toString();
        done();
      },
    });
    const rc = await this.cli.run([...this.topic, '--help'], { stdout: capture });
    const at = page.search(/^Details$/m);
    const [usage, epilog] = at < 0 ? [page, ''] : [page.slice(0, at), page.slice(at)];
    this.context.stdout.write(this.epilogOnly ? epilog : usage);
    return rc;
  }
}
