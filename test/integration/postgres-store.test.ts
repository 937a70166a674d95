// The PostgreSQL engine: opening and migrating (once, even when two openers race), refusing a newer
// schema and an unreachable server with clear errors, the store contract's transactions, and rows of
// every column kind reading back the same as on SQLite.
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { eq, sql } from "drizzle-orm";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { DatabaseError, openPostgres, openStore, ping, type DbHandle } from "../../src/db/client.ts";
import { PG_MIGRATIONS } from "../../src/db/migrations-pg.ts";
import { dialectOf, sqliteOf, tables, transaction } from "../../src/db/store.ts";
import type { Migration } from "../../src/db/migrations.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { rejectionOf } from "../support/errors.ts";
import { useTempDirs } from "../support/temp-dir.ts";

const pg = usePostgres();
const openSqlite = useTestDatabase();
const tempDir = useTempDirs("switchboard-pg-store-");
const SECRET = "correct-horse-battery-staple-0123456789";

reportMissingPostgres("the PostgreSQL store tests", test);

function userRow(id: string) {
  const now = new Date();
  return { id, email: `${id}@example.com`, passwordHash: "x", role: "member" as const, createdAt: now, updatedAt: now };
}

/** Runs `fn` with a plain client on `url`, closed afterwards. */
async function withClient<T>(url: string, fn: (client: SQL) => Promise<T>): Promise<T> {
  const client = new SQL({ url, max: 1 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function schemaVersion(url: string): Promise<number> {
  return withClient(url, async (c) => ((await c`select version from switchboard_schema`) as { version: number }[])[0]!.version);
}

async function tableNames(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    ((await c`select tablename from pg_tables where schemaname = 'public' order by tablename`) as { tablename: string }[]).map((r) => r.tablename),
  );
}

describe.skipIf(!havePostgres)("opening PostgreSQL", () => {
  test("a fresh database gets every migration and a handle that says postgres", async () => {
    const url = await pg.emptyUrl();
    const handle = await openPostgres({ url });
    try {
      expect(handle.dialect).toBe("postgres");
      expect(handle.sqlite).toBeNull();
      expect(dialectOf(handle.db)).toBe("postgres");
      expect(sqliteOf(handle.db)).toBeNull();
      await ping(handle.db);
      expect(await schemaVersion(url)).toBe(PG_MIGRATIONS.length);
      expect(await tableNames(url)).toEqual(expect.arrayContaining(["users", "sessions", "api_keys", "usage_events", "switchboard_schema"]));
    } finally {
      await handle.close();
    }
    // A closed pool answers no ping: what /healthz relies on to say the database is gone.
    expect(await rejectionOf(ping(handle.db))).toBeInstanceOf(Error);
    // Re-opening applies nothing (re-running the migration would fail: the tables exist).
    const again = await openPostgres({ url });
    await again.close();
    expect(await schemaVersion(url)).toBe(PG_MIGRATIONS.length);
  });

  test("openStore opens PostgreSQL when database.url is set, the SQLite file when not", async () => {
    const dir = tempDir();
    const url = await pg.emptyUrl();
    const env = { DATABASE_URL: url };
    const onPostgres = await openStore(parseConfig({ database: { url: "${DATABASE_URL}", pool_size: 3 }, security: { secret: SECRET } }, { source: null, env, baseDir: dir }));
    try {
      expect(onPostgres.dialect).toBe("postgres");
      expect(await schemaVersion(url)).toBe(PG_MIGRATIONS.length);
    } finally {
      await onPostgres.close();
    }
    const onSqlite = await openStore(parseConfig({}, { source: null, env: {}, baseDir: dir }));
    try {
      expect(onSqlite.dialect).toBe("sqlite");
      expect(existsSync(join(dir, "data", "switchboard.db"))).toBe(true);
    } finally {
      await onSqlite.close();
    }
  });

  test("two openers racing on one empty database migrate it once", async () => {
    const url = await pg.emptyUrl();
    // A migration that counts its runs: were it applied twice, the row count would say so.
    const counted: Migration[] = [
      ...PG_MIGRATIONS,
      { tag: "9999_count", sql: "CREATE TABLE IF NOT EXISTS migration_runs (n integer);--> statement-breakpoint\nINSERT INTO migration_runs VALUES (1);" },
    ];
    const handles = await Promise.all([1, 2, 3].map(() => openPostgres({ url, migrations: counted })));
    try {
      expect(await withClient(url, async (c) => (await c`select count(*)::int as n from migration_runs`)[0].n)).toBe(1);
      expect(await schemaVersion(url)).toBe(counted.length);
    } finally {
      for (const handle of handles) await handle.close();
    }
  });

  test("a database from a newer Switchboard is refused with the clear error, and left alone", async () => {
    const url = await pg.emptyUrl();
    await (await openPostgres({ url })).close();
    await withClient(url, (c) => c`update switchboard_schema set version = ${PG_MIGRATIONS.length + 1}`);
    const err = await rejectionOf(openPostgres({ url }));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toContain(`newer Switchboard (schema version ${PG_MIGRATIONS.length + 1}, this build knows ${PG_MIGRATIONS.length})`);
    expect(await schemaVersion(url)).toBe(PG_MIGRATIONS.length + 1);
  });

  test("a failing migration leaves nothing behind", async () => {
    const url = await pg.emptyUrl();
    const failing: Migration[] = [
      { tag: "0000_a", sql: "CREATE TABLE a (x integer);" },
      { tag: "0001_bad", sql: "INSERT INTO no_such_table VALUES (1);" },
    ];
    const err = await rejectionOf(openPostgres({ url, migrations: failing }));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toContain("no_such_table");
    expect(await tableNames(url)).toEqual([]);
  });

  test("an unreachable server is a DatabaseError naming host:port/database, never the password", async () => {
    const port = (() => {
      const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const p = l.port;
      l.stop(true);
      return p;
    })();
    const err = await rejectionOf(openPostgres({ url: `postgres://sb:hunter2-secret@127.0.0.1:${port}/switchboard`, connectTimeoutMs: 2_000 }));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toStartWith(`cannot reach PostgreSQL at 127.0.0.1:${port}/switchboard: `);
    expect((err as Error).message).not.toContain("hunter2-secret");
  });

  test("a wrong password is a DatabaseError that does not repeat it", async () => {
    const url = new URL(await pg.emptyUrl());
    url.username = "no_such_role";
    url.password = "hunter2-secret";
    const err = await rejectionOf(openPostgres({ url: url.toString() }));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toStartWith(`cannot reach PostgreSQL at 127.0.0.1:${url.port}/`);
    expect((err as Error).message).not.toContain("hunter2-secret");
  });
});

test("ping answers on an open SQLite handle and throws on a closed one", async () => {
  const handle = openSqlite();
  await ping(handle.db);
  await handle.close();
  expect(await rejectionOf(ping(handle.db))).toBeInstanceOf(Error);
});

describe.skipIf(!havePostgres)("the store contract on PostgreSQL", () => {
  test("tables come from the handle, and a transaction commits what it wrote", async () => {
    const { db } = await pg.open();
    const { users } = tables(db);
    const out = await transaction(db, async (tx) => {
      await tx.insert(tables(tx).users).values(userRow("user_a"));
      return "done";
    });
    expect(out).toBe("done");
    expect(await db.select().from(users).where(eq(users.id, "user_a"))).toHaveLength(1);
  });

  test("a transaction that throws leaves nothing behind", async () => {
    const { db } = await pg.open();
    const { users } = tables(db);
    await expect(
      transaction(db, async (tx) => {
        await tx.insert(users).values(userRow("user_b"));
        throw new Error("no");
      }),
    ).rejects.toThrow("no");
    expect(await db.select().from(users)).toHaveLength(0);
  });

  test("a transaction inside a transaction is the outer one: one rollback undoes both", async () => {
    const { db } = await pg.open();
    const { users } = tables(db);
    await expect(
      transaction(db, async (tx) => {
        await transaction(tx, async (inner) => {
          expect(inner).toBe(tx);
          await inner.insert(users).values(userRow("user_c"));
        });
        throw new Error("outer fails");
      }),
    ).rejects.toThrow("outer fails");
    expect(await db.select().from(users)).toHaveLength(0);
  });

  test("what a transaction wrote is not seen outside it before it commits", async () => {
    const { db } = await pg.open();
    const { users } = tables(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const open = transaction(db, async (tx) => {
      await tx.insert(users).values(userRow("user_d"));
      written();
      await held;
    });
    await wrote;
    expect(await db.select().from(users)).toHaveLength(0);
    release();
    await open;
    expect(await db.select().from(users)).toHaveLength(1);
  });

  test("aggregates map to numbers, and a unique conflict is an error", async () => {
    const { db } = await pg.open();
    const { users } = tables(db);
    await db.insert(users).values([userRow("user_e"), userRow("user_f")]);
    const [row] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(users);
    expect(row).toEqual({ n: 2 });
    expect(await rejectionOf(db.insert(users).values(userRow("user_e")))).toBeInstanceOf(Error);
    const inserted = await db.insert(users).values(userRow("user_e")).onConflictDoNothing().returning({ id: users.id });
    expect(inserted).toEqual([]);
  });
});

/** One row of each kind of column, written through `db` and read back as queries see it. */
async function roundTrip(handle: DbHandle) {
  const { db } = handle;
  const { users, apiKeys, connections, usageEvents } = tables(db);
  const at = new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 678));
  await db.insert(users).values({ ...userRow("user_owner"), createdAt: at, updatedAt: at });
  await db.insert(apiKeys).values({
    id: "key_1",
    name: "ci",
    ownerId: "user_owner",
    tokenHash: "h1",
    prefix: "mcp_key_ab",
    permissions: { self: ["*"], conn_x: ["a", "b"], "*": ["é ✓ \"quoted\""] },
    createdAt: at,
    updatedAt: at,
    lastUsedAt: null,
    expiresAt: new Date(at.getTime() + 86_400_000),
  });
  await db.insert(connections).values({
    id: "conn_1",
    slug: "files",
    title: "Files",
    description: "",
    transport: "stdio",
    enabled: true,
    command: "node",
    args: ["--flag", "a b", ""],
    isolation: "session",
    callTimeoutMs: 3_000_000_000,
    fromConfig: false,
    createdAt: at,
    updatedAt: at,
  });
  // A row id comes back from the database; a 64-bit time and byte count read back as numbers.
  const [usage] = await db
    .insert(usageEvents)
    .values({ at: at.getTime(), durationMs: 12, face: "mcp", targetKind: "agent", method: "tools/call", outcome: "ok", credentialKind: "key", requestBytes: 5_000_000_000, responseBytes: 0 })
    .returning({ id: usageEvents.id });
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.id, "key_1"));
  const [connection] = await db.select().from(connections).where(eq(connections.id, "conn_1"));
  const [event] = await db.select().from(usageEvents);
  // Raw SQL compares a time column with epoch milliseconds the same way on both engines.
  const [older] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(users).where(sql`${users.createdAt} < ${at.getTime() + 1}`);
  return { key, connection, event: { ...event, id: typeof event?.id }, usageId: typeof usage?.id, older };
}

describe.skipIf(!havePostgres)("the same rows on both engines", () => {
  test("dates, booleans, JSON, nulls and 64-bit numbers read back identically", async () => {
    const onSqlite = await roundTrip(openSqlite());
    const onPostgres = await roundTrip(await pg.open());
    expect(onPostgres).toEqual(onSqlite);
    // And they are what was written, not merely equally wrong.
    expect(onPostgres.key!.createdAt).toEqual(new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 678)));
    expect(onPostgres.key!.lastUsedAt).toBeNull();
    expect(onPostgres.key!.permissions).toEqual({ self: ["*"], conn_x: ["a", "b"], "*": ["é ✓ \"quoted\""] });
    expect(onPostgres.connection!.enabled).toBe(true);
    expect(onPostgres.connection!.recordPayloads).toBe(false);
    expect(onPostgres.connection!.args).toEqual(["--flag", "a b", ""]);
    expect(onPostgres.connection!.callTimeoutMs).toBe(3_000_000_000);
    expect(onPostgres.event.requestBytes).toBe(5_000_000_000);
    expect(onPostgres.event.id).toBe("number");
    expect(onPostgres.older).toEqual({ n: 1 });
  });

  test("PostgreSQL stores JSON as documents and times as epoch milliseconds, for raw SQL and other tools", async () => {
    const handle = await pg.open();
    await roundTrip(handle);
    const { db } = handle;
    const { apiKeys, connections } = tables(db);
    const [key] = await db
      .select({ kind: sql<string>`jsonb_typeof(${apiKeys.permissions})`, self: sql<string>`${apiKeys.permissions}->'self'->>0`, created: sql<string>`${apiKeys.createdAt}::text` })
      .from(apiKeys);
    expect(key).toEqual({ kind: "object", self: "*", created: String(Date.UTC(2031, 0, 2, 3, 4, 5, 678)) });
    const [connection] = await db.select({ kind: sql<string>`jsonb_typeof(${connections.args})`, n: sql<number>`jsonb_array_length(${connections.args})`.mapWith(Number) }).from(connections);
    expect(connection).toEqual({ kind: "array", n: 3 });
  });
});
