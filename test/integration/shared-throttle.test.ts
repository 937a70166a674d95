// The sign-in throttle with several replicas (issue 15): two apps on one PostgreSQL database count the
// same attempts, so behind a round-robin balancer an attacker gets login_max_per_account guesses per
// window, not that many per replica; a burst split across both is evaluated up to the limit only. A
// single SQLite process keeps the throttle in memory (no write per failed attempt), and cluster.enabled
// on a shared SQLite file shares it too.
import { afterEach, describe, expect, test } from "bun:test";
import { count } from "drizzle-orm";
import { tables } from "../../src/db/store.ts";
import { LoginThrottle } from "../../src/domain/access/login-throttle.ts";
import { SharedLoginThrottle } from "../../src/domain/access/sign-in-attempts.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { havePostgres, reportMissingPostgres, TEST_ON_POSTGRES, usePostgres } from "../support/postgres.ts";
import { form, PASSWORD } from "../support/users.ts";

// Closed before the database is dropped (registered before usePostgres's own cleanup).
const opened: TestApp[] = [];
afterEach(async () => {
  for (const app of opened.splice(0)) await app.close().catch(() => {});
});
const pg = usePostgres();
reportMissingPostgres("the shared sign-in throttle tests", test);
const pgTest = havePostgres ? test : test.skip;

const EMAIL = "ann@example.com";
const LIMITS = { login_max_per_account: 3, login_max_per_ip: 100 };

/** Two replicas: two apps on one freshly migrated PostgreSQL database, Ann's account made through A. */
async function twoReplicas(): Promise<{ a: TestApp; b: TestApp }> {
  const url = await pg.emptyUrl();
  const a = await createTestApp({ overrides: { database: { url, pool_size: 4 }, security: LIMITS } });
  opened.push(a);
  const b = await createTestApp({ overrides: { database: { url, pool_size: 4 }, security: LIMITS } });
  opened.push(b);
  await a.createUser(EMAIL, "admin");
  return { a, b };
}

const login = (app: TestApp, password: string): Promise<Response> => app.request("/admin/login", form({ email: EMAIL, password, next: "/admin" }));

describe("the sign-in throttle across replicas", () => {
  pgTest("3 failures on A: the 4th is throttled on A and on B alike", async () => {
    const { a, b } = await twoReplicas();
    for (let i = 0; i < 3; i++) expect((await login(a, `wrong ${i}`)).status).toBe(401);
    expect((await login(a, "wrong again")).status).toBe(429);
    const onB = await login(b, "wrong on B");
    expect(onB.status).toBe(429);
    expect(Number(onB.headers.get("retry-after"))).toBeGreaterThan(0);
    // Even the right password waits out the window, on either replica.
    expect((await login(b, PASSWORD)).status).toBe(429);
  });

  pgTest("failures alternating between A and B add up", async () => {
    const { a, b } = await twoReplicas();
    expect((await login(a, "wrong 1")).status).toBe(401);
    expect((await login(b, "wrong 2")).status).toBe(401);
    expect((await login(a, "wrong 3")).status).toBe(401);
    expect((await login(b, "wrong 4")).status).toBe(429);
  });

  pgTest("a burst of 10 wrong passwords split across A and B: only the limit reach the password check", async () => {
    const { a, b } = await twoReplicas();
    const statuses = (await Promise.all(Array.from({ length: 10 }, (_, i) => login(i % 2 === 0 ? a : b, `burst ${i}`)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBe(3);
    expect(statuses.filter((s) => s === 429).length).toBe(7);
  });

  pgTest("a success on B clears the account's failures made on A", async () => {
    const { a, b } = await twoReplicas();
    for (let i = 0; i < 2; i++) expect((await login(a, `wrong ${i}`)).status).toBe(401);
    expect((await login(b, PASSWORD)).status).toBe(303);
    for (let i = 0; i < 3; i++) expect((await login(a, `wrong again ${i}`)).status).toBe(401);
    expect((await login(b, "one too many")).status).toBe(429);
  });

  pgTest("the sweep's prune deletes the attempts that left the window", async () => {
    const { a } = await twoReplicas();
    expect((await login(a, "wrong")).status).toBe(401);
    const { signInAttempts } = tables(a.deps.db);
    const rows = async (): Promise<number> => (await a.deps.db.select({ n: count() }).from(signInAttempts))[0]!.n;
    expect(await rows()).toBe(2); // the account's row and the IP's
    await a.deps.throttle.prune();
    expect(await rows()).toBe(2); // still in the window
    await a.deps.db.update(signInAttempts).set({ at: Date.now() - a.config.security.login_window - 1 });
    await a.deps.throttle.prune();
    expect(await rows()).toBe(0);
  });
});

describe("which throttle", () => {
  test.skipIf(TEST_ON_POSTGRES)("a single SQLite process keeps it in memory; cluster.enabled shares it through the database", async () => {
    const single = await createTestApp();
    opened.push(single);
    expect(single.deps.throttle).toBeInstanceOf(LoginThrottle);
    expect((await single.request("/admin/login", form({ email: EMAIL, password: "wrong" }))).status).toBe(401);
    const { signInAttempts } = tables(single.deps.db);
    expect((await single.deps.db.select({ n: count() }).from(signInAttempts))[0]!.n).toBe(0);

    const clustered = await createTestApp({ overrides: { cluster: { enabled: true } } });
    opened.push(clustered);
    expect(clustered.deps.throttle).toBeInstanceOf(SharedLoginThrottle);
  });

  pgTest("PostgreSQL shares it", async () => {
    const { a } = await twoReplicas();
    expect(a.deps.throttle).toBeInstanceOf(SharedLoginThrottle);
  });
});
