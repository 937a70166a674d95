// Usage filters and cursors turned into SQL: one place for the raw rows' and the roll-ups' WHERE.
import type { Database } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import { outsideTransactions, sqliteOf } from "../../db/store.ts";
import { AppError } from "../../errors.ts";
import type { Face, Outcome } from "./types.ts";

/** What the log and the stats can be narrowed to; [from, to] is inclusive. */
export type UsageFilter = {
  from: Date;
  to: Date;
  agentId?: string;
  connectionId?: string;
  credentialId?: string;
  userId?: string;
  name?: string;
  outcome?: Outcome;
  face?: Face;
};

export type SqlValue = string | number | null;
export type Where = { sql: string; params: SqlValue[] };

/** The conditions of a filter other than time, on either table (roll-ups store "" for null, never matched here). */
function dimensionConditions(filter: UsageFilter): Where {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  if (filter.agentId !== undefined) {
    parts.push("target_kind = 'agent' AND target_id = ?");
    params.push(filter.agentId);
  }
  return join(
    { sql: parts.join(" AND "), params },
    exactMatches(filter, [
      ["connectionId", "connection_id"],
      ["credentialId", "credential_id"],
      ["userId", "user_id"],
      ["name", "name"],
      ["outcome", "outcome"],
      ["face", "face"],
    ]),
  );
}

/** `column = ?` for each field of `filter` that is given (the usage log's and the audit log's filters). */
export function exactMatches<F extends Record<string, unknown>>(filter: F, columns: readonly [keyof F, string][]): Where {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  for (const [field, column] of columns) {
    const value = filter[field];
    if (value === undefined) continue;
    parts.push(`${column} = ?`);
    params.push(value as SqlValue);
  }
  return { sql: parts.join(" AND "), params };
}

/**
 * The SQLite connection for a monitoring query written in SQLite's SQL (the listings, stats, activity
 * and pruning are raw SQL over the roll-ups), once no other request's transaction is open on it, so the
 * query never lands inside one. Their PostgreSQL versions are written with the PostgreSQL schema; until
 * then a PostgreSQL handle is told so by name rather than given SQLite's SQL.
 */
export async function sqliteFor(db: Db, query: string): Promise<Database> {
  const sqlite = sqliteOf(db);
  if (!sqlite) throw new Error(`${query} has no PostgreSQL version yet (its SQL is SQLite's)`);
  await outsideTransactions(db);
  return sqlite;
}

/**
 * One page of `table` newest first by (at, id), after `cursor` (the last row of the previous page):
 * the usage log's and the audit log's listing. A page of limit + 1 tells whether more follow.
 */
export async function newestFirst<Row extends { at: number; id: number }, Out>(
  db: Db,
  table: "usage_events" | "audit_events",
  where: Where,
  page: { cursor?: string | null; limit: number },
  toRow: (row: Row) => Out,
): Promise<{ rows: Out[]; nextCursor: string | null }> {
  const limit = Math.max(1, Math.min(500, Math.floor(page.limit)));
  const paged = page.cursor ? join(where, afterCursor(decodeCursor(page.cursor))) : where;
  const rows = newestFirstSqlite<Row>(await sqliteFor(db, "the usage and audit log listing"), table, paged, limit + 1);
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return { rows: shown.map(toRow), nextCursor: more && last ? encodeCursor(last.at, last.id) : null };
}

/** newestFirst's page in SQLite's SQL (`?` placeholders; "1" is an always-true WHERE). */
function newestFirstSqlite<Row>(sqlite: Database, table: string, where: Where, limit: number): Row[] {
  return sqlite.query(`SELECT * FROM ${table} WHERE ${where.sql} ORDER BY at DESC, id DESC LIMIT ?`).all(...where.params, limit) as Row[];
}

function join(...wheres: Where[]): Where {
  const used = wheres.filter((w) => w.sql !== "");
  return { sql: used.map((w) => w.sql).join(" AND ") || "1", params: used.flatMap((w) => w.params) };
}

/** WHERE of usage_events for a filter. */
export function eventsWhere(filter: UsageFilter): Where {
  return join({ sql: "at >= ? AND at <= ?", params: [filter.from.getTime(), filter.to.getTime()] }, dimensionConditions(filter));
}

/** WHERE of usage_rollups at a grain, for the buckets that overlap [from, to]. */
export function rollupsWhere(filter: UsageFilter, grain: "m" | "h", grainMs: number): Where {
  const from = filter.from.getTime();
  return join({ sql: "grain = ? AND bucket >= ? AND bucket <= ?", params: [grain, from - (from % grainMs), filter.to.getTime()] }, dimensionConditions(filter));
}

/** A position in a newest-first listing: the (at, id) of the last row of the previous page. */
export type Cursor = { at: number; id: number };

export function encodeCursor(at: number, id: number): string {
  return `${at}.${id}`;
}

/** Parses a cursor this module made; anything else is a VALIDATION_FAILED naming the cursor. */
export function decodeCursor(cursor: string): Cursor {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(cursor);
  if (!match) throw new AppError("VALIDATION_FAILED", "The cursor is not one this server gave.", { fields: { cursor: "expected the next_cursor of a previous page" } });
  return { at: Number(match[1]), id: Number(match[2]) };
}

/** The condition "after the cursor" in (at DESC, id DESC) order. */
export function afterCursor(cursor: Cursor): Where {
  return { sql: "(at < ? OR (at = ? AND id < ?))", params: [cursor.at, cursor.at, cursor.id] };
}

export { join as joinWhere };
