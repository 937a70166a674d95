// Raw SQL for tests that look under the domain (a row's stored form, a count, a forced expiry), on
// either engine: `?` placeholders, and rows shown as SQLite shows them (booleans 0/1, 64-bit integers
// as numbers, JSON as text), so one expectation holds on both.
import type { SQL } from "bun";
import { dialectOf, sqliteOf, type Db } from "../../src/db/store.ts";

type Row = Record<string, unknown>;
/** PostgreSQL type oids whose values SQLite shows otherwise. */
const INT8 = 20;
const BOOL = 16;
const JSON_TYPES = new Set([114, 3802]);

/** The rows `text` selects (or returns), with `params` bound to its `?` placeholders in order. */
export async function rawRows<T = Row>(deps: { db: Db; audit?: unknown }, text: string, ...params: unknown[]): Promise<T[]> {
  // Audit rows recorded so far are read too: on PostgreSQL (or inside a transaction) they are written a moment later.
  await (deps.audit as { settled?: () => Promise<void> } | undefined)?.settled?.();
  const sqlite = sqliteOf(deps.db);
  if (sqlite) return sqlite.query(text).all(...(params as never[])) as T[];
  if (dialectOf(deps.db) !== "postgres") throw new Error("rawRows: unknown engine");
  const client = (deps.db as unknown as { $client: SQL }).$client;
  let n = 0;
  const result = (await client.unsafe(text.replace(/\?/g, () => `$${++n}`), params)) as Row[] & { columns?: { name: string; type: number }[] };
  const columns = result.columns ?? [];
  return [...result].map((row) => {
    const shown: Row = { ...row };
    for (const { name, type } of columns) {
      const value = shown[name];
      if (value === null || value === undefined) continue;
      if (type === INT8) shown[name] = Number(value);
      else if (type === BOOL) shown[name] = value ? 1 : 0;
      else if (JSON_TYPES.has(type)) shown[name] = JSON.stringify(value);
    }
    return shown as T;
  });
}

/** The first row `text` selects, or undefined. */
export async function rawRow<T = Row>(deps: { db: Db }, text: string, ...params: unknown[]): Promise<T | undefined> {
  return (await rawRows<T>(deps, text, ...params))[0];
}

/** Runs a statement (an update or delete the test forces under the domain). */
export async function rawRun(deps: { db: Db }, text: string, ...params: unknown[]): Promise<void> {
  await rawRows(deps, text, ...params);
}

/** On PostgreSQL, every row of every table as stored, as one text (what a SQLite test reads from the file's bytes). */
export async function everyStoredRow(deps: { db: Db; audit?: unknown }): Promise<string> {
  const names = await rawRows<{ table_name: string }>(deps, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()");
  const dumps = await Promise.all(names.map(async ({ table_name }) => JSON.stringify(await rawRows(deps, `SELECT * FROM "${table_name}"`))));
  return dumps.join("\n");
}
