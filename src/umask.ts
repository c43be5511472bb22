/**
 * borg's `--umask M` (default 0077): the hoard process's file creation mask, so the files and
 * folders hoard makes in repositories and caches (created with modes 0666 and 0777) get
 * `0666 & ~M` and `0777 & ~M`: private by default, group-readable with `--umask 0027`. Key files
 * are always 0600, whatever the mask.
 */

/** borg's default: only the owner reads and writes what it creates. */
export const DEFAULT_UMASK = 0o077;

/** The mask `--umask` gives (`text` as the option holds it), or borg's default. */
export function umaskOf(text: string | undefined): number {
  return text !== undefined && /^[0-7]{1,4}$/.test(text) ? Number.parseInt(text, 8) : DEFAULT_UMASK;
}
