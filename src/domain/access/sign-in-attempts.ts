// The sign-in throttle shared by every replica (issue 15): LoginThrottle's counters, semantics and
// Retry-After, kept in the sign_in_attempts table so that N replicas behind a balancer allow the limits
// once, not N times. Used when clustering is on; a single process keeps the in-memory one (no write
// per failed attempt).
import { and, eq, gt, inArray, lte, or, sql, type SQL } from "drizzle-orm";
import { createHash, randomUUID } from "node:crypto";
import { dialectOf, tables, transaction, type Db } from "../../db/store.ts";
import type { AttemptResult, SignInAttempt, SignInThrottle, ThrottleLimits } from "./login-throttle.ts";

type CounterName = "account" | "ip" | "device";
type Counter = { counter: CounterName; key: string; max: number };

export class SharedLoginThrottle implements SignInThrottle {
  constructor(
    private readonly db: Db,
    private readonly limits: ThrottleLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * LoginThrottle.attempt over the table. The reservation is a row per counter, inserted before the
   * counts are read: an attempt whose count (its own row included) exceeds a limit takes its rows back
   * and is throttled. The reservations of one counter are serialized, whichever replica makes them (one
   * transaction, which on SQLite holds the write lock and on PostgreSQL first takes the counters' locks),
   * so a burst split across replicas is evaluated exactly up to the limit, as in memory. Without the
   * locks, PostgreSQL's transactions would not see each other's uncommitted rows and could all pass.
   */
  async attempt<T>(who: SignInAttempt, verify: () => Promise<T | null>): Promise<AttemptResult<T>> {
    const counters = this.countersFor(who);
    const now = this.clock();
    const ids = counters.map(() => randomUUID());
    const reserve = async (db: Db): Promise<number> => {
      const { signInAttempts } = tables(db);
      // This attempt's keys lose their rows that left the window (the sweep prunes the rest).
      await db.delete(signInAttempts).where(and(this.keysOf(db, counters), lte(signInAttempts.at, now - this.limits.windowMs)));
      await db.insert(signInAttempts).values(counters.map((c, i) => ({ id: ids[i]!, counter: c.counter, key: c.key, at: now })));
      const waits = await Promise.all(counters.map((c) => this.wait(db, c, now, 1)));
      const wait = Math.max(0, ...waits);
      if (wait > 0) await this.release(db, ids);
      return wait;
    };
    const wait = await transaction(this.db, async (tx) => {
      if (dialectOf(tx) === "postgres") await lockCountersPostgres(tx, counters);
      return reserve(tx);
    });
    if (wait > 0) return { outcome: "throttled", retryAfterMs: wait };
    // A thrown verify keeps the reservation: an attempt that did not prove the password is a failure.
    const value = await verify();
    if (value === null) return { outcome: "failed" };
    await this.release(this.db, ids);
    // A success clears the failures of what it was counted against: the device's when it came from a
    // trusted device (the account's failures may be a stranger's), else the account's (not the IP's).
    const { signInAttempts } = tables(this.db);
    const cleared = counters[0]!;
    await this.db.delete(signInAttempts).where(and(eq(signInAttempts.counter, cleared.counter), eq(signInAttempts.key, cleared.key)));
    return { outcome: "signed-in", value };
  }

  async retryAfter(who: SignInAttempt): Promise<number> {
    const now = this.clock();
    const waits = await Promise.all(this.countersFor(who).map((c) => this.wait(this.db, c, now, 0)));
    return Math.max(0, ...waits);
  }

  /** Deletes every attempt older than the window (the server's periodic sweep). */
  async prune(): Promise<void> {
    const { signInAttempts } = tables(this.db);
    await this.db.delete(signInAttempts).where(lte(signInAttempts.at, this.clock() - this.limits.windowMs));
  }

  /** The account's and IP's counters, or the trusted device's alone; the account comes first (a success clears it). */
  private countersFor(who: SignInAttempt): Counter[] {
    // Only a digest of the device id is stored: the table is readable by anyone with the database.
    if (who.device) return [{ counter: "device", key: createHash("sha256").update(who.device).digest("base64url"), max: this.limits.maxPerDevice ?? this.limits.maxPerAccount }];
    return [
      { counter: "account", key: who.account.toLowerCase(), max: this.limits.maxPerAccount },
      { counter: "ip", key: who.ip, max: this.limits.maxPerIp },
    ];
  }

  private keysOf(db: Db, counters: Counter[]) {
    const { signInAttempts } = tables(db);
    return or(...counters.map((c) => and(eq(signInAttempts.counter, c.counter), eq(signInAttempts.key, c.key))));
  }

  /**
   * Milliseconds until the counter is below its limit again; 0 when it is. `own` is how many of the rows
   * are the asking attempt's (its reservation, the newest): the limit applies to the rows before it, and
   * the wait ends when the oldest one that keeps them at the limit leaves the window (as in memory).
   */
  private async wait(db: Db, c: Counter, now: number, own: 0 | 1): Promise<number> {
    const { signInAttempts } = tables(db);
    const rows = await db
      .select({ at: signInAttempts.at })
      .from(signInAttempts)
      .where(and(eq(signInAttempts.counter, c.counter), eq(signInAttempts.key, c.key), gt(signInAttempts.at, now - this.limits.windowMs)))
      .orderBy(signInAttempts.at);
    const before = rows.length - own;
    if (before < c.max) return 0;
    return Math.max(1, rows[before - c.max]!.at + this.limits.windowMs - now);
  }

  private async release(db: Db, ids: string[]): Promise<void> {
    const { signInAttempts } = tables(db);
    await db.delete(signInAttempts).where(inArray(signInAttempts.id, ids));
  }
}

/**
 * PostgreSQL: takes the transaction-scoped advisory lock of each counter, so reservations on one counter
 * run one at a time across replicas (SQLite needs none: BEGIN IMMEDIATE already holds the write lock).
 * Always in the same order (sorted), so two attempts sharing two counters cannot deadlock.
 */
async function lockCountersPostgres(tx: Db, counters: Counter[]): Promise<void> {
  const pg = tx as unknown as { execute: (query: SQL) => Promise<unknown> };
  const names = counters.map((c) => `sign_in_attempts:${c.counter}:${c.key}`).sort();
  for (const name of names) await pg.execute(sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`);
}
