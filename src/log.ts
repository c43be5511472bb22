/**
 * hoard's one log sink: every log line of a run goes through {@link Log}, as text or, under
 * `--log-json`, as borg's JSON lines (`docs/wrappers.md`): `log_message` for log lines,
 * `file_status` for the `--list` of create, recreate and import-tar. Progress (`src/progress.ts`)
 * writes through the same stream.
 */
import type { Writable } from 'node:stream';

import { shownName } from './fs-names.js';

/** Log levels, lowest first; `critical` is shown like `error`. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3, critical: 4 };

/** The options that set the log level and form, as `HoardCommand` parses them. */
export interface LogSettings {
  debug?: boolean;
  info?: boolean;
  warning?: boolean;
  error?: boolean;
  critical?: boolean;
  /** `--log-json`: one JSON object a line. */
  json?: boolean;
}

/** The lowest level shown: the first of `--debug`, `--info`, `--error`/`--critical` given, else warning. */
export function threshold(s: LogSettings): LogLevel {
  if (s.debug === true) return 'debug';
  if (s.info === true) return 'info';
  if (s.error === true || s.critical === true) return 'error';
  return 'warning';
}

/** One JSON object as a line of `--log-json` output. */
export function jsonLine(object: Record<string, unknown>): string {
  return `${JSON.stringify(object)}\n`;
}

/**
 * A `log_message` line as borg writes it under `--log-json`: `type`, `time` (Unix seconds, a
 * float), `message`, `levelname` (upper case), `name` (the logger), and `msgid` where there is one.
 */
export function logMessageJson(level: LogLevel, name: string, message: string, msgid?: string, now: number = Date.now()): string {
  return jsonLine({
    type: 'log_message',
    time: now / 1000,
    message,
    levelname: level.toUpperCase(),
    name,
    ...(msgid !== undefined && msgid !== '' ? { msgid } : {}),
  });
}

/** Writes a run's log lines to one stream (stderr), as text or as JSON, above a level. */
export class Log {
  /** Whether lines are JSON objects (`--log-json`). */
  readonly json: boolean;
  private readonly min: number;

  constructor(
    /** Where lines go: the run's stderr. */
    readonly stream: Writable,
    settings: LogSettings,
    /** The logger name of lines that name none, e.g. `hoard.create`. */
    private readonly name = 'hoard',
  ) {
    this.json = settings.json === true;
    this.min = RANK[threshold(settings)];
  }

  /** Whether a line of `level` is shown. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.min;
  }

  /**
   * Writes `message` (which may span lines) if `level` is shown; `name` defaults to the command's
   * logger. As text, a name's bytes that are not UTF-8 show as `?` (borg's streams replace them).
   */
  write(level: LogLevel, message: string, opts: { name?: string; msgid?: string } = {}): void {
    if (!this.enabled(level)) return;
    this.stream.write(this.json ? logMessageJson(level, opts.name ?? this.name, message, opts.msgid) : `${shownName(message)}\n`);
  }

  /**
   * One `--list` line of `create`, `recreate` or `import-tar`: `STATUS PATH` as text, or a
   * `file_status` object (borg writes these whatever the log level, since `--list` asked for them).
   */
  fileStatus(status: string, path: string): void {
    const shown = shownName(path);
    this.stream.write(this.json ? jsonLine({ type: 'file_status', status, path: shown }) : `${status} ${shown}\n`);
  }

  /**
   * Output that `--list`, `--stats` or `--show-rc` asked for (borg's `borg.output.*` loggers): always
   * shown as text; under `--log-json` a `log_message` at `level` from logger `name`.
   */
  output(name: string, message: string, level: LogLevel = 'info'): void {
    this.stream.write(this.json ? logMessageJson(level, name, message) : `${shownName(message)}\n`);
  }
}
