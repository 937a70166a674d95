// The fixed log-scale latency histogram of the usage roll-ups, and percentiles estimated from it.

/**
 * Upper edges (inclusive, ms) of the 16 latency buckets h00…h15: 1, 2, 5, 10, 20, 50, 100, 200, 500,
 * 1000, 2000, 5000, 10000, 30000, 60000, and everything above. A percentile read from roll-ups is
 * interpolated inside its bucket, so it is off by at most that bucket's width.
 */
export const LATENCY_EDGES: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, Number.POSITIVE_INFINITY];

export const HISTOGRAM_COLUMNS: readonly string[] = LATENCY_EDGES.map((_, i) => `h${String(i).padStart(2, "0")}`);

/** The bucket a duration falls in. */
export function latencyBucket(durationMs: number): number {
  for (let i = 0; i < LATENCY_EDGES.length; i++) if (durationMs <= LATENCY_EDGES[i]!) return i;
  return LATENCY_EDGES.length - 1;
}

/** The [lower, upper] bounds of a bucket (the last one's upper bound is its lower bound: nothing above is known). */
export function bucketBounds(index: number): [number, number] {
  const lower = index === 0 ? 0 : LATENCY_EDGES[index - 1]!;
  const upper = LATENCY_EDGES[index]!;
  return [lower, Number.isFinite(upper) ? upper : lower];
}

/** The q-quantile (0 < q ≤ 1) of a histogram, interpolated inside its bucket; null when empty. */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const [lower, upper] = bucketBounds(i);
      return Math.round(lower + ((upper - lower) * (rank - seen)) / c);
    }
    seen += c;
  }
  return null;
}

/** The q-quantile of exact values (nearest rank); null when empty. */
export function exactQuantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}
