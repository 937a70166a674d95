import { Database } from "bun:sqlite";
import { drizzle as proxyDrizzle } from "drizzle-orm/sqlite-proxy";
import { drizzle as bunDrizzle } from "drizzle-orm/bun-sqlite";
import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { eq } from "drizzle-orm";
const users = sqliteTable("users", { id: text("id").primaryKey(), email: text("email").notNull(), admin: integer("admin", { mode: "boolean" }).notNull(), created: integer("created", { mode: "timestamp_ms" }).notNull() });
const sqlite = new Database(":memory:");
sqlite.run("create table users (id text primary key, email text not null, admin integer not null, created integer not null)");
for (let i = 0; i < 1000; i++) sqlite.run("insert into users values (?,?,?,?)", [`u${i}`, `e${i}`, 1, Date.now()]);
const cache = new Map<string, any>();
const pdb = proxyDrizzle(async (q, params, method) => {
  let st = cache.get(q); if (!st) { st = sqlite.prepare(q); cache.set(q, st); }
  if (method === "run") { st.run(...params); return { rows: [] }; }
  if (method === "get") return { rows: st.values(...params)[0] };
  return { rows: st.values(...params) };
}, { schema: { users } });
const bdb = bunDrizzle({ client: sqlite, schema: { users } });
async function bench(label: string, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 2000; i++) await fn(i);
  const t = performance.now(); const N = 50000;
  for (let i = 0; i < N; i++) await fn(i);
  console.log(label, ((performance.now() - t) * 1000 / N).toFixed(2), "µs/op");
}
await bench("bun-sqlite sync .get()", async (i) => bdb.select().from(users).where(eq(users.id, `u${i % 1000}`)).get());
await bench("bun-sqlite await", async (i) => await bdb.select().from(users).where(eq(users.id, `u${i % 1000}`)));
await bench("proxy await", async (i) => await pdb.select().from(users).where(eq(users.id, `u${i % 1000}`)));
await bench("bun-sqlite prepared", (() => { const p = bdb.select().from(users).where(eq(users.id, "u1")).prepare(); return async () => p.get(); })());
