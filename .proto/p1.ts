import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle as proxyDrizzle } from "drizzle-orm/sqlite-proxy";
import { drizzle as pgDrizzle } from "drizzle-orm/bun-sql";
import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { pgTable, text as ptext, bigint, boolean, customType } from "drizzle-orm/pg-core";
import { eq, sql } from "drizzle-orm";

const sUsers = sqliteTable("users", { id: text("id").primaryKey(), email: text("email").notNull(), admin: integer("admin", { mode: "boolean" }).notNull(), created: integer("created", { mode: "timestamp_ms" }).notNull(), n: integer("n").notNull() });
const epochMs = customType<{ data: Date; driverData: string | number }>({ dataType: () => "bigint", toDriver: (d) => d.getTime(), fromDriver: (v) => new Date(Number(v)) });
const pUsers = pgTable("users", { id: ptext("id").primaryKey(), email: ptext("email").notNull(), admin: boolean("admin").notNull(), created: epochMs("created").notNull(), n: bigint("n", { mode: "number" }).notNull() });
const sschema = { users: sUsers }; const pschema = { users: pUsers };

const sqlite = new Database(":memory:");
sqlite.run("create table users (id text primary key, email text not null, admin integer not null, created integer not null, n integer not null)");
const sdb = proxyDrizzle(async (q, params, method) => {
  const st = sqlite.prepare(q);
  if (method === "run") { st.run(...params as any[]); return { rows: [] }; }
  if (method === "get") { const r = st.values(...params as any[])[0]; return { rows: r as any }; }
  return { rows: st.values(...params as any[]) as any };
}, { schema: sschema });
const pg = new SQL("postgres://postgres@127.0.0.1:55432/postgres");
await pg`drop table if exists users`; await pg`create table users (id text primary key, email text not null, admin boolean not null, created bigint not null, n bigint not null)`;
const pdb = pgDrizzle({ client: pg, schema: pschema });

type Db = typeof sdb;
async function work(db: Db, label: string) {
  const t = (db as any)._.fullSchema as typeof sschema;
  await db.insert(t.users).values({ id: "u1", email: "a@x", admin: true, created: new Date(1700000000123), n: 2 ** 40 });
  await db.insert(t.users).values({ id: "u1", email: "b@x", admin: false, created: new Date(), n: 1 }).onConflictDoUpdate({ target: t.users.id, set: { email: "b@x" } });
  const rows = await db.select().from(t.users).where(eq(t.users.id, "u1"));
  const cnt = await db.$count(t.users);
  const upd = await db.update(t.users).set({ n: sql`${t.users.n} + 1` }).where(eq(t.users.id, "u1")).returning({ id: t.users.id });
  const agg = await db.select({ c: sql<number>`count(*)`, s: sql<number>`sum(${t.users.n})` }).from(t.users);
  console.log(label, rows, cnt, typeof cnt, upd, agg);
}
await work(sdb, "sqlite");
await work(pdb as unknown as Db, "pg");
await pg.close();
