import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';

import { LockTimeoutError } from '../dist/errors.js';
import { acquireLock, breakLocks, listLocks, type Lock, type LockKind } from '../dist/repository/locks.js';
import { LocalStorage } from '../dist/storage/local.js';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'hoard-locks-'));
}

function storage(): LocalStorage {
  return new LocalStorage(path.join(tempDir(), 'repo'));
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes a lock object as another holder would, and returns its name. */
async function foreignLock(s: LocalStorage, kind: LockKind, host: string, pid: number, stamp = Date.now()): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const name = `locks/${kind}-${stamp.toString(16).padStart(12, '0')}-${id}`;
  const time = new Date().toISOString();
  await s.put(name, Buffer.from(JSON.stringify({ kind, host, pid, id, created: time, time })));
  return name;
}

/** The pid of a child process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined || r.status !== 0) throw new Error('could not run a child process');
  return r.pid;
}

async function names(s: LocalStorage): Promise<string[]> {
  return (await listLocks(s)).map((l) => l.name);
}

test('two shared locks coexist; each object records its holder', async (t) => {
  const s = storage();
  const a = await acquireLock(s, 'shared', { waitSeconds: 0 });
  const b = await acquireLock(s, 'shared', { waitSeconds: 0 });
  const listed = await listLocks(s);
  t.deepEqual(listed.map((l) => l.name).sort(), [a.name, b.name].sort());
  for (const l of listed) {
    t.regex(l.name, /^locks\/shared-[0-9a-f]{12}-[0-9a-f]{16}$/);
    t.is(l.holder?.kind, 'shared');
    t.is(l.holder?.host, hostname());
    t.is(l.holder?.pid, process.pid);
  }
  t.true(await a.stillHeld());
  t.true(await b.stillHeld());
  await a.release();
  await b.release();
  t.deepEqual(await listLocks(s), []);
});

test('exclusive waits for a shared lock, times out naming the holder, and leaves nothing behind', async (t) => {
  const s = storage();
  const shared = await acquireLock(s, 'shared', { host: 'holder-host', pid: process.pid });
  const start = Date.now();
  const err = await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: 0.3 }), { instanceOf: LockTimeoutError });
  t.true(Date.now() - start >= 290);
  t.is(err?.code, 'HOARD_LOCK_TIMEOUT');
  t.is(err?.exitCode, 2);
  t.regex(err?.message ?? '', /^Failed to create\/acquire the lock .*repo \(timeout\): held by a shared lock of pid \d+ on holder-host \(since .*\)/);
  t.false((err?.message ?? '').includes('\n'));
  t.deepEqual(await names(s), [shared.name]);
  // With a longer wait it gets the lock once the shared one goes.
  setTimeout(() => void shared.release(), 150);
  const ex = await acquireLock(s, 'exclusive', { waitSeconds: 3 });
  t.true(Date.now() - start >= 440);
  t.deepEqual(await names(s), [ex.name]);
  await ex.release();
});

test('shared waits for an exclusive lock', async (t) => {
  const s = storage();
  const ex = await acquireLock(s, 'exclusive', { waitSeconds: 0 });
  await t.throwsAsync(acquireLock(s, 'shared', { waitSeconds: 0 }), { instanceOf: LockTimeoutError, message: /held by an exclusive lock of pid/ });
  await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: 0.1 }), { instanceOf: LockTimeoutError });
  setTimeout(() => void ex.release(), 100);
  const sh = await acquireLock(s, 'shared', { waitSeconds: 3 });
  t.deepEqual(await names(s), [sh.name]);
  await sh.release();
});

test('many async racers, shared and exclusive, never overlap wrongly', async (t) => {
  const s = storage();
  let exclusive = 0;
  let shared = 0;
  let violations = 0;
  let entries = 0;
  const check = (): void => {
    if (exclusive > 1 || (exclusive === 1 && shared > 0)) violations += 1;
  };
  const racer = async (kind: LockKind): Promise<void> => {
    for (let round = 0; round < 3; round += 1) {
      const lock = await acquireLock(s, kind, { waitSeconds: 60 });
      if (kind === 'exclusive') exclusive += 1;
      else shared += 1;
      entries += 1;
      check();
      await delay(3);
      check();
      if (!(await lock.stillHeld())) violations += 1;
      if (kind === 'exclusive') exclusive -= 1;
      else shared -= 1;
      await lock.release();
    }
  };
  const kinds: LockKind[] = ['exclusive', 'exclusive', 'exclusive', 'exclusive', 'exclusive', 'shared', 'shared', 'shared'];
  await Promise.all(kinds.map(racer));
  t.is(violations, 0);
  t.is(entries, 24);
  t.deepEqual(await listLocks(s), []);
});

test('exclusive racers in 8 child processes never hold the lock together', async (t) => {
  const dir = tempDir();
  const repo = path.join(dir, 'repo');
  const marker = path.join(dir, 'inside');
  const log = path.join(dir, 'log');
  writeFileSync(log, '');
  const dist = new URL('../dist', import.meta.url).href;
  const script = path.join(dir, 'racer.mjs');
  writeFileSync(
    script,
    `import { appendFileSync, closeSync, openSync, rmSync } from 'node:fs';
import { acquireLock } from '${dist}/repository/locks.js';
import { LocalStorage } from '${dist}/storage/local.js';
const [repo, marker, log] = process.argv.slice(2);
const s = new LocalStorage(repo);
for (let round = 0; round < 3; round += 1) {
  const lock = await acquireLock(s, 'exclusive', { waitSeconds: 30 });
  try {
    closeSync(openSync(marker, 'wx'));
  } catch {
    appendFileSync(log, 'overlap\\n');
    process.exit(3);
  }
  appendFileSync(log, 'in\\n');
  await new Promise((resolve) => setTimeout(resolve, 5));
  if (!(await lock.stillHeld())) appendFileSync(log, 'lost\\n');
  rmSync(marker);
  await lock.release();
}
`,
  );
  const codes = await Promise.all(
    Array.from(
      { length: 8 },
      () =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, [script, repo, marker, log], { stdio: 'inherit' });
          child.on('error', reject);
          child.on('exit', (code) => resolve(code));
        }),
    ),
  );
  t.deepEqual(codes, Array(8).fill(0));
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  t.deepEqual(lines, Array(24).fill('in'));
  t.deepEqual(await listLocks(new LocalStorage(repo)), []);
});

test('a requester that asked first keeps its object while it waits, and newer ones give way to it', async (t) => {
  const s = storage();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
  t.teardown(() => child.kill());
  // A holder whose stamp lies after ours (clock skew): we wait for it without withdrawing.
  const holder = await foreignLock(s, 'shared', hostname(), child.pid ?? 0, 2 ** 47);
  // A long wait: on a loaded machine the sampling below can take seconds.
  const waiting = acquireLock(s, 'exclusive', { waitSeconds: 60 });
  waiting.catch(() => {});
  for (let i = 0; i < 100 && (await names(s)).length < 2; i += 1) await delay(10);
  const seen: string[][] = [];
  for (let i = 0; i < 5; i += 1) {
    seen.push((await names(s)).filter((n) => n !== holder));
    await delay(30);
  }
  const mine = seen[0]?.[0] ?? '';
  t.regex(mine, /^locks\/exclusive-/);
  t.deepEqual(seen, Array(5).fill([mine]));
  // A newer shared requester does not overtake it, even though the holder is shared.
  await t.throwsAsync(acquireLock(s, 'shared', { waitSeconds: 0.1 }), { instanceOf: LockTimeoutError, message: /held by an exclusive lock/ });
  // Once the holder is gone, the waiting requester takes the lock under the object it kept.
  await s.delete(holder);
  const lock = await waiting;
  t.is(lock.name, mine);
  t.deepEqual(await names(s), [mine]);
  await lock.release();
  t.deepEqual(await names(s), []);
});

test('a stale lock of a dead process on this host is broken automatically', async (t) => {
  const s = storage();
  const pid = deadPid();
  const stale = await foreignLock(s, 'exclusive', hostname(), pid);
  const lines: string[] = [];
  const lock = await acquireLock(s, 'exclusive', { waitSeconds: 0, log: (l) => lines.push(l) });
  t.deepEqual(await names(s), [lock.name]);
  t.is(lines.length, 1);
  t.true(lines[0]?.includes(stale) && lines[0].includes(`pid ${pid}`));
  await lock.release();
});

test('a lock naming this process that it never took (a reused pid) is stale too', async (t) => {
  const s = storage();
  await foreignLock(s, 'exclusive', hostname(), process.pid);
  const lines: string[] = [];
  const lock = await acquireLock(s, 'shared', { waitSeconds: 0, log: (l) => lines.push(l) });
  t.deepEqual(await names(s), [lock.name]);
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /an earlier process with this pid left it$/);
  // But this process's own live locks are not.
  await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: 0 }), { instanceOf: LockTimeoutError });
  await lock.release();
});

test('locks of a live process, or of another host, are not broken; break-lock removes them', async (t) => {
  const s = storage();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
  t.teardown(() => child.kill());
  const live = await foreignLock(s, 'shared', hostname(), child.pid ?? 0);
  const remote = await foreignLock(s, 'shared', 'elsewhere.example', deadPid());
  const err = await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: 0.1 }), { instanceOf: LockTimeoutError });
  t.true(err?.message.includes('on elsewhere.example'));
  t.true(err?.message.includes(`pid ${child.pid ?? 0} on ${hostname()}`));
  t.deepEqual(await names(s), [live, remote].sort());
  t.deepEqual((await breakLocks(s)).sort(), [live, remote].sort());
  const lock = await acquireLock(s, 'exclusive', { waitSeconds: 0 });
  await lock.release();
});

test('an unreadable lock object blocks every lock and only break-lock removes it', async (t) => {
  const s = storage();
  await s.put('locks/garbage', Buffer.from('not a lock'));
  await s.put(`locks/exclusive-${'0'.repeat(12)}-${'a'.repeat(16)}`, Buffer.from('{"kind":"exclusive"}'));
  for (const kind of ['shared', 'exclusive'] as const) {
    await t.throwsAsync(acquireLock(s, kind, { waitSeconds: 0 }), { instanceOf: LockTimeoutError, message: /held by an unreadable lock object locks\/exclusive-0+-a+, an unreadable lock object locks\/garbage;/ });
  }
  t.deepEqual((await listLocks(s)).map((l) => l.holder), [undefined, undefined]);
  t.is((await breakLocks(s)).length, 2);
  const lock = await acquireLock(s, 'exclusive', { waitSeconds: 0 });
  await lock.release();
});

test('refresh rewrites the time, by hand and on the timer', async (t) => {
  const s = storage();
  const lock = await acquireLock(s, 'shared', { waitSeconds: 0, refreshSeconds: 0.05 });
  const read = async (): Promise<{ time: string; created: string }> => JSON.parse((await s.get(lock.name)).toString('utf8')) as { time: string; created: string };
  const first = await read();
  t.is(first.time, first.created);
  await delay(5);
  t.true(await lock.refresh());
  const second = await read();
  t.true(second.time > first.time);
  t.is(second.created, first.created);
  t.is(lock.holder.time, second.time);
  // The timer (every 50 ms) writes it again; waits up to 10 s, for a loaded machine's fsyncs.
  let third = await read();
  for (let i = 0; i < 100 && third.time <= second.time; i += 1) {
    await delay(100);
    third = await read();
  }
  t.true(third.time > second.time);
  await lock.release();
});

test('release is idempotent and nothing writes the object again afterwards', async (t) => {
  const s = storage();
  const lock: Lock = await acquireLock(s, 'exclusive', { waitSeconds: 0, refreshSeconds: 0.02 });
  const { release } = lock;
  await Promise.all([release(), lock.release()]);
  await lock.release();
  t.deepEqual(await listLocks(s), []);
  t.false(await lock.refresh());
  t.false(await lock.stillHeld());
  await delay(80);
  t.deepEqual(await listLocks(s), []);
});

test('stillHeld is false after break-lock, and the lock is not brought back', async (t) => {
  const s = storage();
  const lock = await acquireLock(s, 'exclusive', { waitSeconds: 0, refreshSeconds: 60 });
  t.true(await lock.stillHeld());
  t.deepEqual(await breakLocks(s), [lock.name]);
  t.false(await lock.stillHeld());
  t.false(await lock.refresh());
  t.deepEqual(await listLocks(s), []);
  await lock.release();
});

test('the refresh timer notices a broken lock, says so and writes nothing', async (t) => {
  const s = storage();
  const lines: string[] = [];
  const lock = await acquireLock(s, 'shared', { waitSeconds: 0, refreshSeconds: 0.03, log: (l) => lines.push(l) });
  await breakLocks(s);
  // The next tick notices; on a loaded machine that can take a while.
  for (let i = 0; i < 1000 && lines.length === 0; i += 1) await delay(10);
  await delay(100);
  t.deepEqual(await listLocks(s), []);
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /^the lock locks\/shared-\S+ was removed by someone else/);
  t.false(await lock.stillHeld());
  await lock.release();
});

test('bad options are refused', async (t) => {
  const s = storage();
  await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: -1 }), { code: 'HOARD_INVALID_ARGUMENT' });
  await t.throwsAsync(acquireLock(s, 'exclusive', { waitSeconds: Number.NaN }), { code: 'HOARD_INVALID_ARGUMENT' });
  await t.throwsAsync(acquireLock(s, 'shared', { refreshSeconds: 0 }), { code: 'HOARD_INVALID_ARGUMENT' });
  t.deepEqual(await listLocks(s), []);
});
