// Moving an installation from SQLite to PostgreSQL: every table copied in one PostgreSQL transaction,
// verified (row counts and a read-back checksum) before it commits, so a mismatch leaves the target's rows as they were.
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { getTableColumns, getTableName, is, sql, type Column, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { migrate, openPostgres } from "./client.ts";
import { MIGRATIONS } from "./migrations.ts";
import { driverReason, storableText } from "./portable.ts";
import * as schema from "./schema.ts";
import { registerEngine, tables, transaction, type Db, type Tables } from "./store.ts";

/**
 * Tables that describe the running replicas (their addresses, the MCP sessions each holds, the state of
 * each one's connections), not the installation: the source's processes never run on the target, so
 * these rows would only name replicas that do not exist. Not copied; the target's own are emptied by
 * --replace like every other table.
 */
export const PER_REPLICA_TABLES: ReadonlySet<string> = new Set(["replicas", "mcp_sessions", "replica_connections"]);

/** Rows per INSERT at most (fewer for wide tables: PostgreSQL takes at most 65,535 parameters per statement). */
const BATCH_ROWS = 1000;
const MAX_PARAMETERS = 60_000;

/** The copy cannot start or did not verify; the message says why (and never holds the target's password). */
export class CopyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CopyError";
  }
}

/** One table of the copy: rows read from SQLite and read back from PostgreSQL, or null when not copied. */
export type CopiedTable = { table: string; source: number | null; target: number | null };

export type CopyReport = { tables: CopiedTable[]; migratedSource: number };

type TableKey = keyof Tables;

/** The tables in foreign-key order (a table after those it references), each by its key in the schema. */
export function tablesInCopyOrder(): TableKey[] {
  const all = (Object.keys(schema) as TableKey[]).filter((key) => isTable(schema[key]));
  const ordered: TableKey[] = [];
  const placed = new Set<object>();
  while (ordered.length < all.length) {
    const next = all.find((key) => !placed.has(schema[key]) && referencesOf(schema[key]).every((t) => t === schema[key] || placed.has(t)));
    if (!next) throw new Error("the schema's foreign keys form a cycle; db copy cannot order its tables");
    ordered.push(next);
    placed.add(schema[next]);
  }
  return ordered;
}

function isTable(value: unknown): value is SQLiteTable {
  return is(value, SQLiteTable);
}

function referencesOf(table: SQLiteTable): object[] {
  return getTableConfig(table).foreignKeys.map((fk) => fk.reference().foreignTable);
}

/**
 * Copies the SQLite database at `sourcePath` into the PostgreSQL database at `targetUrl` (migrated
 * first), verifies it and commits; throws CopyError (or DatabaseError, for the target) otherwise.
 */
export async function copySqliteToPostgres(options: {
  sourcePath: string;
  targetUrl: string;
  /** Migrate an older source in place first (it is written to); without it an older source is refused. */
  migrateSource?: boolean;
  /** Empty a target that holds rows (in the copy's transaction); without it such a target is refused. */
  replace?: boolean;
  busyTimeoutMs?: number;
}): Promise<CopyReport> {
  const version = checkSource(options.sourcePath, { migrate: options.migrateSource ?? false });
  // The target is reached (and migrated) before the source is written to, so a wrong URL changes nothing.
  const target = await openPostgres({ url: options.targetUrl, poolSize: 2 });
  try {
    const migratedSource = version < MIGRATIONS.length ? migrateSource(options.sourcePath, options.busyTimeoutMs ?? 5000) : 0;
    const source = openSourceReadOnly(options.sourcePath);
    try {
      // One read transaction on the source: the copy and its verification see one snapshot, even if a
      // server still writes to the file (what it writes after that is not copied). Closing ends it.
      source.sqlite.exec("BEGIN");
      const copied = await transaction(target.db, (tx) => copyInto(source, tx, options.replace ?? false));
      return { tables: copied, migratedSource };
    } finally {
      source.sqlite.close();
    }
  } finally {
    await target.close();
  }
}

type Source = { sqlite: Database; db: Db };

/** Checks the source is a healthy Switchboard database this build can copy (older only when it may migrate it); returns its schema version. */
function checkSource(path: string, options: { migrate: boolean }): number {
  if (!existsSync(path)) throw new CopyError(`no SQLite database at ${path}`);
  const version = readSchemaVersion(path);
  if (version > MIGRATIONS.length) {
    throw new CopyError(
      `${path} was written by a newer Switchboard (schema version ${version}, this build knows ${MIGRATIONS.length}): copy it with that version`,
    );
  }
  if (version < MIGRATIONS.length && !options.migrate) {
    throw new CopyError(
      `${path} is at schema version ${version}, this build's is ${MIGRATIONS.length}: pass --migrate-source to migrate it in place first ` +
        `(back it up first with "switchboard backup"), or start this version's server on it once`,
    );
  }
  return version;
}

/** Applies this build's pending migrations to the source file in place; returns how many. */
function migrateSource(path: string, busyTimeoutMs: number): number {
  const sqlite = new Database(path);
  try {
    sqlite.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    sqlite.exec("PRAGMA foreign_keys = ON");
    return migrate(sqlite, MIGRATIONS);
  } finally {
    sqlite.close();
  }
}

/** The schema version of the file (PRAGMA user_version), after an integrity check; refuses what is not a Switchboard database. */
function readSchemaVersion(path: string): number {
  let sqlite: Database | undefined;
  try {
    sqlite = new Database(path, { readonly: true });
    const check = pragmaRows(sqlite, "PRAGMA quick_check").map((row) => String(Object.values(row)[0]));
    if (check.join() !== "ok") throw new CopyError(`${path} is damaged (SQLite's integrity check says: ${check.slice(0, 3).join("; ")}); restore a backup first`);
    const version = Number(Object.values(pragmaRows(sqlite, "PRAGMA user_version")[0] ?? {})[0] ?? 0);
    const hasUsers = pragmaRows(sqlite, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'").length > 0;
    if (version === 0 || !hasUsers) throw new CopyError(`${path} is not a Switchboard database (it has no Switchboard schema)`);
    return version;
  } catch (err) {
    if (err instanceof CopyError) throw err;
    throw new CopyError(`cannot read ${path} as a SQLite database: ${(err as Error).message}`, { cause: err });
  } finally {
    sqlite?.close();
  }
}

/**
 * The rows of a statement on the raw SQLite connection, read by iterating: the store's rule keeps
 * `.all()`, `.get()` and `.values()` out of src/ (they are SQLite-only on drizzle's builders).
 */
function pragmaRows(sqlite: Database, statement: string): Record<string, unknown>[] {
  return [...(sqlite.query(statement).iterate() as IterableIterator<Record<string, unknown>>)];
}

/** The source, read-only, as a store handle (so its tables come from the handle like everywhere else). */
function openSourceReadOnly(path: string): Source {
  const sqlite = new Database(path, { readonly: true });
  const db = drizzle({ client: sqlite, schema });
  registerEngine(db, { dialect: "sqlite", sqlite });
  return { sqlite, db: db as unknown as Db };
}

/** The copy itself, inside the target's transaction: refuse or empty, insert, advance sequences, verify. */
async function copyInto(source: Source, tx: Db, replace: boolean): Promise<CopiedTable[]> {
  const order = tablesInCopyOrder();
  const target = tables(tx);
  await emptyTarget(tx, order, replace);
  const copied: CopiedTable[] = [];
  for (const key of order) {
    const name = getTableName(target[key]);
    if (PER_REPLICA_TABLES.has(name)) {
      copied.push({ table: name, source: null, target: null });
      continue;
    }
    let written: Digest;
    let readBack: Digest;
    try {
      written = await copyTable(source, tx, key);
      await advanceIdentity(tx, key);
      readBack = await digestTarget(tx, key);
    } catch (err) {
      // A row PostgreSQL refuses (a NUL in text, a number out of range) or SQLite holds malformed (JSON
      // that does not parse): named by its table, the transaction then rolled back.
      // The driver's reason only: drizzle's message quotes the batch's every value (password hashes, token HMACs).
      throw new CopyError(`copying table ${name} failed: ${driverReason(err)}; nothing was committed`, { cause: err });
    }
    if (readBack.count !== written.count) {
      throw new CopyError(`verification failed for table ${name}: ${written.count} rows in SQLite, ${readBack.count} read back from PostgreSQL; nothing was committed`);
    }
    if (readBack.digest !== written.digest) {
      throw new CopyError(`verification failed for table ${name}: the rows read back from PostgreSQL differ from SQLite's (checksums differ); nothing was committed`);
    }
    copied.push({ table: name, source: written.count, target: readBack.count });
  }
  return copied;
}

/** Refuses a target holding rows (any table, the per-replica ones too), or with `replace` deletes them, children first. */
async function emptyTarget(tx: Db, order: TableKey[], replace: boolean): Promise<void> {
  const target = tables(tx);
  const held: string[] = [];
  for (const key of order) {
    const [row] = await tx.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(target[key]);
    if (row && row.n > 0) held.push(`${getTableName(target[key])}: ${row.n}`);
  }
  if (held.length === 0) return;
  if (!replace) {
    throw new CopyError(`the target database already holds rows (${held.join(", ")}): copy into an empty database, or pass --replace to delete them first`);
  }
  for (const key of [...order].reverse()) await tx.delete(target[key]);
}

type Digest = { count: number; digest: string };

/** Streams one table from SQLite into PostgreSQL in batches; returns the count and digest of the rows it sent. */
async function copyTable(source: Source, tx: Db, key: TableKey): Promise<Digest> {
  const from = tables(source.db)[key];
  const into = tables(tx)[key];
  const columns = getTableColumns(from);
  const batchRows = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMETERS / Object.keys(columns).length)));
  const digest = new RowDigest();
  let batch: Record<string, unknown>[] = [];
  // Raw rows streamed (a table may hold millions of usage rows), decoded by the schema's own columns:
  // what drizzle does to a select's rows, so timestamps become Dates, booleans booleans, JSON objects.
  for (const raw of source.sqlite.query(`SELECT * FROM "${getTableName(from)}"`).iterate() as IterableIterator<Record<string, unknown>>) {
    const row = decodeRow(columns, raw);
    if (RECORDED_TABLES.has(getTableName(from))) storableRow(row);
    digest.add(columns, row);
    batch.push(row);
    if (batch.length === batchRows) {
      await tx.insert(into).values(batch as never);
      batch = [];
    }
  }
  if (batch.length > 0) await tx.insert(into).values(batch as never);
  return digest.result();
}

/**
 * The usage and audit logs: what peers and clients named (tool names, error messages, client names),
 * recorded as it came. Their text is copied as the recorder now stores it (storableText), so a NUL an
 * older installation kept does not refuse the copy; every other table's text is the operators' own and
 * copied exactly, or refused.
 */
const RECORDED_TABLES: ReadonlySet<string> = new Set(["usage_events", "usage_rollups", "usage_totals", "audit_events"]);

/** Makes a decoded row's text storable in place (its JSON columns are written as JSON, in which a NUL is escaped). */
function storableRow(row: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(row)) if (typeof value === "string") row[key] = storableText(value);
}

/** An identity column's sequence is set past the largest value copied, so the next insert does not collide. */
async function advanceIdentity(tx: Db, key: TableKey): Promise<void> {
  const table = tables(tx)[key];
  for (const column of Object.values(getTableColumns(table)) as Column[]) {
    if (!(column as unknown as { generatedIdentity?: unknown }).generatedIdentity) continue;
    const name = getTableName(table);
    await pg(tx).execute(
      sql`select setval(pg_get_serial_sequence(${`"${name}"`}, ${column.name}), coalesce((select max(${sql.identifier(column.name)}) from ${sql.identifier(name)}), 0) + 1, false)`,
    );
  }
}

/** Reads a table back from PostgreSQL through a cursor (in batches, in the copy's transaction) and digests it. */
async function digestTarget(tx: Db, key: TableKey): Promise<Digest> {
  const table = tables(tx)[key];
  const targetColumns = getTableColumns(table);
  const sourceColumns = getTableColumns(schema[key]);
  const cursor = sql.identifier(`switchboard_copy_${getTableName(table)}`);
  const digest = new RowDigest();
  await pg(tx).execute(sql`declare ${cursor} no scroll cursor for select * from ${sql.identifier(getTableName(table))}`);
  for (;;) {
    const rows = await pg(tx).execute(sql`fetch forward ${sql.raw(String(BATCH_ROWS))} from ${cursor}`);
    if (rows.length === 0) break;
    for (const raw of rows) digest.add(sourceColumns, decodeRow(targetColumns, raw));
  }
  await pg(tx).execute(sql`close ${cursor}`);
  return digest.result();
}

/** The PostgreSQL side's raw SQL (cursors, setval), which the SQLite-typed handle does not declare. */
function pg(tx: Db): { execute: (query: SQL) => Promise<Record<string, unknown>[]> } {
  return tx as unknown as { execute: (query: SQL) => Promise<Record<string, unknown>[]> };
}

/** A raw row (keyed by column name) decoded by the table's columns into the row drizzle would return. */
function decodeRow(columns: Record<string, Column>, raw: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row;
}

/**
 * A checksum of a set of rows that does not depend on their order: the sum, modulo 2^128, of a hash of
 * each row's normalised JSON. Order-free because the engines sort text differently (collations), and
 * neither side then needs a sort; the tables' keys make every row distinct, so no two rows cancel.
 */
class RowDigest {
  private sum = 0n;
  private count = 0;
  add(columns: Record<string, Column>, row: Record<string, unknown>): void {
    const values = Object.keys(columns).map((key) => normalise(row[key]));
    const hash = createHash("sha256").update(JSON.stringify(values)).digest();
    this.sum = (this.sum + hash.readBigUInt64BE(0) * 2n ** 64n + hash.readBigUInt64BE(8)) % 2n ** 128n;
    this.count++;
  }
  result(): Digest {
    return { count: this.count, digest: this.sum.toString(16) };
  }
}

/** A value as both engines must agree on it: a Date as epoch ms, a JSON object with its keys sorted. */
function normalise(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, normalise((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
