// Figures for the dashboard, read from the database.
import { statSync } from "node:fs";
import { count, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions } from "../db/schema.ts";

export function countActiveSessions(db: Db, now = new Date()): number {
  return db.select({ n: count() }).from(sessions).where(gt(sessions.expiresAt, now)).get()?.n ?? 0;
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
