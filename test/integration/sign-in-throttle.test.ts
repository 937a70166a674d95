// Sign-in throttling over HTTP: a burst of concurrent wrong passwords gets no more guesses evaluated
// than the limits (the rest are 429 before argon2 runs), and a stranger's failures lock strangers
// out but not the owner's browser, which proved the password before (a signed device cookie).
import { describe, expect, test } from "bun:test";
import { serializeSigned } from "hono/utils/cookie";
import { useTestApp, type ConfigOverrides, type TestApp } from "../support/app.ts";
import { form, PASSWORD, sessionCookieFrom } from "../support/users.ts";

const ADMIN = "admin@example.com";
const MEMBER = "member@example.com";
const newTestApp = useTestApp();

async function withAdmin(overrides: ConfigOverrides): Promise<TestApp> {
  const t = await newTestApp(overrides);
  await t.createUser(ADMIN, "admin");
  return t;
}

function signInWith(t: TestApp, email: string, password: string, cookie?: string): Promise<Response> {
  return t.request("/admin/login", { ...form({ email, password }), headers: cookie ? { cookie } : {} });
}

/** The `sb_device=…` pair a response sets, or null. */
function deviceCookieFrom(res: Response): string | null {
  const line = res.headers.getSetCookie().find((l) => l.startsWith("sb_device="));
  return line ? line.split(";", 1)[0]! : null;
}

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

describe("a burst of concurrent wrong passwords", () => {
  test("for one account: at most login_max_per_account are evaluated, the rest are 429", async () => {
    const t = await withAdmin({ security: { login_max_per_account: 5, login_max_per_ip: 20 } });
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => signInWith(t, ADMIN, `wrong password ${i}`)));
    // 401 is an evaluated guess (argon2 ran and said no); 429 was refused before any password check.
    expect(tally(responses.map((r) => r.status))).toEqual({ 401: 5, 429: 35 });
    expect(responses.every((r) => sessionCookieFrom(r) === null)).toBe(true);
    // And now even the right password, from a browser the account has never trusted, waits.
    expect((await signInWith(t, ADMIN, PASSWORD)).status).toBe(429);
  });

  test("from one IP over many accounts: at most login_max_per_ip are evaluated", async () => {
    const t = await withAdmin({ security: { login_max_per_account: 100, login_max_per_ip: 20 } });
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => signInWith(t, `user${i}@example.com`, "wrong password")));
    expect(tally(responses.map((r) => r.status))).toEqual({ 401: 20, 429: 20 });
  });
});

describe("a trusted device", () => {
  const limits = { security: { login_max_per_account: 3, login_max_per_ip: 100, login_window: "15m" } };

  test("a successful sign-in sets an HttpOnly device cookie that only the sign-in form receives", async () => {
    const t = await withAdmin(limits);
    const res = await signInWith(t, ADMIN, PASSWORD);
    expect(res.status).toBe(303);
    const line = res.headers.getSetCookie().find((l) => l.startsWith("sb_device="))!;
    expect(line).toContain("HttpOnly");
    expect(line).toContain("Path=/admin/login");
    expect(line).toContain("SameSite=Strict");
    expect(line).toMatch(/Max-Age=\d{7,}/);
    // The session cookie still comes first, and a failure sets no device cookie.
    expect(res.headers.getSetCookie()[0]).toMatch(/^sb_session=/);
    expect(deviceCookieFrom(await signInWith(t, ADMIN, "wrong password"))).toBeNull();
  });

  test("a stranger's failures lock strangers out, but the admin with a device cookie signs in", async () => {
    const t = await withAdmin(limits);
    const device = deviceCookieFrom(await signInWith(t, ADMIN, PASSWORD))!;
    expect(device).not.toBeNull();
    for (let i = 0; i < 3; i++) expect((await signInWith(t, ADMIN, `guess ${i}`)).status).toBe(401);
    // Strangers (no device cookie) are locked out, even with the right password.
    expect((await signInWith(t, ADMIN, PASSWORD)).status).toBe(429);
    // The admin's own browser is not.
    const ok = await signInWith(t, ADMIN, PASSWORD, device);
    expect(ok.status).toBe(303);
    expect(sessionCookieFrom(ok)).not.toBeNull();
    // Its success did not unlock the account for strangers.
    expect((await signInWith(t, ADMIN, PASSWORD)).status).toBe(429);
    // The device cookie is no password: a wrong one through it is still refused.
    expect((await signInWith(t, ADMIN, "still wrong", device)).status).toBe(401);
  });

  test("a forged, re-keyed or other user's device cookie does not help", async () => {
    const t = await withAdmin(limits);
    const admin = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD }));
    const adminDevice = deviceCookieFrom(admin)!;
    await t.createUser(MEMBER, "member");
    const memberDevice = deviceCookieFrom(await signInWith(t, MEMBER, PASSWORD))!;
    const adminId = decodeURIComponent(adminDevice.slice("sb_device=".length)).split(".")[0]!;
    const signedWith = async (key: Uint8Array<ArrayBuffer>) => (await serializeSigned("sb_device", `${adminId}.forged`, key)).split(";", 1)[0]!;
    const forged = [
      memberDevice, // a real device cookie, but the member's
      await signedWith(new Uint8Array(32).fill(7)), // names the admin, signed with a guessed key
      await signedWith(t.deps.keys.cookie), // signed with the session cookie's key: the keys are apart
      `sb_device=${encodeURIComponent(`${adminId}.forged`)}`, // unsigned
      "sb_device=%zz%00", // malformed
      "sb_device=",
      `sb_device=.${adminDevice.split(".").slice(1).join(".")}`, // the real signature over another value
    ];
    for (let i = 0; i < 3; i++) await signInWith(t, ADMIN, `guess ${i}`);
    for (const cookie of forged) {
      const res = await signInWith(t, ADMIN, PASSWORD, cookie);
      expect(res.status).toBe(429);
      expect(sessionCookieFrom(res)).toBeNull();
    }
    expect((await signInWith(t, ADMIN, PASSWORD, adminDevice)).status).toBe(303);
  });

  test("the per-device limit holds: a stolen device cookie gets only login_max_per_account guesses", async () => {
    const t = await withAdmin(limits);
    const device = deviceCookieFrom(await signInWith(t, ADMIN, PASSWORD))!;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => signInWith(t, ADMIN, `stolen guess ${i}`, device)));
    expect(tally(responses.map((r) => r.status))).toEqual({ 401: 3, 429: 17 });
    // That device is now locked, even with the right password…
    expect((await signInWith(t, ADMIN, PASSWORD, device)).status).toBe(429);
    // …but its failures were its own: the account is not locked for another browser.
    expect((await signInWith(t, ADMIN, PASSWORD)).status).toBe(303);
  });
});
