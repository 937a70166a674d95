// The usage recorder: a bounded in-memory queue of usage records, written in batches (rows and their
// roll-ups in one transaction) on a timer or when enough are queued, never on the request path.
import type { Database, Statement } from "bun:sqlite";
import { createHash } from "node:crypto";
import { sql, type Column, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { driverReason, storableText } from "../../db/portable.ts";
import { outsideTransactions, sqliteOf, tables, transaction } from "../../db/store.ts";
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

const TOTALS_KEY = ["grain", "scope", "scope_id", "dim", "bucket", "dim_id", "outcome", "error_code"] as const;

/** Scopes kept per minute too; every other scope is kept per hour only (see scopesOf). */
export const MINUTE_SCOPES: ReadonlySet<string> = new Set(["", "agent"]);

/**
 * The scopes a record counts in (usage_totals): all calls, its agent, its credential, its user, its
 * connection, its name; the dashboard's unfiltered view and one-filter views read only these. All calls
 * and an agent's are kept per minute and per hour; the others per hour only, since per minute they would
 * hold nearly a row per call (a day of one key or user is read from the combination roll-ups by index).
 */
export function scopesOf(r: UsageRecord): [string, string][] {
  const scopes: [string, string | null][] = [
    ["", ""],
    ["agent", r.target.kind === "agent" ? r.target.id : null],
    ["credential", r.actor.credentialId],
    ["user", r.actor.userId],
    ["connection", r.connectionId],
    ["name", r.name],
  ];
  return scopes.filter((s): s is [string, string] => s[1] !== null);
}

/**
 * The dimensions a record is counted by within a scope: the total ("") and each it has a value for;
 * within a credential's scope also its client (JSON [name, version]) and address, for the key's activity.
 */
export function dimensionsOf(r: UsageRecord, scope: string): [string, string][] {
  const dims: [string, string | null][] = [
    ["", ""],
    ["name", r.name],
    ["agent", r.target.kind === "agent" ? r.target.id : null],
    ["connection", r.connectionId],
    ["credential", r.actor.credentialId],
    ["user", r.actor.userId],
  ];
  if (scope === "credential") {
    dims.push(["client", r.client.name === null && r.client.version === null ? null : JSON.stringify([r.client.name, r.client.version])]);
    dims.push(["address", r.address]);
  }
  return dims.filter((d): d is [string, string] => d[1] !== null);
}

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

/** One roll-up row's increments, summed over a batch before it is written. */
type Sums = { calls: number; errors: number; durationSum: number; hist: number[] };
type Increment = Sums & { key: (string | number)[] };

function emptySums(): Sums {
  return { calls: 0, errors: 0, durationSum: 0, hist: HISTOGRAM_COLUMNS.map(() => 0) };
}

function addTo(into: Map<string, Increment>, key: (string | number)[], sums: Sums): void {
  const id = JSON.stringify(key);
  let inc = into.get(id);
  if (!inc) {
    inc = { key, ...emptySums() };
    into.set(id, inc);
  }
  inc.calls += sums.calls;
  inc.errors += sums.errors;
  inc.durationSum += sums.durationSum;
  for (let i = 0; i < sums.hist.length; i++) inc.hist[i]! += sums.hist[i]!;
}

function upsertSql(table: string, key: readonly string[]): string {
  const hist = HISTOGRAM_COLUMNS.join(", ");
  return (
    `INSERT INTO ${table} (${key.join(", ")}, calls, errors, duration_sum, ${hist}) ` +
    `VALUES (${key.map(() => "?").join(", ")}, ?, ?, ?, ${HISTOGRAM_COLUMNS.map(() => "?").join(", ")}) ` +
    `ON CONFLICT (${key.join(", ")}) DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors, ` +
    `duration_sum = duration_sum + excluded.duration_sum, ${HISTOGRAM_COLUMNS.map((h) => `${h} = ${h} + excluded.${h}`).join(", ")}`
  );
}

/** A batch ready to write: its rows (EVENT_COLUMNS order) and its roll-ups' summed increments. */
export type UsageBatch = { rows: (string | number | null)[][]; rollups: Increment[]; totals: Increment[]; skipped: number };

/**
 * Most UTF-8 bytes of a text that is part of an index key (a roll-up's key, an indexed column of a
 * row). PostgreSQL's btree refuses a key over 2704 bytes, and usage_rollups' key has nine text columns:
 * at 256 bytes each a key always fits. A tool name may be 512 characters (1536 bytes) of the client's choice.
 */
export const KEY_TEXT_BYTES = 256;

/**
 * `text` cut to at most `maxBytes` (as `size` measures each character: UTF-8 bytes unless told) on a
 * character boundary, with a short hash of the whole text appended when cut, so two long names that
 * share their first bytes stay two rows. Texts within the bound are returned as they are, so cutting a
 * cut text changes nothing; both engines store the same text, and give the same answers.
 */
export function keyText<T extends string | null>(text: T, maxBytes: number = KEY_TEXT_BYTES, size: (text: string) => number = utf8Bytes): T {
  // Every recorded call passes a dozen texts through here: the whole text is measured at once, and
  // split into characters only when it has to be cut (the sizes add up character by character).
  if (text === null || size(text) <= maxBytes) return text;
  const chars = [...(text as string)];
  const suffix = `…${createHash("sha256").update(text).digest("hex").slice(0, 10)}`;
  const budget = maxBytes - utf8Bytes(suffix);
  let kept = "";
  let used = 0;
  for (const char of chars) {
    const cost = size(char);
    if (used + cost > budget) break;
    kept += char;
    used += cost;
  }
  return `${kept}${suffix}` as T;
}

/** A key text (a tool name, an id) as the recorder stores it, so a filter given the whole text finds its rows. */
export function storedKeyText<T extends string | null>(text: T): T {
  return keyText(storableText(text));
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text);
}

/** A text's bytes once in JSON text (a control character becomes \u00XX): the client's roll-up id is JSON. */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/**
 * The record with every string it stores made storable: a NUL in a tool name, an upstream's error
 * message or a client's name (a hostile peer's choice) must not fail the batch on PostgreSQL and lose
 * the other calls with it. The payload is stored as JSON text, in which a NUL is already escaped.
 * Every text that is part of an index key (the row's indexed columns, the roll-ups' keys) is bounded
 * (keyText; the face, kind and outcome are the server's few words), in the row too, so a filter on a value read from the roll-ups finds the rows; the client's
 * name and version are bounded as JSON, which the credential's client roll-up keeps ([name, version]).
 */
function storableRecord(r: UsageRecord): UsageRecord {
  const text = storedKeyText<string | null>;
  return {
    ...r,
    target: { ...r.target, id: text(r.target.id), slug: storableText(r.target.slug) },
    method: storableText(r.method),
    name: text(r.name),
    upstreamName: storableText(r.upstreamName),
    connectionId: text(r.connectionId),
    errorCode: text(r.errorCode),
    errorMessage: storableText(r.errorMessage),
    actor: { ...r.actor, userId: text(r.actor.userId), credentialId: text(r.actor.credentialId) },
    sessionId: storableText(r.sessionId),
    client: { name: keyText(storableText(r.client.name), 200, jsonBytes), version: keyText(storableText(r.client.version), 100, jsonBytes) },
    address: text(r.address),
  };
}

/**
 * Turns records into a batch. The roll-ups' increments are summed in memory first, so a busy batch (many
 * calls of the same tool by the same key in the same minute) costs one upsert per distinct row rather
 * than ~40 per call. One malformed record (an invalid date, a payload JSON cannot hold) is skipped, not the batch.
 */
export function usageBatch(records: readonly UsageRecord[]): UsageBatch {
  const groups = new Map<string, Group>();
  const rows: (string | number | null)[][] = [];
  for (const raw of records) {
    const r = storableRecord(raw);
    try {
      const values = eventValues(r);
      if (!Number.isFinite(values[0])) continue;
      rows.push(values);
      addToGroup(groups, r);
    } catch {
      continue;
    }
  }
  const rollups = new Map<string, Increment>();
  const totals = new Map<string, Increment>();
  for (const group of groups.values()) collect(group, rollups, totals);
  return { rows, rollups: [...rollups.values()], totals: [...totals.values()], skipped: records.length - rows.length };
}

/** What writeUsage wrote: records skipped (malformed, or refused by the database), and why the last was refused. */
export type UsageWritten = { skipped: number; refused: number; reason: string | null };

/**
 * Writes a batch of records and their roll-ups in one transaction, whichever engine holds `db`: prepared
 * statements on SQLite (`writer`, made once per sink), multi-row drizzle inserts and upserts otherwise.
 * A batch PostgreSQL refuses for its data (a value out of range, a key too long) is written again one
 * record at a time, each with its roll-ups in its own transaction, so a bad record costs only itself; a
 * failure of the database itself (unreachable, out of space) rejects, and the batch is lost as before.
 */
export async function writeUsage(db: Db, writer: () => UsageWriter, records: readonly UsageRecord[]): Promise<UsageWritten> {
  const batch = usageBatch(records);
  if (sqliteOf(db)) {
    await outsideTransactions(db);
    writer().writeBatch(batch);
    return { skipped: batch.skipped, refused: 0, reason: null };
  }
  try {
    await writeUsageBatchPortable(db, batch);
    return { skipped: batch.skipped, refused: 0, reason: null };
  } catch (err) {
    if (!refusedData(err)) throw err;
  }
  let refused = 0;
  let reason: string | null = null;
  for (const record of records) {
    const one = usageBatch([record]);
    if (one.rows.length === 0) continue;
    try {
      await writeUsageBatchPortable(db, one);
    } catch (err) {
      if (!refusedData(err)) throw err;
      refused++;
      reason = driverReason(err);
    }
  }
  return { skipped: batch.skipped + refused, refused, reason };
}

/**
 * Whether PostgreSQL refused the statement for the data it carried (SQLSTATE class 22, data exception;
 * 23, integrity constraint; 54, program limit exceeded, such as an index row too large), rather than
 * failing itself: only then is writing the batch again, record by record, worth it.
 */
function refusedData(err: unknown): boolean {
  const code = ((err as { cause?: { errno?: unknown } } | null)?.cause?.errno ?? null) as unknown;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

/** Rows per multi-row statement: 1000 × 30 columns stays under both engines' bound on parameters (32766, 65535). */
const CHUNK_ROWS = 1000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK_ROWS) out.push(items.slice(i, i + CHUNK_ROWS));
  return out;
}

/** A roll-up's counters as drizzle values (HISTOGRAM_COLUMNS are the schema's h00…h15 keys). */
function counterValues(inc: Increment): Record<string, number> {
  const values: Record<string, number> = { calls: inc.calls, errors: inc.errors, durationSum: inc.durationSum };
  HISTOGRAM_COLUMNS.forEach((h, i) => (values[h] = inc.hist[i]!));
  return values;
}

/**
 * A batch written through drizzle, in SQL both engines run: one multi-row INSERT per 1000 rows, and the
 * roll-ups as INSERT … ON CONFLICT (key) DO UPDATE adding the batch's increments (a batch holds each key
 * once, which PostgreSQL requires of one statement). The SQLite server writes with UsageWriter instead.
 */
export async function writeUsageBatchPortable(db: Db, batch: UsageBatch): Promise<void> {
  const { usageEvents, usageRollups, usageTotals } = tables(db);
  // Each counter becomes itself plus the batch's increment (`excluded` is the row the INSERT proposed).
  const added = (t: typeof usageRollups | typeof usageTotals): Record<string, SQL> => {
    const columns = t as unknown as Record<string, Column>;
    const set: Record<string, SQL> = {};
    for (const key of ["calls", "errors", "durationSum", ...HISTOGRAM_COLUMNS]) {
      set[key] = sql`${columns[key]!} + excluded.${sql.identifier(columns[key]!.name)}`;
    }
    return set;
  };
  await transaction(db, async (tx) => {
    for (const part of chunks(batch.rows)) {
      await tx.insert(usageEvents).values(part.map((v) => Object.fromEntries(EVENT_FIELDS.map((f, i) => [f, v[i]])) as typeof usageEvents.$inferInsert));
    }
    for (const part of chunks(batch.rollups)) {
      const values = part.map((inc) => ({ ...Object.fromEntries(ROLLUP_FIELDS.map((f, i) => [f, inc.key[i]])), ...counterValues(inc) }) as typeof usageRollups.$inferInsert);
      await tx.insert(usageRollups).values(values).onConflictDoUpdate({ target: ROLLUP_FIELDS.map((f) => usageRollups[f]), set: added(usageRollups) });
    }
    for (const part of chunks(batch.totals)) {
      const values = part.map((inc) => ({ ...Object.fromEntries(TOTALS_FIELDS.map((f, i) => [f, inc.key[i]])), ...counterValues(inc) }) as typeof usageTotals.$inferInsert);
      await tx.insert(usageTotals).values(values).onConflictDoUpdate({ target: TOTALS_FIELDS.map((f) => usageTotals[f]), set: added(usageTotals) });
    }
  });
}

/** The schema's field names of EVENT_COLUMNS, ROLLUP_KEY and TOTALS_KEY, in the same order. */
const EVENT_FIELDS = [
  "at", "durationMs", "face", "targetKind", "targetId", "targetSlug", "method", "name", "upstreamName", "connectionId",
  "outcome", "errorCode", "errorMessage", "userId", "credentialKind", "credentialId", "sessionId", "clientName",
  "clientVersion", "address", "requestBytes", "responseBytes", "payload",
] as const;
const ROLLUP_FIELDS = ["grain", "bucket", "targetId", "connectionId", "name", "credentialId", "userId", "outcome", "errorCode", "face", "targetKind"] as const;
const TOTALS_FIELDS = ["grain", "scope", "scopeId", "dim", "bucket", "dimId", "outcome", "errorCode"] as const;

/** Prepared statements that write records and their roll-ups on SQLite (shared with the CLI's immediate sink). */
export class UsageWriter {
  private readonly insertEvent: Statement;
  private readonly upsertRollup: Statement;
  private readonly upsertTotal: Statement;

  constructor(readonly sqlite: Database) {
    this.insertEvent = sqlite.prepare(`INSERT INTO usage_events (${EVENT_COLUMNS.join(", ")}) VALUES (${EVENT_COLUMNS.map(() => "?").join(", ")})`);
    this.upsertRollup = sqlite.prepare(upsertSql("usage_rollups", ROLLUP_KEY));
    this.upsertTotal = sqlite.prepare(upsertSql("usage_totals", TOTALS_KEY));
  }

  /** Writes records and their roll-ups in one transaction, synchronously (see writeBatch). */
  write(records: readonly UsageRecord[]): { skipped: number } {
    const batch = usageBatch(records);
    this.writeBatch(batch);
    return { skipped: batch.skipped };
  }

  /**
   * Writes a batch in one transaction, synchronously: the caller has made sure no other request's
   * transaction is open on the connection (outsideTransactions, or SQLite's own inTransaction).
   */
  writeBatch(batch: UsageBatch): void {
    this.sqlite.transaction(() => {
      for (const values of batch.rows) this.insertEvent.run(...values);
      for (const inc of batch.rollups) this.upsertRollup.run(...inc.key, inc.calls, inc.errors, inc.durationSum, ...inc.hist);
      for (const inc of batch.totals) this.upsertTotal.run(...inc.key, inc.calls, inc.errors, inc.durationSum, ...inc.hist);
    }).immediate();
  }
}

/**
 * Records that count the same in every roll-up: the same minute and the same value of every dimension.
 * A batch's records are summed into these groups first (one key each), and each group is then added to
 * its ~40 roll-up and total rows once: a busy batch (the same tool, key and client within a minute) no
 * longer builds 40 keys per call.
 */
type Group = { r: UsageRecord; minute: number; hour: number; sums: Sums };

function addToGroup(groups: Map<string, Group>, r: UsageRecord): void {
  const at = r.at.getTime();
  const minute = at - (at % MINUTE);
  const id = JSON.stringify([minute, r.target.kind, r.target.id, r.connectionId, r.name, r.actor.credentialId, r.actor.userId, r.outcome, r.errorCode, r.face, r.client.name, r.client.version, r.address]);
  let group = groups.get(id);
  if (!group) {
    group = { r, minute, hour: at - (at % HOUR), sums: emptySums() };
    groups.set(id, group);
  }
  const duration = Math.max(0, Math.round(r.durationMs));
  group.sums.calls++;
  group.sums.errors += isErrorOutcome(r.outcome) ? 1 : 0;
  group.sums.durationSum += duration;
  group.sums.hist[latencyBucket(duration)]!++;
}

/** A group's increments of its combination roll-ups (minute, hour) and per-dimension roll-ups. */
function collect(group: Group, rollups: Map<string, Increment>, totals: Map<string, Increment>): void {
  const { r, minute, hour, sums } = group;
  const key = [r.target.id ?? "", r.connectionId ?? "", r.name ?? "", r.actor.credentialId ?? "", r.actor.userId ?? "", r.outcome, r.errorCode ?? "", r.face, r.target.kind];
  addTo(rollups, ["m", minute, ...key], sums);
  addTo(rollups, ["h", hour, ...key], sums);
  for (const [scope, scopeId] of scopesOf(r)) {
    for (const [dim, dimId] of dimensionsOf(r, scope)) {
      // Only the total keeps the outcome and error code (the error breakdown); a ranking needs just
      // calls and errors, and splitting it by outcome would multiply its rows.
      const [outcome, code] = dim === "" ? [r.outcome, r.errorCode ?? ""] : ["", ""];
      if (MINUTE_SCOPES.has(scope)) addTo(totals, ["m", scope, scopeId, dim, minute, dimId, outcome, code], sums);
      addTo(totals, ["h", scope, scopeId, dim, hour, dimId, outcome, code], sums);
    }
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
  /** The batch being written (batches are written one after another, in the order they were taken). */
  private writing: Promise<void> = Promise.resolve();
  private readonly state = { recorded: 0, written: 0, dropped: 0, lost: 0 };

  constructor(private readonly db: Db, private readonly options: RecorderOptions) {
    if (options.enabled) {
      this.timer = setInterval(() => void this.flush(), Math.max(1, options.flushIntervalMs));
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
        void this.flush();
      }, 0);
    }
  }

  /**
   * Writes everything queued now, in one transaction, after the batches taken before it; resolves when
   * it is written. Never rejects: a failure loses that batch and is logged once.
   */
  flush(): Promise<void> {
    if (this.queue.length === 0) return this.writing;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  private async write(batch: UsageRecord[]): Promise<void> {
    try {
      const { skipped, refused, reason } = await writeUsage(this.db, () => (this.writer ??= new UsageWriter(sqliteOf(this.db)!)), batch);
      this.state.written += batch.length - skipped;
      this.state.lost += skipped;
      if (refused > 0) this.options.logger?.warn("the database refused some usage records; the rest of the batch is written", { rows: batch.length, refused, error: reason });
      if (this.failing) this.options.logger?.info("usage records are written again");
      this.failing = false;
    } catch (err) {
      this.state.lost += batch.length;
      // Once per failing spell: a full disk would otherwise log on every interval. The driver's reason
      // only: drizzle's message carries every row's values (users' addresses, client names).
      if (!this.failing) this.options.logger?.error("cannot write usage records; this batch is lost", { rows: batch.length, error: driverReason(err) });
      this.failing = true;
    }
  }

  /** Stops the timer, refuses new records and writes what is queued (graceful shutdown); resolves once written. */
  stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stopped = true;
    return this.flush();
  }
}

/**
 * A UsageSink that writes each record at once, for the CLI: a command is one short run on the host with
 * no requests to keep fast, and a queue could be lost when it exits. A failed write is ignored (never throws).
 */
export class ImmediateUsageSink implements UsageSink {
  private writer: UsageWriter | null = null;
  /** The writes not finished yet (on PostgreSQL, or on SQLite while a transaction is open). */
  private pending: Promise<void> = Promise.resolve();
  constructor(private readonly db: Db) {}

  record(record: UsageRecord): void {
    try {
      const sqlite = sqliteOf(this.db);
      // On SQLite with no transaction open the row is written before record() returns, as it always was.
      if (sqlite && !sqlite.inTransaction) {
        this.writer ??= new UsageWriter(sqlite);
        this.writer.write([record]);
        return;
      }
      this.pending = this.pending.then(() => writeUsage(this.db, () => (this.writer ??= new UsageWriter(sqlite!)), [record])).then(
        () => {},
        () => {},
      );
    } catch {
      // Usage is a record of what happened, never a reason for a command to fail.
    }
  }

  /** Resolves when every record handed so far is written (or failed); it never rejects. */
  settled(): Promise<void> {
    return this.pending;
  }
}
