import { setFlagsFromString } from 'node:v8';

/**
 * Limits how far V8 grows its heap ahead of what is live, for the rest of the process.
 *
 * An extract of many small files makes short-lived objects at a high rate (items, pieces,
 * closures). V8 answers by growing its young generation's semi-spaces towards 16 MiB each, and
 * its old generation to up to four times what survived the last full collection: on the copy of
 * `/usr/lib` the heap reached 76 MB for some 25 MB of live objects, and every page of that was
 * new to the process (a fault, which costs system time on the benchmark machine). So the young
 * generation stays at its first size (growth factor 1: scavenged more often instead) and the old
 * generation's limit is set at 1.5 times what is live. V8 reads both flags each time it sizes the
 * heap, so setting them after start-up takes effect (see docs/architecture.md, "Memory").
 */
export function limitHeapGrowth(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=50');
}
