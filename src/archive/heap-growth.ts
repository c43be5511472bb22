import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's young generation at its first size, and its old generation at twice what survived
 * the last full collection, for the rest of the process.
 *
 * An extract of many small files makes short-lived objects at a high rate (items, pieces,
 * closures), and V8 answers by growing its young generation's semi-spaces towards 16 MiB each:
 * some 30 MB of peak memory holding garbage, on pages new to the process (each a fault, which
 * costs system time on the benchmark machine). With a growth factor of 1 the new space stays at
 * its first size and is scavenged more often instead. What is still in flight at a scavenge is
 * promoted, so the old generation fills with garbage, and V8 lets it grow to three or four times
 * what survived its last full collection (15 MB on /usr/lib: 50 to 55 MB) before the next one;
 * a factor of 2 (`--heap-growing-percent=100`) collects it twice as often, each collection
 * marking only those 15 MB. V8 reads both flags each time it sizes a space, so setting them
 * after start-up takes effect (see docs/architecture.md, "Memory").
 */
export function limitHeapGrowth(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=100');
}
