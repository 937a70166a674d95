// Dashboard statistics from the usage roll-ups: totals, a time series, top-N and the error breakdown.
// Ranges up to 24 h read the minute roll-ups, longer ones the hour roll-ups. All calls and views with one
// filter (agent; beyond 24 h also key, user, connection, name) are read from the per-dimension roll-ups
// (usage_totals: a few rows per bucket, whatever the size of usage_events); any other filter from the
// combination roll-ups (usage_rollups), by index.
import { and, asc, desc, eq, gte, lte, ne, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client.ts";
import { tables, type Tables } from "../../db/store.ts";
import { rollupsWhere, settled, type UsageFilter, type Where } from "./filter.ts";
import { HISTOGRAM_COLUMNS, histogramQuantile } from "./histogram.ts";
import { MINUTE_SCOPES } from "./recorder.ts";
import type { Outcome } from "./types.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type TopEntry = { id: string; calls: number; errors: number };

export type SeriesPoint = { start: Date; calls: number; errors: number; p50: number | null; p95: number | null; p99: number | null };

export type UsageStats = {
  totals: { calls: number; errors: number; errorRate: number; p50: number | null; p95: number | null; p99: number | null };
  series: SeriesPoint[];
  top: { tools: TopEntry[]; agents: TopEntry[]; connections: TopEntry[]; credentials: TopEntry[]; users: TopEntry[] };
  errors: { outcome: Outcome; code: string | null; count: number }[];
};

/** The roll-up grain a range is read at. */
export function grainFor(filter: UsageFilter): { grain: "m" | "h"; ms: number } {
  return filter.to.getTime() - filter.from.getTime() <= DAY ? { grain: "m", ms: MINUTE } : { grain: "h", ms: HOUR };
}

/** A sum as a number: PostgreSQL's SUM of a bigint is a numeric, which its driver returns as a string. */
function sum(column: SQLiteColumn): SQL<number> {
  return sql<number>`sum(${column})`.mapWith(Number);
}

/** SUM of each histogram column, keyed by its name. */
function histogramSums(t: Rollup): Record<string, SQL<number>> {
  return Object.fromEntries(HISTOGRAM_COLUMNS.map((h) => [h, sum(t[h as "h00"])]));
}

type HistRow = Record<string, number | null>;

function histogramOf(row: HistRow): number[] {
  return HISTOGRAM_COLUMNS.map((h) => row[h] ?? 0);
}

function percentiles(hist: number[]): { p50: number | null; p95: number | null; p99: number | null } {
  return { p50: histogramQuantile(hist, 0.5), p95: histogramQuantile(hist, 0.95), p99: histogramQuantile(hist, 0.99) };
}

/** Calls and errors per bucket of [from, to] split into `buckets` equal parts, with latency percentiles. */
export async function usageSeries(db: Db, filter: UsageFilter, buckets: number): Promise<{ series: SeriesPoint[]; total: number[] }> {
  const n = Math.max(1, Math.min(1000, Math.floor(buckets)));
  const from = filter.from.getTime();
  const width = Math.max(1, Math.ceil((filter.to.getTime() - from + 1) / n));
  const source = sourceFor(db, filter);
  const t = source.table;
  // The point a roll-up bucket counts in: (bucket - from) / width, integer division in both engines,
  // clamped to [0, n - 1] (a bucket that starts before `from`, the range's first partial minute or
  // hour, counts in the first point); a CASE, since the two-argument MIN/MAX are SQLite's only. The
  // numbers are integers written into the SQL, so PostgreSQL divides bigints (a parameter bound as a
  // float would make it a float division).
  const int = (v: number): SQL => sql.raw(String(Math.trunc(v)));
  const index = sql<number>`CASE WHEN ${t.bucket} <= ${int(from)} THEN 0 WHEN ${t.bucket} >= ${int(from + (n - 1) * width)} THEN ${int(n - 1)} ELSE (${t.bucket} - ${int(from)}) / ${int(width)} END`
    .mapWith(Number)
    .as("i");
  await settled(db);
  const rows: ({ i: number; calls: number; errors: number } & HistRow)[] = await db
    .select({ i: index, calls: sum(t.calls), errors: sum(t.errors), ...histogramSums(t) })
    .from(t as Tables["usageRollups"])
    .where(source.where(null))
    .groupBy(sql`i`);
  const byIndex = new Map(rows.map((r) => [r.i, r]));
  const total = HISTOGRAM_COLUMNS.map(() => 0);
  const series: SeriesPoint[] = [];
  for (let i = 0; i < n; i++) {
    const row = byIndex.get(i);
    const hist = row ? histogramOf(row) : HISTOGRAM_COLUMNS.map(() => 0);
    hist.forEach((c, j) => (total[j]! += c));
    series.push({ start: new Date(from + i * width), calls: row?.calls ?? 0, errors: row?.errors ?? 0, ...percentiles(hist) });
  }
  return { series, total };
}

/** What stats rank by. */
type Dimension = "name" | "agent" | "connection" | "credential" | "user";

/** The two roll-up tables (the columns stats read, calls, errors, bucket and h00…h15, they share). */
type Rollup = Tables["usageRollups"] | Tables["usageTotals"];

/** The roll-up table a filter is read from, its WHERE for a dimension (null: the total) and the column holding that dimension's id. */
type Source = { table: Rollup; where: (dim: Dimension | null) => Where; column: (dim: Dimension) => SQLiteColumn };

/** The filters that are scopes of usage_totals, and the scope each names. */
const SCOPE_FILTERS: [keyof UsageFilter, string][] = [["agentId", "agent"], ["credentialId", "credential"], ["userId", "user"], ["connectionId", "connection"], ["name", "name"]];

/** The per-dimension roll-ups serve all calls and one-filter views; any other filter reads the combinations. */
function sourceFor(db: Db, filter: UsageFilter): Source {
  const { usageRollups, usageTotals } = tables(db);
  const { grain, ms } = grainFor(filter);
  const from = filter.from.getTime();
  // One filter at most among agent, credential, user, connection and name (outcome and face are not
  // scopes); all calls and an agent's have minute roll-ups, the others hour roll-ups only (recorder.ts scopesOf).
  const set = SCOPE_FILTERS.filter(([field]) => filter[field] !== undefined);
  const scoped = filter.outcome === undefined && filter.face === undefined && set.length <= 1 && (grain === "h" || set.length === 0 || MINUTE_SCOPES.has(set[0]![1]));
  if (scoped) {
    const t = usageTotals;
    const [scope, scopeId] = set.length === 0 ? ["", ""] : [set[0]![1], filter[set[0]![0]] as string];
    return {
      table: t,
      where: (dim) =>
        and(eq(t.grain, grain), eq(t.scope, scope), eq(t.scopeId, scopeId), eq(t.dim, dim ?? ""), gte(t.bucket, from - (from % ms)), lte(t.bucket, filter.to.getTime())),
      column: () => t.dimId,
    };
  }
  const t = usageRollups;
  const columns: Record<Dimension, SQLiteColumn> = { name: t.name, agent: t.targetId, connection: t.connectionId, credential: t.credentialId, user: t.userId };
  return {
    table: t,
    where: (dim) => {
      const base = rollupsWhere(t, filter, grain, ms);
      if (dim === null) return base;
      return and(base, ne(columns[dim], ""), dim === "agent" ? eq(t.targetKind, "agent") : undefined);
    },
    column: (dim) => columns[dim],
  };
}

/** The top `limit` of a dimension. */
async function topBy(db: Db, filter: UsageFilter, dim: Dimension, limit: number): Promise<TopEntry[]> {
  const source = sourceFor(db, filter);
  const column = source.column(dim);
  const calls = sum(source.table.calls);
  await settled(db);
  return db
    .select({ id: sql<string>`${column}`, calls, errors: sum(source.table.errors) })
    .from(source.table as Tables["usageRollups"])
    .where(source.where(dim))
    .groupBy(column)
    .orderBy(desc(calls), asc(column))
    .limit(limit);
}

/** The busiest names (tools, resources, prompts, operations) of a filter. */
export function topNames(db: Db, filter: UsageFilter, limit: number): Promise<TopEntry[]> {
  return topBy(db, filter, "name", limit);
}

/**
 * Totals, a series of `buckets` points over [from, to], the top `top` of each dimension and the error
 * breakdown. Buckets at the range's edges count whole (a minute, or an hour beyond 24 h); latency
 * percentiles are read from the histogram (histogram.ts), so they are within one latency bucket.
 */
export async function usageStats(db: Db, filter: UsageFilter, options: { buckets: number; top: number }): Promise<UsageStats> {
  const limit = Math.max(1, Math.min(100, Math.floor(options.top)));
  const { series, total } = await usageSeries(db, filter, options.buckets);
  const calls = series.reduce((a, p) => a + p.calls, 0);
  const errors = series.reduce((a, p) => a + p.errors, 0);
  const source = sourceFor(db, filter);
  const t = source.table;
  const count = sum(t.calls);
  await settled(db);
  const breakdown = await db
    .select({ outcome: t.outcome, code: t.errorCode, count })
    .from(t as Tables["usageRollups"])
    .where(and(source.where(null), ne(t.outcome, "ok")))
    .groupBy(t.outcome, t.errorCode)
    .orderBy(desc(count), asc(t.outcome), asc(t.errorCode));
  return {
    totals: { calls, errors, errorRate: calls === 0 ? 0 : errors / calls, ...percentiles(total) },
    series,
    top: {
      tools: await topBy(db, filter, "name", limit),
      agents: await topBy(db, filter, "agent", limit),
      connections: await topBy(db, filter, "connection", limit),
      credentials: await topBy(db, filter, "credential", limit),
      users: await topBy(db, filter, "user", limit),
    },
    errors: breakdown.map((e) => ({ outcome: e.outcome as Outcome, code: e.code === "" ? null : e.code, count: e.count })),
  };
}

/** Calls and errors of a filter over its range, from the roll-ups. */
export async function countUsage(db: Db, filter: UsageFilter): Promise<{ calls: number; errors: number }> {
  const source = sourceFor(db, filter);
  const t = source.table;
  await settled(db);
  const [row] = await db
    .select({ calls: sql<number>`coalesce(sum(${t.calls}), 0)`.mapWith(Number), errors: sql<number>`coalesce(sum(${t.errors}), 0)`.mapWith(Number) })
    .from(t as Tables["usageRollups"])
    .where(source.where(null));
  return row ?? { calls: 0, errors: 0 };
}
