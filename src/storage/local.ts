import { randomBytes } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { errnoOf, HoardError, IoError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { osPath } from '../fs-names.js';
import { newOpenFiles, renameExchange, renameNoReplace, type OpenFiles } from '../native.js';
import { crashPoint } from '../testonly.js';
import { makeDirs } from './make-dirs.js';
import { checkName, type ObjectInfo, type Storage } from './storage.js';

/** An OS error about `file` as hoard's typed error. */
function ioError(e: unknown, file: string): HoardError | unknown {
  if (e instanceof HoardError) return e; // already typed (a native fill names its own file)
  const code = errnoOf(e);
  const what = e instanceof Error ? e.message : String(e);
  if (code === 'ENOENT') return new NotFoundError('HOARD_NOT_FOUND', `${file}: no such file or directory`);
  if (code === 'ENOTDIR') return new NotFoundError('HOARD_NOT_FOUND', `${file}: not a directory, or a part of its path is not`);
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError('HOARD_PERMISSION_DENIED', `${file}: permission denied`);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new IoError('HOARD_IO', `${file}: no space left on device`);
  return code === undefined ? e : new IoError('HOARD_IO', `${file}: ${what}`);
}

/**
 * Creates `file` with `mode` less the umask (borg's `--umask`; it must not exist), writes `data`
 * and fsyncs it; a failed write removes it.
 */
async function writeNew(file: string, data: Buffer, mode: number): Promise<void> {
  const handle = await fs.open(osPath(file), 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fs.rm(osPath(file), { force: true });
    throw e;
  }
  await handle.close();
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(osPath(dir), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A repository in a local directory. Each object is a file; a put writes a temporary file in the
 * same directory, fsyncs it, renames (or, for an exclusive create, hard-links) it into place and
 * fsyncs the directory, so a crash leaves either the old object or the new one, never a part.
 */
/**
 * Files (packs) kept open for reading ranges: an extract reads each of a batch's packs in one
 * native call that opens nothing when the pack was read lately (a name that now leads to another
 * file, or none, is opened anew, so nothing stale is read).
 */
const KEPT_FILES = 16;

/** What `link(2)` fails with where the file system has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

export class LocalStorage implements Storage {
  /** The files whose ranges were read last, kept open (see `getRanges`). */
  private openFiles: OpenFiles | undefined;

  /**
   * `options.hardLinks: false` makes exclusive creates rename without replacing instead of trying
   * a hard link first (what a file system without hard links gets; tests use it).
   * `options.private: true` (for key files) makes files 0600 and folders 0700 whatever the
   * umask; otherwise they are made 0666 and 0777 and the umask (borg's `--umask`) narrows them.
   */
  constructor(
    readonly location: string,
    private readonly options: { hardLinks?: boolean; private?: boolean } = {},
  ) {}

  /** The mode new files are made with, before the umask. */
  private get fileMode(): number {
    return this.options.private === true ? 0o600 : 0o666;
  }

  private file(name: string): string {
    checkName(name);
    return path.join(this.location, ...name.split('/'));
  }

  async exists(): Promise<boolean> {
    try {
      await fs.stat(osPath(this.location));
      return true;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw ioError(e, this.location);
    }
  }

  async list(dir: string): Promise<string[]> {
    const full = dir === '' ? this.location : this.file(dir);
    try {
      const names = await fs.readdir(osPath(full));
      return names.filter((n) => !n.startsWith('.tmp-')).sort();
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw ioError(e, full);
    }
  }

  async get(name: string): Promise<Buffer> {
    const file = this.file(name);
    try {
      return await fs.readFile(osPath(file));
    } catch (e) {
      throw ioError(e, file);
    }
  }

  async getRange(name: string, offset: number, length: number): Promise<Buffer> {
    const [buf] = await this.getRanges(name, [{ offset, length }]);
    return buf ?? Buffer.alloc(0);
  }

  async getRanges(name: string, ranges: readonly { offset: number; length: number }[], into?: readonly Buffer[]): Promise<Buffer[]> {
    const file = this.file(name);
    const bufs = ranges.map(({ length }, i) => {
      const given = into?.[i];
      return given !== undefined && given.length === length ? given : Buffer.allocUnsafe(length);
    });
    try {
      this.openFiles ??= newOpenFiles(KEPT_FILES);
      const got = await this.openFiles.readRanges(osPath(file), ranges.map((r) => r.offset), bufs);
      return bufs.map((b, i) => b.subarray(0, got[i] ?? 0));
    } catch (e) {
      throw ioError(e, file);
    }
  }

  /**
   * A path for a new temporary file beside `file` (not made yet); folders it had to make for it
   * are fsynced into their parents.
   */
  private async tempBeside(file: string): Promise<string> {
    const dir = path.dirname(file);
    const made = await makeDirs(dir, this.options.private === true ? 0o700 : 0o777);
    if (made !== undefined) {
      for (let d = dir; d.length >= made.length; d = path.dirname(d)) await fsyncDir(path.dirname(d));
    }
    return path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Writes `data` to a new temporary file beside `file`, fsynced, and returns its path. A failed
   * write leaves no temporary file.
   */
  private async writeTemp(file: string, data: Buffer): Promise<string> {
    const temp = await this.tempBeside(file);
    await writeNew(temp, data, this.fileMode);
    return temp;
  }

  async put(name: string, data: Buffer): Promise<void> {
    await this.putFrom(name, data.length, (temp) => writeNew(temp, data, this.fileMode));
  }

  async putFrom(name: string, _size: number, fill: (tempPath: string) => Promise<void>): Promise<void> {
    const file = this.file(name);
    let temp: string | undefined;
    try {
      temp = await this.tempBeside(file);
      await fill(temp);
      crashPoint(`mid-put:${name.split('/')[0] ?? ''}`);
      await fs.rename(osPath(temp), osPath(file));
      temp = undefined;
      this.openFiles?.forget(osPath(file));
      await fsyncDir(path.dirname(file));
    } catch (e) {
      if (temp !== undefined) await fs.rm(osPath(temp), { force: true });
      throw ioError(e, file);
    }
  }

  stagingFolder(dir: string): string {
    // Objects under `dir` lie one folder deeper at most (packs/XX/ID): a rename from `dir` stays
    // on their file system, and sweepTemporary looks there.
    return this.file(dir);
  }

  /**
   * Gives the written `temp` the name `file` unless the name is taken: a hard link where the file
   * system has them (any Unix file system, and NFS), else `renameat2` with `RENAME_NOREPLACE`
   * (exFAT, CIFS and the like). False if the name was taken.
   */
  private async claim(temp: string, file: string): Promise<boolean> {
    if (this.options.hardLinks !== false) {
      try {
        await fs.link(osPath(temp), osPath(file));
        return true;
      } catch (e) {
        const code = errnoOf(e);
        if (code === 'EEXIST') return false;
        if (code === undefined || !NO_HARD_LINKS.has(code)) throw e;
      }
    }
    return renameNoReplace(osPath(temp), osPath(file));
  }

  async createExclusive(name: string, data: Buffer): Promise<boolean> {
    const file = this.file(name);
    let temp: string | undefined;
    try {
      temp = await this.writeTemp(file, data);
      crashPoint(`mid-put:${name.split('/')[0] ?? ''}`);
      if (!(await this.claim(temp, file))) return false;
      await fsyncDir(path.dirname(file));
      return true;
    } catch (e) {
      throw ioError(e, file);
    } finally {
      if (temp !== undefined) await fs.rm(osPath(temp), { force: true });
    }
  }

  async replaceExisting(name: string, data: Buffer): Promise<boolean> {
    const file = this.file(name);
    let temp: string | undefined;
    try {
      temp = await this.writeTemp(file, data);
      let swapped = await renameExchange(osPath(temp), osPath(file));
      if (swapped === null) {
        // No RENAME_EXCHANGE here (not Linux, or a file system without it): check, then rename.
        // A removal between the two is lost; the holder's next check finds its object again.
        swapped = await fs.access(osPath(file)).then(
          () => true,
          () => false,
        );
        if (swapped) {
          await fs.rename(osPath(temp), osPath(file));
          temp = undefined;
        }
      }
      if (swapped) {
        this.openFiles?.forget(osPath(file));
        await fsyncDir(path.dirname(file));
      }
      return swapped;
    } catch (e) {
      throw ioError(e, file);
    } finally {
      // After a swap the temporary name holds the old object; either way it goes.
      if (temp !== undefined) await fs.rm(osPath(temp), { force: true });
    }
  }

  async delete(name: string): Promise<void> {
    const file = this.file(name);
    try {
      await fs.rm(osPath(file), { force: true });
      // After the removal: a read queued before it may have kept the file open meanwhile.
      this.openFiles?.forget(osPath(file));
    } catch (e) {
      throw ioError(e, file);
    }
  }

  async listInfo(dir: string): Promise<ObjectInfo[]> {
    const full = dir === '' ? this.location : this.file(dir);
    let entries: Dirent[];
    try {
      entries = await fs.readdir(osPath(full), { withFileTypes: true });
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw ioError(e, full);
    }
    const names = entries.filter((d) => d.isFile() && !d.name.startsWith('.tmp-')).map((d) => d.name).sort();
    const out: ObjectInfo[] = [];
    for (let i = 0; i < names.length; i += 64) {
      const stats = await Promise.all(
        names.slice(i, i + 64).map(async (name) => {
          try {
            const st = await fs.stat(osPath(path.join(full, name)));
            return { name, size: st.size, modified: st.mtimeMs };
          } catch (e) {
            if (errnoOf(e) === 'ENOENT') return undefined; // deleted while listed
            throw ioError(e, path.join(full, name));
          }
        }),
      );
      for (const st of stats) if (st !== undefined) out.push(st);
    }
    return out;
  }

  async freeSpace(): Promise<number | undefined> {
    try {
      const st = await fs.statfs(osPath(this.location));
      return st.bavail * st.bsize;
    } catch {
      return undefined; // no such folder yet, or a file system that cannot say
    }
  }

  async sweepTemporary(before: number): Promise<{ count: number; bytes: number }> {
    const swept = { count: 0, bytes: 0 };
    const sweep = async (dir: string, depth: number): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(osPath(dir), { withFileTypes: true });
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return;
        throw ioError(e, dir);
      }
      for (const d of entries) {
        const full = path.join(dir, d.name);
        // Objects lie at most two folders deep (packs/XX/ID).
        if (d.isDirectory() && depth < 2) await sweep(full, depth + 1);
        if (!d.isFile() || !d.name.startsWith('.tmp-')) continue;
        try {
          const st = await fs.stat(osPath(full));
          if (st.mtimeMs >= before) continue;
          await fs.rm(osPath(full), { force: true });
          swept.count += 1;
          swept.bytes += st.size;
        } catch (e) {
          if (errnoOf(e) !== 'ENOENT') throw ioError(e, full);
        }
      }
    };
    await sweep(this.location, 0);
    return swept;
  }

  close(): void {
    this.openFiles?.clear();
  }

  async destroy(): Promise<void> {
    this.close();
    try {
      await fs.rm(osPath(this.location), { recursive: true, force: true });
      await fsyncDir(path.dirname(this.location)).catch(() => undefined);
    } catch (e) {
      throw ioError(e, this.location);
    }
  }
}
