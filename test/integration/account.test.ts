// /admin/account through app.request(): changing your own password. Guests and cross-site posts are
// refused; the current password is checked and wrong ones count against a budget of the user's own (the
// sign-in limits, keyed by user id, so a stranger's failed sign-ins lock nobody out of it); on success
// the user's other sessions end, this browser gets a new session, and the change is audited (never a
// password); no API key can reach it.
import { describe, expect, test } from "bun:test";
import { OPERATIONS } from "../../src/operations/index.ts";
import { useTestApp, type ConfigOverrides, type TestApp } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { form, PASSWORD, sessionCookieFrom } from "../support/users.ts";
import type { User } from "../../src/domain/access/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

/** A browser's cross-site post: by Sec-Fetch-Site, or by Origin for browsers without it. */
const CROSS_SITE: Record<string, string>[] = [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }];

const newTestApp = useTestApp();
const MEMBER = "member@example.com";
const ADMIN = "admin@example.com";
const NEW_PASSWORD = "a brand new passphrase";

type Ctx = { t: TestApp; member: User; admin: User; cookie: string };

async function setUp(overrides?: ConfigOverrides): Promise<Ctx> {
  const t = await newTestApp(overrides);
  const admin = await t.createUser(ADMIN, "admin");
  const member = await t.createUser(MEMBER, "member");
  return { t, member, admin, cookie: await t.cookieFor(member) };
}

function change(ctx: Ctx, fields: Record<string, string>, headers: Record<string, string> = {}, cookie: string | null = ctx.cookie): Promise<Response> {
  return ctx.t.request("/admin/account/password", { ...form(fields), headers: { ...(cookie ? { cookie } : {}), ...headers }, redirect: "manual" });
}

const good = { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD };

/** Whether a sign-in with this password works (the form, as a browser would). */
async function signsIn(t: TestApp, email: string, password: string): Promise<number> {
  return (await t.request("/admin/login", form({ email, password }))).status;
}

async function auditRows(t: TestApp): Promise<{ action: string; outcome: string; actor_user_id: string | null; change: string }[]> {
  return (await rawRows(t.deps, "SELECT action, outcome, user_id AS actor_user_id, change FROM audit_events WHERE action = 'PASSWORD_CHANGE' ORDER BY id")) as never;
}

async function isSignedIn(t: TestApp, cookie: string): Promise<boolean> {
  return (await t.request("/admin", { headers: { cookie }, redirect: "manual" })).status === 200;
}

describe("the account page", () => {
  test("a guest is sent to sign-in, for the page and the post, and nothing changes", async () => {
    const ctx = await setUp();
    const page = await ctx.t.request("/admin/account", { redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Faccount");
    const post = await change(ctx, good, {}, null);
    expect(post.status).toBe(303);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(303);
  });

  test("a member sees their own email and the form, never another user's", async () => {
    const ctx = await setUp();
    const res = await ctx.t.request("/admin/account", { headers: { cookie: ctx.cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<h1>Your account</h1>");
    expect(html).toContain(`<dd id="account-email">${MEMBER}</dd>`);
    expect(html).toContain('action="/admin/account/password"');
    expect(html).toContain('data-busy="Changing…"');
    // A password change revokes neither: the page says so and where to revoke them.
    const note = /<p class="muted" id="password-not-revoking">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? "";
    expect(note).toContain("keep working");
    expect(note).toContain('<a href="/admin/apps">Authorized apps</a>');
    expect(note).toContain('<a href="/admin/keys">API keys</a>');
    expect(html).not.toContain(ADMIN);
    expect(html).not.toContain("$argon2");
  });

  test("the confirmation is a fixed text for a fixed flag; nothing from the query is echoed", async () => {
    const ctx = await setUp();
    const ok = await (await ctx.t.request("/admin/account?changed=1", { headers: { cookie: ctx.cookie } })).text();
    expect(ok).toContain("Password changed. Your other sessions have ended.");
    expect(ok).toContain('role="status"');
    const other = await (await ctx.t.request("/admin/account?changed=%3Cscript%3Ex%3C%2Fscript%3E", { headers: { cookie: ctx.cookie } })).text();
    expect(other).not.toContain("Password changed");
    expect(other).not.toContain("<script>x");
  });
});

describe("changing the password", () => {
  test("ends the user's other sessions, renews this one, and the new password signs in (the old does not)", async () => {
    const ctx = await setUp();
    const otherBrowser = await ctx.t.signIn(MEMBER);
    const adminCookie = await ctx.t.cookieFor(ctx.admin);
    const res = await change(ctx, good);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/account?changed=1");
    const renewed = sessionCookieFrom(res);
    expect(renewed).not.toBeNull();
    expect(renewed).not.toBe(ctx.cookie);
    // This browser stays signed in on its new session; the old cookie and the other browser are out.
    expect(await isSignedIn(ctx.t, renewed!)).toBe(true);
    expect(await isSignedIn(ctx.t, ctx.cookie)).toBe(false);
    expect(await isSignedIn(ctx.t, otherBrowser)).toBe(false);
    expect((await rawRow(ctx.t.deps, "SELECT count(*) AS n FROM sessions WHERE user_id = ?", ctx.member.id))).toEqual({ n: 1 });
    // Another user's session is not touched.
    expect(await isSignedIn(ctx.t, adminCookie)).toBe(true);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(401);
    expect(await signsIn(ctx.t, MEMBER, NEW_PASSWORD)).toBe(303);
  });

  test("an admin changes theirs the same way", async () => {
    const ctx = await setUp();
    const res = await change(ctx, good, {}, await ctx.t.cookieFor(ctx.admin));
    expect(res.status).toBe(303);
    expect(await signsIn(ctx.t, ADMIN, NEW_PASSWORD)).toBe(303);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(303);
  });

  test("is audited as PASSWORD_CHANGE by the user, refused tries too, and no password is written", async () => {
    const ctx = await setUp();
    await change(ctx, { ...good, current: "not my password" });
    const cookie = sessionCookieFrom(await change(ctx, good))!;
    expect(cookie).not.toBeNull();
    const rows = await auditRows(ctx.t);
    expect(rows.map((r) => [r.action, r.outcome, r.actor_user_id])).toEqual([
      ["PASSWORD_CHANGE", "refused", ctx.member.id],
      ["PASSWORD_CHANGE", "ok", ctx.member.id],
    ]);
    const everything = JSON.stringify((await rawRows(ctx.t.deps, "SELECT * FROM audit_events")));
    for (const secret of [PASSWORD, NEW_PASSWORD, "not my password"]) expect(everything).not.toContain(secret);
  });

  test.each([
    ["a wrong current password", { ...good, current: "not my password" }, "The current password is wrong."],
    ["an empty current password", { password: NEW_PASSWORD, confirm: NEW_PASSWORD }, "The current password is wrong."],
    ["a short new password", { ...good, password: "short", confirm: "short" }, "password: expected at least 10 characters"],
    ["a confirmation that differs", { ...good, confirm: `${NEW_PASSWORD}!` }, "The two new passwords differ."],
  ])("%s is a 400 with a clear message, and nothing changes", async (_what, fields, message) => {
    const ctx = await setUp();
    const res = await change(ctx, fields);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain(message);
    expect(html).toContain('role="alert"');
    for (const secret of [PASSWORD, NEW_PASSWORD]) expect(html).not.toContain(secret);
    expect(sessionCookieFrom(res)).toBeNull();
    expect(await isSignedIn(ctx.t, ctx.cookie)).toBe(true);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(303);
  });

  test("a cross-site post is refused and changes nothing", async () => {
    const ctx = await setUp();
    for (const headers of CROSS_SITE) {
      const res = await change(ctx, good, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Cross-site request refused.");
    }
    expect(await isSignedIn(ctx.t, ctx.cookie)).toBe(true);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(303);
  });
});

describe("the sign-in throttle", () => {
  const limits = { security: { login_max_per_account: 3, login_max_per_ip: 100, login_window: "15m" } };

  test("wrong current passwords count on their own budget: past the limit even the right one waits (429)", async () => {
    const ctx = await setUp(limits);
    for (let i = 0; i < 3; i++) expect((await change(ctx, { ...good, current: `guess ${i}` })).status).toBe(400);
    const throttled = await change(ctx, good);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await throttled.text()).toContain("Too many wrong passwords.");
    // The password did not change.
    expect((await rawRow(ctx.t.deps, "SELECT count(*) AS n FROM audit_events WHERE action = 'PASSWORD_CHANGE' AND outcome = 'ok'"))).toEqual({ n: 0 });
    // The budget is this user's: another signed-in user is not held up by it.
    const other = await ctx.t.request("/admin/account/password", { ...form(good), headers: { cookie: await ctx.t.cookieFor(ctx.admin) }, redirect: "manual" });
    expect(other.status).toBe(303);
  });

  test("a stranger guessing at the sign-in form does not lock the signed-in owner out of changing their password", async () => {
    const ctx = await setUp(limits);
    // A stranger (no session) guesses three times: the sign-in form is locked for that account...
    for (let i = 0; i < 3; i++) expect(await signsIn(ctx.t, MEMBER, `guess ${i}`)).toBe(401);
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(429);
    // ...but the owner, signed in and knowing the current password, may still change it.
    expect((await change(ctx, good)).status).toBe(303);
  });

  test("a burst of concurrent guesses gets no more than the limit evaluated", async () => {
    const ctx = await setUp(limits);
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => change(ctx, { ...good, current: `burst ${i}` })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 400)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
  });

  test("refusals that need no password check (short, differing) cost no guess", async () => {
    const ctx = await setUp(limits);
    for (let i = 0; i < 5; i++) expect((await change(ctx, { ...good, confirm: `differs ${i}` })).status).toBe(400);
    expect((await change(ctx, good)).status).toBe(303);
  });
});

describe("no key can change a password", () => {
  test("no operation changes a password, and a bearer key on the route is sent to sign-in", async () => {
    const ctx = await setUp();
    // No operation about the signed-in user's own account or password (OAUTH_ACCOUNTS_LIST lists the
    // upstream accounts a user connected: another thing, and it changes nothing).
    expect(OPERATIONS.map((op) => op.name).filter((name) => /PASSWORD|^ACCOUNT|USER_ACCOUNT/.test(name))).toEqual([]);
    const { token } = await mintKey(ctx.t.deps, ctx.member, { self: ["*"] });
    const res = await ctx.t.request("/admin/account/password", { ...form(good), headers: { authorization: `Bearer ${token}` }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("/admin/login");
    expect(await signsIn(ctx.t, MEMBER, PASSWORD)).toBe(303);
  });
});
