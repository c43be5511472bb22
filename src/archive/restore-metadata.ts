import * as fs from 'node:fs/promises';

import { InvalidArgumentError } from '../errors.js';
import type { Item } from './item.js';
import { owners } from './owners.js';

/** What metadata extract restores. */
export interface MetadataOptions {
  numericIds: boolean;
  noacls: boolean;
  noxattrs: boolean;
  noflags: boolean;
}

const asRoot = process.getuid?.() === 0;

/** Seconds (with fraction) of a nanosecond time, for Node's utimes. */
function seconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}

/** Restores owner, mode and times of an extracted item at `rel`. */
export async function applyMetadata(rel: Buffer, item: Item, opts: MetadataOptions): Promise<void> {
  if (asRoot) {
    // As borg: names win over ids unless --numeric-ids, when the name exists here.
    const uid = (!opts.numericIds && item.user !== undefined ? owners.uid(item.user) : undefined) ?? item.uid;
    const gid = (!opts.numericIds && item.group !== undefined ? owners.gid(item.group) : undefined) ?? item.gid;
    await fs.lchown(rel, uid, gid);
  }
  if (item.type !== 'l') await fs.chmod(rel, item.mode & 0o7777);
  const mtime = seconds(item.mtime);
  await fs.lutimes(rel, item.atime === undefined ? mtime : seconds(item.atime), mtime);
}

/** Makes a fifo or device node for `item` at `rel`. */
export async function makeSpecial(_rel: Buffer, item: Item): Promise<void> {
  throw new InvalidArgumentError('HOARD_UNSUPPORTED', `cannot restore items of type ${item.type} yet`);
}
