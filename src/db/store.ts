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
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type * as sqliteSchema from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

/**
 * A database handle as every query is typed: drizzle's asynchronous SQLite over the SQLite schema (a
 * SQLite handle is one, run through the gate below). A PostgreSQL handle is given this type too (its
 * tables have the same shape); defined here, not in client.ts, which opens handles and imports this file.
 */
export type Db = SqliteRemoteDatabase<typeof sqliteSchema>;

/** The tables as queries are typed (the SQLite schema); a PostgreSQL handle's tables have the same shape. */
export type Tables = typeof sqliteSchema;

type Engine = { dialect: Dialect; sqlite: Database | null; gate: Gate };

/** What each open handle is, by handle (a transaction's handle is found through the one it came from). */
const ENGINES = new WeakMap<object, Engine>();

/** The gates of the SQLite files open in this process, by path: the handles on one file share one. */
const FILE_GATES = new Map<string, { gate: Gate; handles: number }>();

/**
 * Registers a newly opened handle (src/db/client.ts does, for both engines); `file` is a SQLite file's
 * absolute path. Returns what to call once the handle is closed.
 */
export function registerEngine(db: object, engine: { dialect: Dialect; sqlite: Database | null; file?: string }): () => void {
  const { dialect, sqlite, file } = engine;
  if (!file) {
    ENGINES.set(db, { dialect, sqlite, gate: new Gate() });
    return () => {};
  }
  // Two handles on one file in one process (replicas in a test) would otherwise deadlock: one's
  // statement blocks the thread on the lock (busy_timeout) that the other's open transaction holds,
  // and that transaction cannot go on while the thread is blocked. Sharing the gate makes it wait.
  const shared = FILE_GATES.get(file) ?? { gate: new Gate(), handles: 0 };
  shared.handles++;
  FILE_GATES.set(file, shared);
  ENGINES.set(db, { dialect, sqlite, gate: shared.gate });
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    if (--shared.handles === 0) FILE_GATES.delete(file);
  };
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

/**
 * The transaction this async context is inside, if any: its handle and engine. `open` turns false when
 * it ends: work the transaction started and left running (a timer, a promise not awaited) keeps this
 * context, but must then count as outside it.
 */
const inTransaction = new AsyncLocalStorage<{ db: Db; engine: Engine; open: boolean }>();

/**
 * One transaction at a time per SQLite file in this process (handles on one file share the gate, see
 * registerEngine). SQLite has one connection per process, so a second BEGIN would fail, and a statement
 * of another request run while a transaction awaits would join it (and be rolled back with it): such a
 * statement waits until no transaction holds the gate. PostgreSQL gives each transaction its own
 * pooled connection instead.
 */
class Gate {
  private tail: Promise<void> = Promise.resolve();
  /** Resolves when the transaction holding the gate releases it; null while none does. */
  held: Promise<void> | null = null;
  /** Waits for the transactions before this one, then holds the gate until `release` is called. */
  async enter(): Promise<() => void> {
    let release!: () => void;
    const previous = this.tail;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tail = mine;
    await previous;
    this.held = mine;
    return () => {
      this.held = null;
      release();
    };
  }
}

/**
 * Runs `work` in one transaction (SQLite: BEGIN IMMEDIATE, so it takes the write lock at once), and
 * commits when it resolves or rolls back when it throws. Inside, use `tx` only: on PostgreSQL the
 * transaction is on its own connection. A transaction inside a transaction is the outer one.
 */
export async function transaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  const engine = engineOf(db);
  const current = inTransaction.getStore();
  if (current?.open && current.engine === engine) return work(current.db);
  if (engine.dialect === "postgres") {
    const pg = db as unknown as { transaction: (fn: (tx: unknown) => Promise<T>) => Promise<T> };
    return pg.transaction(async (tx) => {
      const context = { db: tx as Db, engine, open: true };
      try {
        return await inTransaction.run(context, () => work(tx as Db));
      } finally {
        context.open = false;
      }
    });
  }
  // BEGIN, COMMIT and ROLLBACK go to the connection itself: through the handle they would wait for
  // the gate this transaction holds.
  const sqlite = engine.sqlite!;
  const release = await engine.gate.enter();
  const context = { db, engine, open: true };
  try {
    sqlite.run("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = await inTransaction.run(context, () => work(db));
      context.open = false;
      sqlite.run("COMMIT");
    } catch (err) {
      context.open = false;
      // Some errors (a full disk, say) end the transaction by themselves; a second ROLLBACK would
      // throw and hide the error that matters.
      if (sqlite.inTransaction) sqlite.run("ROLLBACK");
      throw err;
    }
    return result;
  } finally {
    release();
  }
}

/**
 * Undefined when a statement on this handle may run now (inside the caller's own transaction, or no
 * transaction is open), else a promise to wait on before asking again: a transaction of another async
 * context holds the SQLite connection. Synchronous, so the check and the statement after it cannot be
 * split by another transaction's BEGIN. Always undefined on PostgreSQL.
 */
export function untilOutside(db: Db): Promise<void> | undefined {
  const engine = engineOf(db);
  const current = inTransaction.getStore();
  if (current?.open && current.engine === engine) return undefined;
  return engine.gate.held ?? undefined;
}

/**
 * Waits until no transaction of another async context is open on this handle, so that a raw SQLite
 * statement run next (synchronously) cannot land inside it. A no-op inside a transaction and on PostgreSQL.
 */
export async function outsideTransactions(db: Db): Promise<void> {
  for (let wait = untilOutside(db); wait; wait = untilOutside(db)) await wait;
}
