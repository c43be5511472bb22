import { InvalidArgumentError } from '../errors.js';
import type { ManifestArchive } from '../repository/manifest.js';
import { expandPlaceholders } from './placeholders.js';

/** How borg's `-a/--glob-archives`, `--sort-by`, `--first` and `--last` narrow the archives. */
export interface ArchiveSelection {
  glob?: string;
  sortBy?: string;
  first?: number;
  last?: number;
}

/** A shell glob (`*`, `?`, `[...]`) over a whole archive name as a regular expression. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] ?? '';
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** borg's deprecated `-P/--prefix PREFIX` as the glob it stands for: PREFIX (glob characters taken literally), then `*`. */
export function prefixGlob(prefix: string): string {
  return `${prefix.replace(/[[\]*?]/g, '[$&]')}*`;
}

/** borg 1.4's sort keys (`archive` is its alias of `name`; its internal `ts` is not one). */
const SORT_KEYS = new Set(['timestamp', 'archive', 'name', 'id']);

/** The archives `sel` picks, in its order (by time unless `--sort-by` says otherwise). */
export function selectArchives(archives: ManifestArchive[], sel: ArchiveSelection): ManifestArchive[] {
  let out = [...archives];
  if (sel.glob !== undefined) {
    const re = globRegExp(expandPlaceholders(sel.glob.replace(/^sh:/, '')));
    out = out.filter((a) => re.test(a.name));
  }
  const keys = (sel.sortBy ?? 'timestamp').split(',').map((k) => k.trim());
  for (const k of keys) {
    if (!SORT_KEYS.has(k)) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `--sort-by: unknown key ${k} (use timestamp, archive, name or id)`);
  }
  const value = (a: ManifestArchive, k: string): string => (k === 'timestamp' ? a.time : k === 'name' || k === 'archive' ? a.name : a.id);
  out.sort((a, b) => {
    for (const k of keys) {
      const x = value(a, k);
      const y = value(b, k);
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
  // As borg's positive_int_validator: N must be a whole number of at least 1.
  for (const [name, n] of [['--first', sel.first], ['--last', sel.last]] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `${name}: a positive integer is required: ${n}`);
  }
  if (sel.first !== undefined && sel.last !== undefined) throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', '--first and --last cannot be combined');
  if (sel.first !== undefined) out = out.slice(0, sel.first);
  if (sel.last !== undefined) out = out.slice(-sel.last);
  return out;
}
