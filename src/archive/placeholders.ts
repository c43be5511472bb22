/**
 * borg's placeholders (`borg help placeholders`) for archive names, repository locations, `--glob-archives`,
 * `--comment` and the like: `{hostname}`, `{fqdn}`, `{reverse-fqdn}`, `{now}`, `{utcnow}` (with an
 * optional strftime pattern, `{now:%Y-%m-%d}`), `{unixtime}`, `{user}`, `{pid}`, `{uuid4}`, the
 * `{borg...}` version keys, and hoard's own `{hoardversion}`. Other fields take Python format specs
 * (`{pid:08d}`), and `{{`/`}}` are literal braces.
 */
import { randomUUID } from 'node:crypto';
import { lookup, lookupService } from 'node:dns/promises';
import { hostname as osHostname, userInfo } from 'node:os';

import { InvalidArgumentError } from '../errors.js';
import { BORG_DIALECT, version as hoardVersion } from '../version.js';
import { type FormatValue, type SelfFormatting, formatWithSpec } from './format-spec.js';
import { type BrokenDownTime, localTime, strftime, utcTime } from './strftime.js';
import { parseTemplate } from './template.js';

/** The borg version hoard answers as in `{borgversion}` and its kin: the 1.4 dialect it speaks. */
export { BORG_DIALECT };

/** What placeholders expand to; anything left out comes from the system. */
export interface PlaceholderContext {
  /** The moment of this command run, shared by `{now}`, `{utcnow}` and `{unixtime}`. Default: now. */
  now?: Date;
  /** The short host name. Default: the system host name up to its first dot. */
  hostname?: string;
  /** The fully qualified host name. Default: the system host name (see {@link lookupFqdn}). */
  fqdn?: string;
  /** The user name. Default: the name of the process's user, or its uid when it has none. */
  user?: string;
  /** Default: this process's id. */
  pid?: number;
  /** The text of `{uuid4}`. Default: a random UUID, the same for every `{uuid4}` of one text. */
  uuid4?: string;
  /** The text of `{hoardversion}`. Default: hoard's version. */
  hoardVersion?: string;
}

/** The placeholder keys, in the order `help placeholders` lists them. */
export const PLACEHOLDER_KEYS: readonly string[] = Object.freeze([
  'hostname',
  'fqdn',
  'reverse-fqdn',
  'now',
  'utcnow',
  'unixtime',
  'user',
  'pid',
  'uuid4',
  'borgversion',
  'borgmajor',
  'borgminor',
  'borgpatch',
  'hoardversion',
]);

/** A time that formats as borg's placeholders do: ISO 8601 without microseconds, or a strftime pattern. */
class PlaceholderTime implements SelfFormatting {
  constructor(private readonly time: BrokenDownTime) {}

  formatSpec(spec: string): string {
    return strftime(spec === '' ? '%Y-%m-%dT%H:%M:%S' : spec, this.time);
  }
}

function systemUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

/**
 * Expands the placeholders of `text`. Throws {@link InvalidArgumentError} for an unknown placeholder, a
 * malformed text, or a spec or time pattern that does not suit its value.
 */
export function expandPlaceholders(text: string, ctx: PlaceholderContext = {}): string {
  const parts = parseTemplate(text, 'placeholder text');
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  const now = ctx.now ?? new Date();
  const ms = now.getTime();
  const seconds = Math.floor(ms / 1000);
  const micros = (ms - seconds * 1000) * 1000;
  const fqdn = (): string => ctx.fqdn ?? osHostname();
  const [major = '0', minor = '0', patch = '0'] = BORG_DIALECT.split('.');
  let uuid: string | undefined;
  const values: Record<string, () => FormatValue> = {
    hostname: () => ctx.hostname ?? osHostname().split('.')[0] ?? '',
    fqdn,
    'reverse-fqdn': () => fqdn().split('.').reverse().join('.'),
    now: () => new PlaceholderTime(localTime(seconds, micros, true)),
    utcnow: () => new PlaceholderTime(utcTime(seconds, micros)),
    unixtime: () => Math.trunc(ms / 1000),
    user: () => ctx.user ?? systemUser(),
    pid: () => ctx.pid ?? process.pid,
    uuid4: () => (uuid ??= ctx.uuid4 ?? randomUUID()),
    borgversion: () => BORG_DIALECT,
    borgmajor: () => major,
    borgminor: () => `${major}.${minor}`,
    borgpatch: () => `${major}.${minor}.${patch}`,
    hoardversion: () => ctx.hoardVersion ?? hoardVersion,
  };
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const get = values[part.key];
    if (get === undefined) {
      throw new InvalidArgumentError(
        'HOARD_INVALID_ARGUMENT',
        `unknown placeholder {${part.key}} in ${JSON.stringify(text)} (known placeholders: ${PLACEHOLDER_KEYS.join(', ')})`,
      );
    }
    out += formatWithSpec(get(), part.spec);
  }
  return out;
}

/**
 * The fully qualified name of `host` (default: the system host name), as borg finds it: the
 * canonical name its address resolves back to, when that has a dot; else `host` itself. Gives up
 * after `timeoutMs`.
 */
export async function lookupFqdn(host: string = osHostname(), timeoutMs = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
    timer.unref();
  });
  const resolve = async (): Promise<string | undefined> => {
    const { address } = await lookup(host);
    const { hostname } = await lookupService(address, 0);
    return hostname;
  };
  try {
    const name = await Promise.race([resolve(), timeout]);
    return name !== undefined && name.includes('.') ? name : host;
  } catch {
    return host;
  } finally {
    clearTimeout(timer);
  }
}
