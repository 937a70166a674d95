// Sign-in throttling with an injected clock: per-account and per-IP limits over a sliding window.
import { describe, expect, test } from "bun:test";
import { LoginThrottle, type ThrottleLimits } from "../../src/domain/access/login-throttle.ts";

const WINDOW = 60_000;

/** A throttle whose clock the test moves by hand. */
function throttle(limits: Partial<ThrottleLimits> = {}) {
  let now = 1_000_000;
  const t = new LoginThrottle({ windowMs: WINDOW, maxPerAccount: 3, maxPerIp: 100, ...limits }, () => now);
  return {
    t,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("LoginThrottle", () => {
  test("allows sign-ins below the limits", () => {
    const { t } = throttle();
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(0);
    t.recordFailure("ann@example.com", "10.0.0.1");
    t.recordFailure("ann@example.com", "10.0.0.1");
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(0);
  });

  test("throttles an account after maxPerAccount failures, from any IP and in any case", () => {
    const { t, advance } = throttle({ maxPerAccount: 3 });
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
      t.recordFailure("Ann@Example.com", ip);
      advance(10);
    }
    // The oldest failure (30 ms ago) leaves the window in WINDOW - 30 ms.
    expect(t.retryAfter("ann@example.com", "10.0.0.9")).toBe(WINDOW - 30);
    expect(t.retryAfter("ANN@EXAMPLE.COM", "10.0.0.9")).toBe(WINDOW - 30);
    // Another account from the same IPs is unaffected.
    expect(t.retryAfter("bob@example.com", "10.0.0.1")).toBe(0);
  });

  test("throttles an IP after maxPerIp failures, whatever the account", () => {
    const { t } = throttle({ maxPerAccount: 100, maxPerIp: 4 });
    for (let i = 0; i < 4; i++) t.recordFailure(`user${i}@example.com`, "10.0.0.1");
    expect(t.retryAfter("fresh@example.com", "10.0.0.1")).toBe(WINDOW);
    expect(t.retryAfter("fresh@example.com", "10.0.0.2")).toBe(0);
  });

  test("failures older than the window stop counting", () => {
    const { t, advance } = throttle({ maxPerAccount: 2 });
    t.recordFailure("ann@example.com", "10.0.0.1");
    advance(30_000);
    t.recordFailure("ann@example.com", "10.0.0.1");
    advance(WINDOW - 30_000 - 1);
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(1);
    advance(1);
    // The first failure has left the window; one remains, below the limit.
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(0);
    t.recordFailure("ann@example.com", "10.0.0.1");
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(30_000);
  });

  test("a success clears the account's failures but not the IP's", () => {
    const { t } = throttle({ maxPerAccount: 2, maxPerIp: 3 });
    t.recordFailure("ann@example.com", "10.0.0.1");
    t.recordFailure("ann@example.com", "10.0.0.1");
    expect(t.retryAfter("ann@example.com", "10.0.0.2")).toBeGreaterThan(0);
    t.recordSuccess("ANN@example.com");
    expect(t.retryAfter("ann@example.com", "10.0.0.2")).toBe(0);
    // The IP still holds two failures; a third reaches its limit for every account.
    t.recordFailure("other@example.com", "10.0.0.1");
    expect(t.retryAfter("ann@example.com", "10.0.0.1")).toBe(WINDOW);
    expect(t.retryAfter("ann@example.com", "10.0.0.2")).toBe(0);
  });
});
