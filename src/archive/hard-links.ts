import type { Item } from './item.js';

/** One name of a hard-linked file: its archive path's names, and its item. */
export interface LinkMember {
  parts: Buffer[];
  item: Item;
}

/**
 * The order in which a walk of an archive meets two archive paths, given as their names: a
 * directory before what is in it, and siblings by name bytes (the order of a tree's items).
 */
export function walkOrder(a: readonly Buffer[], b: readonly Buffer[]): number {
  for (let i = 0; i < a.length && i < b.length; i += 1) {
    const c = Buffer.compare(a[i] as Buffer, b[i] as Buffer);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** The archive path of `parts`: the names joined by `/`. */
export function joinParts(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p])));
}

/**
 * Makes the name of a hard-linked file that a walk meets first hold its contents, and every other
 * name link to that one (docs/format.md section 10.9), for a writer that met the names in another
 * order. `file` holds the contents now; `links` are its names met later. A link whose item is no
 * longer an `h` item (something else took its path) is left as it is. `fileKept` false: the
 * file's own path was taken by another item since (a tar's later member), so its contents go to
 * the first of the links.
 */
export function contentsFirst(file: LinkMember, links: readonly LinkMember[], fileKept = true): void {
  const fileItem = file.item;
  if (fileItem.type !== '-') return;
  const members = [...(fileKept ? [file] : []), ...links.filter((m) => m.item.type === 'h')].sort((a, b) => walkOrder(a.parts, b.parts));
  const first = members[0];
  if (first === undefined) return;
  const firstPath = joinParts(first.parts);
  for (const { item } of members) {
    if (item === fileItem && item === first.item) continue;
    if (item === first.item) {
      Object.assign(item, { type: '-', mode: (item.mode & 0o7777) | 0o100000, size: fileItem.size, chunks: fileItem.chunks, chunkSizes: fileItem.chunkSizes, csize: fileItem.csize });
      delete item.link;
    } else {
      item.type = 'h';
      item.link = firstPath;
      delete item.chunks;
      delete item.chunkSizes;
      delete item.csize;
      item.size = 0;
    }
  }
}
