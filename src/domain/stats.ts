// Figures for the dashboard, read from the database.
import { statSync } from "node:fs";
import { count, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { dialectOf, tables } from "../db/store.ts";

/** Admin sessions not yet expired. */
export async function countActiveSessions(db: Db, now = new Date()): Promise<number> {
  const { sessions } = tables(db);
  const [row] = await db.select({ n: count() }).from(sessions).where(gt(sessions.expiresAt, now));
  return row?.n ?? 0;
}

/**
 * Bytes the database takes: on SQLite the file at `path` and its WAL; on PostgreSQL what the server
 * reports for the whole database (pg_database_size).
 */
export async function databaseSize(db: Db, path: string): Promise<number> {
  if (dialectOf(db) === "postgres") {
    const [row] = await db.select({ bytes: sql<number>`pg_database_size(current_database())`.mapWith(Number) }).from(sql`(select 1) as x`);
    return row?.bytes ?? 0;
  }
  return fileSize(path);
}

/** Bytes on disk of the SQLite file and its WAL. */
function fileSize(path: string): number {
  let total = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // the WAL may not exist yet
    }
  }
  return total;
}
