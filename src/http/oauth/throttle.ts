// Per client address, how many costly unauthenticated requests the authorization server takes in a
// window: registrations (rows) and client metadata document fetches (outbound requests).

/**
 * A fixed-window count of requests per client address (registrations, metadata document fetches), in
 * memory (a replica each: a flood is bounded by N times the limit, which is what it protects against).
 * Old windows are dropped as it grows.
 */
export class AddressThrottle {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Counts one request from `ip`; returns the milliseconds to wait when over the limit, else 0. */
  take(ip: string, now = Date.now()): number {
    if (this.windows.size > 10_000) for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
    let window = this.windows.get(ip);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(ip, window);
    }
    if (window.count >= this.limit) return window.start + this.windowMs - now;
    window.count++;
    return 0;
  }
}
