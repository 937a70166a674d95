// Usage filters and cursors turned into SQL: one place for the raw rows' and the roll-ups' WHERE, as
// drizzle conditions over the handle's own tables, so one query serves SQLite and PostgreSQL.
import { and, desc, eq, gte, lt, lte, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client.ts";
import { outsideTransactions, type Tables } from "../../db/store.ts";
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

/** A WHERE as drizzle builds it; undefined when nothing narrows (every row). */
export type Where = SQL | undefined;

/** The columns a filter narrows, which usage_events and usage_rollups share (roll-ups hold "" for null). */
type Dimensioned = Tables["usageEvents"] | Tables["usageRollups"];

/** The conditions of a filter other than time, on either table (roll-ups store "" for null, never matched here). */
function dimensionConditions(t: Dimensioned, filter: UsageFilter): Where {
  return and(
    filter.agentId !== undefined ? and(eq(t.targetKind, "agent"), eq(t.targetId, filter.agentId)) : undefined,
    exactMatches(filter, [
      ["connectionId", t.connectionId],
      ["credentialId", t.credentialId],
      ["userId", t.userId],
      ["name", t.name],
      ["outcome", t.outcome],
      ["face", t.face],
    ]),
  );
}

/** `column = value` for each field of `filter` that is given (the usage log's and the audit log's filters). */
export function exactMatches<F extends Record<string, unknown>>(filter: F, columns: readonly [keyof F, SQLiteColumn][]): Where {
  return and(...columns.filter(([field]) => filter[field] !== undefined).map(([field, column]) => eq(column, filter[field] as string)));
}

/**
 * Waits until no other request's transaction is open on a SQLite handle, so a monitoring read never
 * lands inside one (and sees its uncommitted rows); a no-op on PostgreSQL, whose pool gives each
 * transaction its own connection.
 */
export async function settled(db: Db): Promise<void> {
  await outsideTransactions(db);
}

/** A log table newest-first listings read: usage_events or audit_events. */
type LogTable = Tables["usageEvents"] | Tables["auditEvents"];

/**
 * One page of `table` newest first by (at, id), after `cursor` (the last row of the previous page):
 * the usage log's and the audit log's listing. A page of limit + 1 tells whether more follow.
 */
export async function newestFirst<T extends LogTable, Out>(
  db: Db,
  table: T,
  where: Where,
  page: { cursor?: string | null; limit: number },
  toRow: (row: T["$inferSelect"]) => Out,
): Promise<{ rows: Out[]; nextCursor: string | null }> {
  const limit = Math.max(1, Math.min(500, Math.floor(page.limit)));
  const paged = page.cursor ? and(where, afterCursor(table, decodeCursor(page.cursor))) : where;
  await settled(db);
  const rows = (await db
    .select()
    .from(table as SQLiteTable as Tables["usageEvents"])
    .where(paged)
    .orderBy(desc(table.at), desc(table.id))
    .limit(limit + 1)) as T["$inferSelect"][];
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return { rows: shown.map(toRow), nextCursor: more && last ? encodeCursor(last.at, last.id) : null };
}

/** WHERE of usage_events for a filter. */
export function eventsWhere(t: Tables["usageEvents"], filter: UsageFilter): Where {
  return and(gte(t.at, filter.from.getTime()), lte(t.at, filter.to.getTime()), dimensionConditions(t, filter));
}

/** WHERE of usage_rollups at a grain, for the buckets that overlap [from, to]. */
export function rollupsWhere(t: Tables["usageRollups"], filter: UsageFilter, grain: "m" | "h", grainMs: number): Where {
  const from = filter.from.getTime();
  return and(eq(t.grain, grain), gte(t.bucket, from - (from % grainMs)), lte(t.bucket, filter.to.getTime()), dimensionConditions(t, filter));
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
export function afterCursor(t: LogTable, cursor: Cursor): SQL {
  return or(lt(t.at, cursor.at), and(eq(t.at, cursor.at), lt(t.id, cursor.id)))!;
}
