// The two schemas, SQLite (schema.ts) and PostgreSQL (schema.pg.ts), describe the same tables: same
// columns of the same kind and nullability, keys, uniques, indexes and foreign keys. A table or column
// added to one and not the other fails here, naming it.
import { describe, expect, test } from "bun:test";
import { is, Table } from "drizzle-orm";
import { getTableConfig as pgConfig, pgTable, text as pgText, integer as pgInteger, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, sqliteTable, text, integer, index, type SQLiteTable } from "drizzle-orm/sqlite-core";
import * as pgSchema from "../../src/db/schema.pg.ts";
import * as sqliteSchema from "../../src/db/schema.ts";

/** What a column holds, as queries see it. */
type Kind = "date" | "boolean" | "json" | "number" | `enum(${string})` | "string" | `unknown ${string}`;

type ColumnShape = { kind: Kind; notNull: boolean; primary: boolean; unique: boolean; hasDefault: boolean };

type TableShape = {
  columns: Record<string, ColumnShape>;
  primaryKeys: string[];
  uniques: string[];
  indexes: string[];
  foreignKeys: string[];
};

type AnyColumn = {
  name: string;
  columnType: string;
  notNull: boolean;
  primary: boolean;
  isUnique: boolean;
  hasDefault: boolean;
  enumValues?: readonly string[];
  getSQLType(): string;
};

function kindOf(column: AnyColumn): Kind {
  const text = (): Kind => (column.enumValues?.length ? `enum(${[...column.enumValues].join(",")})` : "string");
  switch (column.columnType) {
    case "SQLiteTimestamp":
      return "date";
    case "SQLiteBoolean":
    case "PgBoolean":
      return "boolean";
    case "SQLiteTextJson":
    case "PgJsonb":
      return "json";
    case "SQLiteInteger":
    case "PgInteger":
    case "PgBigInt53":
      return "number";
    case "SQLiteText":
    case "PgText":
      return text();
    // schema.pg.ts's own types: epoch-milliseconds times (a bigint read as a Date), and jsonb.
    case "PgCustomColumn":
      if (column.getSQLType() === "bigint") return "date";
      if (column.getSQLType() === "jsonb") return "json";
      return `unknown custom ${column.getSQLType()}`;
    default:
      return `unknown ${column.columnType}`;
  }
}

type AnyConfig = {
  columns: AnyColumn[];
  primaryKeys: { columns: { name: string }[] }[];
  uniqueConstraints: { columns: { name: string }[] }[];
  indexes: { config: { name?: string; unique: boolean; columns: unknown[] } }[];
  foreignKeys: { onDelete?: string; reference(): { columns: { name: string }[]; foreignTable: Table; foreignColumns: { name: string }[] } }[];
};

function columnNames(columns: unknown[]): string {
  return columns.map((c) => (c && typeof c === "object" && "name" in c ? String((c as { name: string }).name) : "<expression>")).join(",");
}

function shapeOf(config: AnyConfig): TableShape {
  const columns: Record<string, ColumnShape> = {};
  for (const column of config.columns) {
    columns[column.name] = { kind: kindOf(column), notNull: column.notNull, primary: column.primary, unique: column.isUnique, hasDefault: column.hasDefault };
  }
  const tableName = (table: Table): string => (table as unknown as { [k: symbol]: string })[Symbol.for("drizzle:Name")]!;
  return {
    columns,
    primaryKeys: config.primaryKeys.map((pk) => columnNames(pk.columns)).sort(),
    uniques: config.uniqueConstraints.map((u) => columnNames(u.columns)).sort(),
    indexes: config.indexes.map((i) => `${i.config.unique ? "unique " : ""}${i.config.name}(${columnNames(i.config.columns)})`).sort(),
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return `(${columnNames(ref.columns)}) → ${tableName(ref.foreignTable)}(${columnNames(ref.foreignColumns)}) on delete ${fk.onDelete ?? "no action"}`;
      })
      .sort(),
  };
}

/**
 * Tables only PostgreSQL has, each with the reason; every other table must be in both schemas.
 * switchboardChanges: the change feed's counter, bumped by triggers (SQLite's probe reads its WAL header instead).
 */
const PG_ONLY_TABLES = { switchboardChanges: "the change feed's counter (src/db/change-probe.ts)" } as const;

function tablesOf(schema: Record<string, unknown>, except: Record<string, string> = {}): Map<string, Table> {
  return new Map(Object.entries(schema).filter((entry): entry is [string, Table] => is(entry[1], Table) && !(entry[0] in except)));
}

/** Every difference between the SQLite and the PostgreSQL tables, one line each (empty when in step). */
function schemaDifferences(sqlite: Record<string, unknown>, pg: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const left = tablesOf(sqlite);
  const right = tablesOf(pg, PG_ONLY_TABLES);
  for (const name of left.keys()) if (!right.has(name)) problems.push(`table export ${name} is in schema.ts but not in schema.pg.ts`);
  for (const name of right.keys()) if (!left.has(name)) problems.push(`table export ${name} is in schema.pg.ts but not in schema.ts`);
  for (const [exportName, sqliteTableDef] of left) {
    const pgTableDef = right.get(exportName);
    if (!pgTableDef) continue;
    const a = sqliteConfig(sqliteTableDef as SQLiteTable) as unknown as AnyConfig & { name: string };
    const b = pgConfig(pgTableDef as PgTable) as unknown as AnyConfig & { name: string };
    const where = `table ${a.name}`;
    if (a.name !== b.name) problems.push(`${exportName}: SQL name ${a.name} in SQLite, ${b.name} in PostgreSQL`);
    const sa = shapeOf(a);
    const sb = shapeOf(b);
    for (const column of Object.keys(sa.columns)) if (!sb.columns[column]) problems.push(`${where}: column ${column} is missing in PostgreSQL`);
    for (const column of Object.keys(sb.columns)) if (!sa.columns[column]) problems.push(`${where}: column ${column} is missing in SQLite`);
    for (const [column, ca] of Object.entries(sa.columns)) {
      const cb = sb.columns[column];
      if (!cb) continue;
      for (const key of Object.keys(ca) as (keyof ColumnShape)[]) {
        if (ca[key] !== cb[key]) problems.push(`${where}: column ${column} ${key} is ${ca[key]} in SQLite, ${cb[key]} in PostgreSQL`);
      }
    }
    for (const key of ["primaryKeys", "uniques", "indexes", "foreignKeys"] as const) {
      for (const item of sa[key]) if (!sb[key].includes(item)) problems.push(`${where}: ${key} ${item} is missing in PostgreSQL`);
      for (const item of sb[key]) if (!sa[key].includes(item)) problems.push(`${where}: ${key} ${item} is missing in SQLite`);
    }
  }
  return problems;
}

// Compile-time half: a row read from either schema, and a row written to either, has the same type.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Selects<S> = { [K in keyof S as S[K] extends Table ? K : never]: S[K] extends { $inferSelect: infer R } ? R : never };
type Inserts<S> = { [K in keyof S as S[K] extends Table ? K : never]: S[K] extends { $inferInsert: infer R } ? R : never };
type Shared<S> = Omit<S, keyof typeof PG_ONLY_TABLES>;
const sameSelects: Same<Selects<typeof sqliteSchema>, Shared<Selects<typeof pgSchema>>> = true;
const sameInserts: Same<Inserts<typeof sqliteSchema>, Shared<Inserts<typeof pgSchema>>> = true;

describe("schema parity", () => {
  test("schema.pg.ts has every table of schema.ts, column for column, key for key", () => {
    expect(sameSelects && sameInserts).toBe(true);
    expect(tablesOf(sqliteSchema).size).toBeGreaterThan(10);
    expect(schemaDifferences(sqliteSchema, pgSchema)).toEqual([]);
  });

  test("only the allowlisted tables are PostgreSQL's alone, and each is in schema.pg.ts", () => {
    for (const name of Object.keys(PG_ONLY_TABLES)) expect(is((pgSchema as Record<string, unknown>)[name], Table)).toBe(true);
    expect(schemaDifferences(sqliteSchema, pgSchema)).toEqual([]);
    const extra = pgTable("extra", { id: pgText("id").primaryKey() });
    expect(schemaDifferences({}, { extra })).toEqual(["table export extra is in schema.pg.ts but not in schema.ts"]);
  });

  test("a missing table, a missing column, another kind, nullability and a missing index are each named", () => {
    const users = sqliteTable("users", { id: text("id").primaryKey(), n: integer("n").notNull(), when: integer("when", { mode: "timestamp_ms" }) }, (t) => [
      index("users_n_idx").on(t.n),
    ]);
    const extra = sqliteTable("extra", { id: text("id").primaryKey() });
    const pgUsers = pgTable("users", { id: pgText("id").primaryKey(), n: pgInteger("n"), when: pgInteger("when") });
    expect(schemaDifferences({ users, extra }, { users: pgUsers })).toEqual([
      "table export extra is in schema.ts but not in schema.pg.ts",
      "table users: column n notNull is true in SQLite, false in PostgreSQL",
      "table users: column when kind is date in SQLite, number in PostgreSQL",
      "table users: indexes users_n_idx(n) is missing in PostgreSQL",
    ]);
    const pgMore = pgTable("users", { id: pgText("id").primaryKey(), n: pgInteger("n").notNull(), when: pgInteger("when"), other: pgText("other") });
    expect(schemaDifferences({ users }, { users: pgMore })).toContain("table users: column other is missing in SQLite");
  });
});
