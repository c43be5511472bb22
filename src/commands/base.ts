import { Command, Option } from 'clipanion';
import * as t from 'typanion';

import { checkOutput } from '../broken-pipe.js';
import type { HoardContext } from '../context.js';
import { Log, type LogLevel } from '../log.js';
import { ProgressSink } from '../progress.js';
import { acquireLock, type Lock, type LockKind } from '../repository/locks.js';
import type { Storage } from '../storage/storage.js';

/** The validator of an option whose value borg's argparse reads as an integer (`type=int`). */
export const isInt = t.cascade(t.isNumber(), [t.isInteger()]);

/**
 * The options borg accepts on every command. Wrappers pass them freely, so each is accepted;
 * those without a meaning for the command at hand are no-ops (docs/options.md says which).
 * They are hidden from each command's synopsis and listed once in docs/options.md.
 */
export abstract class HoardCommand extends Command<HoardContext> {
  critical = Option.Boolean('--critical', false, { hidden: true, description: 'work on log level CRITICAL' });
  error = Option.Boolean('--error', false, { hidden: true, description: 'work on log level ERROR' });
  warning = Option.Boolean('--warning', false, { hidden: true, description: 'work on log level WARNING (default)' });
  info = Option.Boolean('--info,-v,--verbose', false, { hidden: true, description: 'work on log level INFO' });
  debug = Option.Boolean('--debug', false, { hidden: true, description: 'work on log level DEBUG; errors show their stack' });
  debugTopic = Option.Array('--debug-topic', [], { hidden: true, description: 'enable TOPIC debugging (accepted; no topics yet)' });
  progress = Option.Boolean('-p,--progress', false, { hidden: true, description: 'show progress information' });
  iec = Option.Boolean('--iec', false, { hidden: true, description: 'format sizes in IEC units (1KiB = 1024B)' });
  logJson = Option.Boolean('--log-json', false, { hidden: true, description: 'output one JSON object per log line' });
  lockWait = Option.String('--lock-wait', {
    hidden: true,
    validator: t.isNumber(),
    description: 'wait at most SECONDS for acquiring a repository lock',
  });
  bypassLock = Option.Boolean('--bypass-lock', false, { hidden: true, description: 'bypass locking mechanism' });
  showVersion = Option.Boolean('--show-version', false, { hidden: true, description: 'show/log the hoard version' });
  showRc = Option.Boolean('--show-rc', false, { hidden: true, description: 'show/log the return code (rc)' });
  umask = Option.String('--umask', { hidden: true, validator: t.cascade(t.isString(), [t.matchesRegExp(/^[0-7]{1,4}$/)]), description: 'set umask to M (local only), an octal number' });
  remotePath = Option.String('--remote-path', { hidden: true, description: 'use PATH as hoard executable on the remote' });
  uploadRatelimit = Option.String('--upload-ratelimit,--remote-ratelimit', {
    hidden: true,
    validator: isInt,
    description: 'set network upload rate limit in kiByte/s',
  });
  uploadBuffer = Option.String('--upload-buffer,--remote-buffer', { hidden: true, validator: isInt, description: 'set network upload buffer size in MiB' });
  considerPartFiles = Option.Boolean('--consider-part-files', false, { hidden: true, description: 'treat part files like normal files' });
  debugProfile = Option.String('--debug-profile', { hidden: true, description: 'write execution profile into FILE' });
  rsh = Option.String('--rsh', { hidden: true, description: 'use this command to connect to the hoard serve process' });

  /**
   * Runs `fn` holding a `kind` lock on the repository (borg's `--lock-wait` seconds to get it;
   * `--bypass-lock` skips it). The lock is released however `fn` ends.
   */
  protected async locked<T>(storage: Storage, kind: LockKind, fn: (lock: Lock | undefined) => Promise<T>): Promise<T> {
    if (this.bypassLock) {
      try {
        return await fn(undefined);
      } finally {
        storage.close?.();
      }
    }
    const lock = await acquireLock(storage, kind, {
      waitSeconds: this.lockWait ?? 1,
      log: (line) => this.log('warning', line),
    });
    try {
      return await fn(lock);
    } finally {
      storage.close?.();
      await lock.release();
    }
  }

  /**
   * As borg 1.4 before any command runs: `--stats` and `--quick-stats` are turned off under
   * `--dry-run` (a dry run computes no statistics), each with a warning.
   */
  ignoreStatsUnderDryRun(): void {
    const self = this as unknown as { dryRun?: unknown; stats?: unknown; quickStats?: unknown };
    if (self.dryRun !== true) return;
    if (self.stats === true) {
      this.log('warning', 'Ignoring --stats. It is not supported when using --dry-run.');
      self.stats = false;
    }
    if (self.quickStats === true) {
      this.log('warning', 'Ignoring --quick-stats. It is not supported when using --dry-run.');
      self.quickStats = false;
    }
  }

  /** Writes one line to standard output (see {@link checkOutput} for a reader gone away). */
  protected out(line: string): void {
    this.print(`${line}\n`);
  }

  /** Writes `text` to standard output, unless its reader went away: then the run stops quietly. */
  protected print(text: string): void {
    checkOutput(this.context.stdout);
    this.context.stdout.write(text);
  }

  private sink: Log | undefined;

  /**
   * The run's log sink on stderr (text, or JSON lines under `--log-json`), at the level the
   * options set; its logger is named for the command (`hoard.create`).
   */
  protected get logger(): Log {
    const path = (this.constructor as { paths?: string[][] }).paths?.[0] ?? [];
    this.sink ??= new Log(
      this.context.stderr,
      { debug: this.debug, info: this.info, warning: this.warning, error: this.error, critical: this.critical, json: this.logJson },
      ['hoard', ...path.filter((w) => !w.startsWith('-'))].join('.'),
    );
    return this.sink;
  }

  /** Writes one log line to standard error when the log level admits `level`. */
  protected log(level: LogLevel, line: string): void {
    this.logger.write(level, line);
  }

  /**
   * Where `--progress` goes: a line on stderr when it is a terminal, JSON under `--log-json`,
   * else nowhere (see src/progress.ts).
   */
  protected get progressSink(): ProgressSink {
    return new ProgressSink(this.context.stderr, { progress: this.progress, json: this.logJson });
  }
}
