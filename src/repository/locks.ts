/**
 * Repository locks (DESIGN.md section 2), built only on {@link Storage} so every backend gets them.
 *
 * Each holder has its own object `locks/<kind>-<stamp>-<id>`: `kind` is `shared` or `exclusive`,
 * `stamp` the time it first asked (ms since 1970, 12 lowercase hex digits), `id` 16 random lowercase
 * hex digits. The object holds JSON `{kind, host, pid, id, created, time}`: `created` is when it
 * first asked and `time` when it last refreshed (ISO 8601). A shared lock conflicts only with
 * exclusive ones; an exclusive lock conflicts with every other lock. An object whose name or content
 * does not parse belongs to someone unknown and conflicts with every lock.
 *
 * Taking a lock is a create-exclusive of the own object, then a listing of `locks/`; the lock is
 * held when that listing shows no conflicting object. Never both: of two holders, the one whose
 * create came later listed after the other's object existed, and that object stays from its create
 * until its release, so the later one saw it and did not take the lock.
 *
 * Who backs off: a requester that sees a conflicting object withdraws its own (deletes it) unless its
 * key (`<stamp>-<id>`, compared as a string) is smaller than the keys of all the conflicting
 * objects; then it keeps its object and polls. Unreadable objects count as smaller. So of requesters
 * that race, only the one that asked first (ties broken by the random id) keeps its object; the
 * others withdraw when they see it, and it takes the lock once the holders release and the others
 * have withdrawn. Waiting never cycles, as a requester keeps its object only while nothing it waits
 * for is ahead of it; two racing exclusive requesters cannot both back off forever. A requester
 * keeps its stamp across retries, so newer requesters give way to it whenever its object stands.
 * Retries sleep with jittered exponential backoff (5 ms doubling up to 250 ms) until the wait runs
 * out. Clock skew between hosts only changes who goes first, never safety.
 *
 * Stale locks: a lock of this host (see {@link LockOptions.host}) whose process is gone (`kill(pid,
 * 0)` fails with ESRCH) is deleted by any requester, with a log line. So is a lock of this host that
 * names this very process but is not one this process has taken: a process with a reused pid left
 * it, as happens in containers. That second rule needs every lock of a process to come from one copy
 * of this module (not from worker threads). Locks of other hosts are never broken automatically,
 * whatever their age: `break-lock` ({@link breakLocks}) removes them.
 *
 * Refresh rewrites the object only after reading it back as its own, so a broken lock is not brought
 * back; a break-lock that lands between that read and the write is undone by it, a window of one
 * round trip that a backend without conditional writes cannot close.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { errnoOf, InvalidArgumentError, IoError, LockTimeoutError, NotFoundError } from '../errors.js';
import type { Storage } from '../storage/storage.js';

/** `shared` (many may hold it, e.g. create) or `exclusive` (one holder only, e.g. compact, repair). */
export type LockKind = 'shared' | 'exclusive';

/** What a lock object records about its holder. */
export interface LockHolder {
  kind: LockKind;
  /** The holder's host name. */
  host: string;
  /** The holder's process id on that host. */
  pid: number;
  /** 16 random hex digits, also the end of the object's name. */
  id: string;
  /** When the holder first asked for the lock (ISO 8601). */
  created: string;
  /** When the holder last refreshed the lock (ISO 8601). */
  time: string;
}

/** One object under `locks/`: its name and holder, or `undefined` where it does not parse. */
export interface ListedLock {
  /** The object name, `locks/...`. */
  name: string;
  holder: LockHolder | undefined;
}

/** How {@link acquireLock} asks and holds. */
export interface LockOptions {
  /** How long to keep trying, in seconds (borg's `--lock-wait`); default 1, 0 tries once. */
  waitSeconds?: number;
  /** The host name written into the lock and taken as this host for stale locks; default `os.hostname()`. */
  host?: string;
  /** The process id written into the lock; default `process.pid`. */
  pid?: number;
  /** Seconds between automatic refreshes while held; default 60. */
  refreshSeconds?: number;
  /** Receives one line per notable event (a stale lock broken, a failed refresh). */
  log?: (line: string) => void;
}

const LOCKS = 'locks';
const NAME = /^(shared|exclusive)-([0-9a-f]{12})-([0-9a-f]{16})$/;
const FIRST_DELAY_MS = 5;
const MAX_DELAY_MS = 250;
const DEFAULT_REFRESH_SECONDS = 60;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Ids of the locks this process holds or is taking, for the reused-pid rule. */
const ownIds = new Set<string>();

function baseName(name: string): string {
  return name.slice(LOCKS.length + 1);
}

/** The tie-break key of a lock object name, or undefined for a name that does not parse. */
function keyOf(name: string): string | undefined {
  const m = NAME.exec(baseName(name));
  return m ? `${m[2]}-${m[3]}` : undefined;
}

function parseHolder(name: string, data: Buffer): LockHolder | undefined {
  const m = NAME.exec(baseName(name));
  if (!m) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  const { host, pid, created, time } = o;
  if (o.kind !== m[1] || o.id !== m[3] || typeof host !== 'string' || typeof created !== 'string' || typeof time !== 'string') return undefined;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { kind: m[1] as LockKind, host, pid, id: m[3] as string, created, time };
}

function encode(holder: LockHolder): Buffer {
  return Buffer.from(JSON.stringify(holder));
}

/** Reads one lock object; undefined if it is gone. */
async function readLock(storage: Storage, name: string): Promise<ListedLock | undefined> {
  try {
    return { name, holder: parseHolder(name, await storage.get(name)) };
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** Whether a process with this id exists on this host (one of another user counts). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) !== 'ESRCH';
  }
}

/** Why a lock is stale, or undefined if it is not (or may not be). */
function staleness(holder: LockHolder, host: string): string | undefined {
  if (holder.host !== host) return undefined;
  if (holder.pid === process.pid) return ownIds.has(holder.id) ? undefined : 'an earlier process with this pid left it';
  return processAlive(holder.pid) ? undefined : 'that process is gone';
}

function conflicts(kind: LockKind, other: LockHolder | undefined): boolean {
  return other === undefined || kind === 'exclusive' || other.kind === 'exclusive';
}

function describe(lock: ListedLock): string {
  const h = lock.holder;
  return h === undefined ? `an unreadable lock object ${lock.name}` : `${h.kind === 'exclusive' ? 'an' : 'a'} ${h.kind} lock of pid ${h.pid} on ${h.host} (since ${h.created})`;
}

/** Every lock object with its holder; objects that vanish while listed are left out. */
export async function listLocks(storage: Storage): Promise<ListedLock[]> {
  const names = (await storage.list(LOCKS)).map((n) => `${LOCKS}/${n}`);
  const locks = await Promise.all(names.map((n) => readLock(storage, n)));
  return locks.filter((l): l is ListedLock => l !== undefined);
}

/** Deletes every lock object, readable or not (`break-lock`), and returns their names. */
export async function breakLocks(storage: Storage): Promise<string[]> {
  const names = (await storage.list(LOCKS)).map((n) => `${LOCKS}/${n}`);
  for (const name of names) await storage.delete(name);
  return names;
}

/**
 * One listing of `locks/` on behalf of the requester `own`: deletes stale locks and returns the
 * objects that conflict with `kind`, and whether `own` is still there.
 */
async function survey(storage: Storage, own: string, kind: LockKind, host: string, log: (line: string) => void): Promise<{ present: boolean; conflicting: ListedLock[] }> {
  const names = (await storage.list(LOCKS)).map((n) => `${LOCKS}/${n}`);
  const others = await Promise.all(names.filter((n) => n !== own).map((n) => readLock(storage, n)));
  const conflicting: ListedLock[] = [];
  for (const lock of others) {
    if (lock === undefined) continue;
    const why = lock.holder === undefined ? undefined : staleness(lock.holder, host);
    if (why !== undefined) {
      await storage.delete(lock.name);
      log(`broke the stale lock ${lock.name} of pid ${lock.holder?.pid} on ${host}: ${why}`);
    } else if (conflicts(kind, lock.holder)) {
      conflicting.push(lock);
    }
  }
  return { present: names.includes(own), conflicting };
}

/** A number of seconds from an option: `fallback` where unset; at least 0, or above 0 unless `zeroOk`. */
function seconds(value: number | undefined, fallback: number, what: string, zeroOk: boolean): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || (v === 0 && !zeroOk)) {
    throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `${what} must be a number of seconds ${zeroOk ? 'of at least 0' : 'above 0'}, not ${v}`);
  }
  return v;
}

/**
 * Takes a lock of `kind` on the repository in `storage`, trying until `waitSeconds` have passed, and
 * returns its handle, which refreshes the lock on a timer until released. Throws `LockTimeoutError`
 * (naming the holders) when the wait runs out; leaves no object of its own behind when it throws.
 */
export async function acquireLock(storage: Storage, kind: LockKind, options: LockOptions = {}): Promise<Lock> {
  if (kind !== 'shared' && kind !== 'exclusive') throw new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `unknown lock kind ${JSON.stringify(kind)}`);
  const waitMs = seconds(options.waitSeconds, 1, 'the lock wait', true) * 1000;
  const refreshMs = Math.min(MAX_TIMER_MS, seconds(options.refreshSeconds, DEFAULT_REFRESH_SECONDS, 'the lock refresh interval', false) * 1000);
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const log = options.log ?? ((): void => undefined);
  const id = randomBytes(8).toString('hex');
  const now = Date.now();
  const key = `${now.toString(16).padStart(12, '0')}-${id}`;
  const name = `${LOCKS}/${kind}-${key}`;
  const created = new Date(now).toISOString();
  const holder: LockHolder = { kind, host, pid, id, created, time: created };
  const deadline = performance.now() + waitMs;
  ownIds.add(id);
  let placed = false;
  try {
    for (let delay = FIRST_DELAY_MS; ; delay = Math.min(2 * delay, MAX_DELAY_MS)) {
      if (!placed) {
        if (!(await storage.createExclusive(name, encode(holder)))) throw new IoError('HOARD_IO', `${storage.location}: lock object ${name} exists already`);
        placed = true;
      }
      const { present, conflicting } = await survey(storage, name, kind, host, log);
      if (!present) {
        placed = false; // broken while we asked: place it again
      } else if (conflicting.length === 0) {
        return new Lock(storage, name, holder, refreshMs, log);
      } else if (conflicting.some((c) => !((keyOf(c.name) ?? '') > key))) {
        await storage.delete(name);
        placed = false;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        const shown = conflicting.slice(0, 3).map(describe).join(', ');
        const more = conflicting.length > 3 ? ` and ${conflicting.length - 3} more` : '';
        const by = shown === '' ? '' : `: held by ${shown}${more}; if no hoard process holds it, break-lock removes it`;
        throw new LockTimeoutError('HOARD_LOCK_TIMEOUT', `Failed to create/acquire the lock ${storage.location} (timeout)${by}.`);
      }
      await sleep(Math.min(left, delay * (0.5 + Math.random())));
    }
  } catch (e) {
    ownIds.delete(id);
    if (placed) await storage.delete(name).catch(() => undefined);
    throw e;
  }
}

/**
 * A held lock. It refreshes its object on an unref'd timer; {@link Lock.stillHeld} tells a writer,
 * just before it commits, whether the lock still stands; {@link Lock.release} gives it up. Calls on
 * one handle run one at a time, so a refresh never writes after a release.
 */
export class Lock {
  private state: 'held' | 'lost' | 'released' = 'held';
  private queue: Promise<unknown> = Promise.resolve();
  private releasing: Promise<void> | undefined;
  private ticking = false;
  private current: LockHolder;
  private readonly timer: NodeJS.Timeout;

  /** Made by {@link acquireLock} only. */
  constructor(
    private readonly storage: Storage,
    /** The lock object's name, `locks/...`. */
    readonly name: string,
    holder: LockHolder,
    refreshMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.current = holder;
    this.timer = setInterval(() => void this.tick(), refreshMs);
    this.timer.unref();
  }

  /** `shared` or `exclusive`. */
  get kind(): LockKind {
    return this.current.kind;
  }

  /** A copy of what the lock object holds now. */
  get holder(): LockHolder {
    return { ...this.current };
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Whether the object is still there and ours; marks the lock lost if not. Runs inside serial. */
  private async check(): Promise<boolean> {
    if (this.state !== 'held') return false;
    const lock = await readLock(this.storage, this.name);
    if (lock?.holder?.id === this.current.id) return true;
    return this.lose();
  }

  /** Marks the lock lost (its object is gone or another's) and stops refreshing it; false. */
  private lose(): false {
    this.state = 'lost';
    clearInterval(this.timer);
    return false;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!(await this.refresh()) && this.state === 'lost') this.log(`the lock ${this.name} was removed by someone else (break-lock?)`);
    } catch (e) {
      this.log(`could not refresh the lock ${this.name}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Rewrites the lock object with the current time; false, writing nothing, if the lock was
   * released or its object is gone or no longer ours.
   */
  refresh(): Promise<boolean> {
    return this.serial(async () => {
      if (!(await this.check())) return false;
      const next = { ...this.current, time: new Date().toISOString() };
      // Only over our object: a break-lock between the check and this write must stay broken.
      if (!(await this.storage.replaceExisting(this.name, encode(next)))) return this.lose();
      this.current = next;
      return true;
    });
  }

  /** Whether the lock object still exists and is ours; a writer asks this just before committing. */
  stillHeld(): Promise<boolean> {
    return this.serial(() => this.check());
  }

  /**
   * Stops refreshing and deletes the lock object. Safe to call more than once and unbound
   * (`process.once('SIGINT', lock.release)`); a failed delete may be retried by calling again.
   */
  readonly release = (): Promise<void> => {
    clearInterval(this.timer);
    this.releasing ??= this.serial(async () => {
      this.state = 'released';
      ownIds.delete(this.current.id);
      await this.storage.delete(this.name);
    }).catch((e: unknown) => {
      this.releasing = undefined;
      throw e;
    });
    return this.releasing;
  };
}
