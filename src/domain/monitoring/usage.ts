// Usage queries: the log newest first with cursor paging, one row, the dashboard's stats and a key's
// activity (stats.ts, activity.ts), and pruning by retention and row count.
import { and, desc, eq, lt, lte, sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client.ts";
import { dialectOf, tables, type Tables } from "../../db/store.ts";
import { eventsWhere, newestFirst, settled, type UsageFilter } from "./filter.ts";
import { toUsageRow, type UsageRow } from "./rows.ts";

export type { UsageFilter } from "./filter.ts";
export type { UsageRow } from "./rows.ts";
export { usageStats, type TopEntry, type UsageStats } from "./stats.ts";
export { credentialActivity, type CredentialActivity } from "./activity.ts";

/**
 * One page of the log, newest first by (at, id). The cursor is the last row's position, so rows
 * written while a reader pages (newer ones) never shift a page: nothing is shown twice or skipped.
 */
export function listUsage(db: Db, filter: UsageFilter, page: { cursor?: string | null; limit: number }): Promise<{ rows: UsageRow[]; nextCursor: string | null }> {
  const { usageEvents } = tables(db);
  return newestFirst(db, usageEvents, eventsWhere(usageEvents, filter), page, toUsageRow);
}

/** One usage row by id, or null. */
export async function getUsage(db: Db, id: string): Promise<UsageRow | null> {
  if (!/^\d{1,16}$/.test(id)) return null;
  const { usageEvents } = tables(db);
  await settled(db);
  const [row] = await db.select().from(usageEvents).where(eq(usageEvents.id, Number(id)));
  return row ? toUsageRow(row) : null;
}

/** Rows deleted per statement, so a big prune never holds the write lock long. */
const PRUNE_CHUNK = 5000;

/**
 * The condition "one of the first `limit` rows of `table` matching `where`", for a chunked delete (a
 * DELETE … LIMIT of its own is in neither engine's default build). usage_events rows are named by id;
 * roll-ups have no id, so by their physical address: SQLite's rowid, PostgreSQL's ctid. On PostgreSQL
 * the chunk is `= ANY(ARRAY(…))`, served by a TID or primary-key scan; `IN (subquery)` may be planned
 * as a hash join over the whole table.
 */
function firstRows(db: Db, table: Tables["usageEvents"] | Tables["usageRollups"] | Tables["usageTotals"], where: SQL, limit: number): SQL {
  const postgres = dialectOf(db) === "postgres";
  const key = table === tables(db).usageEvents ? sql.identifier("id") : sql.raw(postgres ? "ctid" : "rowid");
  if (postgres) return sql`${key} = ANY(ARRAY(SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${limit}))`;
  return sql`${key} IN (SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${limit})`;
}

/** Runs `deleteChunk` (which deletes at most PRUNE_CHUNK rows and says how many) until a chunk comes short; the total. */
async function deleteInChunks(db: Db, deleteChunk: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    await settled(db);
    const changes = await deleteChunk();
    total += changes;
    if (changes < PRUNE_CHUNK) return total;
  }
}

/**
 * Deletes usage rows older than the retention and the oldest beyond `maxRows`, and roll-ups whose
 * bucket ended before the retention; returns the number of usage rows deleted.
 */
export async function pruneUsage(db: Db, options: { retentionMs: number; maxRows: number; now?: Date }): Promise<number> {
  const { usageEvents, usageRollups, usageTotals } = tables(db);
  const cutoff = (options.now ?? new Date()).getTime() - options.retentionMs;
  const eventsWhere = async (where: SQL): Promise<number> =>
    (await db.delete(usageEvents).where(firstRows(db, usageEvents, where, PRUNE_CHUNK)).returning({ id: usageEvents.id })).length;
  let deleted = await deleteInChunks(db, () => eventsWhere(lt(usageEvents.at, cutoff)));
  await settled(db);
  const [beyond] = await db.select({ id: usageEvents.id }).from(usageEvents).orderBy(desc(usageEvents.id)).limit(1).offset(Math.max(0, Math.floor(options.maxRows)));
  if (beyond) deleted += await deleteInChunks(db, () => eventsWhere(lte(usageEvents.id, beyond.id)));
  for (const t of [usageRollups, usageTotals]) {
    for (const [grain, ms] of [["m", 60_000], ["h", 3_600_000]] as const) {
      await deleteInChunks(db, async () => {
        const where = and(eq(t.grain, grain), lt(t.bucket, cutoff - ms))!;
        return (await db.delete(t as SQLiteTable as Tables["usageRollups"]).where(firstRows(db, t, where, PRUNE_CHUNK)).returning({ one: sql<number>`1` })).length;
      });
    }
  }
  return deleted;
}
