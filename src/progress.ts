/**
 * `--progress`, as borg shows it: on a terminal, one line on stderr rewritten in place (`\r`) at
 * most five times a second and cleared at the end; under `--log-json`, borg's JSON lines
 * (`archive_progress`, `progress_percent`) whether or not stderr is a terminal; otherwise nothing.
 */
import type { Writable } from 'node:stream';

import { formatSize } from './units.js';
import { jsonLine } from './log.js';

/** A stream that may be a terminal (Node's `tty.WriteStream` has both fields). */
export type MaybeTty = Writable & { isTTY?: boolean; columns?: number };

/** How progress is shown: not at all, as a terminal line, or as JSON lines. */
export type ProgressMode = 'off' | 'line' | 'json';

/** Updates closer together than this are dropped (5 Hz), as borg's `dt=0.2`. */
export const PROGRESS_INTERVAL_MS = 200;

/** What `--progress` and `--log-json` ask for. */
export interface ProgressSettings {
  progress: boolean;
  json: boolean;
  /** Milliseconds between shown updates; default {@link PROGRESS_INTERVAL_MS}. */
  intervalMs?: number;
}

/** The running totals of a backup, as `archive_progress` carries them. */
export interface ArchiveProgressStats {
  original: number;
  compressed: number;
  deduplicated: number;
  nfiles: number;
}

/** Ids of progress operations in this process, as borg's `operation` key (1, 2, ...). */
let lastOperation = 0;

/** `text` cut to `width` columns, its middle replaced by `...` (borg's ellipsis_truncate). */
export function truncateMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width < 8) return text.slice(0, Math.max(0, width));
  const keep = width - 3;
  return `${text.slice(0, Math.ceil(keep / 2))}...${text.slice(text.length - Math.floor(keep / 2))}`;
}

/** The progress sink of one command run; makes the indicators its operations update. */
export class ProgressSink {
  /** How this run shows progress. */
  readonly mode: ProgressMode;
  private readonly intervalMs: number;
  private shown = 0;

  constructor(
    private readonly stream: MaybeTty,
    settings: ProgressSettings,
  ) {
    this.mode = !settings.progress ? 'off' : settings.json ? 'json' : stream.isTTY === true ? 'line' : 'off';
    this.intervalMs = settings.intervalMs ?? PROGRESS_INTERVAL_MS;
  }

  /** The indicator of a backup: sizes, file count and current path. */
  archive(): ArchiveProgress {
    return new ArchiveProgress(this, this.intervalMs);
  }

  /** A percentage indicator of `total` units; `message` makes its text from the percentage and `info`. */
  percent(msgid: string, total: number, message: (percent: number, info: string[]) => string): PercentProgress {
    lastOperation += 1;
    return new PercentProgress(this, this.intervalMs, lastOperation, msgid, total, message);
  }

  /** Writes `text` over the terminal line (cut to its width). Called by the indicators. */
  line(text: string): void {
    const width = Math.max(20, this.columns - 1);
    const cut = text.length > width ? text.slice(0, width) : text;
    this.stream.write(`\r${cut.padEnd(this.shown)}\r`);
    this.shown = cut.length;
  }

  /** Clears the terminal line, if one is shown (before a log line, and at the end). */
  clear(): void {
    if (this.shown === 0) return;
    this.stream.write(`\r${' '.repeat(this.shown)}\r`);
    this.shown = 0;
  }

  /** Writes one JSON object. Called by the indicators. */
  json(object: Record<string, unknown>): void {
    this.stream.write(jsonLine(object));
  }

  /** The terminal's width in columns (80 if unknown, or 0 as on a terminal without a size). */
  get columns(): number {
    const c = this.stream.columns;
    return c !== undefined && c > 0 ? c : 80;
  }
}

/** Drops updates that come sooner than the interval after the last one shown. */
class Throttle {
  private last = -Infinity;
  constructor(private readonly intervalMs: number) {}

  /** Whether an update now is to be shown (always the first). */
  due(): boolean {
    const now = performance.now();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}

/**
 * `create`'s progress: `ORIGINAL O COMPRESSED C DEDUPLICATED D N N PATH` on a terminal, or
 * `archive_progress` objects (`original_size`, `compressed_size`, `deduplicated_size`, `nfiles`,
 * `path`, `time`, `finished`).
 */
export class ArchiveProgress {
  private readonly throttle: Throttle;
  private finished = false;

  constructor(
    private readonly sink: ProgressSink,
    intervalMs: number,
  ) {
    this.throttle = new Throttle(intervalMs);
  }

  /** Whether anything is shown at all (callers skip gathering totals when not). */
  get active(): boolean {
    return this.sink.mode !== 'off';
  }

  /** Shows the totals so far and the path at hand, unless the last update was too recent. */
  show(stats: () => ArchiveProgressStats, path: string): void {
    if (this.sink.mode === 'off' || this.finished || !this.throttle.due()) return;
    const s = stats();
    if (this.sink.mode === 'json') {
      this.sink.json({
        original_size: s.original,
        compressed_size: s.compressed,
        deduplicated_size: s.deduplicated,
        nfiles: s.nfiles,
        path,
        time: Date.now() / 1000,
        type: 'archive_progress',
        finished: false,
      });
      return;
    }
    const head = `${formatSize(s.original)} O ${formatSize(s.compressed)} C ${formatSize(s.deduplicated)} D ${s.nfiles} N `;
    const room = this.sink.columns - 1 - head.length;
    this.sink.line(room >= 8 ? head + truncateMiddle(path, room) : head);
  }

  /** Clears a terminal line before something else is written to stderr. */
  clear(): void {
    if (this.sink.mode === 'line') this.sink.clear();
  }

  /** Ends the indicator (once): clears the line, or sends `{"type": "archive_progress", "finished": true}`. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.sink.mode === 'line') this.sink.clear();
    else if (this.sink.mode === 'json') this.sink.json({ time: Date.now() / 1000, type: 'archive_progress', finished: true });
  }
}

/**
 * A percentage (extract, check): its message on a terminal, or `progress_percent` objects
 * (`message`, `current`, `total`, `info`, `operation`, `msgid`, `finished`, `time`).
 */
export class PercentProgress {
  private readonly throttle: Throttle;
  private finished = false;

  constructor(
    private readonly sink: ProgressSink,
    intervalMs: number,
    /** This operation's number in the run. */
    readonly operation: number,
    /** What the operation is (`extract`, `check.repository`, ...). */
    readonly msgid: string,
    /** The units that make 100%. */
    public total: number,
    private readonly message: (percent: number, info: string[]) => string,
  ) {
    this.throttle = new Throttle(intervalMs);
  }

  /** Whether anything is shown at all. */
  get active(): boolean {
    return this.sink.mode !== 'off';
  }

  /** Shows `current` of the total (with `info`, e.g. the path at hand), unless too soon after the last. */
  show(current: number, info: string[] = [], force = false): void {
    if (this.sink.mode === 'off' || this.finished || (!this.throttle.due() && !force)) return;
    const percent = this.total > 0 ? Math.min(100, (100 * current) / this.total) : 100;
    if (this.sink.mode === 'json') {
      this.sink.json({
        message: this.message(percent, info),
        current,
        total: this.total,
        info,
        operation: this.operation,
        msgid: this.msgid,
        type: 'progress_percent',
        finished: false,
        time: Date.now() / 1000,
      });
      return;
    }
    const last = info.length - 1;
    let text = this.message(percent, info);
    if (last >= 0 && text.length > this.sink.columns - 1) {
      const head = this.message(percent, [...info.slice(0, last), '']);
      const cut = [...info.slice(0, last), truncateMiddle(info[last] ?? '', Math.max(0, this.sink.columns - 1 - head.length))];
      text = this.message(percent, cut);
    }
    this.sink.line(text);
  }

  /** Clears a terminal line before something else is written to stderr. */
  clear(): void {
    if (this.sink.mode === 'line') this.sink.clear();
  }

  /** Ends the indicator (once): clears the line, or sends a `progress_percent` object with `finished: true`. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.sink.mode === 'line') this.sink.clear();
    else if (this.sink.mode === 'json') {
      this.sink.json({ operation: this.operation, msgid: this.msgid, type: 'progress_percent', finished: true, time: Date.now() / 1000 });
    }
  }
}
