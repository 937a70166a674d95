// The Users page and the Settings page through app.request(): a guest, a member and an admin row for
// every route, plain-form and htmx flows, the last-admin rule, and what must not leak.
import { describe, expect, test } from "bun:test";
import type { User } from "../../src/domain/access/users.ts";
import { TEST_SECRET, useTestApp, type TestApp } from "../support/app.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { form, PASSWORD } from "../support/users.ts";

const newTestApp = useTestApp();
const ADMIN = "admin@example.com";
const MEMBER = "member@example.com";
const NEW = "new.person@example.com";
const LAST_ADMIN = "The last admin cannot be removed or demoted.";

type Ctx = { t: TestApp; admin: User; member: User; cookies: { admin: string; member: string } };
type As = "guest" | "member" | "admin";

async function setUp(): Promise<Ctx> {
  const t = newTestApp();
  const admin = await t.createUser(ADMIN, "admin");
  const member = await t.createUser(MEMBER, "member");
  return { t, admin, member, cookies: { admin: await t.cookieFor(admin), member: await t.cookieFor(member) } };
}

/** Every user as "email:role", sorted, straight from the database. */
function snapshot(t: TestApp): string[] {
  return (t.deps.sqlite.query("SELECT email, role FROM users ORDER BY email").all() as { email: string; role: string }[]).map((u) => `${u.email}:${u.role}`);
}
const UNCHANGED = [`${ADMIN}:admin`, `${MEMBER}:member`];
const unchanged = ({ t }: Ctx) => expect(snapshot(t)).toEqual(UNCHANGED);

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
    after: ({ t }) => expect(snapshot(t)).toEqual([...UNCHANGED, `${NEW}:member`]),
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
    after: ({ t }) => expect(snapshot(t)).toEqual([...UNCHANGED, `${NEW}:admin`]),
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
    after: ({ t }) => expect(snapshot(t)).toEqual([`${ADMIN}:admin`, `${MEMBER}:admin`]),
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
    after: ({ t }) => expect(snapshot(t)).toEqual([`${ADMIN}:admin`]),
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
    after: ({ t }) => expect(snapshot(t)).toEqual([`${ADMIN}:admin`]),
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
      expect(res.headers.get("location")).toBe("/admin/login?next=%2Fadmin");
    }
    expect(t.deps.sqlite.query("SELECT count(*) AS n FROM sessions WHERE user_id = ?").get(member.id)).toEqual({ n: 0 });
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
    expect(snapshot(t)).toEqual(UNCHANGED);
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
    expect(snapshot(t)).toEqual(UNCHANGED);
  });

  test("with two admins one may remove the other, and then is the last", async () => {
    const { t, admin, member, cookies } = await setUp();
    await t.request(`/admin/users/${member.id}/role`, { ...form({ role: "admin" }), headers: { cookie: cookies.admin } });
    // The second admin removes the first (the one who promoted them)...
    const removed = await t.request(`/admin/users/${admin.id}/delete`, { method: "POST", headers: { cookie: cookies.member } });
    expect(removed.status).toBe(200);
    expect(snapshot(t)).toEqual([`${MEMBER}:admin`]);
    // ...and is now the last admin.
    const self = await t.request(`/admin/users/${member.id}/delete`, { method: "POST", headers: { cookie: cookies.member, ...HTMX } });
    expect(self.status).toBe(409);
    expect(await self.text()).toContain(LAST_ADMIN);
    expect(snapshot(t)).toEqual([`${MEMBER}:admin`]);
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
