/**
 * Randomness, injected. Every random choice the router makes (weighted backend, fault percentages,
 * mirror percentages, least-request sampling) draws from a `Rand` so that tests and `ambit route check
 * --samples` are reproducible.
 */

/** Returns a number in [0, 1). */
export type Rand = () => number;

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; enough for traffic splitting, not for secrets. */
export function seededRand(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Picks an index in proportion to `weights` (non-negative; zero-weight entries are never picked).
 * Returns -1 when every weight is zero.
 */
export function weightedIndex(weights: readonly number[], rand: Rand): number {
  let total = 0;
  for (const w of weights) total += Math.max(w, 0);
  if (total <= 0) return -1;
  let point = rand() * total;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] ?? 0;
    if (w <= 0) continue;
    if (point < w) return i;
    point -= w;
  }
  // Floating-point residue: the last positive weight.
  for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] ?? 0) > 0) return i;
  return -1;
}

/** True with probability `percent` / 100 (Istio percentages are doubles in [0, 100]). */
export function chance(percent: number, rand: Rand): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return rand() * 100 < percent;
}
