// Opening the SQLite database: directory, pragmas, embedded migrations, and the drizzle handle.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { registerEngine } from "./store.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };
export type DbHandle = { sqlite: Database; db: Db; close: () => void };

/** The database cannot be opened or is not ours to open; the message says why and what to do. */
export class DatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

/** Opens (creating if needed) the database at `path`, sets pragmas and applies pending migrations. */
export function openDatabase(options: { path: string; busyTimeoutMs: number; migrations?: readonly Migration[] }): DbHandle {
  const dir = dirname(options.path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new DatabaseError(`cannot create data dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
  let sqlite: Database;
  try {
    sqlite = new Database(options.path, { create: true, strict: true });
    // WAL lets a backup or a reader run beside the writer; synchronous=NORMAL in WAL mode loses
    // nothing committed when the process is killed (only an OS crash can drop the last commits).
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("PRAGMA synchronous = NORMAL");
    sqlite.run("PRAGMA foreign_keys = ON");
    sqlite.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  } catch (err) {
    throw new DatabaseError(`cannot open database ${options.path}: ${(err as Error).message} (is the data dir writable?)`, { cause: err });
  }
  try {
    migrate(sqlite, options.migrations ?? MIGRATIONS);
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = drizzle({ client: sqlite, schema });
  registerEngine(db, { dialect: "sqlite", sqlite });
  return { sqlite, db, close: () => sqlite.close() };
}

/** Applies every pending migration in one transaction; `PRAGMA user_version` counts those applied. */
export function migrate(sqlite: Database, migrations: readonly Migration[]): number {
  const applied = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (applied > migrations.length) {
    throw new DatabaseError(
      `the database was written by a newer Switchboard (schema version ${applied}, this build knows ${migrations.length}); ` +
        "upgrade Switchboard or restore a backup made by this version",
    );
  }
  const pending = migrations.slice(applied);
  if (pending.length === 0) return 0;
  sqlite.transaction(() => {
    for (const migration of pending) {
      for (const statement of migration.sql.split("--> statement-breakpoint")) {
        if (statement.trim()) sqlite.run(statement);
      }
    }
    sqlite.run(`PRAGMA user_version = ${migrations.length}`);
  }).immediate();
  return pending.length;
}

/**
 * Resolves when the database answers a query, throws when it does not (closed, unreachable): what
 * /healthz reports. Written in drizzle over no table, it runs as is on both engines.
 */
export async function ping(db: Db): Promise<void> {
  await db.select({ one: sql<number>`1`.mapWith(Number) }).from(sql`(select 1) as x`);
}
