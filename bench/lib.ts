// Helpers shared by the benchmarks: latency percentiles and a closed-loop HTTP load generator.

export type Summary = { n: number; p50: number; p99: number; perSecond: number };

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `call` `total` times with `concurrency` workers; returns latency percentiles (ms) and throughput. */
export async function load(call: () => Promise<unknown>, options: { total: number; concurrency: number }): Promise<Summary> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < options.total) {
      next++;
      const t0 = performance.now();
      await call();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { n: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: latencies.length / elapsed };
}

export function fmt(s: Summary): string {
  return `${s.perSecond.toFixed(0).padStart(7)} req/s  p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms`;
}
