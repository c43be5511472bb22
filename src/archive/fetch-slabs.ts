/**
 * Takes a fetch buffer of at least `bytes` out of `spares`: the smallest that is large enough;
 * if none is, a new one of at least `least` bytes takes the place of the smallest spare (which is
 * dropped). So the spares only ever grow to the largest fetch, and a spare that would fit is
 * never dropped for a new buffer: each dropped one stays until V8 collects it, and on /usr/lib,
 * where a batch is often one large chunk, they came to 30 to 40 MB (docs/architecture.md,
 * "Memory").
 */
export function takeSlab(spares: Buffer[], bytes: number, least: number): Buffer {
  let fit = -1;
  let smallest = -1;
  spares.forEach((s, i) => {
    if (s.length >= bytes && (fit < 0 || s.length < (spares[fit]?.length ?? 0))) fit = i;
    if (smallest < 0 || s.length < (spares[smallest]?.length ?? 0)) smallest = i;
  });
  const taken = fit >= 0 ? fit : smallest;
  const spare = taken >= 0 ? spares.splice(taken, 1)[0] : undefined;
  return spare !== undefined && spare.length >= bytes ? spare : Buffer.allocUnsafe(Math.max(bytes, least));
}
