// Figures for the dashboard, read from the database.
import { statSync } from "node:fs";
import { count, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { tables } from "../db/store.ts";

/** Admin sessions not yet expired. */
export async function countActiveSessions(db: Db, now = new Date()): Promise<number> {
  const { sessions } = tables(db);
  const [row] = await db.select({ n: count() }).from(sessions).where(gt(sessions.expiresAt, now));
  return row?.n ?? 0;
}

/** Bytes on disk of the database file and its WAL. */
export function databaseSize(path: string): number {
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
