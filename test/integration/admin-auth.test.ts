// The admin's front door through app.request(): sign-in, sessions, sign-out, first-admin setup,
// CSRF defence, throttling, body limit, error bodies, security headers and assets.
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { ASSETS } from "../../views/assets.ts";
import { PUBLIC_URL, useTestApp, type TestApp } from "../support/app.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { form, PASSWORD, sessionCookieFrom, signedSessionCookie } from "../support/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const newTestApp = useTestApp();
const ADMIN = "admin@example.com";
const CSP = /default-src 'self'.*script-src 'self'.*frame-ancestors 'none'/;

async function count(t: TestApp, table: "users" | "sessions"): Promise<number> {
  return ((await rawRow(t.deps, `SELECT count(*) AS n FROM ${table}`)) as { n: number }).n;
}

/** A TestApp with one admin, signed in with a cookie made directly. */
async function withAdmin(overrides?: Parameters<typeof newTestApp>[0]): Promise<{ t: TestApp; cookie: string }> {
  const t = await newTestApp(overrides);
  const admin = await t.createUser(ADMIN, "admin");
  return { t, cookie: await t.cookieFor(admin) };
}

type Ctx = { t: TestApp; cookie: string };
const signedIn = (extra: Record<string, string> = {}) => (ctx: Ctx) => ({ cookie: ctx.cookie, ...extra });

describe("admin front door, one row per request", () => {
  const rows: Scenario<Ctx>[] = [
    {
      name: "guest GET /admin is sent to sign-in with next",
      url: "/admin",
      expectedStatus: 303,
      expectedHeaders: { location: "/admin/login?next=%2Fadmin" },
      notExpectedContent: ["Dashboard"],
    },
    {
      name: "guest GET /admin/settings keeps the page in next",
      url: "/admin/settings",
      expectedStatus: 303,
      expectedHeaders: { location: "/admin/login?next=%2Fadmin%2Fsettings" },
    },
    {
      name: "guest htmx GET /admin gets 401 with HX-Redirect, not a page",
      url: "/admin",
      headers: { "HX-Request": "true" },
      expectedStatus: 401,
      expectedHeaders: { "hx-redirect": "/admin/login?next=%2Fadmin", location: null },
      notExpectedContent: ["<html"],
    },
    {
      name: "guest GET /admin/login renders the sign-in form with a CSP",
      url: "/admin/login",
      expectedStatus: 200,
      expectedContent: ["Sign in to Switchboard", 'name="email"', 'name="password"', 'hx-post="/admin/login"', 'value="/admin"'],
      notExpectedContent: ["Sign out", "alert error"],
      expectedHeaders: { "content-security-policy": CSP, "x-frame-options": "SAMEORIGIN", "content-type": /text\/html/ },
    },
    {
      name: "the sign-in form carries an admin next through",
      url: "/admin/login?next=%2Fadmin%2Fusers",
      expectedStatus: 200,
      expectedContent: ['value="/admin/users"'],
    },
    {
      name: "the sign-in form drops a protocol-relative next",
      url: "/admin/login?next=%2F%2Fevil.com",
      expectedStatus: 200,
      expectedContent: ['name="next" value="/admin"'],
      notExpectedContent: ["evil.com"],
    },
    {
      name: "the sign-in form drops an absolute next",
      url: "/admin/login?next=https%3A%2F%2Fevil.com%2Fadmin",
      expectedStatus: 200,
      expectedContent: ['name="next" value="/admin"'],
      notExpectedContent: ["evil.com"],
    },
    {
      name: "signed-in GET /admin/login goes to the dashboard",
      url: "/admin/login",
      headers: signedIn(),
      expectedStatus: 303,
      expectedHeaders: { location: "/admin" },
    },
    {
      name: "signed-in GET /admin shows the dashboard, the nav and who is signed in",
      url: "/admin",
      headers: signedIn(),
      expectedStatus: 200,
      expectedContent: ["<h1>Dashboard</h1>", 'href="/admin/users"', ">Users<", 'href="/admin/settings"', ">Settings<", ADMIN, "Sign out", 'action="/admin/logout"'],
      notExpectedContent: ["Sign in to Switchboard", "password"],
      expectedHeaders: { "content-security-policy": CSP },
    },
    {
      name: "signed-in GET of an unknown admin page is a 404 page without a stack",
      url: "/admin/nope",
      headers: signedIn(),
      expectedStatus: 404,
      expectedContent: ["Not found"],
      notExpectedContent: ["stack", "    at ", ".ts:"],
    },
    {
      name: "GET / redirects to the admin",
      url: "/",
      expectedStatus: 302,
      expectedHeaders: { location: "/admin" },
    },
    {
      name: "GET /healthz answers ok",
      url: "/healthz",
      expectedStatus: 200,
      expectedHeaders: { "content-type": /application\/json/ },
      after: (_ctx, _res, body) => expect(JSON.parse(body)).toEqual({ status: "ok" }),
    },
    {
      name: "an unknown path is a JSON 404 with code and message, no stack",
      url: "/no/such/thing",
      expectedStatus: 404,
      expectedHeaders: { "content-type": /application\/json/ },
      notExpectedContent: ["stack", "    at ", ".ts:", "<html"],
      after: (_ctx, _res, body) => expect(JSON.parse(body)).toEqual({ error: { code: "NOT_FOUND", message: "Not found." } }),
    },
    {
      name: "GET /admin/setup without a token is a 404",
      url: "/admin/setup",
      expectedStatus: 404,
      expectedContent: ["Setup link not valid"],
      notExpectedContent: ['name="token"', 'name="confirm"'],
    },
    {
      name: "GET /admin/assets/htmx.min.js is served with an ETag and long caching",
      url: "/admin/assets/htmx.min.js",
      expectedStatus: 200,
      expectedHeaders: { etag: ASSETS["htmx.min.js"]!.etag, "content-type": /javascript/, "cache-control": /immutable/ },
      expectedContent: ["htmx"],
    },
    {
      name: "GET /admin/assets/app.css is served with an ETag",
      url: "/admin/assets/app.css",
      expectedStatus: 200,
      expectedHeaders: { etag: ASSETS["app.css"]!.etag, "content-type": /text\/css/ },
    },
    {
      name: "an unknown asset is a 404",
      url: "/admin/assets/evil.js",
      expectedStatus: 404,
      expectedContent: ["Not found."],
      expectedHeaders: { etag: null },
    },
    {
      name: "a malformed multipart sign-in body is a 400, not a 500",
      method: "POST",
      url: "/admin/login",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: "not multipart at all",
      expectedStatus: 400,
      expectedContent: ["The form body is not valid."],
      notExpectedContent: ["INTERNAL"],
      expectedHeaders: { "set-cookie": null },
    },
    {
      name: "a multipart body without a boundary sent to /admin/users is a 400 and adds no one",
      method: "POST",
      url: "/admin/users",
      headers: signedIn({ "content-type": "multipart/form-data", "HX-Request": "true" }),
      body: "email=x%40example.com",
      expectedStatus: 400,
      expectedContent: ['data-code="BAD_REQUEST"'],
      notExpectedContent: ["<html"],
      after: async ({ t }) => expect(await count(t, "users")).toBe(1),
    },
    // Cross-site requests: refused before any handler runs, so nothing changes.
    {
      name: "cross-site POST /admin/login (Sec-Fetch-Site) is refused and signs no one in",
      method: "POST",
      url: "/admin/login",
      headers: { "Sec-Fetch-Site": "cross-site" },
      body: new URLSearchParams({ email: ADMIN, password: PASSWORD }),
      expectedStatus: 403,
      expectedContent: ["Cross-site request refused."],
      expectedHeaders: { "set-cookie": null, location: null },
      after: async ({ t }) => expect(await count(t, "sessions")).toBe(1),
    },
    {
      name: "POST /admin/login from a foreign Origin (no Sec-Fetch-Site) is refused",
      method: "POST",
      url: "/admin/login",
      headers: { Origin: "https://evil.example" },
      body: new URLSearchParams({ email: ADMIN, password: PASSWORD }),
      expectedStatus: 403,
      expectedHeaders: { "set-cookie": null },
      after: async ({ t }) => expect(await count(t, "sessions")).toBe(1),
    },
    {
      name: "cross-site POST /admin/logout is refused and the session lives on",
      method: "POST",
      url: "/admin/logout",
      headers: signedIn({ "Sec-Fetch-Site": "cross-site" }),
      expectedStatus: 403,
      expectedHeaders: { "set-cookie": null },
      after: async ({ t, cookie }) => {
        expect(await count(t, "sessions")).toBe(1);
        expect((await t.request("/admin", { headers: { cookie } })).status).toBe(200);
      },
    },
    {
      name: "POST /admin/logout from a foreign Origin is refused",
      method: "POST",
      url: "/admin/logout",
      headers: signedIn({ Origin: "https://evil.example" }),
      expectedStatus: 403,
      after: async ({ t }) => expect(await count(t, "sessions")).toBe(1),
    },
    {
      name: "cross-site POST /admin/users is refused and adds no one",
      method: "POST",
      url: "/admin/users",
      headers: signedIn({ "Sec-Fetch-Site": "cross-site" }),
      body: new URLSearchParams({ email: "mallory@example.com", role: "admin", password: PASSWORD }),
      expectedStatus: 403,
      notExpectedContent: ["mallory@example.com"],
      after: async ({ t }) => expect(await count(t, "users")).toBe(1),
    },
    {
      name: "POST /admin/users from a foreign Origin is refused and adds no one",
      method: "POST",
      url: "/admin/users",
      headers: signedIn({ Origin: "https://evil.example" }),
      body: new URLSearchParams({ email: "mallory@example.com", role: "admin", password: PASSWORD }),
      expectedStatus: 403,
      after: async ({ t }) => expect(await count(t, "users")).toBe(1),
    },
    {
      name: "same-origin POST /admin/login (Sec-Fetch-Site) passes",
      method: "POST",
      url: "/admin/login",
      headers: { "Sec-Fetch-Site": "same-origin" },
      body: new URLSearchParams({ email: ADMIN, password: PASSWORD }),
      expectedStatus: 303,
      expectedHeaders: { location: "/admin", "set-cookie": /^sb_session=/ },
    },
    {
      name: "POST /admin/login with Origin equal to public_url passes",
      method: "POST",
      url: "/admin/login",
      headers: { Origin: PUBLIC_URL },
      body: new URLSearchParams({ email: ADMIN, password: PASSWORD }),
      expectedStatus: 303,
      expectedHeaders: { location: "/admin" },
    },
    {
      name: "same-origin POST /admin/users passes",
      method: "POST",
      url: "/admin/users",
      headers: signedIn({ "Sec-Fetch-Site": "same-origin", Origin: PUBLIC_URL }),
      body: new URLSearchParams({ email: "new@example.com", role: "member", password: PASSWORD }),
      expectedStatus: 200,
      expectedContent: ["Added new@example.com."],
      after: async ({ t }) => expect(await count(t, "users")).toBe(2),
    },
  ];

  for (const row of rows) {
    test(row.name, async () => {
      const ctx = await withAdmin();
      await runScenario(row, ctx, ctx.t.request);
    });
  }
});

describe("sign-in", () => {
  test("a wrong password and an unknown email get the same status and the same body", async () => {
    const { t } = await withAdmin();
    const UNKNOWN = "nobody@example.com";
    const wrongPassword = await t.request("/admin/login", form({ email: ADMIN, password: "not the password" }));
    const unknownEmail = await t.request("/admin/login", form({ email: UNKNOWN, password: PASSWORD }));
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    // The full page re-fills the email field with what was typed; apart from that, byte for byte the same.
    const a = (await wrongPassword.text()).replace(`value="${ADMIN}"`, 'value="EMAIL"');
    const b = (await unknownEmail.text()).replace(`value="${UNKNOWN}"`, 'value="EMAIL"');
    expect(a).toBe(b);
    expect(a).toContain("Wrong email or password.");
    expect(sessionCookieFrom(wrongPassword)).toBeNull();

    // The htmx fragments do not echo the email: byte for byte the same.
    const htmx = { "HX-Request": "true" };
    const f1 = await t.request("/admin/login", { ...form({ email: ADMIN, password: "not the password" }), headers: htmx });
    const f2 = await t.request("/admin/login", { ...form({ email: "nobody@example.com", password: PASSWORD }), headers: htmx });
    expect([f1.status, f2.status]).toEqual([401, 401]);
    expect(await f1.text()).toBe(await f2.text());
  });

  test("success sets an HttpOnly, SameSite=Lax, Path=/ cookie, not Secure over http", async () => {
    const { t } = await withAdmin();
    const res = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD, next: "/admin/users" }));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/users");
    const [cookie] = res.headers.getSetCookie();
    expect(cookie).toMatch(/^sb_session=[^;]+;/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect(cookie).toContain(`Max-Age=${t.config.security.session_ttl / 1000}`);
    expect(cookie).not.toMatch(/secure/i);
    expect(await count(t, "sessions")).toBe(2);
  });

  test("the cookie is Secure when public_url is https", async () => {
    const { t } = await withAdmin({ server: { public_url: "https://switchboard.test" } });
    const res = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD }));
    expect(res.status).toBe(303);
    const [cookie] = res.headers.getSetCookie();
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
  });

  test("the cookie signs in: the email is compared case-insensitively and trimmed", async () => {
    const { t } = await withAdmin();
    const cookie = await t.signIn(`  ${ADMIN.toUpperCase()} `);
    const page = await t.request("/admin", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(ADMIN);
  });

  test("htmx: a failure is a fragment for #form-message, a success an HX-Redirect", async () => {
    const { t } = await withAdmin();
    const headers = { "HX-Request": "true" };
    const failed = await t.request("/admin/login", { ...form({ email: ADMIN, password: "not the password" }), headers });
    expect(failed.status).toBe(401);
    const fragment = await failed.text();
    expect(fragment).toContain('role="alert"');
    expect(fragment).toContain("Wrong email or password.");
    expect(fragment).not.toContain("<html");
    expect(fragment).not.toContain("<form");

    const ok = await t.request("/admin/login", { ...form({ email: ADMIN, password: PASSWORD, next: "/admin/settings" }), headers });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("hx-redirect")).toBe("/admin/settings");
    expect(ok.headers.get("location")).toBeNull();
    expect(sessionCookieFrom(ok)).not.toBeNull();
  });

  for (const next of ["//evil.com", "https://evil.com", "/\\evil.com", "//evil.com/admin", "javascript:alert(1)", "/admin\r\nSet-Cookie: x=y"]) {
    test(`an open-redirect attempt with next=${JSON.stringify(next)} lands on /admin`, async () => {
      const { t } = await withAdmin();
      const res = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD, next }));
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/admin");
      const htmx = await t.request("/admin/login", { ...form({ email: ADMIN, password: PASSWORD, next }), headers: { "HX-Request": "true" } });
      expect(htmx.headers.get("hx-redirect")).toBe("/admin");
    });
  }
});

describe("sign-in throttling", () => {
  test("after login_max_per_account failures even the right password gets 429 with Retry-After", async () => {
    const { t } = await withAdmin({ security: { login_max_per_account: 3, login_max_per_ip: 100, login_window: "10m" } });
    for (let i = 0; i < 3; i++) {
      expect((await t.request("/admin/login", form({ email: ADMIN, password: `wrong ${i} password` }))).status).toBe(401);
    }
    const blocked = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD }));
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(sessionCookieFrom(blocked)).toBeNull();
    expect(await blocked.text()).toContain("Too many failed sign-ins");
    expect(await count(t, "sessions")).toBe(1);

    // htmx gets the message as a fragment, with the same status and header.
    const htmx = await t.request("/admin/login", { ...form({ email: ADMIN, password: PASSWORD }), headers: { "HX-Request": "true" } });
    expect(htmx.status).toBe(429);
    expect(htmx.headers.get("retry-after")).not.toBeNull();
    expect(await htmx.text()).not.toContain("<html");

    // Another account from the same address is not locked out by this one's failures.
    await t.createUser("other@example.com", "member");
    expect((await t.request("/admin/login", form({ email: "other@example.com", password: PASSWORD }))).status).toBe(303);
  });

  test("after login_max_per_ip failures from one address, every account is throttled", async () => {
    const { t } = await withAdmin({ security: { login_max_per_account: 100, login_max_per_ip: 3 } });
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      expect((await t.request("/admin/login", form({ email, password: "whatever password" }))).status).toBe(401);
    }
    const blocked = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD }));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(sessionCookieFrom(blocked)).toBeNull();
  });
});

describe("sessions that do not hold", () => {
  /**
   * `cookie` leads to sign-in. A correctly signed cookie whose session is gone (`ended`) is told so on the
   * sign-in page (session=ended); a cookie that reads as none (unsigned, forged) is greeted as a guest.
   */
  async function expectSentToSignIn(t: TestApp, cookie: string, options: { ended?: boolean } = {}): Promise<void> {
    const flag = options.ended ? "session=ended&" : "";
    const res = await t.request("/admin", { headers: { cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/login?${flag}next=%2Fadmin`);
    const htmx = await t.request("/admin/users", { headers: { cookie, "HX-Request": "true" } });
    expect(htmx.status).toBe(401);
    expect(htmx.headers.get("hx-redirect")).toBe(`/admin/login?${flag}next=%2Fadmin%2Fusers`);
  }

  test("a random cookie value is no session", async () => {
    const { t } = await withAdmin();
    await expectSentToSignIn(t, "sb_session=d2hhdGV2ZXI");
    await expectSentToSignIn(t, "sb_session=");
    await expectSentToSignIn(t, `sb_session=${"A".repeat(43)}.${"B".repeat(43)}%3D`);
  });

  test("a real token with a signature under another key is no session", async () => {
    const { t } = await withAdmin();
    const real = await t.signIn(ADMIN);
    const token = decodeURIComponent(real.slice("sb_session=".length)).split(".")[0]!;
    const forgedSignature = createHmac("sha256", "not the server's key").update(token).digest("base64");
    await expectSentToSignIn(t, `sb_session=${encodeURIComponent(`${token}.${forgedSignature}`)}`);
  });

  test("a real signature over a changed token is no session", async () => {
    const { t } = await withAdmin();
    const real = decodeURIComponent((await t.signIn(ADMIN)).slice("sb_session=".length));
    const [token, signature] = real.split(".") as [string, string];
    const changed = (token[0] === "a" ? "b" : "a") + token.slice(1);
    await expectSentToSignIn(t, `sb_session=${encodeURIComponent(`${changed}.${signature}`)}`);
  });

  test("a correctly signed token that names no session is no session, and the cookie is cleared", async () => {
    const { t } = await withAdmin();
    const cookie = await signedSessionCookie("a-token-that-was-never-issued", t.deps.keys.cookie);
    const res = await t.request("/admin", { headers: { cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie().join("\n")).toMatch(/sb_session=;.*Max-Age=0/);
    await expectSentToSignIn(t, cookie, { ended: true });
  });

  test("an expired session is no session, and is deleted", async () => {
    const t = await newTestApp();
    await t.createUser(ADMIN, "admin");
    const cookie = await t.signIn(ADMIN);
    expect((await t.request("/admin", { headers: { cookie } })).status).toBe(200);
    await rawRun(t.deps, "UPDATE sessions SET expires_at = ?", Date.now() - 1000);
    await expectSentToSignIn(t, cookie, { ended: true });
    expect(await count(t, "sessions")).toBe(0);
  });

  test("sign-out ends the session on the server, so the old cookie stops working", async () => {
    const { t, cookie: other } = await withAdmin();
    const cookie = await t.signIn(ADMIN);
    expect(await count(t, "sessions")).toBe(2);
    const res = await t.request("/admin/logout", { method: "POST", headers: { cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/login?signed_out=1");
    expect(res.headers.getSetCookie().join("\n")).toMatch(/sb_session=;.*Max-Age=0/);
    expect(await count(t, "sessions")).toBe(1);
    await expectSentToSignIn(t, cookie, { ended: true });
    // Only that session ended: the same user's other session still works.
    expect((await t.request("/admin", { headers: { cookie: other } })).status).toBe(200);
  });

  test("sign-out without a session just goes to sign-in", async () => {
    const { t } = await withAdmin();
    const res = await t.request("/admin/logout", { method: "POST", headers: { "HX-Request": "true" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("hx-redirect")).toBe("/admin/login?signed_out=1");
    expect(await count(t, "sessions")).toBe(1);
  });
});

describe("first-admin setup", () => {
  const SETUP_EMAIL = "first@example.com";

  test("the link works once: form, create, signed in, then 404", async () => {
    const t = await newTestApp();
    expect((await t.request("/admin/setup?token=guess")).status).toBe(404);
    const token = t.deps.setup.open();
    expect((await t.request("/admin/setup")).status).toBe(404);
    expect((await t.request("/admin/setup?token=guess")).status).toBe(404);
    expect((await t.request(`/admin/setup?token=${token}x`)).status).toBe(404);

    const login = await t.request("/admin/login");
    expect(await login.text()).toContain("No admin exists yet");

    const page = await t.request(`/admin/setup?token=${encodeURIComponent(token)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Create the first admin");
    expect(html).toContain(`name="token" value="${token}"`);
    expect(html).toContain('name="confirm"');

    const created = await t.request("/admin/setup", form({ token, email: SETUP_EMAIL, password: PASSWORD, confirm: PASSWORD }));
    expect(created.status).toBe(303);
    expect(created.headers.get("location")).toBe("/admin");
    const cookie = sessionCookieFrom(created);
    expect(cookie).not.toBeNull();
    const dashboard = await t.request("/admin", { headers: { cookie: cookie! } });
    expect(dashboard.status).toBe(200);
    const dashboardHtml = await dashboard.text();
    expect(dashboardHtml).toContain(SETUP_EMAIL);
    expect(dashboardHtml).toContain("(admin)");
    expect((await rawRows(t.deps, "SELECT email, role FROM users"))).toEqual([{ email: SETUP_EMAIL, role: "admin" }]);

    // Used: both the page and a second submission are gone, and nothing more is created.
    expect((await t.request(`/admin/setup?token=${encodeURIComponent(token)}`)).status).toBe(404);
    const again = await t.request("/admin/setup", form({ token, email: "second@example.com", password: PASSWORD, confirm: PASSWORD }));
    expect(again.status).toBe(404);
    expect(sessionCookieFrom(again)).toBeNull();
    expect(await count(t, "users")).toBe(1);
  });

  test("mismatched passwords are a 400 with a message, and create nothing", async () => {
    const t = await newTestApp();
    const token = t.deps.setup.open();
    const res = await t.request("/admin/setup", form({ token, email: SETUP_EMAIL, password: PASSWORD, confirm: `${PASSWORD}!` }));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("The two passwords differ.");
    expect(html).toContain(`value="${SETUP_EMAIL}"`);
    expect(html).not.toContain(PASSWORD);
    expect(sessionCookieFrom(res)).toBeNull();
    expect(await count(t, "users")).toBe(0);

    const htmx = await t.request("/admin/setup", { ...form({ token, email: SETUP_EMAIL, password: PASSWORD, confirm: "other password!" }), headers: { "HX-Request": "true" } });
    expect(htmx.status).toBe(400);
    const fragment = await htmx.text();
    expect(fragment).toContain("The two passwords differ.");
    expect(fragment).not.toContain("<html");
    // The link still works after a mistake.
    expect((await t.request(`/admin/setup?token=${encodeURIComponent(token)}`)).status).toBe(200);
  });

  test("a short password or a bad email is a 400 naming the field", async () => {
    const t = await newTestApp();
    const token = t.deps.setup.open();
    const short = await t.request("/admin/setup", form({ token, email: SETUP_EMAIL, password: "short", confirm: "short" }));
    expect(short.status).toBe(400);
    expect(await short.text()).toContain("password: expected at least 10 characters");
    const badEmail = await t.request("/admin/setup", form({ token, email: "not-an-email", password: PASSWORD, confirm: PASSWORD }));
    expect(badEmail.status).toBe(400);
    expect(await badEmail.text()).toContain("email: expected an email address");
    expect(await count(t, "users")).toBe(0);
  });

  test("once a user exists (made by the CLI, say), the link is dead", async () => {
    const t = await newTestApp();
    const token = t.deps.setup.open();
    await t.createUser(ADMIN, "admin");
    expect((await t.request(`/admin/setup?token=${encodeURIComponent(token)}`)).status).toBe(404);
    const res = await t.request("/admin/setup", form({ token, email: SETUP_EMAIL, password: PASSWORD, confirm: PASSWORD }));
    expect(res.status).toBe(404);
    expect(await count(t, "users")).toBe(1);
  });
});

describe("request bodies over server.max_body_size", () => {
  const big = "x".repeat(4096);

  test("an admin form gets a 413 page, not a 500", async () => {
    const { t } = await withAdmin({ server: { max_body_size: "1KiB" } });
    const res = await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD, filler: big }));
    expect(res.status).toBe(413);
    const html = await res.text();
    expect(html).toContain("larger than 1024 bytes");
    expect(html).not.toContain("    at ");
    expect(sessionCookieFrom(res)).toBeNull();

    const htmx = await t.request("/admin/login", { ...form({ email: ADMIN, password: PASSWORD, filler: big }), headers: { "HX-Request": "true" } });
    expect(htmx.status).toBe(413);
    expect(await htmx.text()).not.toContain("<html");

    // Just under the limit is read as usual.
    expect((await t.request("/admin/login", form({ email: ADMIN, password: PASSWORD }))).status).toBe(303);
  });

  test("an API request gets a 413 JSON error, also without a Content-Length", async () => {
    const { t } = await withAdmin({ server: { max_body_size: "1KiB" } });
    const withLength = await t.request("/api/v1/users", { method: "POST", headers: { "content-type": "application/json", "content-length": String(big.length) }, body: big });
    expect(withLength.status).toBe(413);
    expect(await withLength.json()).toEqual({ error: { code: "PAYLOAD_TOO_LARGE", message: "The request body is larger than 1024 bytes." } });

    const chunks = [big.slice(0, 2048), big.slice(2048)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const streamed = await t.request("/api/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("asset caching", () => {
  for (const name of ["htmx.min.js", "app.css"]) {
    test(`${name}: If-None-Match with the ETag gets 304 and no body; another ETag gets the file`, async () => {
      const t = await newTestApp();
      const first = await t.request(`/admin/assets/${name}`);
      const etag = first.headers.get("etag");
      expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
      expect((await first.text()).length).toBeGreaterThan(100);

      const cached = await t.request(`/admin/assets/${name}`, { headers: { "If-None-Match": etag! } });
      expect(cached.status).toBe(304);
      expect(await cached.text()).toBe("");

      const stale = await t.request(`/admin/assets/${name}`, { headers: { "If-None-Match": '"0000000000000000"' } });
      expect(stale.status).toBe(200);
      expect(stale.headers.get("etag")).toBe(etag);
    });
  }

  test("pages link assets by versioned URL", async () => {
    const t = await newTestApp();
    const html = await (await t.request("/admin/login")).text();
    expect(html).toMatch(/src="\/admin\/assets\/htmx\.min\.js\?v=[0-9a-f]{8}"/);
    expect(html).toMatch(/href="\/admin\/assets\/app\.css\?v=[0-9a-f]{8}"/);
  });
});
