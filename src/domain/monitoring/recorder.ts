// The usage recorder: a bounded in-memory queue of usage records, written in batches (rows and their
// roll-ups in one transaction) on a timer or when enough are queued, never on the request path.
import type { Database, Statement } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import type { Logger } from "../../logger.ts";
import { HISTOGRAM_COLUMNS, latencyBucket } from "./histogram.ts";
import type { UsageRecord, UsageSink } from "./types.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;

export type RecorderOptions = {
  enabled: boolean;
  queueSize: number;
  flushIntervalMs: number;
  flushRows: number;
  /** Where a failed write is reported (once until a write succeeds again). */
  logger?: Logger;
};

export type RecorderCounters = {
  /** Records accepted into the queue. */
  recorded: number;
  /** Records written to the database. */
  written: number;
  /** Records refused because the queue was full. */
  dropped: number;
  /** Records waiting now. */
  queued: number;
  /** Records lost because their batch could not be written (disk full, database busy). */
  lost: number;
};

/** Whether an outcome counts as an error in roll-ups and stats: anything but "ok". */
export function isErrorOutcome(outcome: string): boolean {
  return outcome !== "ok";
}

const EVENT_COLUMNS = [
  "at", "duration_ms", "face", "target_kind", "target_id", "target_slug", "method", "name", "upstream_name", "connection_id",
  "outcome", "error_code", "error_message", "user_id", "credential_kind", "credential_id", "session_id", "client_name",
  "client_version", "address", "request_bytes", "response_bytes", "payload",
] as const;

const ROLLUP_KEY = ["grain", "bucket", "target_id", "connection_id", "name", "credential_id", "user_id", "outcome", "error_code", "face", "target_kind"] as const;

/** The row values of one record, in EVENT_COLUMNS order. */
export function eventValues(r: UsageRecord): (string | number | null)[] {
  return [
    r.at.getTime(), Math.max(0, Math.round(r.durationMs)), r.face, r.target.kind, r.target.id, r.target.slug, r.method, r.name,
    r.upstreamName, r.connectionId, r.outcome, r.errorCode, r.errorMessage, r.actor.userId, r.actor.credentialKind,
    r.actor.credentialId, r.sessionId, r.client.name, r.client.version, r.address, r.requestBytes, r.responseBytes,
    r.payload === null ? null : JSON.stringify(r.payload),
  ];
}

/** Prepared statements that write records and their roll-ups (shared with the benchmark's generator). */
export class UsageWriter {
  private readonly insertEvent: Statement;
  private readonly upsertRollup: Statement;
  /** A batch's roll-up, summed in memory: one upsert per (grain, bucket, key) instead of two per record. */
  private readonly addRollup: Statement;

  constructor(readonly sqlite: Database) {
    this.insertEvent = sqlite.prepare(`INSERT INTO usage_events (${EVENT_COLUMNS.join(", ")}) VALUES (${EVENT_COLUMNS.map(() => "?").join(", ")})`);
    const hist = HISTOGRAM_COLUMNS.join(", ");
    this.upsertRollup = sqlite.prepare(
      `INSERT INTO usage_rollups (${ROLLUP_KEY.join(", ")}, calls, errors, duration_sum, ${hist}) ` +
        `VALUES (${ROLLUP_KEY.map(() => "?").join(", ")}, 1, ?, ?, ${HISTOGRAM_COLUMNS.map(() => "?").join(", ")}) ` +
        `ON CONFLICT (${ROLLUP_KEY.join(", ")}) DO UPDATE SET calls = calls + 1, errors = errors + excluded.errors, ` +
        `duration_sum = duration_sum + excluded.duration_sum, ${HISTOGRAM_COLUMNS.map((h) => `${h} = ${h} + excluded.${h}`).join(", ")}`,
    );
    this.addRollup = sqlite.prepare(
      `INSERT INTO usage_rollups (${ROLLUP_KEY.join(", ")}, calls, errors, duration_sum, ${hist}) ` +
        `VALUES (${ROLLUP_KEY.map(() => "?").join(", ")}, ?, ?, ?, ${HISTOGRAM_COLUMNS.map(() => "?").join(", ")}) ` +
        `ON CONFLICT (${ROLLUP_KEY.join(", ")}) DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors, ` +
        `duration_sum = duration_sum + excluded.duration_sum, ${HISTOGRAM_COLUMNS.map((h) => `${h} = ${h} + excluded.${h}`).join(", ")}`,
    );
  }

  /** Writes records and their roll-ups in one transaction (the caller's, if one is open). */
  write(records: readonly UsageRecord[]): void {
    // The roll-ups of a batch are summed first: a busy gateway's batch shares a few keys per minute, and
    // two upserts per record were half the cost of recording (bench proxy: recording on vs off).
    const sums = new Map<string, { grain: string; bucket: number; key: string[]; calls: number; errors: number; duration: number; hist: number[] }>();
    for (const r of records) {
      const at = r.at.getTime();
      const duration = Math.max(0, Math.round(r.durationMs));
      const key = [r.target.id ?? "", r.connectionId ?? "", r.name ?? "", r.actor.credentialId ?? "", r.actor.userId ?? "", r.outcome, r.errorCode ?? "", r.face, r.target.kind];
      const joined = JSON.stringify(key);
      for (const [grain, bucket] of [["m", at - (at % MINUTE)], ["h", at - (at % HOUR)]] as const) {
        const id = `${grain}${bucket}${joined}`;
        let sum = sums.get(id);
        if (!sum) sums.set(id, (sum = { grain, bucket, key, calls: 0, errors: 0, duration: 0, hist: HISTOGRAM_COLUMNS.map(() => 0) }));
        sum.calls++;
        sum.errors += isErrorOutcome(r.outcome) ? 1 : 0;
        sum.duration += duration;
        sum.hist[latencyBucket(duration)]!++;
      }
    }
    this.sqlite.transaction(() => {
      for (const r of records) this.insertEvent.run(...eventValues(r));
      for (const s of sums.values()) this.addRollup.run(s.grain, s.bucket, ...s.key, s.calls, s.errors, s.duration, ...s.hist);
    }).immediate();
  }

  /** One record's row and its two roll-up upserts, with no transaction of its own. */
  writeOne(r: UsageRecord): void {
    this.insertEvent.run(...eventValues(r));
    const at = r.at.getTime();
    const duration = Math.max(0, Math.round(r.durationMs));
    const hist = HISTOGRAM_COLUMNS.map(() => 0);
    hist[latencyBucket(duration)] = 1;
    const key = [r.target.id ?? "", r.connectionId ?? "", r.name ?? "", r.actor.credentialId ?? "", r.actor.userId ?? "", r.outcome, r.errorCode ?? "", r.face, r.target.kind];
    const errors = isErrorOutcome(r.outcome) ? 1 : 0;
    this.upsertRollup.run("m", at - (at % MINUTE), ...key, errors, duration, ...hist);
    this.upsertRollup.run("h", at - (at % HOUR), ...key, errors, duration, ...hist);
  }
}

/**
 * The UsageSink of a running server: record() only appends to a bounded array (O(1), never throws);
 * a timer (unref'd, so it never keeps the process alive) or the flush_rows-th record schedules a write
 * in a later task, so no request ever waits for the disk. A full queue drops the new record and counts it.
 */
export class UsageRecorder implements UsageSink {
  private queue: UsageRecord[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushScheduled = false;
  private stopped = false;
  private failing = false;
  private writer: UsageWriter | null = null;
  private readonly state = { recorded: 0, written: 0, dropped: 0, lost: 0 };

  constructor(private readonly db: Db, private readonly options: RecorderOptions) {
    if (options.enabled) {
      this.timer = setInterval(() => this.flush(), Math.max(1, options.flushIntervalMs));
      this.timer.unref();
    }
  }

  get counters(): RecorderCounters {
    return { ...this.state, queued: this.queue.length };
  }

  record(record: UsageRecord): void {
    if (!this.options.enabled || this.stopped) return;
    if (this.queue.length >= this.options.queueSize) {
      this.state.dropped++;
      return;
    }
    this.queue.push(record);
    this.state.recorded++;
    if (this.queue.length >= this.options.flushRows && !this.flushScheduled) {
      this.flushScheduled = true;
      // Written in a later task, never inside the request that filled the batch.
      setTimeout(() => {
        this.flushScheduled = false;
        this.flush();
      }, 0);
    }
  }

  /** Writes everything queued now, in one transaction; a failure loses that batch and is logged once. */
  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.writer ??= new UsageWriter(this.db.$client);
      this.writer.write(batch);
      this.state.written += batch.length;
      if (this.failing) this.options.logger?.info("usage records are written again");
      this.failing = false;
    } catch (err) {
      this.state.lost += batch.length;
      // Once per failing spell: a full disk would otherwise log on every interval.
      if (!this.failing) this.options.logger?.error("cannot write usage records; this batch is lost", { rows: batch.length, error: (err as Error).message });
      this.failing = true;
    }
  }

  /** Stops the timer, refuses new records and writes what is queued (graceful shutdown). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stopped = true;
    this.flush();
  }
}

/**
 * A UsageSink that writes each record at once, for the CLI: a command is one short run on the host with
 * no requests to keep fast, and a queue could be lost when it exits. A failed write is ignored (never throws).
 */
export class ImmediateUsageSink implements UsageSink {
  private writer: UsageWriter | null = null;
  constructor(private readonly db: Db) {}

  record(record: UsageRecord): void {
    try {
      this.writer ??= new UsageWriter(this.db.$client);
      this.writer.write([record]);
    } catch {
      // Usage is a record of what happened, never a reason for a command to fail.
    }
  }
}
