// Invite links through app.request(): the invitee's page and its post (not signed in), one 404 page for
// every link that does not work (invalid, used, revoked, expired), single use under concurrency, the
// sign-in throttle, cross-site posts, and the token never in a list, an API answer, the audit log or the
// request log.
import { describe, expect, test } from "bun:test";
import { createInvite, findInvite, INVITE_TOKEN_PREFIX } from "../../src/domain/access/invites.ts";
import { generateToken } from "../../src/domain/access/token-format.ts";
import { createLogger } from "../../src/logger.ts";
import { createTestApp, PUBLIC_URL, useFresh, type ConfigOverrides, type TestApp } from "../support/app.ts";
import { apiRequest, callTool, mintKey, resultText } from "../support/key-harness.ts";
import { form, PASSWORD, sessionCookieFrom } from "../support/users.ts";
import type { User } from "../../src/domain/access/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

/** A browser's cross-site post: by Sec-Fetch-Site, or by Origin for browsers without it. */
const CROSS_SITE: Record<string, string>[] = [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }];

const INVITEE = "invitee@example.com";
const NEW_PASSWORD = "my own chosen password";
const DAY = 24 * 60 * 60 * 1000;
const CLOSED = "This invite link is not valid: it may have expired, been used already or been revoked.";

type Ctx = { t: TestApp; admin: User; member: User; logs: string[] };

const newApp = useFresh((overrides?: ConfigOverrides, logs: string[] = []) =>
  createTestApp({ overrides, logger: createLogger({ level: "debug", write: (line) => logs.push(line) }) }),
);

async function setUp(overrides?: ConfigOverrides): Promise<Ctx> {
  const logs: string[] = [];
  const t = await newApp(overrides, logs);
  return { t, admin: await t.createUser("admin@example.com", "admin"), member: await t.createUser("member@example.com", "member"), logs };
}

/** An invite made through the admin's Users page, as an admin would: its token, read from the link shown. */
async function inviteThroughPage(ctx: Ctx, email = INVITEE, role = "member"): Promise<string> {
  const res = await ctx.t.request("/admin/users/invites", { ...form({ email, role }), headers: { cookie: await ctx.t.cookieFor(ctx.admin), "HX-Request": "true" } });
  expect(res.status).toBe(200);
  const link = /<code id="invite-link" class="token">([^<]+)<\/code>/.exec(await res.text())?.[1];
  expect(link).toStartWith(`${PUBLIC_URL}/admin/invite/`);
  return link!.slice(`${PUBLIC_URL}/admin/invite/`.length);
}

function open(ctx: Ctx, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return ctx.t.request(`/admin/invite/${token}`, { headers, redirect: "manual" });
}

function accept(ctx: Ctx, token: string, fields: Record<string, string> = { password: NEW_PASSWORD, confirm: NEW_PASSWORD }, headers: Record<string, string> = {}): Promise<Response> {
  return ctx.t.request(`/admin/invite/${token}`, { ...form(fields), headers, redirect: "manual" });
}

async function userCount(t: TestApp): Promise<number> {
  return ((await rawRow(t.deps, "SELECT count(*) AS n FROM users")) as { n: number }).n;
}

describe("the invitee's page", () => {
  test("shows the email and role with a password form, is never cached, and needs no session", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx, INVITEE, "admin");
    const res = await open(ctx, token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // The page's own requests (its stylesheet, its script) never carry the link in a Referer.
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    expect(html).toContain("<h1>Join Switchboard</h1>");
    expect(html).toContain(`value="${INVITEE}"`);
    expect(html).toContain("an admin");
    expect(html).toContain('name="password"');
    expect(html).not.toContain("admin@example.com");
  });

  test("accepting creates the user with the invite's role, signs them in, and is audited without a password", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    const res = await accept(ctx, token);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin");
    const cookie = sessionCookieFrom(res);
    expect(cookie).not.toBeNull();
    const home = await (await ctx.t.request("/admin", { headers: { cookie: cookie! } })).text();
    expect(home).toContain(INVITEE);
    expect(home).toContain('class="badge member"');
    expect((await ctx.t.request("/admin/login", form({ email: INVITEE, password: NEW_PASSWORD }))).status).toBe(303);
    const audit = (await rawRows(ctx.t.deps, "SELECT action, outcome, user_id, change FROM audit_events WHERE action = 'USER_INVITE_ACCEPT'")) as { user_id: string; change: string }[];
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.change)).toMatchObject({ email: INVITEE, role: "member", invited_by: ctx.admin.id });
    expect(JSON.stringify((await rawRows(ctx.t.deps, "SELECT * FROM audit_events")))).not.toContain(NEW_PASSWORD);
  });

  test("accepted in a browser signed in as someone else, that earlier session ends", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    const memberCookie = await ctx.t.cookieFor(ctx.member);
    const res = await accept(ctx, token, undefined, { cookie: memberCookie });
    expect(res.status).toBe(303);
    expect((await ctx.t.request("/admin", { headers: { cookie: memberCookie }, redirect: "manual" })).status).toBe(303);
    const home = await (await ctx.t.request("/admin", { headers: { cookie: sessionCookieFrom(res)! } })).text();
    expect(home).toContain(INVITEE);
  });

  test("the link works once: a second use, a GET or a POST, is the closed page", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    expect((await accept(ctx, token)).status).toBe(303);
    for (const res of [await open(ctx, token), await accept(ctx, token, { password: "another password!", confirm: "another password!" })]) {
      expect(res.status).toBe(404);
      expect(await res.text()).toContain(CLOSED);
      expect(sessionCookieFrom(res)).toBeNull();
    }
    expect(await userCount(ctx.t)).toBe(3);
  });

  test("two acceptances at once create one user; the other gets the closed page", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    const both = await Promise.all([accept(ctx, token), accept(ctx, token, { password: "the other password", confirm: "the other password" })]);
    expect(both.map((r) => r.status).sort()).toEqual([303, 404]);
    expect(both.filter((r) => sessionCookieFrom(r) !== null)).toHaveLength(1);
    expect((await rawRow(ctx.t.deps, "SELECT count(*) AS n FROM users WHERE email = ?", INVITEE))).toEqual({ n: 1 });
  });

  test("invalid, used, revoked and expired links all show the same 404 page", async () => {
    const ctx = await setUp();
    const used = await inviteThroughPage(ctx, "used@example.com");
    await accept(ctx, used);
    const revoked = await createInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, { email: "revoked@example.com", role: "member" }, { invitedBy: ctx.admin.id });
    const revokedRes = await ctx.t.request(`/admin/users/invites/${revoked.invite.id}/revoke`, { method: "POST", headers: { cookie: await ctx.t.cookieFor(ctx.admin) } });
    expect(revokedRes.status).toBe(200);
    const expired = (await createInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, { email: "expired@example.com", role: "member" }, { invitedBy: ctx.admin.id, now: new Date(Date.now() - 8 * DAY) })).token;
    // Well-formed (prefix, length, checksum) but never issued.
    const unknown = generateToken(INVITE_TOKEN_PREFIX);
    const links = { used, revoked: revoked.token, expired, unknown, malformed: "not-a-token", empty_ish: "sb_invite_" };
    const bodies = new Set<string>();
    for (const [what, token] of Object.entries(links)) {
      for (const res of [await open(ctx, token), await accept(ctx, token)]) {
        expect({ what, status: res.status }).toEqual({ what, status: 404 });
        bodies.add(await res.text());
      }
    }
    // One page for all: nothing tells a used link from a revoked, expired or made-up one.
    expect(bodies.size).toBe(1);
    expect([...bodies][0]).toContain(CLOSED);
    expect(await userCount(ctx.t)).toBe(3);
  });

  test.each([
    ["a short password", { password: "short", confirm: "short" }, "password: expected at least 10 characters"],
    ["passwords that differ", { password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}?` }, "The two passwords differ."],
  ])("%s is a 400 on the form, and the link still works", async (_what, fields, message) => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    const res = await accept(ctx, token, fields);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain(message);
    expect(html).toContain('role="alert"');
    expect(html).not.toContain(NEW_PASSWORD);
    expect(sessionCookieFrom(res)).toBeNull();
    expect((await accept(ctx, token)).status).toBe(303);
  });

  test("a cross-site post is refused and creates no one", async () => {
    const ctx = await setUp();
    const token = await inviteThroughPage(ctx);
    for (const headers of CROSS_SITE) {
      const res = await accept(ctx, token, undefined, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Cross-site request refused.");
    }
    expect(await userCount(ctx.t)).toBe(2);
    expect(await findInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, token)).not.toBeNull();
  });
});

describe("an invite is only as good as its inviter", () => {
  for (const how of ["removed", "demoted"] as const) {
    test(`an admin's invite stops working once that admin is ${how}: the same 404, no user, no session`, async () => {
      const ctx = await setUp();
      const leaver = await ctx.t.createUser("leaver@example.com", "admin");
      // Before leaving, the admin invites their own outside address as an admin.
      const res0 = await ctx.t.request("/admin/users/invites", { ...form({ email: "leaver.private@example.net", role: "admin" }), headers: { cookie: await ctx.t.cookieFor(leaver), "HX-Request": "true" } });
      const token = /<code id="invite-link" class="token">([^<]+)<\/code>/.exec(await res0.text())![1]!.slice(`${PUBLIC_URL}/admin/invite/`.length);
      // A second invite by the admin who stays is not affected.
      const kept = await inviteThroughPage(ctx, "kept@example.com");
      const cookie = await ctx.t.cookieFor(ctx.admin);
      const change = how === "removed"
        ? await ctx.t.request(`/admin/users/${leaver.id}/delete`, { method: "POST", headers: { cookie } })
        : await ctx.t.request(`/admin/users/${leaver.id}/role`, { ...form({ role: "member" }), headers: { cookie } });
      expect(change.status).toBe(200);
      // Deleted with the removal or demotion, in its transaction: no longer listed.
      expect(((await rawRows(ctx.t.deps, "SELECT email FROM user_invites")) as { email: string }[]).map((r) => r.email)).toEqual(["kept@example.com"]);
      const usersBefore = await userCount(ctx.t);
      for (const res of [await open(ctx, token), await accept(ctx, token)]) {
        expect(res.status).toBe(404);
        expect(sessionCookieFrom(res)).toBeNull();
        expect(await res.text()).toContain(CLOSED);
      }
      expect(await userCount(ctx.t)).toBe(usersBefore);
      expect((await accept(ctx, kept)).status).toBe(303);
    });
  }

  test("a row that outlived its inviter's admin role is refused at acceptance (the check does not rely on the cleanup)", async () => {
    const ctx = await setUp();
    const leaver = await ctx.t.createUser("leaver@example.com", "admin");
    const made = await createInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, { email: "x@example.net", role: "admin" }, { invitedBy: leaver.id });
    // Demoted around setRole (as an older build or a hand edit would leave it): the invite row remains.
    await rawRun(ctx.t.deps, "UPDATE users SET role = 'member' WHERE id = ?", leaver.id);
    expect(await findInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, made.token)).toBeNull();
    const res = await accept(ctx, made.token);
    expect(res.status).toBe(404);
    expect(sessionCookieFrom(res)).toBeNull();
    expect(await userCount(ctx.t)).toBe(3);
  });

  test("an invite from the host CLI (no inviter) still works; a member's role change to member deletes nothing", async () => {
    const ctx = await setUp();
    const cli = await createInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, { email: "cli@example.com", role: "member" }, { invitedBy: null });
    const byAdmin = await inviteThroughPage(ctx, "other@example.com");
    const res = await ctx.t.request(`/admin/users/${ctx.member.id}/role`, { ...form({ role: "member" }), headers: { cookie: await ctx.t.cookieFor(ctx.admin) } });
    expect(res.status).toBe(200);
    expect((await accept(ctx, cli.token)).status).toBe(303);
    expect((await accept(ctx, byAdmin)).status).toBe(303);
  });
});

describe("the throttle", () => {
  test("bad links count like failed sign-ins per address: past the limit every link waits (429), a good one too", async () => {
    const ctx = await setUp({ security: { login_max_per_ip: 3, login_max_per_account: 100, login_window: "15m" } });
    const token = await inviteThroughPage(ctx);
    for (let i = 0; i < 3; i++) expect((await open(ctx, `sb_invite_guess${i}`)).status).toBe(404);
    for (const res of [await open(ctx, token), await accept(ctx, token)]) {
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await res.text()).toContain("Too many attempts from this address.");
    }
    // The same address's sign-ins wait too: one budget of guesses per address.
    expect((await ctx.t.request("/admin/login", form({ email: "member@example.com", password: PASSWORD }))).status).toBe(429);
    expect(await userCount(ctx.t)).toBe(2);
  });

  test("opening a good link costs no guess", async () => {
    const ctx = await setUp({ security: { login_max_per_ip: 2, login_max_per_account: 100, login_window: "15m" } });
    const token = await inviteThroughPage(ctx);
    for (let i = 0; i < 5; i++) expect((await open(ctx, token)).status).toBe(200);
    expect((await accept(ctx, token)).status).toBe(303);
  });
});

describe("the token is shown once and never again", () => {
  test("not in the Users page, the API's list, the audit log, the usage log or the request log", async () => {
    const ctx = await setUp();
    const fromPage = await inviteThroughPage(ctx, "first@example.com");
    const { token: key } = await mintKey(ctx.t.deps, ctx.admin, { self: ["*"] });
    const created = await apiRequest(ctx.t.app, "POST", "/users/invites", { token: key, json: { email: "second@example.com", role: "admin" } });
    expect(created.status).toBe(201);
    const fromApi = ((await created.json()) as { url: string }).url.split("/").at(-1)!;
    const viaMcp = resultText(await callTool(ctx.t.app, key, "USER_INVITE_CREATE", { email: "third@example.com", role: "member" }));
    const fromMcp = /sb_invite_[0-9A-Za-z]+/.exec(viaMcp)![0];
    await open(ctx, fromPage);
    await accept(ctx, fromPage, { password: "short", confirm: "short" });
    await ctx.t.deps.usageRecorder.stop();

    const page = await (await ctx.t.request("/admin/users", { headers: { cookie: await ctx.t.cookieFor(ctx.admin) } })).text();
    const list = await (await apiRequest(ctx.t.app, "GET", "/users/invites", { token: key })).text();
    const listMcp = resultText(await callTool(ctx.t.app, key, "USER_INVITE_LIST", {}));
    const tables = await Promise.all(["audit_events", "usage_events", "user_invites"].map(async (table) => JSON.stringify(await rawRows(ctx.t.deps, `SELECT * FROM ${table}`))));
    expect(page).toContain("first@example.com");
    expect(list).toContain("second@example.com");
    expect(listMcp).toContain("third@example.com");
    for (const token of [fromPage, fromApi, fromMcp]) {
      for (const text of [page, list, listMcp, ...tables, ctx.logs.join("\n")]) expect(text).not.toContain(token);
    }
    expect(ctx.logs.join("\n")).toContain('"path":"/admin/invite/…"');
  });

  test("a member's key cannot create, list or revoke invites, through REST or /mcp/self", async () => {
    const ctx = await setUp();
    const { token: key } = await mintKey(ctx.t.deps, ctx.member, { self: ["*"] });
    const pending = await createInvite(ctx.t.deps.db, ctx.t.deps.keys.tokenHmac, { email: INVITEE, role: "member" }, { invitedBy: ctx.admin.id });
    const rest = [
      await apiRequest(ctx.t.app, "POST", "/users/invites", { token: key, json: { email: "sneaky@example.com", role: "admin" } }),
      await apiRequest(ctx.t.app, "GET", "/users/invites", { token: key }),
      await apiRequest(ctx.t.app, "DELETE", `/users/invites/${pending.invite.id}`, { token: key }),
    ];
    for (const res of rest) {
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain(INVITEE);
    }
    for (const name of ["USER_INVITE_CREATE", "USER_INVITE_LIST", "USER_INVITE_REVOKE"]) {
      const answer = await callTool(ctx.t.app, key, name, name === "USER_INVITE_REVOKE" ? { id: pending.invite.id } : name === "USER_INVITE_CREATE" ? { email: "sneaky@example.com", role: "admin" } : {});
      expect(answer.error?.message).toContain(`Unknown tool: ${name}`);
    }
    expect((await rawRows(ctx.t.deps, "SELECT email FROM user_invites"))).toEqual([{ email: INVITEE }]);
  });
});
