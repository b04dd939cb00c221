/** Summaries: nearest-rank percentiles, medians and a downsampled CDF for plots. */

/** Nearest-rank percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

/** The median (the mean of the middle two for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** At most `points` (latency ms, fraction ≤) pairs of an ascending array: enough to draw a CDF. */
export function cdf(sorted: readonly number[], points = 100): [number, number][] {
  if (sorted.length === 0) return [];
  const out: [number, number][] = [];
  for (let i = 1; i <= points; i++) {
    const q = i / points;
    out.push([percentile(sorted, q * 100), q]);
  }
  return out;
}
