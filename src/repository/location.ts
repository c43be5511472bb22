import * as path from 'node:path';

import { envVar } from '../context.js';
import { InvalidArgumentError } from '../errors.js';

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
  if (text.startsWith('file://')) return { kind: 'local', path: path.resolve(text.slice('file://'.length)), text };
  const scp = /^(?:([^@/:]+)@)?([^/:]+):(.*)$/.exec(text);
  if (scp) {
    const [, user, host = '', p = ''] = scp;
    return { kind: 'ssh', user, host, port: undefined, path: p, text };
  }
  return { kind: 'local', path: path.resolve(text), text };
}

/**
 * Parses `REPO`, `REPO::ARCHIVE` or `::ARCHIVE` (the repository then comes from `HOARD_REPO` or
 * `BORG_REPO`). An empty argument means the repository from the environment.
 */
export function parseTarget(text: string | undefined, env: NodeJS.ProcessEnv): Target {
  const arg = text ?? '';
  const at = arg.indexOf('::');
  const repoText = at < 0 ? arg : arg.slice(0, at);
  const archive = at < 0 ? undefined : arg.slice(at + 2);
  if (archive === '') throw invalid(`no archive name after "::" in ${JSON.stringify(arg)}`);
  const fromEnv = envVar(env, 'REPO');
  const repo = repoText !== '' ? repoText : fromEnv;
  if (repo === undefined || repo === '') {
    throw invalid('no repository given: name one (REPO or REPO::ARCHIVE) or set HOARD_REPO');
  }
  return { repo: parseRepo(repo), archive };
}
