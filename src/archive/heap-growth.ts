import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's young generation at its first size for the rest of the process.
 *
 * An extract of many small files makes short-lived objects at a high rate (items, pieces,
 * closures), and V8 answers by growing its young generation's semi-spaces towards 16 MiB each:
 * some 30 MB of peak memory holding garbage, on pages new to the process (each a fault, which
 * costs system time on the benchmark machine). With a growth factor of 1 the new space stays at
 * its first size and is scavenged more often instead. V8 reads the flag each time it would grow
 * the new space, so setting it after start-up takes effect (see docs/architecture.md, "Memory").
 */
export function limitHeapGrowth(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
