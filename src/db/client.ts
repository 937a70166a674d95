// Opening the database: SQLite (directory, pragmas, embedded migrations) or, with `database.url`,
// PostgreSQL (a pool, migrations under an advisory lock), each as a drizzle handle of the store contract.
import { Database, type Statement } from "bun:sqlite";
import { SQL } from "bun";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle, type AsyncRemoteCallback } from "drizzle-orm/sqlite-proxy";
import { drizzle as drizzlePg } from "drizzle-orm/bun-sql";
import type { Config } from "../config/load.ts";
import * as schema from "./schema.ts";
import * as pgSchema from "./schema.pg.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { PG_MIGRATIONS } from "./migrations-pg.ts";
import { registerEngine, untilOutside, type Db, type Dialect } from "./store.ts";

export type { Db } from "./store.ts";
/** An open database of either engine; `sqlite` is the raw connection on SQLite, null on PostgreSQL. */
export type DbHandle = { dialect: Dialect; sqlite: Database | null; db: Db; close: () => Promise<void> };
/** An open SQLite database (what `openDatabase` returns): its raw connection is always there. */
export type SqliteHandle = DbHandle & { dialect: "sqlite"; sqlite: Database };

/** Connections a PostgreSQL pool keeps at most, per process, when the config says nothing. */
export const DEFAULT_POOL_SIZE = 10;

/** The database cannot be opened or is not ours to open; the message says why and what to do. */
export class DatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

/** Opens (creating if needed) the database at `path`, sets pragmas and applies pending migrations. */
export function openDatabase(options: { path: string; busyTimeoutMs: number; migrations?: readonly Migration[] }): SqliteHandle {
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
  const statements = sqliteStatements(sqlite, () => db);
  const db: Db = drizzle(statements.run, { schema });
  const inMemory = options.path === ":memory:" || options.path.startsWith("file::memory:");
  const unregister = registerEngine(db, { dialect: "sqlite", sqlite, file: inMemory ? undefined : resolve(options.path) });
  const close = (): void => {
    // A statement left unfinalized would keep the file open after close() (SQLite's close_v2).
    statements.finalize();
    sqlite.close();
    unregister();
  };
  // Closed before the promise is made, so a caller that does not await sees it closed all the same.
  return { dialect: "sqlite", sqlite, db, close: async () => close() };
}

/** Prepared statements kept per connection, by SQL text, before the cache starts over. */
const STATEMENT_CACHE = 500;

/**
 * What drizzle's sqlite-proxy runs each statement through: asynchronous, so that a statement from
 * outside the open transaction can wait for it to end (src/db/store.ts), then run at once on the
 * connection, from a statement prepared once per SQL text. `get` answers one row's values, `all` and
 * `values` every row's, `run` nothing.
 */
function sqliteStatements(sqlite: Database, handle: () => Db): { run: AsyncRemoteCallback; finalize: () => void } {
  const statements = new Map<string, Statement>();
  const finalize = (): void => {
    for (const statement of statements.values()) statement.finalize();
    statements.clear();
  };
  const run: AsyncRemoteCallback = async (query, params, method) => {
    for (let wait = untilOutside(handle()); wait; wait = untilOutside(handle())) await wait;
    let statement = statements.get(query);
    if (!statement) {
      // SQL text is bounded by the code, but a list of n values makes n placeholders: cap the cache.
      if (statements.size >= STATEMENT_CACHE) finalize();
      statement = sqlite.prepare(query);
      statements.set(query, statement);
    }
    if (method === "run") {
      statement.run(...params);
      return { rows: [] };
    }
    const rows = statement.values(...params);
    // No row for `get` is undefined, which drizzle reads as "none" (its type says an array regardless).
    return { rows: method === "get" ? (rows[0] as unknown[]) : rows };
  };
  return { run, finalize };
}

/** Applies every pending migration in one transaction; `PRAGMA user_version` counts those applied. */
export function migrate(sqlite: Database, migrations: readonly Migration[]): number {
  const applied = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (applied > migrations.length) throw newerSchema(applied, migrations.length);
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

function newerSchema(applied: number, known: number): DatabaseError {
  return new DatabaseError(
    `the database was written by a newer Switchboard (schema version ${applied}, this build knows ${known}); ` +
      "upgrade Switchboard or restore a backup made by this version",
  );
}

/** Opens the database the config names: PostgreSQL when `database.url` is set, else the SQLite file. */
export async function openStore(config: Config): Promise<DbHandle> {
  const { url, pool_size: poolSize, path, busy_timeout: busyTimeoutMs } = config.database;
  if (url) return openPostgres({ url, poolSize });
  return openDatabase({ path, busyTimeoutMs });
}

/**
 * Connects a pool to the PostgreSQL database at `url` (Bun's built-in client), checks it answers and
 * applies pending migrations. Throws DatabaseError naming host:port/database, never the password.
 */
export async function openPostgres(options: {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  migrations?: readonly Migration[];
}): Promise<DbHandle> {
  const where = describePostgresUrl(options.url);
  let client: SQL | undefined;
  try {
    client = new SQL({
      url: options.url,
      // Bun lets PGDATABASE override the URL's database; the URL in the config is what the operator meant.
      database: databaseOf(options.url),
      adapter: "postgres",
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeout: Math.max(1, Math.ceil((options.connectTimeoutMs ?? 10_000) / 1000)),
    });
    await client`select 1`;
  } catch (err) {
    await client?.close();
    throw new DatabaseError(`cannot reach PostgreSQL at ${where}: ${driverReason(err, options.url)}`, { cause: err });
  }
  try {
    await migratePostgres(client, options.migrations ?? PG_MIGRATIONS);
  } catch (err) {
    await client.close();
    if (err instanceof DatabaseError) throw err;
    throw new DatabaseError(`cannot migrate PostgreSQL at ${where}: ${driverReason(err, options.url)}`, { cause: err });
  }
  const db = drizzlePg({ client, schema: pgSchema });
  registerEngine(db, { dialect: "postgres", sqlite: null });
  // Queries are typed against the SQLite schema (src/db/store.ts); this handle's tables have the same shape.
  return { dialect: "postgres", sqlite: null, db: db as unknown as Db, close: () => client.close() };
}

/**
 * Any number of replicas may start at once against one database: each takes this transaction-scoped
 * advisory lock first, so one migrates and the others then find nothing pending.
 */
export const MIGRATION_LOCK = 0x5357_424d; // "SWBM"

/** Applies every pending migration in one transaction; `switchboard_schema.version` counts those applied. */
export async function migratePostgres(client: SQL, migrations: readonly Migration[]): Promise<number> {
  return client.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create table if not exists switchboard_schema (version integer not null)`;
    const [row] = (await tx`select version from switchboard_schema`) as { version: number }[];
    if (!row) await tx`insert into switchboard_schema (version) values (0)`;
    const applied = row?.version ?? 0;
    if (applied > migrations.length) throw newerSchema(applied, migrations.length);
    const pending = migrations.slice(applied);
    for (const migration of pending) {
      for (const statement of migration.sql.split("--> statement-breakpoint")) {
        if (statement.trim()) await tx.unsafe(statement);
      }
    }
    if (pending.length > 0) await tx`update switchboard_schema set version = ${migrations.length}`;
    return pending.length;
  });
}

/** The database a PostgreSQL URL names, if it names one. */
function databaseOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || undefined;
  } catch {
    return undefined;
  }
}

/** "host:port/database" of a PostgreSQL URL, for messages: never its user or password. */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}/${databaseOf(url) ?? "(default database)"}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * Why the driver failed, for the operator: its message and code ("Failed to connect" alone does not say
 * refused from unresolvable), with the URL's password (raw and decoded) blotted out should it appear.
 */
function driverReason(err: unknown, url: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  let message = (err instanceof Error ? err.message : String(err)) + (typeof code === "string" && code ? ` (${code})` : "");
  let password = "";
  try {
    password = new URL(url).password;
  } catch {
    // An unparsable URL has no password we could find; the message is only blotted of the URL itself.
  }
  for (const secret of [url, password, password && decodeURIComponent(password)]) {
    if (secret) message = message.split(secret).join("***");
  }
  return message || "no reason given";
}

/**
 * Resolves when the database answers a query, throws when it does not (closed, unreachable): what
 * /healthz reports. Written in drizzle over no table, it runs as is on both engines.
 */
export async function ping(db: Db): Promise<void> {
  await db.select({ one: sql<number>`1`.mapWith(Number) }).from(sql`(select 1) as x`);
}
