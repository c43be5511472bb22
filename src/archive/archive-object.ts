import { CorruptDataError, HoardError, IntegrityError, errorFor } from '../errors.js';
import { compress, decompress, type Key, type Session } from '../native.js';
import { ObjectType } from '../repository/object-types.js';

/** An archive's totals at the time it was made, for `--stats` and `info`. */
export interface ArchiveStats {
  /** Regular files (and stdin streams) backed up. */
  nfiles: number;
  /** Their bytes. */
  original: number;
  /** Stored bytes of their chunks (compressed and sealed), counting shared chunks. */
  compressed: number;
  /** Stored bytes this archive added to the repository. */
  deduplicated: number;
  /** Chunk and tree object references. */
  chunks: number;
  /**
   * The encoded bytes of the archive's trees (its item metadata), which "All archives" counts
   * with the files and "This archive" does not, as borg 1.4 (absent in archives of earlier builds).
   */
  treesOriginal?: number;
  /** The stored bytes of the archive's tree objects, shared ones included (absent as above). */
  treesCompressed?: number;
}

/** The archive object (`archives/<id>`): an archive's metadata and root tree. */
export interface ArchiveMeta {
  version: 1;
  name: string;
  /** The root tree's id, hex; absent for an archive of nothing. */
  root?: string;
  /** The item count of the whole archive. */
  items: number;
  hostname: string;
  username: string;
  /** Start and end of the backup, ISO 8601 UTC with microseconds. */
  start: string;
  end: string;
  /** The archive's time (`--timestamp` or the start), ISO 8601 UTC. */
  time: string;
  commandLine: string[];
  /** The command line of the last `recreate` that made this archive from another. */
  recreateCommandLine?: string[];
  comment: string;
  chunkerParams: string;
  compression: string;
  stats: ArchiveStats;
}

/** The largest archive object a reader accepts. */
const MAX_ARCHIVE = 16 << 20;

/** Serialises, compresses and seals an archive object; returns its id (hex) and sealed bytes. */
export async function sealArchive(key: Key, session: Session, meta: ArchiveMeta): Promise<{ id: string; data: Buffer }> {
  const plain = Buffer.from(JSON.stringify(meta));
  const id = key.chunkId(plain);
  const frame = await compress('zstd,3', plain);
  return { id: id.toString('hex'), data: await session.seal(ObjectType.archive, id, frame) };
}

/** Opens archive object `id` (hex); a tampered or swapped object is an integrity error naming it. */
export async function openArchive(key: Key, id: string, sealed: Buffer): Promise<ArchiveMeta> {
  const what = `archive object ${id}`;
  const frame = await key.open(ObjectType.archive, Buffer.from(id, 'hex'), sealed).catch((e: unknown) => {
    if (e instanceof HoardError) throw errorFor(e.code, `${what}: ${e.message}`);
    throw e;
  });
  const plain = await decompress(frame, MAX_ARCHIVE);
  if (!key.chunkId(plain).equals(Buffer.from(id, 'hex'))) throw new IntegrityError('HOARD_INTEGRITY', `${what} does not match its id`);
  const meta = JSON.parse(plain.toString('utf8')) as ArchiveMeta;
  if (meta.version !== 1 || typeof meta.name !== 'string' || typeof meta.stats !== 'object') {
    throw new CorruptDataError('HOARD_CORRUPT', `${what} is malformed`);
  }
  return meta;
}
