import { Command, Option, UsageError } from 'clipanion';

import { findArchive, loadArchive } from '../archive/archives.js';
import { sealArchive } from '../archive/archive-object.js';
import { expandPlaceholders } from '../archive/placeholders.js';
import { ExistsError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { parseTarget } from '../repository/location.js';
import { archiveName } from '../repository/objects.js';
import { Repository } from '../repository/repository.js';
import { HoardCommand } from './base.js';

/** Refuses an archive name borg refuses: empty, with `/` or `::`, or with surrounding white space. */
export function checkArchiveName(name: string): void {
  if (name === '' || name.includes('/') || name.includes('::') || name.trim() !== name || /[\0-\x1f]/.test(name)) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `invalid archive name: ${JSON.stringify(name)}`);
  }
}

/** `hoard rename REPO::OLD NEW`: gives an archive a new name. */
export class RenameCommand extends HoardCommand {
  static override paths = [['rename']];
  static override usage = Command.Usage({
    category: 'Archives',
    description: 'rename an archive',
    details: `
      Renames the archive. The new name may contain placeholders ({now}, {hostname}, ...) and must
      not be taken. As in borg, the archive gets a new fingerprint (its metadata names it); its data
      is not copied.
    `,
    examples: [['Rename an archive', 'hoard rename /path/to/repo::Monday Monday-old']],
  });

  target = Option.String({ name: 'ARCHIVE' });
  newName = Option.String({ name: 'NEWNAME' });

  override async execute(): Promise<number> {
    const target = parseTarget(this.target, this.context.env);
    if (target.archive === undefined) throw new UsageError('an archive is required: REPO::ARCHIVE NEWNAME');
    const oldName = target.archive;
    const newName = expandPlaceholders(this.newName);
    checkArchiveName(newName);
    const repo = await Repository.open(target.repo, this.context.env, this.context);
    return this.locked(repo.storage, 'shared', async () => {
      await repo.refreshManifest();
      const entry = findArchive(repo, oldName);
      if (repo.manifest.archives.some((a) => a.name === newName)) throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${newName} already exists`);
      const meta = await loadArchive(repo, entry);
      // The archive object names the archive, so the renamed one is a new object (a new id); the
      // old object becomes garbage for compact once the manifest no longer lists it.
      const sealed = await sealArchive(repo.key, repo.key.newSession(), { ...meta, name: newName });
      await repo.storage.put(archiveName(sealed.id), sealed.data);
      await repo.commit((m) => {
        if (!m.archives.some((a) => a.id === entry.id)) throw new NotFoundError('HOARD_NO_SUCH_ARCHIVE', `Archive ${oldName} does not exist`);
        if (m.archives.some((a) => a.name === newName)) throw new ExistsError('HOARD_ARCHIVE_EXISTS', `Archive ${newName} already exists`);
        return {
          archives: m.archives.map((a) => (a.id === entry.id ? { id: sealed.id, name: newName, time: a.time } : a)),
          compactGeneration: m.compactGeneration,
        };
      });
      return 0;
    });
  }
}
