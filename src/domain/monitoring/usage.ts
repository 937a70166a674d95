// Usage queries: the log newest first with cursor paging, one row, the dashboard's stats and a key's
// activity (stats.ts, activity.ts), and pruning by retention and row count.
import type { Database } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import { eventsWhere, newestFirst, sqliteFor, type UsageFilter } from "./filter.ts";
import { toUsageRow, type EventRow, type UsageRow } from "./rows.ts";

export type { UsageFilter } from "./filter.ts";
export type { UsageRow } from "./rows.ts";
export { usageStats, type TopEntry, type UsageStats } from "./stats.ts";
export { credentialActivity, type CredentialActivity } from "./activity.ts";

/**
 * One page of the log, newest first by (at, id). The cursor is the last row's position, so rows
 * written while a reader pages (newer ones) never shift a page: nothing is shown twice or skipped.
 */
export function listUsage(db: Db, filter: UsageFilter, page: { cursor?: string | null; limit: number }): Promise<{ rows: UsageRow[]; nextCursor: string | null }> {
  return newestFirst<EventRow, UsageRow>(db, "usage_events", eventsWhere(filter), page, toUsageRow);
}

/** One usage row by id, or null. */
export async function getUsage(db: Db, id: string): Promise<UsageRow | null> {
  if (!/^\d{1,16}$/.test(id)) return null;
  const sqlite = await sqliteFor(db, "reading one usage row");
  const row = sqlite.query("SELECT * FROM usage_events WHERE id = ?").get(Number(id)) as EventRow | null;
  return row ? toUsageRow(row) : null;
}

/** Rows deleted per statement, so a big prune never holds the write lock long. */
const PRUNE_CHUNK = 5000;

function deleteInChunks(sqlite: Database, sql: string, params: (string | number)[]): number {
  let total = 0;
  for (;;) {
    const { changes } = sqlite.run(sql, [...params, PRUNE_CHUNK]);
    total += changes;
    if (changes < PRUNE_CHUNK) return total;
  }
}

/**
 * Deletes usage rows older than the retention and the oldest beyond `maxRows`, and roll-ups whose
 * bucket ended before the retention; returns the number of usage rows deleted.
 */
export async function pruneUsage(db: Db, options: { retentionMs: number; maxRows: number; now?: Date }): Promise<number> {
  return pruneUsageSqlite(await sqliteFor(db, "pruning usage rows"), options);
}

/** pruneUsage in SQLite's SQL: chunked deletes by rowid (a DELETE … LIMIT of its own is not compiled in). */
function pruneUsageSqlite(sqlite: Database, options: { retentionMs: number; maxRows: number; now?: Date }): number {
  const cutoff = (options.now ?? new Date()).getTime() - options.retentionMs;
  let deleted = deleteInChunks(sqlite, "DELETE FROM usage_events WHERE id IN (SELECT id FROM usage_events WHERE at < ? LIMIT ?)", [cutoff]);
  const beyond = sqlite.query("SELECT id FROM usage_events ORDER BY id DESC LIMIT 1 OFFSET ?").get(Math.max(0, Math.floor(options.maxRows))) as { id: number } | null;
  if (beyond) deleted += deleteInChunks(sqlite, "DELETE FROM usage_events WHERE id IN (SELECT id FROM usage_events WHERE id <= ? LIMIT ?)", [beyond.id]);
  deleteInChunks(sqlite, "DELETE FROM usage_rollups WHERE rowid IN (SELECT rowid FROM usage_rollups WHERE grain = 'm' AND bucket < ? LIMIT ?)", [cutoff - 60_000]);
  deleteInChunks(sqlite, "DELETE FROM usage_rollups WHERE rowid IN (SELECT rowid FROM usage_rollups WHERE grain = 'h' AND bucket < ? LIMIT ?)", [cutoff - 3_600_000]);
  deleteInChunks(sqlite, "DELETE FROM usage_totals WHERE rowid IN (SELECT rowid FROM usage_totals WHERE grain = 'm' AND bucket < ? LIMIT ?)", [cutoff - 60_000]);
  deleteInChunks(sqlite, "DELETE FROM usage_totals WHERE rowid IN (SELECT rowid FROM usage_totals WHERE grain = 'h' AND bucket < ? LIMIT ?)", [cutoff - 3_600_000]);
  return deleted;
}
