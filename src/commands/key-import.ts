import { Command, Option, UsageError } from 'clipanion';
import * as fs from 'node:fs/promises';
import type { Readable } from 'node:stream';

import { InvalidArgumentError, IoError, NotFoundError } from '../errors.js';
import { installKey, keyedRepository, keyPayload, keyTextFromPayload, openForRepository, parseExport, type KeyedRepository } from '../repository/key-store.js';
import { parseTarget } from '../repository/location.js';
import { getPassphrase } from '../repository/passphrase.js';
import { parsePaperKey, readPaperKeyInteractive, type PaperKey } from '../repository/paper-key.js';
import { HoardCommand } from './base.js';
import { encodeName } from '../fs-names.js';

/** Everything left on `stream`. */
async function readAll(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

/** The text of input file `file`, or of `stdin` for `-`; a missing file is borg's one line. */
async function readInput(file: string, stdin: Readable): Promise<string> {
  if (file === '-') return readAll(stdin);
  const st = await fs.stat(encodeName(file)).catch(() => undefined);
  if (st === undefined) throw new NotFoundError('HOARD_NOT_FOUND', `input file does not exist: ${file}`);
  if (st.isDirectory()) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `'${file}' must be a file, not a directory`);
  return fs.readFile(encodeName(file), 'utf8').catch((e: unknown) => {
    throw new IoError('HOARD_IO', `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  });
}

/** `hoard key import [--paper] [REPOSITORY] [PATH]`: restores the repository's key from an export. */
export class KeyImportCommand extends HoardCommand {
  static override paths = [['key', 'import']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'import the repository key from backup',
    details: `
      Restores the repository's key from an export made by \`hoard key export\`: from PATH, or from
      standard input with \`-\`. The export must be a key of THIS repository, and its passphrase
      must open it (HOARD_PASSPHRASE and its kin, or asked for) and the repository with it; then
      the key is written where the repository's mode keeps it: \`keys/repokey\` in the repository,
      or this repository's file in the keys folder (a new one if there is none). Anything wrong is
      one line and exit code 2, with nothing changed.

      \`--paper\` reads the paper form of \`key export --paper\`: on a terminal it asks for the id
      line and then each numbered line, checking each as typed (an empty line offers to abort);
      otherwise it reads the lines from PATH or standard input and names any line that is wrong.
    `,
    examples: [
      ['Restore a key from a file', 'hoard key import /path/to/repo /safe/place/repo.key'],
      ['Type a paper backup back in', 'hoard key import --paper /path/to/repo'],
    ],
  });

  paper = Option.Boolean('--paper', false, { description: 'interactively import from a backup done with --paper' });
  repo = Option.String({ required: false, name: 'REPOSITORY' });
  file = Option.String({ required: false, name: 'PATH' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.repo, this.context.env);
    if (target.archive !== undefined) throw new UsageError('key import takes a repository, not an archive');
    if (!this.paper && this.file === undefined) throw new UsageError('input file to import key from expected');
    const repo = await keyedRepository(target.repo);
    const { text, what } = this.paper ? await this.readPaper(repo) : { text: await readInput(this.file ?? '-', this.context.stdin), what: this.file ?? '-' };
    const sealed = parseExport(repo, text, what);
    const passphrase = await getPassphrase(this.context.env, this.context, `repository ${target.repo.text}`);
    await openForRepository(repo, sealed, passphrase, what);
    const where = await installKey(repo, this.context.env, keyTextFromPayload(keyPayload(text), repo.config.id));
    this.log('info', `Key imported into ${where}`);
    return 0;
  }

  /** The key file text a paper key spells: typed on a terminal, else read from PATH or standard input. */
  private async readPaper(repo: KeyedRepository): Promise<{ text: string; what: string }> {
    const { stdin } = this.context;
    const interactive = this.file === undefined && (stdin as { isTTY?: boolean }).isTTY === true;
    let paper: PaperKey;
    if (interactive) paper = await readPaperKeyInteractive(this.context, repo.config.id);
    else paper = parsePaperKey(await readInput(this.file ?? '-', stdin));
    if (paper.id.repository !== repo.config.id.slice(0, paper.id.repository.length)) {
      throw new InvalidArgumentError('HOARD_KEY_OTHER_REPOSITORY', `the paper key is for another repository, not for ${repo.location.text}`);
    }
    return { text: keyTextFromPayload(paper.payload, repo.config.id), what: 'the paper key' };
  }
}
