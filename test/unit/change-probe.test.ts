// The change probe behind the key verifier's cache: any commit, from this connection or another
// process's, must change its value; reads must not. And a verifier using it sees a revocation made
// by another connection (the CLI) on the very next check.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createChangeFeed, createChangeProbe, probedCache } from "../../src/db/change-probe.ts";
import { createApiKey, createKeyVerifier, deleteApiKey } from "../../src/domain/access/api-keys.ts";
import { users } from "../../src/db/schema.ts";
import { useTestDatabase } from "../support/db.ts";

const openDb = useTestDatabase();
const HMAC = Buffer.alloc(32, 7);

function dbPath(handle: { sqlite: Database }): string {
  return handle.sqlite.filename;
}

describe("createChangeProbe", () => {
  test("changes with every commit of this connection and of another, not with reads", () => {
    const handle = openDb();
    const probe = createChangeProbe(handle.sqlite, dbPath(handle));
    const start = probe();
    expect(probe()).toBe(start);
    handle.sqlite.run("CREATE TABLE probe_t (x)");
    const afterOwn = probe();
    expect(afterOwn).not.toBe(start);
    handle.sqlite.query("SELECT count(*) FROM probe_t").get();
    expect(probe()).toBe(afterOwn);
    const other = new Database(dbPath(handle));
    try {
      other.run("INSERT INTO probe_t VALUES (1)");
      expect(probe()).not.toBe(afterOwn);
    } finally {
      other.close();
    }
  });

  test("still sees changes after a checkpoint restarts the WAL", () => {
    const handle = openDb();
    const probe = createChangeProbe(handle.sqlite, dbPath(handle));
    handle.sqlite.run("CREATE TABLE probe_t (x)");
    handle.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const before = probe();
    handle.sqlite.run("INSERT INTO probe_t VALUES (1)");
    expect(probe()).not.toBe(before);
  });

  test("a verifier using it sees a revocation made through another connection at once", async () => {
    const handle = openDb();
    const now = new Date();
    handle.db.insert(users).values({ id: "user_1", email: "a@example.com", role: "admin", passwordHash: "x", createdAt: now, updatedAt: now }).run();
    const { key, token } = await createApiKey(handle.db, { hmacKey: HMAC, name: "k", ownerId: "user_1", permissions: { self: ["*"] }, expiresAt: null });
    const verify = createKeyVerifier(handle.db, HMAC, createChangeProbe(handle.sqlite, dbPath(handle)));
    expect((await verify(token))?.keyId).toBe(key.id);
    expect((await verify(token))?.keyId).toBe(key.id); // now served from the cache
    const other = new Database(dbPath(handle));
    try {
      other.run("DELETE FROM api_keys WHERE id = ?", [key.id]);
    } finally {
      other.close();
    }
    expect(await verify(token)).toBeNull();
  });

  test("a verifier using it sees a revocation made through its own connection at once", async () => {
    const handle = openDb();
    const now = new Date();
    handle.db.insert(users).values({ id: "user_1", email: "a@example.com", role: "admin", passwordHash: "x", createdAt: now, updatedAt: now }).run();
    const { key, token } = await createApiKey(handle.db, { hmacKey: HMAC, name: "k", ownerId: "user_1", permissions: { self: ["*"] }, expiresAt: null });
    const verify = createKeyVerifier(handle.db, HMAC, createChangeProbe(handle.sqlite, dbPath(handle)));
    expect((await verify(token))?.keyId).toBe(key.id);
    await deleteApiKey(handle.db, key.id);
    expect(await verify(token)).toBeNull();
  });
});

describe("createChangeFeed", () => {
  test("on SQLite it is the WAL probe, and a closed database fails it rather than vouching for a cached key", async () => {
    const handle = openDb();
    const now = new Date();
    await handle.db.insert(users).values({ id: "user_1", email: "a@example.com", role: "admin", passwordHash: "x", createdAt: now, updatedAt: now });
    const { key, token } = await createApiKey(handle.db, { hmacKey: HMAC, name: "k", ownerId: "user_1", permissions: { self: ["*"] }, expiresAt: null });
    const feed = createChangeFeed(handle);
    const verify = createKeyVerifier(handle.db, HMAC, feed);
    expect((await verify(token))?.keyId).toBe(key.id);
    expect((await verify(token))?.keyId).toBe(key.id); // served from the cache
    handle.sqlite.close();
    expect(() => feed()).toThrow();
    await expect(verify(token)).rejects.toThrow();
  });
});

describe("probedCache", () => {
  test("loads a key once while nothing changes, again after a change, and never caches a miss", async () => {
    let version = "1";
    const loads: string[] = [];
    // An asynchronous probe (PostgreSQL's will ask its server) works as a synchronous one does.
    const lookup = probedCache(async () => version, async (key) => {
      loads.push(key);
      return key === "known" ? { key } : null;
    });
    expect(await lookup("known")).toEqual({ key: "known" });
    expect(await lookup("known")).toEqual({ key: "known" });
    expect(await lookup("unknown")).toBeNull();
    expect(await lookup("unknown")).toBeNull();
    expect(loads).toEqual(["known", "unknown", "unknown"]);
    version = "2";
    await lookup("known");
    expect(loads).toEqual(["known", "unknown", "unknown", "known"]);
  });

  test("starts over past its limit rather than growing", async () => {
    const loads: string[] = [];
    const lookup = probedCache(() => "same", async (key) => (loads.push(key), key), 2);
    for (const key of ["a", "b", "c", "a"]) await lookup(key);
    // "c" found the cache full and cleared it, so "a" was loaded again.
    expect(loads).toEqual(["a", "b", "c", "a"]);
  });

  test("a row whose load began before a change and ended after it is returned, never cached", async () => {
    let version = "1";
    let finishFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (finishFirst = resolve));
    let loads = 0;
    const lookup = probedCache(() => version, async (key) => {
      const n = ++loads;
      if (n === 1) await firstHeld; // read before the revocation, answered after it
      return { key, load: n };
    });
    const stale = lookup("k");
    version = "2"; // the revocation commits while the first load is in flight
    expect(await lookup("k")).toEqual({ key: "k", load: 2 });
    finishFirst();
    expect(await stale).toEqual({ key: "k", load: 1 });
    // The stale row did not overwrite the fresh one: the next call is served the load made after the change.
    expect(await lookup("k")).toEqual({ key: "k", load: 2 });
    expect(loads).toBe(2);
  });
});
