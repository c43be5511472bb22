import { readFileSync } from 'node:fs';

/** hoard's version, from package.json. */
export const version: string = (() => {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  return typeof v === 'string' ? v : '0.0.0';
})();

/** The borg version whose dialect hoard speaks (options, JSON, exit codes): borg 1.4. */
export const BORG_DIALECT = '1.4.0';

/**
 * The second word of `hoard --version`: the borg version hoard speaks, with hoard's own version as a
 * PEP 440 local label (`1.4.0+hoard.0.1.0`), so that wrappers that parse `borg --version` to pick
 * flags (borgmatic, vorta) treat hoard as borg 1.4 (docs/wrappers.md).
 */
export function versionWord(own: string = version): string {
  const label = own.toLowerCase().replace(/[^a-z0-9]+/g, '.').replace(/^\.+|\.+$/g, '');
  return `${BORG_DIALECT}+hoard${label === '' ? '' : `.${label}`}`;
}
