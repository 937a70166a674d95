// Calls counted in memory since start, for /metrics: a UsageSink that keeps a counter per
// (target kind, target, method, outcome) and a latency histogram per target, and a sink wrapper that
// feeds it on the way to the recorder, so capture points hand one sink and a scrape reads no database.
import type { Outcome, UsageRecord, UsageSink } from "./types.ts";

/** Latency histogram bucket upper bounds, in seconds (Prometheus' usual spread, up to the longest call timeouts). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

/**
 * Methods kept as label values; any other is counted as "other". A client may send any method name
 * (it is refused, and recorded), and every distinct label value is a series Prometheus keeps forever.
 */
const KNOWN_METHODS = new Set([
  "operation", "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/templates/list", "resources/read",
  "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
  "tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
]);

/** Most distinct targets kept per kind; later ones are counted under "other" (a refused slug is the caller's text). */
const MAX_TARGETS = 1000;
/** Most characters of a target label. */
const MAX_LABEL_LENGTH = 128;

export type CallSeries = { targetKind: string; target: string; method: string; outcome: Outcome; count: number };
export type DurationSeries = { targetKind: string; target: string; buckets: number[]; count: number; sum: number };

/** Counts every record it is handed; reading is a snapshot of the counters. */
export class CallMetrics implements UsageSink {
  private readonly calls = new Map<string, CallSeries>();
  private readonly durations = new Map<string, DurationSeries>();
  private readonly targets = new Map<string, Set<string>>();

  record(record: UsageRecord): void {
    const targetKind = record.target.kind;
    const target = this.targetLabel(targetKind, record.target.slug ?? record.target.id ?? (targetKind === "self" ? "self" : "unknown"));
    const method = KNOWN_METHODS.has(record.method) ? record.method : "other";
    const callKey = `${targetKind}\u0000${target}\u0000${method}\u0000${record.outcome}`;
    const call = this.calls.get(callKey);
    if (call) call.count++;
    else this.calls.set(callKey, { targetKind, target, method, outcome: record.outcome, count: 1 });

    const durationKey = `${targetKind}\u0000${target}`;
    let duration = this.durations.get(durationKey);
    if (!duration) {
      duration = { targetKind, target, buckets: DURATION_BUCKETS.map(() => 0), count: 0, sum: 0 };
      this.durations.set(durationKey, duration);
    }
    const seconds = Math.max(0, record.durationMs) / 1000;
    // Cumulative buckets are summed when read; here each call lands in its first bucket only.
    const index = DURATION_BUCKETS.findIndex((le) => seconds <= le);
    if (index >= 0) duration.buckets[index]!++;
    duration.count++;
    duration.sum += seconds;
  }

  private targetLabel(kind: string, full: string): string {
    // Ids and slugs are short; a longer label is cut, whatever produced it.
    const name = full.slice(0, MAX_LABEL_LENGTH);
    let seen = this.targets.get(kind);
    if (!seen) this.targets.set(kind, (seen = new Set()));
    if (seen.has(name)) return name;
    if (seen.size >= MAX_TARGETS) return "other";
    seen.add(name);
    return name;
  }

  /** The call counters, in first-seen order. */
  callSeries(): CallSeries[] {
    return [...this.calls.values()].map((s) => ({ ...s }));
  }

  /** The latency histograms with cumulative bucket counts (as `le` buckets are exposed). */
  durationSeries(): DurationSeries[] {
    return [...this.durations.values()].map((s) => {
      let running = 0;
      return { ...s, buckets: s.buckets.map((n) => (running += n)) };
    });
  }
}

/** A sink that hands each record to every sink given, in order; one throwing never stops the others. */
export function fanOutSink(...sinks: UsageSink[]): UsageSink {
  return {
    record(record: UsageRecord): void {
      for (const sink of sinks) {
        try {
          sink.record(record);
        } catch {
          // A sink never throws by contract; if one does, the call it records must not fail for it.
        }
      }
    },
  };
}
