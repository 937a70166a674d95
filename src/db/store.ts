// The database as every layer sees it, whichever engine holds it: SQLite (embedded, the default) or
// PostgreSQL (`database.url`, for several replicas). Queries are written once, with drizzle, against
// the SQLite schema's types; at run time each handle brings the tables of its own dialect. Three rules
// make one query serve both engines (test/unit/store-rules.test.ts holds the tree to them):
// - await a query builder; never `.all()`, `.get()`, `.run()` or `.values()`, which only SQLite has;
// - take tables from the handle, `const { users } = tables(db)`, never import them from schema.ts;
// - write a transaction as `transaction(db, async (tx) => …)`, and inside it use `tx` only.
// An aggregate in raw SQL is mapped to a number (`sql<number>\`count(*)\`.mapWith(Number)`): PostgreSQL
// returns 64-bit integers and numerics as strings.
import type { Database } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type * as sqliteSchema from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

/**
 * A database handle as every query is typed: drizzle over the SQLite schema. A PostgreSQL handle is
 * given this type too (its tables have the same shape); defined here, not in client.ts, which opens
 * handles and so imports this file.
 */
export type Db = BunSQLiteDatabase<typeof sqliteSchema> & { $client: Database };

/** The tables as queries are typed (the SQLite schema); a PostgreSQL handle's tables have the same shape. */
export type Tables = typeof sqliteSchema;

type Engine = { dialect: Dialect; sqlite: Database | null; gate: Gate };

/** What each open handle is, by handle (a transaction's handle is found through the one it came from). */
const ENGINES = new WeakMap<object, Engine>();

/** Registers a newly opened handle (src/db/client.ts does, for both engines). */
export function registerEngine(db: object, engine: { dialect: Dialect; sqlite: Database | null }): void {
  ENGINES.set(db, { ...engine, gate: new Gate() });
}

function engineOf(db: Db): Engine {
  const engine = ENGINES.get(db) ?? (inTransaction.getStore()?.db === db ? inTransaction.getStore()!.engine : undefined);
  if (!engine) throw new Error("not a Switchboard database handle (open it with src/db/client.ts)");
  return engine;
}

/** Which engine holds this handle's data. */
export function dialectOf(db: Db): Dialect {
  return engineOf(db).dialect;
}

/** The tables of the handle's own dialect (typed as the SQLite schema, which every query is written against). */
export function tables(db: Db): Tables {
  return (db as unknown as { _: { fullSchema: Tables } })._.fullSchema;
}

/** The SQLite connection under a SQLite handle, for the few hot paths written in raw SQL; null on PostgreSQL. */
export function sqliteOf(db: Db): Database | null {
  return engineOf(db).sqlite;
}

/** The transaction this async context is inside, if any: its handle and engine. */
const inTransaction = new AsyncLocalStorage<{ db: Db; engine: Engine }>();

/**
 * One transaction at a time per SQLite connection. SQLite has one connection per process, so a second
 * BEGIN would fail, and a statement of another request run while a transaction awaits would join it
 * (and be rolled back with it). PostgreSQL gives each transaction its own pooled connection instead.
 */
class Gate {
  private tail: Promise<void> = Promise.resolve();
  /** Waits for the transactions before this one, then holds the gate until `release` is called. */
  async enter(): Promise<() => void> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }
  /** Resolves once no transaction holds the gate (the statements outside transactions wait on it). */
  idle(): Promise<void> {
    return this.tail;
  }
}

/**
 * Runs `work` in one transaction (SQLite: BEGIN IMMEDIATE, so it takes the write lock at once), and
 * commits when it resolves or rolls back when it throws. Inside, use `tx` only: on PostgreSQL the
 * transaction is on its own connection. A transaction inside a transaction is the outer one.
 */
export async function transaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  const current = inTransaction.getStore();
  if (current) return work(current.db);
  const engine = engineOf(db);
  if (engine.dialect === "postgres") {
    const pg = db as unknown as { transaction: (fn: (tx: unknown) => Promise<T>) => Promise<T> };
    return pg.transaction((tx) => inTransaction.run({ db: tx as Db, engine }, () => work(tx as Db)));
  }
  const release = await engine.gate.enter();
  try {
    await db.run(sql`BEGIN IMMEDIATE`);
    let result: T;
    try {
      result = await inTransaction.run({ db, engine }, () => work(db));
    } catch (err) {
      await db.run(sql`ROLLBACK`);
      throw err;
    }
    await db.run(sql`COMMIT`);
    return result;
  } finally {
    release();
  }
}

/**
 * Waits until no transaction of another async context is open on this handle, so that a raw SQLite
 * statement run next cannot land inside it. A no-op inside a transaction and on PostgreSQL.
 */
export async function outsideTransactions(db: Db): Promise<void> {
  if (inTransaction.getStore()) return;
  const engine = engineOf(db);
  if (engine.dialect === "sqlite") await engine.gate.idle();
}
