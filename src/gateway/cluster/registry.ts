// The replica registry and the session directory (issue 15): which replicas run (a row each, kept
// fresh by heartbeats) and which replica holds each downstream MCP session.
import { and, eq, gt, inArray, lt } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { tables } from "../../db/store.ts";
import type { Logger } from "../../logger.ts";
import type { ReplicaConnectionState } from "../types.ts";


/** The replica that holds a session, as the directory knows it. */
export type SessionOwner = { replicaId: string; url: string; alive: boolean };

export type RegistrySettings = {
  db: Db;
  /** Where the other replicas reach this one. */
  url: string;
  heartbeatMs: number;
  deadAfterMs: number;
  logger: Logger;
  /** The clock (tests move it). */
  now?: () => number;
};

/** This replica's row in `replicas`, its heartbeat, and its entries in `mcp_sessions`. */
export class ReplicaRegistry {
  readonly id = `rep_${crypto.randomUUID()}`;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly now: () => number;

  constructor(private readonly settings: RegistrySettings) {
    this.now = settings.now ?? Date.now;
  }

  get url(): string {
    return this.settings.url;
  }

  /**
   * Registers this replica and starts heartbeating (each beat also prunes the dead). The heartbeat
   * starts first, once: when this first beat fails (the database unreachable), the next beat registers.
   */
  async start(): Promise<void> {
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.beat().catch((err: unknown) => this.settings.logger.warn("replica heartbeat failed", { error: (err as Error).message }));
      }, this.settings.heartbeatMs);
      this.timer.unref();
    }
    await this.beat();
  }

  /** Stops heartbeating without deregistering: what a replica that dies looks like to the others. */
  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A clean stop: no more heartbeats, and this replica's row and sessions are gone at once. */
  async deregister(): Promise<void> {
    this.stopHeartbeat();
    const { db } = this.settings;
    const { replicas, mcpSessions, replicaConnections } = tables(db);
    await db.delete(replicaConnections).where(eq(replicaConnections.replicaId, this.id));
    // Sessions first: a lookup between the two statements finds no session rather than a session of no replica.
    await db.delete(mcpSessions).where(eq(mcpSessions.replicaId, this.id));
    await db.delete(replicas).where(eq(replicas.id, this.id));
  }

  /** One heartbeat: this replica's row is written (again, if it was pruned while it stalled), the dead are pruned. */
  async beat(): Promise<void> {
    const { db } = this.settings;
    const { replicas, mcpSessions, replicaConnections } = tables(db);
    const now = this.now();
    await db
      .insert(replicas)
      .values({ id: this.id, url: this.settings.url, startedAt: now, heartbeatAt: now })
      .onConflictDoUpdate({ target: replicas.id, set: { heartbeatAt: now, url: this.settings.url } });
    // A replica dead for twice dead_after is gone for good: its sessions' rows, then its row. (Between
    // one and two, its row stays so that a lookup of its sessions says "dead" rather than "unknown".)
    // Single statements, no transaction: each replica prunes the same rows, so a repeat is harmless, and
    // replicas sharing one SQLite file in one process must not hold the write lock across an await.
    const cutoff = now - 2 * this.settings.deadAfterMs;
    const dead = db.select({ id: replicas.id }).from(replicas).where(lt(replicas.heartbeatAt, cutoff));
    await db.delete(mcpSessions).where(inArray(mcpSessions.replicaId, dead));
    await db.delete(replicaConnections).where(inArray(replicaConnections.replicaId, dead));
    await db.delete(replicas).where(lt(replicas.heartbeatAt, cutoff));
  }

  /** Records that this replica holds a new session. */
  async sessionOpened(sessionId: string): Promise<void> {
    const { mcpSessions } = tables(this.settings.db);
    await this.settings.db.insert(mcpSessions).values({ sessionId, replicaId: this.id, createdAt: this.now() }).onConflictDoNothing();
  }

  /** Removes a session of this replica from the directory (it ended: DELETE, expiry, shutdown). */
  async sessionClosed(sessionId: string): Promise<void> {
    const { mcpSessions } = tables(this.settings.db);
    await this.settings.db.delete(mcpSessions).where(and(eq(mcpSessions.sessionId, sessionId), eq(mcpSessions.replicaId, this.id)));
  }

  /** Records this replica's state of a connection (on each change of state). */
  async connectionState(connectionId: string, state: string, error: string | null): Promise<void> {
    const { replicaConnections } = tables(this.settings.db);
    const updatedAt = this.now();
    await this.settings.db
      .insert(replicaConnections)
      .values({ replicaId: this.id, connectionId, state, error, updatedAt })
      .onConflictDoUpdate({ target: [replicaConnections.replicaId, replicaConnections.connectionId], set: { state, error, updatedAt } });
  }

  /** Every live replica's state of a connection, oldest replica first (a replica that never ran it has no row). */
  async connectionStates(connectionId: string): Promise<ReplicaConnectionState[]> {
    const { replicaConnections, replicas } = tables(this.settings.db);
    const rows = await this.settings.db
      .select({ replicaId: replicas.id, url: replicas.url, state: replicaConnections.state, error: replicaConnections.error, updatedAt: replicaConnections.updatedAt })
      .from(replicaConnections)
      .innerJoin(replicas, eq(replicas.id, replicaConnections.replicaId))
      .where(and(eq(replicaConnections.connectionId, connectionId), gt(replicas.heartbeatAt, this.now() - this.settings.deadAfterMs)))
      .orderBy(replicas.startedAt, replicas.id);
    return rows.map((r) => ({ replica_id: r.replicaId, url: r.url, state: r.state, error: r.error, updated_at: new Date(r.updatedAt).toISOString() }));
  }

  /** The replica holding a session, and whether it is alive; null when the directory does not know it. */
  async ownerOf(sessionId: string): Promise<SessionOwner | null> {
    const { mcpSessions, replicas } = tables(this.settings.db);
    const [row] = await this.settings.db
      .select({ replicaId: mcpSessions.replicaId, url: replicas.url, heartbeatAt: replicas.heartbeatAt })
      .from(mcpSessions)
      .innerJoin(replicas, eq(replicas.id, mcpSessions.replicaId))
      .where(eq(mcpSessions.sessionId, sessionId))
      .limit(1);
    if (!row) return null;
    return { replicaId: row.replicaId, url: row.url, alive: row.heartbeatAt > this.now() - this.settings.deadAfterMs };
  }
}
