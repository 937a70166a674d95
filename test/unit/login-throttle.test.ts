// Sign-in throttling with an injected clock: per-account and per-IP limits over a sliding window,
// attempts reserved before the password check (a burst cannot get more guesses evaluated than the
// limit), and trusted devices that strangers' failures do not lock out. Every test runs against the
// in-memory throttle (one process) and the shared one in the database (replicas), on SQLite and PostgreSQL.
import { describe, expect, test } from "bun:test";
import type { Db } from "../../src/db/store.ts";
import { LoginThrottle, type SignInAttempt, type SignInThrottle, type ThrottleLimits } from "../../src/domain/access/login-throttle.ts";
import { SharedLoginThrottle } from "../../src/domain/access/sign-in-attempts.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";

const WINDOW = 60_000;

const openSqlite = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("the shared sign-in throttle on PostgreSQL", test);

/** The implementations: in memory (one process), and in the database (replicas) on either engine. */
const KINDS: { name: string; skip?: boolean; open: (limits: ThrottleLimits, clock: () => number) => Promise<SignInThrottle> }[] = [
  { name: "in memory", open: async (limits, clock) => new LoginThrottle(limits, clock) },
  { name: "shared, SQLite", open: async (limits, clock) => new SharedLoginThrottle(openSqlite().db as Db, limits, clock) },
  { name: "shared, PostgreSQL", skip: !havePostgres, open: async (limits, clock) => new SharedLoginThrottle((await pg.open()).db as Db, limits, clock) },
];

const who = (account: string, ip: string, device?: string): SignInAttempt => ({ account, ip, device });
const fail = (t: SignInThrottle, attempt: SignInAttempt) => t.attempt(attempt, async () => null);
const succeed = (t: SignInThrottle, attempt: SignInAttempt) => t.attempt(attempt, async () => "user");

/** A password check that counts its calls and holds each one until the test lets them all go. */
function countingVerifier(answer: string | null) {
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    verify: async () => {
      calls++;
      await gate;
      return answer;
    },
    get calls() {
      return calls;
    },
    release: () => open(),
  };
}

for (const kind of KINDS) {
  const suite = kind.skip ? describe.skip : describe;
  /** A throttle whose clock the test moves by hand. */
  async function throttle(limits: Partial<ThrottleLimits> = {}) {
    let now = 1_000_000;
    const t = await kind.open({ windowMs: WINDOW, maxPerAccount: 3, maxPerIp: 100, ...limits }, () => now);
    return {
      t,
      advance(ms: number) {
        now += ms;
      },
    };
  }

  suite(`LoginThrottle (${kind.name})`, () => {
    test("allows sign-ins below the limits", async () => {
      const { t } = await throttle();
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(0);
      expect((await fail(t, who("ann@example.com", "10.0.0.1"))).outcome).toBe("failed");
      expect((await fail(t, who("ann@example.com", "10.0.0.1"))).outcome).toBe("failed");
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(0);
      expect(await succeed(t, who("ann@example.com", "10.0.0.1"))).toEqual({ outcome: "signed-in", value: "user" });
    });

    test("throttles an account after maxPerAccount failures, from any IP and in any case", async () => {
      const { t, advance } = await throttle({ maxPerAccount: 3 });
      for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
        await fail(t, who("Ann@Example.com", ip));
        advance(10);
      }
      // The oldest failure (30 ms ago) leaves the window in WINDOW - 30 ms.
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.9"))).toBe(WINDOW - 30);
      expect(await succeed(t, who("ANN@EXAMPLE.COM", "10.0.0.9"))).toEqual({ outcome: "throttled", retryAfterMs: WINDOW - 30 });
      // Another account from the same IPs is unaffected.
      expect(await t.retryAfter(who("bob@example.com", "10.0.0.1"))).toBe(0);
    });

    test("throttles an IP after maxPerIp failures, whatever the account", async () => {
      const { t } = await throttle({ maxPerAccount: 100, maxPerIp: 4 });
      for (let i = 0; i < 4; i++) await fail(t, who(`user${i}@example.com`, "10.0.0.1"));
      expect(await t.retryAfter(who("fresh@example.com", "10.0.0.1"))).toBe(WINDOW);
      expect(await t.retryAfter(who("fresh@example.com", "10.0.0.2"))).toBe(0);
    });

    test("failures older than the window stop counting", async () => {
      const { t, advance } = await throttle({ maxPerAccount: 2 });
      await fail(t, who("ann@example.com", "10.0.0.1"));
      advance(30_000);
      await fail(t, who("ann@example.com", "10.0.0.1"));
      advance(WINDOW - 30_000 - 1);
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(1);
      advance(1);
      // The first failure has left the window; one remains, below the limit.
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(0);
      await fail(t, who("ann@example.com", "10.0.0.1"));
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(30_000);
    });

    test("a success clears the account's failures but not the IP's, and does not count itself", async () => {
      const { t } = await throttle({ maxPerAccount: 3, maxPerIp: 3 });
      await fail(t, who("ann@example.com", "10.0.0.1"));
      await fail(t, who("ann@example.com", "10.0.0.1"));
      await succeed(t, who("ANN@example.com", "10.0.0.2"));
      // Two failures and a success: had the success counted, 10.0.0.2 or the account would hold one.
      await fail(t, who("ann@example.com", "10.0.0.2"));
      await fail(t, who("ann@example.com", "10.0.0.2"));
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.2"))).toBe(0);
      // The IP 10.0.0.1 still holds two failures; a third reaches its limit for every account.
      await fail(t, who("other@example.com", "10.0.0.1"));
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(WINDOW);
      expect(await t.retryAfter(who("bob@example.com", "10.0.0.3"))).toBe(0);
    });

    test("a verifier that throws keeps the attempt counted as a failure", async () => {
      const { t } = await throttle({ maxPerAccount: 1 });
      await expect(t.attempt(who("ann@example.com", "10.0.0.1"), async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(WINDOW);
    });
  });

  suite(`a burst of concurrent attempts (${kind.name})`, () => {
    test("40 wrong passwords for one account: at most maxPerAccount reach the password check", async () => {
      const { t } = await throttle({ maxPerAccount: 5, maxPerIp: 20 });
      const verifier = countingVerifier(null);
      const pending = Array.from({ length: 40 }, (_, i) => t.attempt(who("ann@example.com", `10.0.0.${i}`), verifier.verify));
      verifier.release();
      const results = await Promise.all(pending);
      expect(verifier.calls).toBe(5);
      expect(results.filter((r) => r.outcome === "failed").length).toBe(verifier.calls);
      expect(results.filter((r) => r.outcome === "throttled").length).toBe(40 - verifier.calls);
      expect(results.some((r) => r.outcome === "signed-in")).toBe(false);
    });

    test("40 wrong passwords from one IP over many accounts: at most maxPerIp reach the password check", async () => {
      const { t } = await throttle({ maxPerAccount: 5, maxPerIp: 20 });
      const verifier = countingVerifier(null);
      const pending = Array.from({ length: 40 }, (_, i) => t.attempt(who(`user${i}@example.com`, "10.0.0.1"), verifier.verify));
      verifier.release();
      const results = await Promise.all(pending);
      expect(verifier.calls).toBe(20);
      expect(results.filter((r) => r.outcome === "throttled").length).toBe(40 - verifier.calls);
    });

    test("right passwords in a burst are released as they succeed, but never evaluated beyond the limit", async () => {
      const { t } = await throttle({ maxPerAccount: 3, maxPerIp: 100 });
      const verifier = countingVerifier("user");
      let settled = 0;
      const pending = Array.from({ length: 10 }, () => t.attempt(who("ann@example.com", "10.0.0.1"), verifier.verify).finally(() => settled++));
      // Every attempt has been reserved or refused before any succeeds (in the database a reservation
      // takes a while, and a success that came first would make room for later ones, rightly).
      while (verifier.calls + settled < 10) await Bun.sleep(5);
      verifier.release();
      const results = await Promise.all(pending);
      expect(verifier.calls).toBe(3);
      expect(results.filter((r) => r.outcome === "signed-in").length).toBe(verifier.calls);
      // Once they succeeded nothing is held against the account.
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(0);
    });
  });

  suite(`trusted devices (${kind.name})`, () => {
    test("a locked account still lets a trusted device try, within the device's own limit", async () => {
      const { t } = await throttle({ maxPerAccount: 3, maxPerIp: 3, maxPerDevice: 2 });
      for (let i = 0; i < 3; i++) await fail(t, who("ann@example.com", "10.0.0.66"));
      expect((await succeed(t, who("ann@example.com", "10.0.0.66"))).outcome).toBe("throttled");
      // Ann's own browser, even behind the attacker's address (one NAT), is not locked out.
      expect((await succeed(t, who("ann@example.com", "10.0.0.66", "device-a"))).outcome).toBe("signed-in");
      // Its success did not unlock the account for strangers.
      expect((await succeed(t, who("ann@example.com", "10.0.0.9"))).outcome).toBe("throttled");
      // A device has its own small limit: two failures lock that device, not the others.
      await fail(t, who("ann@example.com", "10.0.0.66", "device-a"));
      await fail(t, who("ann@example.com", "10.0.0.66", "device-a"));
      expect((await succeed(t, who("ann@example.com", "10.0.0.66", "device-a"))).outcome).toBe("throttled");
      expect((await succeed(t, who("ann@example.com", "10.0.0.66", "device-b"))).outcome).toBe("signed-in");
    });

    test("a burst from one device: at most maxPerDevice reach the password check", async () => {
      const { t } = await throttle({ maxPerAccount: 5, maxPerDevice: 2 });
      const verifier = countingVerifier(null);
      const pending = Array.from({ length: 40 }, () => t.attempt(who("ann@example.com", "10.0.0.1", "stolen"), verifier.verify));
      verifier.release();
      await Promise.all(pending);
      expect(verifier.calls).toBe(2);
      // The device's failures are its own: the account and IP are untouched.
      expect(await t.retryAfter(who("ann@example.com", "10.0.0.1"))).toBe(0);
    });
  });
}
