import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's young generation at its starting size for the rest of the process.
 *
 * An extract of many small files makes short-lived objects at a high rate (items, pieces,
 * closures), and V8 answers by growing its semi-spaces up to 16 MiB each: some 30 MB of peak
 * memory that holds only garbage, on pages that are new to the process (each one faulted in,
 * which costs system time). With a growth factor of 1 the new space stays at its first size and
 * is scavenged more often instead (see docs/architecture.md, "Memory"). The flag is read by V8
 * each time it considers growing the new space, so setting it after start-up takes effect.
 */
export function keepYoungHeapSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
