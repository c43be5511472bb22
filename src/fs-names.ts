import { readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';

/**
 * File names as text, the way borg (Python) holds them: a name is bytes, decoded as UTF-8 with
 * Python's `surrogateescape`, so that each byte that is not part of valid UTF-8 becomes the lone
 * surrogate U+DC80 to U+DCFF, and encoding gives those bytes back. Text and bytes then map one to
 * one: a pattern or a PATH argument with such a byte matches the name that holds it, and two names
 * that differ only in such bytes stay two. Node's own decoding turns each run of such bytes (a
 * maximal invalid sequence) into one U+FFFD.
 */

/** The first lone surrogate of an escaped byte, minus the byte. */
const ESCAPE = 0xdc00;
/** Escaped bytes are 0x80 to 0xff: ASCII is always valid. */
const ESCAPED = /[\udc80-\udcff]/;

/** Whether `b` is a UTF-8 continuation byte. */
function isTail(b: number | undefined): boolean {
  return b !== undefined && b >= 0x80 && b <= 0xbf;
}

/**
 * The length of the valid UTF-8 sequence that starts at `i` of `bytes` (Python's strict
 * decoder: no overlong forms, no encoded surrogates, nothing above U+10FFFF), or 0.
 */
function sequenceAt(bytes: Buffer, i: number): number {
  const b = bytes[i] ?? 0;
  const c1 = bytes[i + 1];
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return isTail(c1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return c1 !== undefined && c1 >= lo && c1 <= hi && isTail(bytes[i + 2]) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return c1 !== undefined && c1 >= lo && c1 <= hi && isTail(bytes[i + 2]) && isTail(bytes[i + 3]) ? 4 : 0;
  }
  return 0;
}

/** `bytes` (a file name, a path, a line of a pattern file) as text, invalid bytes escaped. */
export function decodeName(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  // Node replaces each invalid sequence with U+FFFD: only then is there anything to escape.
  if (!text.includes('\ufffd')) return text;
  let out = '';
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceAt(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += bytes.toString('utf8', start, i) + String.fromCharCode(ESCAPE + (bytes[i] ?? 0));
    i += 1;
    start = i;
  }
  return out + bytes.toString('utf8', start);
}

/**
 * A path (as {@link decodeName} holds it) for a call into the file system: the text itself, or,
 * when it holds escaped bytes (not UTF-8), its bytes, which Node's `fs` takes as they are.
 */
export function osPath(text: string): string | Buffer {
  return ESCAPED.test(text) ? encodeName(text) : text;
}

/** The bytes of `text` as {@link decodeName} made it: UTF-8, escaped bytes given back. */
export function encodeName(text: string): Buffer {
  if (!ESCAPED.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  // By code point: the low half of a surrogate pair is part of its character, not an escape.
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= ESCAPE + 0x80 && cp <= ESCAPE + 0xff) {
      parts.push(Buffer.from(run, 'utf8'), Buffer.from([cp - ESCAPE]));
      run = '';
    } else run += ch;
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/**
 * The process's arguments after the script, as {@link decodeName} reads them from the bytes the
 * kernel holds (`/proc/self/cmdline`): Node's `process.argv` has lost the bytes that are not
 * UTF-8. Where those bytes cannot be read, or do not line up with `process.argv`, it is
 * `process.argv` itself.
 */
export function commandLineArguments(argv: readonly string[] = process.argv): string[] {
  const given = argv.slice(2);
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return given;
  }
  const all: Buffer[] = [];
  let start = 0;
  for (let i = raw.indexOf(0); i >= 0; i = raw.indexOf(0, start)) {
    all.push(raw.subarray(start, i));
    start = i + 1;
  }
  if (start < raw.length) all.push(raw.subarray(start));
  // The arguments are the last entries: Node's own options and the script come before them.
  const mine = all.slice(all.length - given.length);
  if (mine.length !== given.length || mine.some((b, i) => b.toString('utf8') !== given[i])) return given;
  return mine.map(decodeName);
}

/**
 * The current directory as bytes. Node's `process.cwd()` has replaced the bytes that are not
 * UTF-8; only then is the path read again, from `/proc/self/cwd`.
 */
export function currentDirectory(): Buffer {
  const text = process.cwd();
  if (!text.includes('\ufffd')) return Buffer.from(text);
  try {
    return readlinkSync('/proc/self/cwd', { encoding: 'buffer' });
  } catch {
    return Buffer.from(text);
  }
}

/**
 * `given` (a path argument, as {@link decodeName} holds it) made absolute from the current
 * directory, as text: `path.resolve` alone would take Node's `process.cwd()`, which has lost the
 * bytes that are not UTF-8.
 */
export function resolvedPath(given: string): string {
  return path.resolve(decodeName(currentDirectory()), given);
}

/** The bytes of `given` (a path argument, as {@link decodeName} holds it) made absolute from the current directory. */
export function absolutePath(given: string): Buffer {
  return encodeName(resolvedPath(given));
}

/** A lone surrogate: half of a pair without its other half (JavaScript strings may hold one). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` as borg shows a name to people (its `remove_surrogates`): each escaped byte, and any
 * other lone surrogate, as `?`.
 */
export function shownName(text: string): string {
  return text.replace(LONE_SURROGATE, '?');
}
