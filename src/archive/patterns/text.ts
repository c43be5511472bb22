/**
 * Text handling of pattern lines as borg (Python) does it: Python's notion of whitespace, its
 * universal-newline line splitting, and borg's `clean_lines`.
 */

/** Python's `str.isspace()` characters, which `str.strip()` removes (not quite JS's `\s`). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING = new RegExp(`^[${PY_SPACE}]+`, 'u');
const TRAILING = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** `s` without leading whitespace (Python's `lstrip()`). */
export function stripStart(s: string): string {
  return s.replace(LEADING, '');
}

/** `s` without leading and trailing whitespace (Python's `strip()`). */
export function strip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/**
 * The patterns of a pattern file's text, as borg's `clean_lines` yields them: lines split at
 * `\n`, `\r\n` or `\r` (Python's universal newlines), whitespace stripped at both ends, empty
 * lines and lines starting with `#` dropped. A leading byte-order mark is dropped too (borg would
 * keep it as part of the first pattern, which then never matches).
 */
export function cleanLines(text: string): string[] {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const out: string[] = [];
  for (const raw of body.split(/\r\n|\r|\n/)) {
    const line = strip(raw);
    if (line !== '' && !line.startsWith('#')) out.push(line);
  }
  return out;
}
