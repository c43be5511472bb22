/** Runs real Python 3 as an independent oracle for behaviour hoard copies from borg (Python). */
import { spawnSync } from 'node:child_process';

/** Runs `script` with `input` as JSON on stdin and returns the JSON it prints. */
export function runPython(script: string, input: unknown, env: NodeJS.ProcessEnv = {}): unknown {
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

/** A small seeded generator (mulberry32), so generated cases are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
