// The admin's page frame: standards mode (a doctype), a favicon that is served, a skip link to the
// main content, a member badge readable at WCAG AA contrast, refusals inside the layout for a signed-in
// user (bare before sign-in, fragments for htmx), and the sign-in page's notices after sign-out.
import { afterAll, describe, expect, test } from "bun:test";
import { ASSETS } from "../../views/assets.ts";
import { createTestApp } from "../support/app.ts";
import { form, insertUser } from "../support/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const t = await createTestApp();
afterAll(() => t.close());

function relativeLuminance(hex: string): number {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * channels[0]! + 0.7152 * channels[1]! + 0.0722 * channels[2]!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe("the page frame", () => {
  test("every page is in standards mode: the doctype comes first, before sign-in and after", async () => {
    const member = await insertUser(t.deps, "member", "frame-member@example.com");
    const cookie = await t.cookieFor(member);
    for (const [path, headers] of [["/admin/login", {}], ["/admin", { cookie }], ["/admin/keys", { cookie }]] as const) {
      const html = await (await t.request(path, { headers })).text();
      expect(html.slice(0, 15).toLowerCase()).toBe("<!doctype html>");
    }
  });

  test("the favicon the pages name is served (no 404 on every page load)", async () => {
    const html = await (await t.request("/admin/login")).text();
    const href = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const res = await t.request(href!.replaceAll("&amp;", "&"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("image/svg+xml");
  });

  test("a skip link leads to the main content", async () => {
    const member = await insertUser(t.deps, "member", "frame-skip@example.com");
    const html = await (await t.request("/admin", { headers: { cookie: await t.cookieFor(member) } })).text();
    expect(html).toContain('<a class="skip-link" href="#main">Skip to content</a>');
    expect(html).toMatch(/<main id="main"/);
    expect(html.indexOf("skip-link")).toBeLessThan(html.indexOf('class="sidebar"'));
  });

  test("the member badge reads at 4.5:1 or better", () => {
    const css = ASSETS["app.css"]!.body;
    const rule = /\.badge\.member \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); \}/i.exec(css);
    expect(rule).not.toBeNull();
    expect(contrast(rule![1]!, rule![2]!)).toBeGreaterThanOrEqual(4.5);
  });
});

/** Whether `html` is a whole admin page: the nav and who is signed in. */
function inLayout(html: string, email: string): boolean {
  return html.includes('<nav class="sidebar" aria-label="Main">') && html.includes(`>${email}</a>`) && html.includes("Sign out");
}

describe("refusals inside the layout", () => {
  const SAME_ORIGIN = { "sec-fetch-site": "same-origin" };

  test("a member on an admin-only page: 403, their nav and who they are, why and who to ask", async () => {
    const member = await insertUser(t.deps, "member", "frame-403@example.com");
    const cookie = await t.cookieFor(member);
    for (const path of ["/admin/connections/new", "/admin/agents/new"]) {
      const res = await t.request(path, { headers: { cookie } });
      expect(res.status).toBe(403);
      const html = await res.text();
      expect(inLayout(html, member.email)).toBe(true);
      expect(html).toContain("<title>You don&#39;t have access · Switchboard</title>");
      expect(html).toContain("<h1>You don&#39;t have access</h1>");
      expect(html).toContain("you are signed in as a member");
      expect(html).toContain("ask an admin");
      // Not the bare page of a signed-out visitor, and nothing of the form it refused.
      expect(html).not.toContain('class="auth"');
      expect(html).not.toContain("<form class=\"connection-form");
    }
  });

  test("a member posting an admin-only action: 403 inside the layout, nothing created", async () => {
    const member = await insertUser(t.deps, "member", "frame-403-post@example.com");
    const cookie = await t.cookieFor(member);
    const res = await t.request("/admin/connections", { ...form({ slug: "sneaky", transport: "http", url: "https://example.com/mcp" }), headers: { cookie, ...SAME_ORIGIN } });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(inLayout(html, member.email)).toBe(true);
    expect(html).toContain("<h1>You don&#39;t have access</h1>");
    const list = await (await t.request("/admin/connections", { headers: { cookie } })).text();
    expect(list).not.toContain("sneaky");
  });

  test("htmx gets the refusal as a fragment, never a page", async () => {
    const member = await insertUser(t.deps, "member", "frame-403-htmx@example.com");
    const res = await t.request("/admin/connections/new", { headers: { cookie: await t.cookieFor(member), "HX-Request": "true" } });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('role="alert"');
    expect(html).not.toContain("<html");
    expect(html).not.toContain("sidebar");
  });

  test("a signed-in user on a page that does not exist, or another user's key: 404 inside the layout", async () => {
    const member = await insertUser(t.deps, "member", "frame-404@example.com");
    const cookie = await t.cookieFor(member);
    for (const path of ["/admin/no-such-page", "/admin/connections/conn_00000000-0000-4000-8000-000000000000", "/admin/keys/key_00000000-0000-4000-8000-000000000000/activity"]) {
      const res = await t.request(path, { headers: { cookie } });
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(inLayout(html, member.email)).toBe(true);
      expect(html).toContain("<h1>Not found</h1>");
      expect(html).not.toContain("You don&#39;t have access");
    }
  });

  test("before sign-in the pages stay bare: a guest is sent to sign in, a refused cross-site post names no one", async () => {
    const guest = await t.request("/admin/connections/new");
    expect(guest.status).toBe(303);
    expect(guest.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Fconnections%2Fnew");
    const unknown = await t.request("/admin/no-such-page");
    expect(unknown.status).toBe(303);
    // The CSRF check runs before the session is read: the bare page, with nothing of the user in it.
    const member = await insertUser(t.deps, "member", "frame-csrf@example.com");
    const res = await t.request("/admin/users", { ...form({ email: "x@example.com", role: "member", password: "long enough password" }), headers: { cookie: await t.cookieFor(member), "sec-fetch-site": "cross-site" } });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('<main class="auth" id="main">');
    expect(html).not.toContain(member.email);
    expect(html).not.toContain("sidebar");
  });
});

describe("the sign-in page's notices", () => {
  test("sign-out leads to a sign-in page that says so, as a status message", async () => {
    const member = await insertUser(t.deps, "member", "frame-out@example.com");
    const res = await t.request("/admin/logout", { method: "POST", headers: { cookie: await t.cookieFor(member) } });
    expect(res.status).toBe(303);
    const location = res.headers.get("location")!;
    expect(location).toBe("/admin/login?signed_out=1");
    const html = await (await t.request(location)).text();
    expect(html).toContain('<div class="alert ok" role="status">You are signed out.</div>');
  });

  test("a session that ended is told so; a plain visit and any other flag value say nothing", async () => {
    const member = await insertUser(t.deps, "member", "frame-ended@example.com");
    const cookie = await t.cookieFor(member);
    await rawRun(t.deps, "DELETE FROM sessions WHERE user_id = ?", member.id);
    const res = await t.request("/admin/keys", { headers: { cookie } });
    expect(res.headers.get("location")).toBe("/admin/login?session=ended&next=%2Fadmin%2Fkeys");
    const ended = await (await t.request(res.headers.get("location")!)).text();
    expect(ended).toContain('<div class="alert ok" role="status">Your session ended; sign in again.</div>');
    for (const path of ["/admin/login", "/admin/login?signed_out=yes", "/admin/login?session=%3Cscript%3E", "/admin/login?signed_out=%3Cb%3Ehi"]) {
      const html = await (await t.request(path)).text();
      expect(html).not.toContain('role="status"');
      expect(html).not.toContain("<script>");
      expect(html).not.toContain("<b>hi");
    }
  });
});
