// Dashboard statistics from the usage roll-ups: totals, a time series, top-N and the error breakdown.
// Ranges up to 24 h read the minute roll-ups, longer ones the hour roll-ups. All calls and views with one
// filter (agent; beyond 24 h also key, user, connection, name) are read from the per-dimension roll-ups
// (usage_totals: a few rows per bucket, whatever the size of usage_events); any other filter from the
// combination roll-ups (usage_rollups), by index.
import type { Database } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import { joinWhere, rollupsWhere, sqliteFor, type SqlValue, type UsageFilter, type Where } from "./filter.ts";
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

const HIST_SUMS = HISTOGRAM_COLUMNS.map((h) => `SUM(${h}) AS ${h}`).join(", ");

type HistRow = Record<string, number | null>;

function histogramOf(row: HistRow): number[] {
  return HISTOGRAM_COLUMNS.map((h) => row[h] ?? 0);
}

function percentiles(hist: number[]): { p50: number | null; p95: number | null; p99: number | null } {
  return { p50: histogramQuantile(hist, 0.5), p95: histogramQuantile(hist, 0.95), p99: histogramQuantile(hist, 0.99) };
}

/** Calls and errors per bucket of [from, to] split into `buckets` equal parts, with latency percentiles. */
export async function usageSeries(db: Db, filter: UsageFilter, buckets: number): Promise<{ series: SeriesPoint[]; total: number[] }> {
  return usageSeriesSqlite(await sqliteFor(db, "the usage series"), filter, buckets);
}

/** usageSeries in SQLite's SQL: buckets by integer division, MIN/MAX of two values clamp the index. */
function usageSeriesSqlite(sqlite: Database, filter: UsageFilter, buckets: number): { series: SeriesPoint[]; total: number[] } {
  const n = Math.max(1, Math.min(1000, Math.floor(buckets)));
  const from = filter.from.getTime();
  const width = Math.max(1, Math.ceil((filter.to.getTime() - from + 1) / n));
  const source = sourceFor(filter);
  const where = source.where(null);
  // A roll-up bucket that starts before `from` (the range's first, partial minute or hour) counts in the first point.
  const rows = sqlite
    .query(`SELECT MIN(MAX((bucket - ?) / ?, 0), ?) AS i, SUM(calls) AS calls, SUM(errors) AS errors, ${HIST_SUMS} FROM ${source.table} WHERE ${where.sql} GROUP BY i`)
    .all(from, width, n - 1, ...where.params) as ({ i: number; calls: number; errors: number } & HistRow)[];
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

/** The roll-up table a filter is read from, its WHERE for a dimension (null: the total) and the column holding that dimension's id. */
type Source = { table: string; where: (dim: Dimension | null) => Where; column: (dim: Dimension) => string };

const COMBINATION_COLUMNS: Record<Dimension, string> = { name: "name", agent: "target_id", connection: "connection_id", credential: "credential_id", user: "user_id" };

/** The filters that are scopes of usage_totals, and the scope each names. */
const SCOPE_FILTERS: [keyof UsageFilter, string][] = [["agentId", "agent"], ["credentialId", "credential"], ["userId", "user"], ["connectionId", "connection"], ["name", "name"]];

/** The per-dimension roll-ups serve all calls and one-filter views; any other filter reads the combinations. */
function sourceFor(filter: UsageFilter): Source {
  const { grain, ms } = grainFor(filter);
  const from = filter.from.getTime();
  // One filter at most among agent, credential, user, connection and name (outcome and face are not
  // scopes); all calls and an agent's have minute roll-ups, the others hour roll-ups only (recorder.ts scopesOf).
  const set = SCOPE_FILTERS.filter(([field]) => filter[field] !== undefined);
  const scoped = filter.outcome === undefined && filter.face === undefined && set.length <= 1 && (grain === "h" || set.length === 0 || MINUTE_SCOPES.has(set[0]![1]));
  if (scoped) {
    const [scope, scopeId] = set.length === 0 ? ["", ""] : [set[0]![1], filter[set[0]![0]] as string];
    return {
      table: "usage_totals",
      where: (dim) => ({ sql: "grain = ? AND scope = ? AND scope_id = ? AND dim = ? AND bucket >= ? AND bucket <= ?", params: [grain, scope, scopeId, dim ?? "", from - (from % ms), filter.to.getTime()] }),
      column: () => "dim_id",
    };
  }
  return {
    table: "usage_rollups",
    where: (dim) => {
      const base = rollupsWhere(filter, grain, ms);
      if (dim === null) return base;
      return joinWhere(base, { sql: `${COMBINATION_COLUMNS[dim]} != ''${dim === "agent" ? " AND target_kind = 'agent'" : ""}`, params: [] });
    },
    column: (dim) => COMBINATION_COLUMNS[dim],
  };
}

/** The top `limit` of a dimension, in SQLite's SQL. */
function topBySqlite(sqlite: Database, filter: UsageFilter, dim: Dimension, limit: number): TopEntry[] {
  const source = sourceFor(filter);
  const where = source.where(dim);
  const column = source.column(dim);
  const params: SqlValue[] = [...where.params, limit];
  return sqlite
    .query(`SELECT ${column} AS id, SUM(calls) AS calls, SUM(errors) AS errors FROM ${source.table} WHERE ${where.sql} GROUP BY ${column} ORDER BY calls DESC, id LIMIT ?`)
    .all(...params) as TopEntry[];
}

/** The busiest names (tools, resources, prompts, operations) of a filter. */
export async function topNames(db: Db, filter: UsageFilter, limit: number): Promise<TopEntry[]> {
  return topBySqlite(await sqliteFor(db, "the top names"), filter, "name", limit);
}

/**
 * Totals, a series of `buckets` points over [from, to], the top `top` of each dimension and the error
 * breakdown. Buckets at the range's edges count whole (a minute, or an hour beyond 24 h); latency
 * percentiles are read from the histogram (histogram.ts), so they are within one latency bucket.
 */
export async function usageStats(db: Db, filter: UsageFilter, options: { buckets: number; top: number }): Promise<UsageStats> {
  return usageStatsSqlite(await sqliteFor(db, "the usage stats"), filter, options);
}

/** usageStats in SQLite's SQL (its series, top lists and error breakdown read in one go, with no await between). */
function usageStatsSqlite(sqlite: Database, filter: UsageFilter, options: { buckets: number; top: number }): UsageStats {
  const limit = Math.max(1, Math.min(100, Math.floor(options.top)));
  const { series, total } = usageSeriesSqlite(sqlite, filter, options.buckets);
  const calls = series.reduce((a, p) => a + p.calls, 0);
  const errors = series.reduce((a, p) => a + p.errors, 0);
  const source = sourceFor(filter);
  const where = source.where(null);
  const breakdown = sqlite
    .query(`SELECT outcome, error_code AS code, SUM(calls) AS count FROM ${source.table} WHERE ${where.sql} AND outcome != 'ok' GROUP BY outcome, error_code ORDER BY count DESC, outcome, code`)
    .all(...where.params) as { outcome: Outcome; code: string; count: number }[];
  return {
    totals: { calls, errors, errorRate: calls === 0 ? 0 : errors / calls, ...percentiles(total) },
    series,
    top: {
      tools: topBySqlite(sqlite, filter, "name", limit),
      agents: topBySqlite(sqlite, filter, "agent", limit),
      connections: topBySqlite(sqlite, filter, "connection", limit),
      credentials: topBySqlite(sqlite, filter, "credential", limit),
      users: topBySqlite(sqlite, filter, "user", limit),
    },
    errors: breakdown.map((e) => ({ outcome: e.outcome, code: e.code === "" ? null : e.code, count: e.count })),
  };
}

/** Calls and errors of a filter over its range, from the roll-ups. */
export async function countUsage(db: Db, filter: UsageFilter): Promise<{ calls: number; errors: number }> {
  return countUsageSqlite(await sqliteFor(db, "counting usage"), filter);
}

/** countUsage in SQLite's SQL. */
function countUsageSqlite(sqlite: Database, filter: UsageFilter): { calls: number; errors: number } {
  const source = sourceFor(filter);
  const where = source.where(null);
  const row = sqlite.query(`SELECT COALESCE(SUM(calls), 0) AS calls, COALESCE(SUM(errors), 0) AS errors FROM ${source.table} WHERE ${where.sql}`).get(...where.params) as { calls: number; errors: number };
  return row;
}
