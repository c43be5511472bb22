import { Command, Option, UsageError } from 'clipanion';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { osPath, resolvedPath } from '../fs-names.js';
import { keyedRepository, keyPayload, keyTextFromPayload, readStoredKey } from '../repository/key-store.js';
import { parseTarget } from '../repository/location.js';
import { paperKeyHtml } from '../repository/paper-key-html.js';
import { formatPaperKey } from '../repository/paper-key.js';
import { LocalStorage } from '../storage/local.js';
import { HoardCommand } from './base.js';

/**
 * Writes `text` to `file` as a new file (mode 0600) or over an existing one, atomically: a
 * temporary file beside it is renamed over it. A folder, or a missing parent folder, is refused.
 */
export async function writeExportFile(file: string, text: string): Promise<void> {
  const full = resolvedPath(file);
  const st = await fs.stat(osPath(full)).catch(() => undefined);
  if (st?.isDirectory() === true) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `'${file}' must be a file, not a directory`);
  const parent = await fs.stat(osPath(path.dirname(full))).catch(() => undefined);
  if (parent?.isDirectory() !== true) throw new NotFoundError('HOARD_NOT_FOUND', `${path.dirname(file)}: no such directory`);
  await new LocalStorage(path.dirname(full), { private: true }).put(path.basename(full), Buffer.from(text));
}

/** `hoard key export [--paper | --qr-html] [REPOSITORY] [PATH]`: a backup of the repository's sealed key. */
export class KeyExportCommand extends HoardCommand {
  static override paths = [['key', 'export']];
  static override usage = Command.Usage({
    category: 'Repository',
    description: 'export the repository key for backup',
    details: `
      Writes the repository's key, still sealed under its passphrase, to PATH (mode 0600) or, with
      \`-\` or no PATH, to standard output. Without the key AND the passphrase nobody can read the
      backups: keep a copy of the export and the passphrase in safe places, apart from each other.
      In keyfile mode the key lives only on this machine; in repokey and authenticated modes it is
      in the repository, where an export guards against its loss or damage. No passphrase is
      needed to export.

      The normal form is the key file itself (\`hoard key import REPOSITORY FILE\` reads it).
      \`--paper\` writes numbered lines of hex with a checksum each, for printing and typing back
      with \`hoard key import --paper\`. \`--qr-html\` writes a printable HTML page with a QR code of
      the key file and the paper lines; it needs no network to show.
    `,
    examples: [
      ['Export the key to a file', 'hoard key export /path/to/repo /safe/place/repo.key'],
      ['Print a paper backup', 'hoard key export --paper /path/to/repo | lpr'],
      ['A page with a QR code', 'hoard key export --qr-html /path/to/repo key.html'],
    ],
  });

  paper = Option.Boolean('--paper', false, { description: 'create an export suitable for printing and later type-in' });
  qrHtml = Option.Boolean('--qr-html', false, { description: 'create an HTML file suitable for printing and later type-in or QR scan' });
  repo = Option.String({ required: false, name: 'REPOSITORY' });
  file = Option.String({ required: false, name: 'PATH' });

  override async execute(): Promise<number> {
    if (this.paper && this.qrHtml) throw new UsageError('--paper and --qr-html exclude each other');
    const target = parseTarget(this.repo, this.context.env);
    if (target.archive !== undefined) throw new UsageError('key export takes a repository, not an archive');
    const repo = await keyedRepository(target.repo);
    const stored = await readStoredKey(repo, this.context.env);
    const payload = keyPayload(stored.text);
    const keyText = keyTextFromPayload(payload, repo.config.id);
    const paperText = (): string => formatPaperKey(payload, repo.config.id, target.repo.text);
    const text = this.paper ? paperText() : this.qrHtml ? paperKeyHtml(keyText, paperText(), target.repo.text) : keyText;
    if (this.file === undefined || this.file === '-') this.context.stdout.write(text);
    else await writeExportFile(this.file, text);
    return 0;
  }
}
