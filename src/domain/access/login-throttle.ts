// Sign-in throttling: failures are counted per account and per client IP over a sliding window.
// In memory on purpose: it resets on restart, but costs no write per failed attempt (a DoS lever).

export type ThrottleLimits = { windowMs: number; maxPerAccount: number; maxPerIp: number };

const MAX_TRACKED = 100_000; // bounds memory when an attacker sprays many accounts or addresses

export class LoginThrottle {
  private readonly accounts = new Map<string, number[]>();
  private readonly ips = new Map<string, number[]>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Milliseconds until a sign-in for this account from this IP may be tried again; 0 when allowed now. */
  retryAfter(account: string, ip: string): number {
    const now = this.clock();
    return Math.max(
      this.wait(this.accounts, account.toLowerCase(), this.limits.maxPerAccount, now),
      this.wait(this.ips, ip, this.limits.maxPerIp, now),
    );
  }

  /** Counts one failed sign-in against the account and the IP. */
  recordFailure(account: string, ip: string): void {
    const now = this.clock();
    this.push(this.accounts, account.toLowerCase(), now);
    this.push(this.ips, ip, now);
  }

  /** A successful sign-in clears the account's failures (the IP's remain). */
  recordSuccess(account: string): void {
    this.accounts.delete(account.toLowerCase());
  }

  private recent(map: Map<string, number[]>, key: string, now: number): number[] {
    const kept = (map.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (kept.length === 0) map.delete(key);
    else map.set(key, kept);
    return kept;
  }

  private wait(map: Map<string, number[]>, key: string, max: number, now: number): number {
    const kept = this.recent(map, key, now);
    if (kept.length < max) return 0;
    return kept[kept.length - max]! + this.limits.windowMs - now;
  }

  private push(map: Map<string, number[]>, key: string, now: number): void {
    const kept = this.recent(map, key, now);
    if (kept.length === 0 && map.size >= MAX_TRACKED) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    kept.push(now);
    map.set(key, kept);
  }
}
