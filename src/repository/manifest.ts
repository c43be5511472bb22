import { CorruptDataError, HoardError, errorFor } from '../errors.js';
import { compress, decompress, type Key, type Session } from '../native.js';
import { ObjectType } from './object-types.js';

/** One archive as the manifest lists it. */
export interface ManifestArchive {
  /** The archive object's id, hex. */
  id: string;
  name: string;
  /** When the archive was made, ISO 8601 in UTC. */
  time: string;
}

/** One manifest generation (`manifest/<seq>`): the archives, and the compact generation. */
export interface Manifest {
  version: 1;
  seq: number;
  /** When this generation was written, ISO 8601 in UTC. */
  timestamp: string;
  archives: ManifestArchive[];
  compactGeneration: number;
}

/** The object name of generation `seq`: zero-padded, so that names sort as numbers. */
export function manifestName(seq: number): string {
  return `manifest/${String(seq).padStart(20, '0')}`;
}

/** The seq of a `manifest/` listing entry, or undefined if the name is not a generation. */
export function manifestSeq(entry: string): number | undefined {
  return /^\d{20}$/.test(entry) ? Number(entry) : undefined;
}

/** The id bound into generation `seq`'s seal, so that no generation can stand in for another. */
function manifestId(key: Key, seq: number): Buffer {
  return key.chunkId(Buffer.from(`hoard manifest ${seq}`));
}

/** Compresses and seals a manifest generation. */
export async function sealManifest(key: Key, session: Session, m: Manifest): Promise<Buffer> {
  const frame = await compress('zstd,3', Buffer.from(JSON.stringify(m)));
  return session.seal(ObjectType.manifest, manifestId(key, m.seq), frame);
}

/** Opens generation `seq`; a blob that fails authentication or names another seq is an error. */
export async function openManifest(key: Key, seq: number, blob: Buffer): Promise<Manifest> {
  const frame = await key.open(ObjectType.manifest, manifestId(key, seq), blob).catch((e: unknown) => {
    if (e instanceof HoardError) throw errorFor(e.code, `${manifestName(seq)}: ${e.message}`);
    throw e;
  });
  const m = JSON.parse((await decompress(frame)).toString('utf8')) as Manifest;
  if (m.version !== 1 || m.seq !== seq || !Array.isArray(m.archives)) {
    throw new CorruptDataError('HOARD_CORRUPT', `${manifestName(seq)} is damaged`);
  }
  return m;
}
