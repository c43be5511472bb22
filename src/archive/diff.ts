/**
 * `diff`: the differences between two archives, item by item, as borg 1.4's `ItemDiff` reports
 * them. Both archives' trees are walked side by side in name order; a directory whose tree id is
 * the same in both holds the same items and is not read (unless patterns must see every path).
 */
import type { ChunkIndex } from '../native.js';
import type { Repository } from '../repository/repository.js';
import { fileContents } from './chunk-contents.js';
import { isoTime, formatTime, modeString } from './format.js';
import type { Item } from './item.js';
import { PathLookup, readTrees } from './tree-reader.js';
import { decodeName } from '../fs-names.js';

/** One change of an item: borg's JSON object and its text. */
export interface DiffChange {
  json: Record<string, string | number | null>;
  text: string;
}

/** A path whose items differ, with the changes borg reports (possibly none, see `actual`). */
export interface ItemDifference {
  /** The archive path, raw bytes. */
  path: Buffer;
  changes: DiffChange[];
  /** The items compared (hard links resolved to the file they link to); absent where the path is missing. */
  item1?: Item;
  item2?: Item;
}

/** What `diff` compares. */
export interface DiffOptions {
  /** Compare owners by uid/gid instead of names. */
  numericIds: boolean;
  /** Only contents, links and presence: no owner, mode or time changes. */
  contentOnly: boolean;
  /** Both archives were chunked alike: equal contents have equal chunk lists. */
  sameChunker: boolean;
  /** Whether a path (text form) is compared. */
  included: (path: string) => boolean;
  /** Whether equal subtrees may be skipped (no pattern needs to see their paths). */
  skipEqualTrees: boolean;
  /** A problem that does not stop the diff (a hard link whose file is missing). */
  onWarning: (message: string) => void;
}

const SLASH = Buffer.from('/');

/**
 * A size as borg's `format_file_size`: decimal units, `precision` digits once scaled, an
 * optional `+` for positive values (Python's rounding: exact ties go to the even digit).
 */
export function formatFileSize(num: number, precision = 2, sign = false): string {
  const units = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
  let n = num;
  let prec = 0;
  let unit = units[units.length - 1] ?? '';
  for (const u of units.slice(0, -1)) {
    if (Math.abs(pyRound(n, precision)) < 1000) {
      unit = u;
      break;
    }
    n /= 1000;
    prec = precision;
  }
  return `${sign && num > 0 ? '+' : ''}${pyFixed(n, prec)} ${unit}B`;
}

/** Python's `round(x, digits)`: exact binary ties go to the even neighbour. */
function pyRound(x: number, digits: number): number {
  return Number(pyFixed(x, digits));
}

/** Python's `'%.{digits}f' % x`. */
function pyFixed(x: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = x * scale;
  if (!Number.isInteger(scaled) && Number.isInteger(scaled * 2) && scaled / scale === x) {
    const down = Math.floor(scaled);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / scale).toFixed(digits);
  }
  return x.toFixed(digits);
}

/** The compared time text: borg shows local time to the second. */
function timeText(ns: bigint): string {
  return formatTime(ns);
}

function timeJson(ns: bigint): string {
  const seconds = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
  return isoTime(seconds * 1_000_000_000n);
}

const hasChunks = (i: Item | undefined): boolean => i === undefined || i.type === '-';
const isType = (i: Item | undefined, t: Item['type']): boolean => i !== undefined && i.type === t;

/** borg's `ItemDiff`: whether two items are equal and what changed. `undefined` is a missing item. */
export class ItemDiff {
  readonly changes: DiffChange[] = [];

  private constructor(
    private readonly a: Item | undefined,
    private readonly b: Item | undefined,
    private readonly opts: DiffOptions,
  ) {}

  /** Compares `a` and `b`; `contentEqual` reads contents when chunk lists cannot tell. */
  static async compare(a: Item | undefined, b: Item | undefined, opts: DiffOptions, contentEqual: (a: Item, b: Item) => Promise<boolean>): Promise<ItemDiff | undefined> {
    const d = new ItemDiff(a, b, opts);
    if (await d.equal(contentEqual)) return undefined;
    d.collect();
    return d;
  }

  private owner(i: Item): [string | number | null, string | number | null] {
    return this.opts.numericIds ? [i.uid, i.gid] : [i.user ?? null, i.group ?? null];
  }

  private async equal(contentEqual: (a: Item, b: Item) => Promise<boolean>): Promise<boolean> {
    const { a, b } = this;
    if (a === undefined || b === undefined) return a === b;
    if (!bufEq(a.target, b.target)) return false;
    if (!this.opts.contentOnly) {
      if (a.mode !== b.mode || a.ctime !== b.ctime || a.mtime !== b.mtime) return false;
      const [u1, g1] = this.owner(a);
      const [u2, g2] = this.owner(b);
      if (u1 !== u2 || g1 !== g2) return false;
    }
    if (a.type === '-' && b.type === '-') {
      if (this.opts.sameChunker) return bufEq(a.chunks, b.chunks);
      if (a.size !== b.size) return false;
      return contentEqual(a, b);
    }
    return true;
  }

  private push(json: Record<string, string | number | null>, text: string): void {
    this.changes.push({ json, text });
  }

  private presence(kind: string, test: (i: Item | undefined) => boolean): void {
    const { a, b } = this;
    if (!test(a) && !test(b)) return;
    if (a !== undefined && b === undefined) this.push({ type: `removed ${kind}` }, `removed ${kind}`);
    else if (a === undefined && b !== undefined) this.push({ type: `added ${kind}` }, `added ${kind}`);
  }

  private collect(): void {
    const { a, b } = this;
    if (isType(a, 'l') || isType(b, 'l')) {
      const before = this.changes.length;
      this.presence('link', (i) => isType(i, 'l'));
      if (this.changes.length === before && a?.target !== undefined && b?.target !== undefined && !a.target.equals(b.target)) {
        this.push({ type: 'changed link' }, 'changed link');
      }
    }
    if (hasChunks(a) && hasChunks(b)) this.content();
    this.presence('directory', (i) => isType(i, 'd'));
    this.presence('blkdev', (i) => isType(i, 'b'));
    this.presence('chrdev', (i) => isType(i, 'c'));
    this.presence('fifo', (i) => isType(i, 'p'));
    if (a === undefined || b === undefined || this.opts.contentOnly) return;
    const [u1, g1] = this.owner(a);
    const [u2, g2] = this.owner(b);
    if (u1 !== u2 || g1 !== g2) {
      this.push({ type: 'owner', old_user: u1, old_group: g1, new_user: u2, new_group: g2 }, `[${py(u1)}:${py(g1)} -> ${py(u2)}:${py(g2)}]`);
    }
    if (a.mode !== b.mode) {
      const m1 = modeString(a.mode);
      const m2 = modeString(b.mode);
      this.push({ type: 'mode', old_mode: m1, new_mode: m2 }, `[${m1} -> ${m2}]`);
    }
    for (const attr of ['ctime', 'mtime'] as const) {
      const t1 = a[attr];
      const t2 = b[attr];
      if (t1 !== undefined && t2 !== undefined && t1 !== t2) {
        this.push({ type: attr, [`old_${attr}`]: timeJson(t1), [`new_${attr}`]: timeJson(t2) }, `[${attr}: ${timeText(t1)} -> ${timeText(t2)}]`);
      }
    }
  }

  private content(): void {
    const { a, b } = this;
    if (a === undefined && b !== undefined) {
      this.push({ type: 'added', size: b.size }, `added ${formatFileSize(b.size).padStart(13)}`);
      return;
    }
    if (b === undefined && a !== undefined) {
      this.push({ type: 'removed', size: a.size }, `removed ${formatFileSize(a.size).padStart(11)}`);
      return;
    }
    if (a === undefined || b === undefined) return;
    if (!this.opts.sameChunker) {
      this.push({ type: 'modified' }, 'modified');
      return;
    }
    const ids1 = chunkIdSet(a);
    const ids2 = chunkIdSet(b);
    const added = sizeOf(b, (id) => !ids1.has(id));
    const removed = sizeOf(a, (id) => !ids2.has(id));
    this.push({ type: 'modified', added, removed }, `${formatFileSize(added, 1, true).padStart(9)} ${formatFileSize(-removed, 1, true).padStart(9)}`);
  }
}

/** Python's `str()` of an owner value (`None` when absent). */
function py(v: string | number | null): string {
  return v === null ? 'None' : String(v);
}

function bufEq(x: Buffer | undefined, y: Buffer | undefined): boolean {
  return x === undefined || y === undefined ? x === y : x.equals(y);
}

function chunkIdSet(i: Item): Set<string> {
  const out = new Set<string>();
  const c = i.chunks ?? Buffer.alloc(0);
  for (let k = 0; k + 32 <= c.length; k += 32) out.add(c.toString('hex', k, k + 32));
  return out;
}

function sizeOf(i: Item, take: (id: string) => boolean): number {
  const c = i.chunks ?? Buffer.alloc(0);
  const sizes = i.chunkSizes ?? new Uint32Array(0);
  let n = 0;
  for (let k = 0; k < sizes.length; k += 1) if (take(c.toString('hex', k * 32, k * 32 + 32))) n += sizes[k] ?? 0;
  return n;
}

/** Whether a change is real: borg leaves out a modification that added and removed nothing. */
export function isActualChange(c: DiffChange): boolean {
  return !(c.json.type === 'modified' && c.json.added === 0 && c.json.removed === 0);
}

/** Reads both files' contents and compares them (chunker parameters differ). */
async function contentsEqual(repo: Repository, index: ChunkIndex, a: Item, b: Item): Promise<boolean> {
  const pieces = async function* (i: Item): AsyncGenerator<Buffer> {
    for await (const batch of fileContents(repo, index, i.chunks ?? Buffer.alloc(0), i.chunkSizes ?? new Uint32Array(0))) yield* batch;
  };
  const ia = pieces(a);
  const ib = pieces(b);
  let x: Buffer = Buffer.alloc(0);
  let y: Buffer = Buffer.alloc(0);
  for (;;) {
    if (x.length === 0) {
      const n = await ia.next();
      if (n.done === true) break;
      x = n.value;
      continue;
    }
    if (y.length === 0) {
      const n = await ib.next();
      if (n.done === true) return false;
      y = n.value;
      continue;
    }
    const len = Math.min(x.length, y.length);
    if (!x.subarray(0, len).equals(y.subarray(0, len))) return false;
    x = x.subarray(len);
    y = y.subarray(len);
  }
  if (y.length > 0) return false;
  for (;;) {
    const n = await ib.next();
    if (n.done === true) return true;
    if (n.value.length > 0) return false;
  }
}

/**
 * The differences between the archives with root trees `root1` and `root2`, in borg's order:
 * paths in both archives (name order, depth first), then paths only in the second (added),
 * then paths only in the first (removed).
 */
export async function diffArchives(repo: Repository, index: ChunkIndex, root1: Buffer | undefined, root2: Buffer | undefined, opts: DiffOptions): Promise<ItemDifference[]> {
  const common: ItemDifference[] = [];
  const added: ItemDifference[] = [];
  const removed: ItemDifference[] = [];
  const sides: [PathLookup, PathLookup] = [new PathLookup(repo, index, root1), new PathLookup(repo, index, root2)];
  const equalContents = (a: Item, b: Item): Promise<boolean> => contentsEqual(repo, index, a, b);

  /** A hard link as the file it links to (borg compares the file). */
  const resolve = async (i: Item | undefined, path: Buffer, side: PathLookup): Promise<Item | undefined> => {
    if (i?.type !== 'h' || i.link === undefined) return i;
    const target = await side.find(i.link);
    if (target?.type !== '-') {
      opts.onWarning(`cannot find hardlink source for ${decodeName(path)} (${decodeName(i.link)}), skipping compare.`);
      return undefined;
    }
    return { ...target, name: i.name };
  };

  const compare = async (path: Buffer, x: Item | undefined, y: Item | undefined): Promise<void> => {
    const a = x === undefined || x.implied ? undefined : x;
    const b = y === undefined || y.implied ? undefined : y;
    if (a === undefined && b === undefined) return;
    if (!opts.included(decodeName(path))) return;
    const ra = await resolve(a, path, sides[0]);
    const rb = await resolve(b, path, sides[1]);
    if ((a !== undefined && ra === undefined) || (b !== undefined && rb === undefined)) return;
    const d = await ItemDiff.compare(ra, rb, opts, equalContents);
    if (d === undefined) return;
    const entry: ItemDifference = { path, changes: d.changes, ...(ra !== undefined ? { item1: ra } : {}), ...(rb !== undefined ? { item2: rb } : {}) };
    (ra === undefined ? added : rb === undefined ? removed : common).push(entry);
  };

  const walk = async (prefix: Buffer, items1: Item[], items2: Item[]): Promise<void> => {
    const pairs: { path: Buffer; a?: Item; b?: Item }[] = [];
    let i = 0;
    let j = 0;
    while (i < items1.length || j < items2.length) {
      const a = items1[i];
      const b = items2[j];
      const order = a === undefined ? 1 : b === undefined ? -1 : Buffer.compare(a.name, b.name);
      const name = (order <= 0 ? a?.name : b?.name) ?? Buffer.alloc(0);
      const path = prefix.length === 0 ? name : Buffer.concat([prefix, SLASH, name]);
      pairs.push({ path, ...(order <= 0 && a !== undefined ? { a } : {}), ...(order >= 0 && b !== undefined ? { b } : {}) });
      if (order <= 0) i += 1;
      if (order >= 0) j += 1;
    }
    // Subtrees of one level are read together.
    const want1: Buffer[] = [];
    const want2: Buffer[] = [];
    const subs: { path: Buffer; k1: number; k2: number }[] = [];
    for (const p of pairs) {
      const t1 = p.a?.type === 'd' ? p.a.tree : undefined;
      const t2 = p.b?.type === 'd' ? p.b.tree : undefined;
      if (t1 === undefined && t2 === undefined) continue;
      if (opts.skipEqualTrees && t1 !== undefined && t2 !== undefined && t1.equals(t2)) continue;
      subs.push({ path: p.path, k1: t1 === undefined ? -1 : want1.push(t1) - 1, k2: t2 === undefined ? -1 : want2.push(t2) - 1 });
    }
    const [read1, read2] = await Promise.all([want1.length > 0 ? readTrees(repo, index, want1) : [], want2.length > 0 ? readTrees(repo, index, want2) : []]);
    const children = new Map<Buffer, { c1: Item[]; c2: Item[] }>(subs.map((s) => [s.path, { c1: read1[s.k1] ?? [], c2: read2[s.k2] ?? [] }]));
    for (const p of pairs) {
      await compare(p.path, p.a, p.b);
      const c = children.get(p.path);
      if (c !== undefined) await walk(p.path, c.c1, c.c2);
    }
  };

  const [top1 = []] = root1 === undefined ? [[]] : await readTrees(repo, index, [root1]);
  const [top2 = []] = root2 === undefined ? [[]] : await readTrees(repo, index, [root2]);
  if (!(opts.skipEqualTrees && root1 !== undefined && root2 !== undefined && root1.equals(root2))) await walk(Buffer.alloc(0), top1, top2);
  return [...common, ...added, ...removed];
}
