// Per client, how many costly unauthenticated requests the authorization server takes in a window:
// registrations (rows) and client metadata document fetches (outbound requests).
import { subscriberOf } from "../../domain/connections/addresses.ts";

/** Most clients tracked at once; past it the oldest window is forgotten (memory and work stay bounded). */
const MAX_TRACKED = 10_000;

/**
 * A fixed-window count of requests per client — an IPv4 address, or an IPv6 /64 (what one subscriber
 * holds) — in memory (a replica each: a flood is bounded by N times the limit, which is what it
 * protects against). At most MAX_TRACKED clients are tracked: a new one evicts the oldest, in O(1),
 * so a flood from many addresses neither grows the map nor slows each request.
 */
export class AddressThrottle {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Counts one request from `ip`; returns the milliseconds to wait when over the limit, else 0. */
  take(ip: string, now = Date.now()): number {
    const client = subscriberOf(ip);
    let window = this.windows.get(client);
    if (!window || now - window.start >= this.windowMs) {
      // Re-inserted, so the map's order stays the order windows started in: the first is the oldest.
      this.windows.delete(client);
      if (this.windows.size >= MAX_TRACKED) this.windows.delete(this.windows.keys().next().value!);
      window = { start: now, count: 0 };
      this.windows.set(client, window);
    }
    if (window.count >= this.limit) return window.start + this.windowMs - now;
    window.count++;
    return 0;
  }

  /** How many clients are tracked now. */
  get size(): number {
    return this.windows.size;
  }
}
