// Opening the database: embedded migrations, pragmas, refusing a newer schema, all-or-nothing
// migration, a data dir that cannot be made, and committed rows surviving a SIGKILL.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseError, migrate, openDatabase } from "../../src/db/client.ts";
import { MIGRATIONS, type Migration } from "../../src/db/migrations.ts";
import { PG_MIGRATIONS } from "../../src/db/migrations-pg.ts";
import { findUserByEmail } from "../../src/domain/access/users.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { waitForLine } from "../support/streams.ts";

const tempDir = useTempDirs("switchboard-db-");
const MIGRATIONS_DIR = join(import.meta.dir, "../../src/db/migrations");
const PG_MIGRATIONS_DIR = join(import.meta.dir, "../../src/db/migrations-pg");
const FIXTURE = join(import.meta.dir, "../fixtures/commit-then-wait.ts");

function dbPath(): string {
  return join(tempDir(), "data", "switchboard.db");
}

function userVersion(sqlite: Database): number {
  return (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

function tableNames(sqlite: Database): string[] {
  return (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

/** Runs `fn` against a raw connection to `path` that is closed afterwards. */
function withRaw<T>(path: string, fn: (sqlite: Database) => T): T {
  const sqlite = new Database(path);
  try {
    return fn(sqlite);
  } finally {
    sqlite.close();
  }
}

const createA: Migration = { tag: "0000_a", sql: "CREATE TABLE a (x INTEGER);--> statement-breakpoint\nCREATE TABLE a2 (x INTEGER);" };
const createB: Migration = { tag: "0001_b", sql: "CREATE TABLE b (x INTEGER);" };
const failing: Migration = { tag: "0002_bad", sql: "CREATE TABLE c (x INTEGER);--> statement-breakpoint\nINSERT INTO no_such_table VALUES (1);" };

describe("embedded migrations", () => {
  test("every SQL file in src/db/migrations is embedded in MIGRATIONS, in order and unchanged", () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql")).sort();
    expect(MIGRATIONS.map((m) => `${m.tag}.sql`)).toEqual(files);
    for (const migration of MIGRATIONS) {
      expect(migration.sql).toBe(readFileSync(join(MIGRATIONS_DIR, `${migration.tag}.sql`), "utf8"));
    }
  });

  test("every drizzle-kit journal entry is embedded, in journal order", () => {
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as { entries: { idx: number; tag: string }[] };
    const entries = [...journal.entries].sort((a, b) => a.idx - b.idx);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    expect(MIGRATIONS.map((m) => m.tag)).toEqual(entries.map((e) => e.tag));
  });
});

describe("embedded PostgreSQL migrations", () => {
  test("every SQL file in src/db/migrations-pg is embedded in PG_MIGRATIONS, in journal order and unchanged", () => {
    const files = readdirSync(PG_MIGRATIONS_DIR).filter((f) => f.endsWith(".sql")).sort();
    expect(PG_MIGRATIONS.map((m) => `${m.tag}.sql`)).toEqual(files);
    for (const migration of PG_MIGRATIONS) {
      expect(migration.sql).toBe(readFileSync(join(PG_MIGRATIONS_DIR, `${migration.tag}.sql`), "utf8"));
    }
    const journal = JSON.parse(readFileSync(join(PG_MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as { dialect: string; entries: { idx: number; tag: string }[] };
    expect(journal.dialect).toBe("postgresql");
    expect([...journal.entries].sort((a, b) => a.idx - b.idx).map((e) => e.tag)).toEqual(PG_MIGRATIONS.map((m) => m.tag));
  });
});

describe("openDatabase", () => {
  test("a fresh database gets every migration, WAL, foreign keys and the busy timeout", () => {
    const path = dbPath();
    const handle = openDatabase({ path, busyTimeoutMs: 1234 });
    try {
      expect(userVersion(handle.sqlite)).toBe(MIGRATIONS.length);
      expect(handle.sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      expect(handle.sqlite.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
      expect(handle.sqlite.query("PRAGMA busy_timeout").get()).toEqual({ timeout: 1234 });
      expect(tableNames(handle.sqlite)).toEqual(expect.arrayContaining(["sessions", "users"]));
      // Foreign keys are enforced, not just declared.
      expect(() =>
        handle.sqlite.run("INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at) VALUES ('s', 'h', 'user_missing', 0, 0)"),
      ).toThrow("FOREIGN KEY");
    } finally {
      handle.close();
    }
  });

  test("re-opening applies nothing and keeps the data", () => {
    const path = dbPath();
    const first = openDatabase({ path, busyTimeoutMs: 0, migrations: [createA] });
    first.sqlite.run("INSERT INTO a VALUES (42)");
    first.close();
    // Re-running createA would fail with "table a already exists".
    const again = openDatabase({ path, busyTimeoutMs: 0, migrations: [createA] });
    try {
      expect(userVersion(again.sqlite)).toBe(1);
      expect(again.sqlite.query("SELECT x FROM a").all()).toEqual([{ x: 42 }]);
      expect(migrate(again.sqlite, [createA])).toBe(0);
    } finally {
      again.close();
    }
  });

  test("re-opening with the real migrations applies nothing", () => {
    const path = dbPath();
    openDatabase({ path, busyTimeoutMs: 0 }).close();
    const handle = openDatabase({ path, busyTimeoutMs: 0 });
    try {
      expect(migrate(handle.sqlite, MIGRATIONS)).toBe(0);
      expect(userVersion(handle.sqlite)).toBe(MIGRATIONS.length);
    } finally {
      handle.close();
    }
  });

  test("only the pending migrations run on an older database", () => {
    const path = dbPath();
    openDatabase({ path, busyTimeoutMs: 0, migrations: [createA] }).close();
    const handle = openDatabase({ path, busyTimeoutMs: 0, migrations: [createA, createB] });
    try {
      expect(userVersion(handle.sqlite)).toBe(2);
      expect(tableNames(handle.sqlite)).toEqual(["a", "a2", "b"]);
    } finally {
      handle.close();
    }
  });

  test("a database from a newer Switchboard is refused and left alone", () => {
    const path = dbPath();
    openDatabase({ path, busyTimeoutMs: 0 }).close();
    withRaw(path, (sqlite) => sqlite.run(`PRAGMA user_version = ${MIGRATIONS.length + 1}`));
    expect(() => openDatabase({ path, busyTimeoutMs: 0 })).toThrow(DatabaseError);
    expect(() => openDatabase({ path, busyTimeoutMs: 0 })).toThrow(
      `newer Switchboard (schema version ${MIGRATIONS.length + 1}, this build knows ${MIGRATIONS.length})`,
    );
    expect(withRaw(path, userVersion)).toBe(MIGRATIONS.length + 1);
  });

  test("a failing migration rolls back entirely on a fresh database", () => {
    const path = dbPath();
    expect(() => openDatabase({ path, busyTimeoutMs: 0, migrations: [createA, createB, failing] })).toThrow("no_such_table");
    withRaw(path, (sqlite) => {
      expect(tableNames(sqlite)).toEqual([]);
      expect(userVersion(sqlite)).toBe(0);
    });
  });

  test("a failing migration leaves earlier-applied ones and the version as they were", () => {
    const path = dbPath();
    openDatabase({ path, busyTimeoutMs: 0, migrations: [createA] }).close();
    expect(() => openDatabase({ path, busyTimeoutMs: 0, migrations: [createA, createB, failing] })).toThrow("no_such_table");
    withRaw(path, (sqlite) => {
      expect(tableNames(sqlite)).toEqual(["a", "a2"]);
      expect(userVersion(sqlite)).toBe(1);
    });
    // Once the bad migration is gone, the good ones apply.
    const handle = openDatabase({ path, busyTimeoutMs: 0, migrations: [createA, createB] });
    handle.close();
    expect(withRaw(path, tableNames)).toEqual(["a", "a2", "b"]);
  });

  test("a data dir that cannot be created is a DatabaseError naming it", () => {
    const root = tempDir();
    writeFileSync(join(root, "occupied"), "a regular file where a directory should be");
    const dir = join(root, "occupied", "data");
    let caught: unknown;
    try {
      openDatabase({ path: join(dir, "switchboard.db"), busyTimeoutMs: 0 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DatabaseError);
    expect((caught as Error).message).toStartWith(`cannot create data dir ${dir}: `);
    expect(statSync(join(root, "occupied")).isFile()).toBe(true);
  });
});

describe("durability", () => {
  test("rows committed before a SIGKILL are there after reopening, and the file is intact", async () => {
    const path = dbPath();
    const child = Bun.spawn([process.execPath, FIXTURE, path, "50"], { stdout: "pipe", stderr: "pipe" });
    try {
      const stderr = new Response(child.stderr).text();
      await waitForLine(child.stdout, (line) => line === "committed").catch(async (err: Error) => {
        throw new Error(`${err.message}\nstderr:\n${await stderr}`);
      });
      // Nothing checkpointed yet: the commits sit in the WAL, so reopening must recover them from it.
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      child.kill("SIGKILL");
      expect(await child.exited).not.toBe(0);
      expect(child.signalCode).toBe("SIGKILL");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }

    const handle = openDatabase({ path, busyTimeoutMs: 0 });
    try {
      expect(handle.sqlite.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      expect(handle.sqlite.query("SELECT count(*) AS n FROM users WHERE id LIKE 'user_raw_%'").get()).toEqual({ n: 50 });
      expect((await findUserByEmail(handle.db, "durable@example.com"))?.role).toBe("admin");
    } finally {
      handle.close();
    }
    expect(existsSync(path)).toBe(true);
  });
});
