import { envVar } from '../context.js';
import { expandPlaceholders, type PlaceholderContext } from '../archive/placeholders.js';
import { InvalidArgumentError } from '../errors.js';
import { resolvedPath } from '../fs-names.js';

/** Where a repository is: a local path, or (later) a host reached over SSH. */
export type Location =
  | { kind: 'local'; path: string; text: string }
  | { kind: 'ssh'; user: string | undefined; host: string; port: number | undefined; path: string; text: string };

/** A repository and, with `REPO::ARCHIVE`, an archive name in it. */
export interface Target {
  repo: Location;
  archive: string | undefined;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', message);
}

/** Parses a repository as borg writes it: a path, `file://PATH`, `ssh://[USER@]HOST[:PORT]/PATH` or `[USER@]HOST:PATH`. */
export function parseRepo(text: string): Location {
  if (text === '') throw invalid('repository location is empty');
  const ssh = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)$/.exec(text);
  if (ssh) {
    const [, user, host = '', port, p = '/'] = ssh;
    return { kind: 'ssh', user, host: host.replace(/^\[|\]$/g, ''), port: port === undefined ? undefined : Number(port), path: p, text };
  }
  if (text.startsWith('file://')) return { kind: 'local', path: resolvedPath(text.slice('file://'.length)), text };
  const scp = /^(?:([^@/:]+)@)?([^/:]+):(.*)$/.exec(text);
  if (scp) {
    const [, user, host = '', p = ''] = scp;
    return { kind: 'ssh', user, host, port: undefined, path: p, text };
  }
  return { kind: 'local', path: resolvedPath(text), text };
}

/**
 * Parses `REPO`, `REPO::ARCHIVE` or `::ARCHIVE` (the repository then comes from `HOARD_REPO` or
 * `BORG_REPO`). An empty argument, or `::`, means the repository from the environment.
 * Placeholders (`{hostname}`, `{now:%Y}`, ...) are expanded first, as `placeholders` sets them.
 */
export function parseTarget(text: string | undefined, env: NodeJS.ProcessEnv, placeholders: PlaceholderContext = {}): Target {
  // As borg: placeholders expand in the whole argument, and in the repository taken from the environment.
  const arg = expandPlaceholders(text ?? '', placeholders);
  const at = arg.indexOf('::');
  const repoText = at < 0 ? arg : arg.slice(0, at);
  // `::` alone (borg's "just :: is ok") is the repository from the environment.
  const archive = at < 0 || arg === '::' ? undefined : arg.slice(at + 2);
  if (archive === '') throw invalid(`no archive name after "::" in ${JSON.stringify(arg)}`);
  if (archive?.includes('/') === true) throw invalid(`invalid archive name: ${JSON.stringify(archive)} (an archive name must not contain "/")`);
  const fromEnv = envVar(env, 'REPO');
  const repo = repoText !== '' ? repoText : fromEnv === undefined ? undefined : expandPlaceholders(fromEnv, placeholders);
  if (repo === undefined || repo === '') {
    throw invalid('no repository given: name one (REPO or REPO::ARCHIVE) or set HOARD_REPO');
  }
  return { repo: parseRepo(repo), archive };
}
