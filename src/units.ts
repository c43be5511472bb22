/** Sizes as borg writes and reads them: decimal units (kB, MB, GB), binary ones (KiB, MiB, GiB). */
import { AsyncLocalStorage } from 'node:async_hooks';

const DECIMAL: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
const BINARY: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

/** Bytes in a size such as `1GB`, `500M`, `10MiB`, `4096`; `undefined` if it is not one. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKMGTP]?)(i?)B?\s*$/.exec(text);
  if (!m || m[1] === undefined) return undefined;
  const unit = (m[2] ?? '').toUpperCase();
  const factor = m[3] ? BINARY[unit] : DECIMAL[unit];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `bytes` in gigabytes as borg's `benchmark cpu` prints them: `1GB`, `0.1GB`, `0.01GB`. */
export function formatGB(bytes: number): string {
  return `${Number((bytes / 1e9).toPrecision(3))}GB`;
}

/**
 * How the running command writes sizes: under borg's `--iec`, in powers of 1024. src/cli.ts runs
 * a command inside it only under `--iec`; outside it (by default) sizes are decimal.
 */
export const sizeUnits = new AsyncLocalStorage<{ iec: boolean }>();

/**
 * `bytes` as borg's `--stats` prints sizes: `637 B`, `100.50 kB`, `10.00 MB` (powers of 1000),
 * or with `--iec` (see {@link sizeUnits}) `100.50 KiB`, `10.00 MiB` (powers of 1024).
 */
export function formatSize(bytes: number, iec: boolean = sizeUnits.getStore()?.iec ?? false): string {
  const units = iec ? ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'] : ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
  const power = iec ? 1024 : 1000;
  let n = bytes;
  let prec = 0;
  let unit = units[units.length - 1] ?? '';
  for (const u of units.slice(0, -1)) {
    if (Math.abs(Number(n.toFixed(2))) < power) {
      unit = u;
      break;
    }
    n /= power;
    prec = 2;
  }
  return `${n.toFixed(prec)} ${unit}B`;
}
