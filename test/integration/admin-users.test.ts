// The Users page and the Settings page through app.request(): a guest, a member and an admin row for
// every route, plain-form and htmx flows, the last-admin rule, and what must not leak.
import { describe, expect, test } from "bun:test";
import type { User } from "../../src/domain/access/users.ts";
import { createInvite, findInvite } from "../../src/domain/access/invites.ts";
import { TEST_SECRET, useTestApp, type TestApp } from "../support/app.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { form, PASSWORD } from "../support/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

/** A browser's cross-site post: by Sec-Fetch-Site, or by Origin for browsers without it. */
const CROSS_SITE: Record<string, string>[] = [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }];

const newTestApp = useTestApp();
const ADMIN = "admin@example.com";
const MEMBER = "member@example.com";
const NEW = "new.person@example.com";
const LAST_ADMIN = "The last admin cannot be removed or demoted.";

type Ctx = { t: TestApp; admin: User; member: User; cookies: { admin: string; member: string }; invite: { id: string; token: string } };
type As = "guest" | "member" | "admin";

async function setUp(): Promise<Ctx> {
  const t = await newTestApp();
  const admin = await t.createUser(ADMIN, "admin");
  const member = await t.createUser(MEMBER, "member");
  // One pending invite, for the revoke and list rows.
  const made = await createInvite(t.deps.db, t.deps.keys.tokenHmac, { email: PENDING, role: "member" }, { invitedBy: admin.id });
  return { t, admin, member, cookies: { admin: await t.cookieFor(admin), member: await t.cookieFor(member) }, invite: { id: made.invite.id, token: made.token } };
}

/** Every user as "email:role", sorted, straight from the database. */
async function snapshot(t: TestApp): Promise<string[]> {
  return ((await rawRows(t.deps, "SELECT email, role FROM users ORDER BY email")) as { email: string; role: string }[]).map((u) => `${u.email}:${u.role}`);
}
const UNCHANGED = [`${ADMIN}:admin`, `${MEMBER}:member`];
const unchanged = async ({ t }: Ctx) => expect(await snapshot(t)).toEqual(UNCHANGED);
const PENDING = "pending@example.com";
/** Only the invite set up for every row: no new one. */
const noInvites = async ({ t }: Ctx) => expect((await rawRows(t.deps, "SELECT email FROM user_invites"))).toEqual([{ email: PENDING }]);
const inviteStays = async ({ t, invite }: Ctx) => expect((await findInvite(t.deps.db, t.deps.keys.tokenHmac, invite.token))?.id).toBe(invite.id);

function headersAs(as: As, extra: Record<string, string> = {}): (ctx: Ctx) => Record<string, string> {
  return (ctx) => (as === "guest" ? extra : { cookie: ctx.cookies[as], ...extra });
}
const HTMX = { "HX-Request": "true" };

type Row = Omit<Scenario<Ctx>, "url" | "headers"> & { as: As; htmx?: boolean; url: string | ((ctx: Ctx) => string) };

const rows: Row[] = [
  // GET /admin/users
  {
    name: "guest GET /admin/users is sent to sign-in",
    as: "guest",
    url: "/admin/users",
    expectedStatus: 303,
    expectedHeaders: { location: "/admin/login?next=%2Fadmin%2Fusers" },
    notExpectedContent: [ADMIN, MEMBER],
  },
  {
    name: "member GET /admin/users sees the list but no add form or actions",
    as: "member",
    url: "/admin/users",
    expectedStatus: 200,
    expectedContent: ["<h1>Users</h1>", ADMIN, MEMBER, "Only admins can invite, add, remove or change the role of users."],
    notExpectedContent: ["Add a user", "Invite a user", "Pending invites", 'action="/admin/users"', "/invites", "/delete", "/role", 'name="password"', "password_hash", "$argon2"],
  },
  {
    name: "admin GET /admin/users sees the list, the actions and the add form",
    as: "admin",
    url: "/admin/users",
    expectedStatus: 200,
    expectedContent: ["<h1>Users</h1>", ADMIN, MEMBER, "(you)", "Add a user", 'hx-post="/admin/users"', 'hx-target="#users-section"'],
    notExpectedContent: ["Only admins can", "$argon2"],
    after: ({ member }, _res, body) => {
      expect(body).toContain(`action="/admin/users/${member.id}/delete"`);
      expect(body).toContain(`action="/admin/users/${member.id}/role"`);
    },
  },
  {
    name: "admin htmx GET /admin/users gets the section only",
    as: "admin",
    htmx: true,
    url: "/admin/users",
    expectedStatus: 200,
    expectedContent: ['<section id="users-section">', ADMIN, MEMBER],
    notExpectedContent: ["<html", "<nav", "<h1>"],
  },

  // POST /admin/users
  {
    name: "guest POST /admin/users is sent to sign-in and adds no one",
    as: "guest",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "admin", password: PASSWORD }),
    expectedStatus: 303,
    expectedHeaders: { location: "/admin/login?next=%2Fadmin" },
    after: unchanged,
  },
  {
    name: "guest htmx POST /admin/users gets 401 with HX-Redirect",
    as: "guest",
    htmx: true,
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "admin", password: PASSWORD }),
    expectedStatus: 401,
    expectedHeaders: { "hx-redirect": "/admin/login?next=%2Fadmin" },
    after: unchanged,
  },
  {
    name: "member POST /admin/users is forbidden and adds no one",
    as: "member",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "admin", password: PASSWORD }),
    expectedStatus: 403,
    expectedContent: ["You may not use USER_CREATE."],
    notExpectedContent: [NEW, "Added"],
    after: unchanged,
  },
  {
    name: "member htmx POST /admin/users is forbidden as a fragment",
    as: "member",
    htmx: true,
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "member", password: PASSWORD }),
    expectedStatus: 403,
    expectedContent: ['data-code="FORBIDDEN"'],
    notExpectedContent: ["<html", NEW],
    after: unchanged,
  },
  {
    name: "admin POST /admin/users (plain form) adds the user and shows the page",
    as: "admin",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "member", password: PASSWORD }),
    expectedStatus: 200,
    expectedContent: ["<html", "<h1>Users</h1>", `Added ${NEW}.`, `<td>${NEW}`],
    notExpectedContent: [PASSWORD],
    after: async ({ t }) => expect(await snapshot(t)).toEqual([...UNCHANGED, `${NEW}:member`]),
  },
  {
    name: "admin htmx POST /admin/users adds the user and returns the section only",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW.toUpperCase(), role: "admin", password: PASSWORD }),
    expectedStatus: 200,
    expectedContent: ['<section id="users-section">', `Added ${NEW}.`, `<td>${NEW}`],
    notExpectedContent: ["<html", "<nav", PASSWORD],
    after: async ({ t }) => expect(await snapshot(t)).toEqual([...UNCHANGED, `${NEW}:admin`]),
  },
  {
    name: "admin POST /admin/users with a taken email is a 409 with a message",
    as: "admin",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: MEMBER.toUpperCase(), role: "admin", password: PASSWORD }),
    expectedStatus: 409,
    expectedContent: ["A user with this email already exists.", 'role="alert"'],
    after: unchanged,
  },
  {
    name: "admin htmx POST /admin/users with a taken email is a 409 fragment",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: ADMIN, role: "member", password: PASSWORD }),
    expectedStatus: 409,
    expectedContent: ['<section id="users-section">', "A user with this email already exists."],
    notExpectedContent: ["<html"],
    after: unchanged,
  },
  {
    name: "admin POST /admin/users with a bad email is a 400 naming the field",
    as: "admin",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: "not-an-email", role: "member", password: PASSWORD }),
    expectedStatus: 400,
    expectedContent: ["email: expected an email address"],
    notExpectedContent: ["Added"],
    after: unchanged,
  },
  {
    name: "admin POST /admin/users with a short password is a 400 naming the field",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "member", password: "short" }),
    expectedStatus: 400,
    expectedContent: ["password: expected at least 10 characters"],
    notExpectedContent: ["<html", "Added"],
    after: unchanged,
  },
  {
    name: "admin POST /admin/users with an unknown role is a 400 naming the field",
    as: "admin",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({ email: NEW, role: "owner", password: PASSWORD }),
    expectedStatus: 400,
    expectedContent: ["role: expected &quot;admin&quot; or &quot;member&quot;"],
    after: unchanged,
  },
  {
    name: "admin POST /admin/users with nothing is a 400 naming every field",
    as: "admin",
    method: "POST",
    url: "/admin/users",
    body: new URLSearchParams({}),
    expectedStatus: 400,
    expectedContent: ["email: expected an email address", "role: expected", "password: expected at least 10 characters"],
    after: unchanged,
  },

  // POST /admin/users/:id/role
  {
    name: "guest POST role is sent to sign-in and changes nothing",
    as: "guest",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/role`,
    body: new URLSearchParams({ role: "admin" }),
    expectedStatus: 303,
    expectedHeaders: { location: "/admin/login?next=%2Fadmin" },
    after: unchanged,
  },
  {
    name: "member POST role (promoting themself) is forbidden and changes nothing",
    as: "member",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/role`,
    body: new URLSearchParams({ role: "admin" }),
    expectedStatus: 403,
    expectedContent: ["You may not use USER_UPDATE."],
    after: unchanged,
  },
  {
    name: "member htmx POST role (demoting the admin) is forbidden and changes nothing",
    as: "member",
    htmx: true,
    method: "POST",
    url: ({ admin }) => `/admin/users/${admin.id}/role`,
    body: new URLSearchParams({ role: "member" }),
    expectedStatus: 403,
    notExpectedContent: ["<html"],
    after: unchanged,
  },
  {
    name: "admin POST role promotes a member (plain form: the page)",
    as: "admin",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/role`,
    body: new URLSearchParams({ role: "admin" }),
    expectedStatus: 200,
    expectedContent: ["<html", `${MEMBER} is now an admin.`],
    after: async ({ t }) => expect(await snapshot(t)).toEqual([`${ADMIN}:admin`, `${MEMBER}:admin`]),
  },
  {
    name: "admin htmx POST role to the same role is fine and returns the section",
    as: "admin",
    htmx: true,
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/role`,
    body: new URLSearchParams({ role: "member" }),
    expectedStatus: 200,
    expectedContent: ['<section id="users-section">', `${MEMBER} is now a member.`],
    notExpectedContent: ["<html"],
    after: unchanged,
  },
  {
    name: "the last admin cannot demote themself (409)",
    as: "admin",
    method: "POST",
    url: ({ admin }) => `/admin/users/${admin.id}/role`,
    body: new URLSearchParams({ role: "member" }),
    expectedStatus: 409,
    expectedContent: [LAST_ADMIN],
    after: unchanged,
  },
  {
    name: "the last admin cannot demote themself (htmx 409 fragment)",
    as: "admin",
    htmx: true,
    method: "POST",
    url: ({ admin }) => `/admin/users/${admin.id}/role`,
    body: new URLSearchParams({ role: "member" }),
    expectedStatus: 409,
    expectedContent: ['<section id="users-section">', LAST_ADMIN],
    notExpectedContent: ["<html"],
    after: unchanged,
  },
  {
    name: "admin POST role with an unknown role is a 400",
    as: "admin",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/role`,
    body: new URLSearchParams({ role: "root" }),
    expectedStatus: 400,
    expectedContent: ["role: expected"],
    after: unchanged,
  },
  {
    name: "admin POST role for a user that does not exist is a 404",
    as: "admin",
    method: "POST",
    url: "/admin/users/user_00000000-0000-4000-8000-000000000000/role",
    body: new URLSearchParams({ role: "admin" }),
    expectedStatus: 404,
    expectedContent: ["No such user."],
    after: unchanged,
  },
  {
    name: "admin POST role for a malformed id is a 400 naming the id",
    as: "admin",
    method: "POST",
    url: "/admin/users/nobody/role",
    body: new URLSearchParams({ role: "admin" }),
    expectedStatus: 400,
    expectedContent: ["id: expected a user id"],
    after: unchanged,
  },

  // POST /admin/users/:id/delete
  {
    name: "guest POST delete is sent to sign-in and removes no one",
    as: "guest",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/delete`,
    expectedStatus: 303,
    expectedHeaders: { location: "/admin/login?next=%2Fadmin" },
    after: unchanged,
  },
  {
    name: "member POST delete of the admin is forbidden and removes no one",
    as: "member",
    method: "POST",
    url: ({ admin }) => `/admin/users/${admin.id}/delete`,
    expectedStatus: 403,
    expectedContent: ["You may not use USER_DELETE."],
    after: unchanged,
  },
  {
    name: "member htmx POST delete of themself is forbidden",
    as: "member",
    htmx: true,
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/delete`,
    expectedStatus: 403,
    notExpectedContent: ["<html"],
    after: unchanged,
  },
  {
    name: "admin POST delete removes a member (plain form: the page)",
    as: "admin",
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/delete`,
    expectedStatus: 200,
    expectedContent: ["<html", "User removed."],
    notExpectedContent: [MEMBER],
    after: async ({ t }) => expect(await snapshot(t)).toEqual([`${ADMIN}:admin`]),
  },
  {
    name: "admin htmx POST delete removes a member and returns the section",
    as: "admin",
    htmx: true,
    method: "POST",
    url: ({ member }) => `/admin/users/${member.id}/delete`,
    expectedStatus: 200,
    expectedContent: ['<section id="users-section">', "User removed.", ADMIN],
    notExpectedContent: ["<html", MEMBER],
    after: async ({ t }) => expect(await snapshot(t)).toEqual([`${ADMIN}:admin`]),
  },
  {
    name: "the last admin cannot remove themself (409)",
    as: "admin",
    method: "POST",
    url: ({ admin }) => `/admin/users/${admin.id}/delete`,
    expectedStatus: 409,
    expectedContent: [LAST_ADMIN],
    after: unchanged,
  },
  {
    name: "admin POST delete of a user that does not exist is a 404",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users/user_00000000-0000-4000-8000-000000000000/delete",
    expectedStatus: 404,
    expectedContent: ["No such user."],
    after: unchanged,
  },

  // POST /admin/users/invites
  {
    name: "guest POST /admin/users/invites is sent to sign-in and invites no one",
    as: "guest",
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: NEW, role: "admin" }),
    expectedStatus: 303,
    expectedHeaders: { location: "/admin/login?next=%2Fadmin" },
    notExpectedContent: ["/admin/invite/"],
    after: noInvites,
  },
  {
    name: "member POST /admin/users/invites is forbidden and invites no one",
    as: "member",
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: NEW, role: "member" }),
    expectedStatus: 403,
    expectedContent: ["You may not use USER_INVITE_CREATE."],
    notExpectedContent: ["/admin/invite/", NEW],
    after: noInvites,
  },
  {
    name: "member htmx POST /admin/users/invites is forbidden as a fragment",
    as: "member",
    htmx: true,
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: NEW, role: "admin" }),
    expectedStatus: 403,
    expectedContent: ['data-code="FORBIDDEN"'],
    notExpectedContent: ["<html", "/admin/invite/"],
    after: noInvites,
  },
  {
    name: "admin htmx POST /admin/users/invites shows the one-time link beside the form, uncached, and lists the invite",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: NEW.toUpperCase(), role: "admin" }),
    expectedStatus: 200,
    expectedContent: [
      '<section id="users-section">',
      `Invite created for ${NEW}.`,
      `Invite link for ${NEW} (admin)`,
      'data-copy="#invite-link"',
      `<code id="invite-link" class="token">http://switchboard.test/admin/invite/sb_invite_`,
      "Pending invites",
      `id="pending-invites"`,
    ],
    expectedHeaders: { "cache-control": "no-store" },
    notExpectedContent: ["<html", "token_hash"],
    after: async ({ t, admin }) => {
      expect((await rawRows(t.deps, "SELECT email, role, invited_by FROM user_invites ORDER BY email"))).toEqual([
        { email: NEW, role: "admin", invited_by: admin.id },
        { email: PENDING, role: "member", invited_by: admin.id },
      ]);
      expect(await snapshot(t)).toEqual(UNCHANGED);
    },
  },
  {
    name: "admin POST /admin/users/invites (plain form) shows the page with the link",
    as: "admin",
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: NEW, role: "member" }),
    expectedStatus: 200,
    expectedContent: ["<html", "<h1>Users</h1>", `Invite link for ${NEW} (member)`, "/admin/invite/sb_invite_"],
    expectedHeaders: { "cache-control": "no-store" },
  },
  {
    name: "admin POST /admin/users/invites for an email that has a user is a 409 beside the form",
    as: "admin",
    htmx: true,
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: MEMBER.toUpperCase(), role: "admin" }),
    expectedStatus: 409,
    expectedContent: ['<div id="invite-message" aria-live="polite"><div class="alert error" role="alert" data-reveal="">A user with this email already exists.', `value="${MEMBER.toUpperCase()}"`],
    notExpectedContent: ["/admin/invite/sb_invite_"],
    after: noInvites,
  },
  {
    name: "admin POST /admin/users/invites with a bad email and role is a 400 naming the fields",
    as: "admin",
    method: "POST",
    url: "/admin/users/invites",
    body: new URLSearchParams({ email: "nope", role: "owner" }),
    expectedStatus: 400,
    expectedContent: ["email: expected an email address", "role: expected"],
    after: noInvites,
  },

  // POST /admin/users/invites/:id/revoke
  {
    name: "guest POST revoke is sent to sign-in and the invite stays",
    as: "guest",
    method: "POST",
    url: ({ invite }) => `/admin/users/invites/${invite.id}/revoke`,
    expectedStatus: 303,
    after: inviteStays,
  },
  {
    name: "member POST revoke is forbidden and the invite stays",
    as: "member",
    method: "POST",
    url: ({ invite }) => `/admin/users/invites/${invite.id}/revoke`,
    expectedStatus: 403,
    expectedContent: ["You may not use USER_INVITE_REVOKE."],
    after: inviteStays,
  },
  {
    name: "admin htmx POST revoke removes the invite and says so beside the list",
    as: "admin",
    htmx: true,
    method: "POST",
    url: ({ invite }) => `/admin/users/invites/${invite.id}/revoke`,
    expectedStatus: 200,
    expectedContent: ['<div id="invites-message" aria-live="polite"><div class="alert ok" role="status" data-reveal="">The invite for pending@example.com is revoked.', "No pending invites."],
    notExpectedContent: ["<html"],
    after: async ({ t, invite }) => expect(await findInvite(t.deps.db, t.deps.keys.tokenHmac, invite.token)).toBeNull(),
  },
  {
    name: "admin POST revoke of an unknown invite is a 404",
    as: "admin",
    method: "POST",
    url: "/admin/users/invites/invite_00000000-0000-4000-8000-000000000000/revoke",
    expectedStatus: 404,
    expectedContent: ["No such invite."],
    after: inviteStays,
  },
  {
    name: "admin POST revoke of a malformed id is a 400 naming the id",
    as: "admin",
    method: "POST",
    url: "/admin/users/invites/nothing/revoke",
    expectedStatus: 400,
    expectedContent: ["id: expected an invite id"],
    after: inviteStays,
  },
  {
    name: "admin GET /admin/users lists the pending invite (never its link) with Revoke",
    as: "admin",
    url: "/admin/users",
    expectedStatus: 200,
    expectedContent: ["Pending invites", "pending@example.com", "Revoke", "Invite a user", "<summary>Add a user with a password</summary>", 'class="table-scroll"'],
    notExpectedContent: ["/admin/invite/", "sb_invite_"],
  },
  {
    name: "member GET /admin/users sees no pending invites",
    as: "member",
    url: "/admin/users",
    expectedStatus: 200,
    notExpectedContent: ["pending@example.com", "Pending invites", "Revoke"],
  },

  // GET /admin/settings
  {
    name: "guest GET /admin/settings is sent to sign-in",
    as: "guest",
    url: "/admin/settings",
    expectedStatus: 303,
    notExpectedContent: ["[security]"],
  },
  {
    name: "member GET /admin/settings shows the config with the secret masked",
    as: "member",
    url: "/admin/settings",
    expectedStatus: 200,
    expectedContent: ["<h1>Settings</h1>", "[security]", 'secret = &quot;********&quot;'],
    notExpectedContent: [TEST_SECRET, TEST_SECRET.slice(0, 12)],
  },
  {
    name: "admin GET /admin/settings shows the effective config with the secret masked",
    as: "admin",
    url: "/admin/settings",
    expectedStatus: 200,
    expectedContent: [
      "<h1>Settings</h1>",
      '<pre id="effective-config">',
      "[server]",
      "listen = &quot;127.0.0.1:0&quot;",
      "public_url = &quot;http://switchboard.test&quot;",
      "session_ttl",
      'secret = &quot;********&quot;  # set in the config',
    ],
    notExpectedContent: [TEST_SECRET, TEST_SECRET.slice(0, 12)],
  },
];

describe("users and settings, one row per route and role", () => {
  for (const row of rows) {
    test(row.name, async () => {
      const ctx = await setUp();
      const url = typeof row.url === "function" ? row.url(ctx) : row.url;
      await runScenario({ ...row, url, headers: headersAs(row.as, row.htmx ? HTMX : {}) }, ctx, ctx.t.request);
    });
  }
});

describe("users: effects beyond the response", () => {
  test("removing a user ends their sessions at once", async () => {
    const { t, member, cookies } = await setUp();
    const memberCookie = await t.signIn(MEMBER);
    expect((await t.request("/admin", { headers: { cookie: memberCookie } })).status).toBe(200);
    const removed = await t.request(`/admin/users/${member.id}/delete`, { method: "POST", headers: { cookie: cookies.admin } });
    expect(removed.status).toBe(200);
    for (const cookie of [memberCookie, cookies.member]) {
      const res = await t.request("/admin", { headers: { cookie } });
      expect(res.status).toBe(303);
      // Their cookie is still correctly signed: the sign-in page says the session ended.
      expect(res.headers.get("location")).toBe("/admin/login?session=ended&next=%2Fadmin");
    }
    expect((await rawRow(t.deps, "SELECT count(*) AS n FROM sessions WHERE user_id = ?", member.id))).toEqual({ n: 0 });
    // Nor can they sign in again.
    expect((await t.request("/admin/login", form({ email: MEMBER, password: PASSWORD }))).status).toBe(401);
  });

  test("a refused add shows the form again with the email and role typed, never the password", async () => {
    const { t, cookies } = await setUp();
    const secret = "short-pw";
    const res = await t.request("/admin/users", { ...form({ email: NEW, role: "admin", password: secret }), headers: { cookie: cookies.admin } });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("password: expected at least 10 characters");
    expect(html).toContain(`name="email" type="email" value="${NEW}"`);
    expect(html).toMatch(/<option value="admin" selected="">admin<\/option><\/select>/);
    expect(html).not.toContain(secret);
    expect(await snapshot(t)).toEqual(UNCHANGED);
  });

  test("a demoted admin loses admin powers on their next request", async () => {
    const { t, member, cookies } = await setUp();
    await t.request(`/admin/users/${member.id}/role`, { ...form({ role: "admin" }), headers: { cookie: cookies.admin } });
    // The promoted user now sees the admin controls with their existing session.
    expect(await (await t.request("/admin/users", { headers: { cookie: cookies.member } })).text()).toContain("Add a user");

    const demoted = await t.request(`/admin/users/${member.id}/role`, { ...form({ role: "member" }), headers: { cookie: cookies.admin } });
    expect(demoted.status).toBe(200);
    const attempt = await t.request("/admin/users", { ...form({ email: NEW, role: "admin", password: PASSWORD }), headers: { cookie: cookies.member } });
    expect(attempt.status).toBe(403);
    expect(await snapshot(t)).toEqual(UNCHANGED);
  });

  test("with two admins one may remove the other, and then is the last", async () => {
    const { t, admin, member, cookies } = await setUp();
    await t.request(`/admin/users/${member.id}/role`, { ...form({ role: "admin" }), headers: { cookie: cookies.admin } });
    // The second admin removes the first (the one who promoted them)...
    const removed = await t.request(`/admin/users/${admin.id}/delete`, { method: "POST", headers: { cookie: cookies.member } });
    expect(removed.status).toBe(200);
    expect(await snapshot(t)).toEqual([`${MEMBER}:admin`]);
    // ...and is now the last admin.
    const self = await t.request(`/admin/users/${member.id}/delete`, { method: "POST", headers: { cookie: cookies.member, ...HTMX } });
    expect(self.status).toBe(409);
    expect(await self.text()).toContain(LAST_ADMIN);
    expect(await snapshot(t)).toEqual([`${MEMBER}:admin`]);
  });

  test("a cross-site invite or revoke is refused and changes nothing", async () => {
    const { t, cookies, invite } = await setUp();
    for (const headers of CROSS_SITE) {
      const made = await t.request("/admin/users/invites", { ...form({ email: NEW, role: "admin" }), headers: { cookie: cookies.admin, ...headers } });
      expect(made.status).toBe(403);
      expect(await made.text()).not.toContain("/admin/invite/");
      const revoked = await t.request(`/admin/users/invites/${invite.id}/revoke`, { method: "POST", headers: { cookie: cookies.admin, ...headers } });
      expect(revoked.status).toBe(403);
    }
    expect((await rawRows(t.deps, "SELECT email FROM user_invites"))).toEqual([{ email: PENDING }]);
  });

  test("a second invite for the same email replaces the first: the first link stops working", async () => {
    const { t, cookies } = await setUp();
    const linkOf = async (role: string) => {
      const html = await (await t.request("/admin/users/invites", { ...form({ email: NEW, role }), headers: { cookie: cookies.admin } })).text();
      return /\/admin\/invite\/(sb_invite_[0-9A-Za-z]+)/.exec(html)![1]!;
    };
    const first = await linkOf("member");
    const second = await linkOf("admin");
    expect(await findInvite(t.deps.db, t.deps.keys.tokenHmac, first)).toBeNull();
    expect((await findInvite(t.deps.db, t.deps.keys.tokenHmac, second))?.role).toBe("admin");
    expect((await t.request(`/admin/invite/${first}`)).status).toBe(404);
    const page = await (await t.request("/admin/users", { headers: { cookie: cookies.admin } })).text();
    expect(page.match(new RegExp(`<td>${NEW}</td>`, "g"))).toHaveLength(1);
  });

  test("a user added in the admin can sign in with the password given", async () => {
    const { t, cookies } = await setUp();
    const added = await t.request("/admin/users", { ...form({ email: NEW, role: "member", password: PASSWORD }), headers: { cookie: cookies.admin } });
    expect(added.status).toBe(200);
    const cookie = await t.signIn(NEW);
    const page = await (await t.request("/admin", { headers: { cookie } })).text();
    expect(page).toContain(NEW);
    expect(page).toContain("(member)");
  });
});
