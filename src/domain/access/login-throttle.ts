// Sign-in throttling: failed sign-ins are counted per account and per client IP over a sliding window,
// and per trusted device for a browser that proved the account's password before (a device cookie).
// Each attempt is reserved (counted) before its password is checked, so a burst cannot have more
// guesses evaluated than the limits allow. In memory on purpose for a single process: it resets on
// restart, but costs no write per failed attempt (a DoS lever). Several replicas share the counters in
// the database instead (sign-in-attempts.ts), behind the same interface.

export type ThrottleLimits = {
  windowMs: number;
  maxPerAccount: number;
  maxPerIp: number;
  /** Failed sign-ins allowed per trusted device within the window (default: maxPerAccount). */
  maxPerDevice?: number;
};

/** Who is trying: the account typed, the client IP, and the device id of a device cookie proven for that account. */
export type SignInAttempt = { account: string; ip: string; device?: string | null };

export type AttemptResult<T> =
  | { outcome: "signed-in"; value: T }
  | { outcome: "failed" }
  | { outcome: "throttled"; retryAfterMs: number };

/** A sign-in throttle, in memory (one process) or in the database (shared by every replica). */
export interface SignInThrottle {
  /** Runs `verify` (the password check) for one sign-in attempt, unless the attempt is throttled. */
  attempt<T>(who: SignInAttempt, verify: () => Promise<T | null>): Promise<AttemptResult<T>>;
  /** Milliseconds until a sign-in like `who` may be tried again; 0 when allowed now. */
  retryAfter(who: SignInAttempt): Promise<number>;
  /** Forgets the attempts that have left the window (the server's periodic sweep). */
  prune(): Promise<void>;
}

type Counter = { map: Map<string, number[]>; key: string; max: number };

const MAX_TRACKED = 100_000; // bounds memory when an attacker sprays many accounts, addresses or devices

export class LoginThrottle implements SignInThrottle {
  private readonly accounts = new Map<string, number[]>();
  private readonly ips = new Map<string, number[]>();
  private readonly devices = new Map<string, number[]>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Runs `verify` (the password check) for one sign-in attempt, unless the attempt is throttled.
   * The attempt is counted as a failure before `verify` starts and is released only when it returns a
   * value: concurrent attempts see each other's reservations, so at most the limit are ever evaluated
   * per window. An attempt from a trusted device counts against that device only, so a stranger's
   * failures (which lock the account and their IP) do not lock out the owner's own browser, while a
   * stolen device cookie still gets no more than maxPerDevice guesses.
   */
  async attempt<T>(who: SignInAttempt, verify: () => Promise<T | null>): Promise<AttemptResult<T>> {
    const counters = this.countersFor(who);
    const now = this.clock();
    const wait = Math.max(0, ...counters.map((c) => this.wait(c, now)));
    if (wait > 0) return { outcome: "throttled", retryAfterMs: wait };
    for (const c of counters) this.push(c, now);
    // A thrown verify keeps the reservation: an attempt that did not prove the password is a failure.
    const value = await verify();
    if (value === null) return { outcome: "failed" };
    for (const c of counters) this.release(c, now);
    // A success clears the failures of what it was counted against: the device's when it came from a
    // trusted device (the account's failures may be a stranger's), else the account's (not the IP's).
    if (who.device) this.devices.delete(who.device);
    else this.accounts.delete(who.account.toLowerCase());
    return { outcome: "signed-in", value };
  }

  /** Milliseconds until a sign-in like `who` may be tried again; 0 when allowed now. */
  async retryAfter(who: SignInAttempt): Promise<number> {
    const now = this.clock();
    return Math.max(0, ...this.countersFor(who).map((c) => this.wait(c, now)));
  }

  /** Drops the keys whose failures have all left the window (MAX_TRACKED bounds them meanwhile). */
  async prune(): Promise<void> {
    const now = this.clock();
    for (const map of [this.accounts, this.ips, this.devices]) {
      for (const key of [...map.keys()]) this.recent({ map, key, max: 0 }, now);
    }
  }

  private countersFor(who: SignInAttempt): Counter[] {
    if (who.device) return [{ map: this.devices, key: who.device, max: this.limits.maxPerDevice ?? this.limits.maxPerAccount }];
    return [
      { map: this.accounts, key: who.account.toLowerCase(), max: this.limits.maxPerAccount },
      { map: this.ips, key: who.ip, max: this.limits.maxPerIp },
    ];
  }

  private recent({ map, key }: Counter, now: number): number[] {
    const kept = (map.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (kept.length === 0) map.delete(key);
    else map.set(key, kept);
    return kept;
  }

  private wait(counter: Counter, now: number): number {
    const kept = this.recent(counter, now);
    if (kept.length < counter.max) return 0;
    return kept[kept.length - counter.max]! + this.limits.windowMs - now;
  }

  private push(counter: Counter, now: number): void {
    const kept = this.recent(counter, now);
    if (kept.length === 0 && counter.map.size >= MAX_TRACKED) {
      const oldest = counter.map.keys().next().value;
      if (oldest !== undefined) counter.map.delete(oldest);
    }
    kept.push(now);
    counter.map.set(counter.key, kept);
  }

  private release({ map, key }: Counter, at: number): void {
    const kept = map.get(key);
    const i = kept?.lastIndexOf(at) ?? -1;
    if (kept === undefined || i === -1) return;
    kept.splice(i, 1);
    if (kept.length === 0) map.delete(key);
  }
}
