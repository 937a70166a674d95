// The replica registry and the session directory on one database, with a clock the test moves:
// registration, heartbeats, alive and dead owners, pruning of the dead, a clean deregistration; the
// cluster node over it when the database fails (registration retried, a lookup answered 503).
import { describe, expect, test } from "bun:test";
import type { Db } from "../../src/db/client.ts";
import { tables } from "../../src/db/store.ts";
import { AppError } from "../../src/errors.ts";
import { ClusterNode } from "../../src/gateway/cluster/cluster.ts";
import { ReplicaRegistry } from "../../src/gateway/cluster/registry.ts";
import { silentLogger } from "../../src/logger.ts";
import { useTestDatabase } from "../support/db.ts";

const openDb = useTestDatabase();
const DEAD_AFTER = 15_000;

function registry(db: Db, clock: { now: number }, url: string): ReplicaRegistry {
  return new ReplicaRegistry({ db, url, heartbeatMs: 5_000, deadAfterMs: DEAD_AFTER, logger: silentLogger, now: () => clock.now });
}

async function replicaIds(db: Db): Promise<string[]> {
  const { replicas } = tables(db);
  return (await db.select({ id: replicas.id }).from(replicas)).map((r) => r.id).sort();
}

describe("replica registry", () => {
  test("a replica registers with its url; its sessions are found with it while it heartbeats", async () => {
    const { db } = openDb();
    const clock = { now: 1_000_000 };
    const a = registry(db, clock, "http://10.0.0.1:8080");
    await a.beat();
    expect(a.id).toMatch(/^rep_[0-9a-f-]{36}$/);
    await a.sessionOpened("s1");
    expect(await a.ownerOf("s1")).toEqual({ replicaId: a.id, url: "http://10.0.0.1:8080", alive: true });
    expect(await a.ownerOf("unknown")).toBeNull();
    clock.now += DEAD_AFTER - 1;
    expect((await a.ownerOf("s1"))?.alive).toBe(true);
    await a.sessionClosed("s1");
    expect(await a.ownerOf("s1")).toBeNull();
  });

  test("a replica silent past dead_after is dead; past twice that, another's heartbeat prunes it and its sessions", async () => {
    const { db } = openDb();
    const clock = { now: 1_000_000 };
    const a = registry(db, clock, "http://a");
    const b = registry(db, clock, "http://b");
    await a.beat();
    await b.beat();
    await a.sessionOpened("s-of-a");
    clock.now += DEAD_AFTER + 1;
    await b.beat();
    expect(await b.ownerOf("s-of-a")).toEqual({ replicaId: a.id, url: "http://a", alive: false });
    clock.now += DEAD_AFTER;
    await b.beat();
    expect(await replicaIds(db)).toEqual([b.id]);
    expect(await b.ownerOf("s-of-a")).toBeNull();
    const { mcpSessions } = tables(db);
    expect(await db.select().from(mcpSessions)).toEqual([]);
  });

  test("a replica that stalled and was pruned registers again on its next heartbeat", async () => {
    const { db } = openDb();
    const clock = { now: 1_000_000 };
    const a = registry(db, clock, "http://a");
    const b = registry(db, clock, "http://b");
    await a.beat();
    clock.now += 3 * DEAD_AFTER;
    await b.beat();
    expect(await replicaIds(db)).toEqual([b.id]);
    await a.beat();
    expect(await replicaIds(db)).toEqual([a.id, b.id].sort());
  });

  test("a clean deregistration removes the replica and its sessions, and no other replica's", async () => {
    const { db } = openDb();
    const clock = { now: 1_000_000 };
    const a = registry(db, clock, "http://a");
    const b = registry(db, clock, "http://b");
    await a.beat();
    await b.beat();
    await a.sessionOpened("s-a");
    await b.sessionOpened("s-b");
    // A replica removes only its own sessions from the directory.
    await a.sessionClosed("s-b");
    expect((await a.ownerOf("s-b"))?.replicaId).toBe(b.id);
    await a.deregister();
    expect(await replicaIds(db)).toEqual([b.id]);
    expect(await b.ownerOf("s-a")).toBeNull();
    expect((await b.ownerOf("s-b"))?.replicaId).toBe(b.id);
  });
});

describe("cluster node when the database fails", () => {
  test("a registration that failed is tried again on the next use, and by the heartbeat meanwhile", async () => {
    const handle = openDb();
    const { db, sqlite } = handle;
    const a = new ReplicaRegistry({ db, url: "http://a", heartbeatMs: 20, deadAfterMs: DEAD_AFTER, logger: silentLogger });
    const node = new ClusterNode(a, Buffer.alloc(32), silentLogger);
    // The replicas table out of reach stands in for a database down while the replica starts.
    sqlite.run("ALTER TABLE replicas RENAME TO replicas_away");
    await expect(node.start()).rejects.toThrow();
    sqlite.run("ALTER TABLE replicas_away RENAME TO replicas");
    // The heartbeat keeps trying: the replica registers without anyone asking.
    while ((await replicaIds(db)).length === 0) await Bun.sleep(20);
    expect(await replicaIds(db)).toEqual([a.id]);
    await a.deregister();
    // And the next use registers again rather than replaying the cached failure.
    await node.sessionOpened("s1");
    expect(await replicaIds(db)).toEqual([a.id]);
    expect((await a.ownerOf("s1"))?.replicaId).toBe(a.id);
    a.stopHeartbeat();
  });

  test("admit answers 503 UNAVAILABLE, not a 500, when the session directory cannot be read", async () => {
    const { db, sqlite } = openDb();
    const a = registry(db, { now: 1_000_000 }, "http://a");
    const node = new ClusterNode(a, Buffer.alloc(32), silentLogger);
    await node.start();
    a.stopHeartbeat();
    sqlite.run("ALTER TABLE mcp_sessions RENAME TO mcp_sessions_away");
    const request = new Request("http://a/mcp/echo", { method: "POST", headers: { "mcp-session-id": "s-elsewhere" } });
    const refused = await node.admit(request, { holds: () => false, client: () => null }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe("UNAVAILABLE");
    expect((refused as AppError).status).toBe(503);
  });
});
