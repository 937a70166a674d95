// The page frame in a real browser (Chromium through playwright-core) against a real server with
// realistic data: every admin page, as an admin and as a member, at 390, 768 and 1280 px, is no wider
// than the viewport, in standards mode, with no script error and no failed load; the top bar at 390 px;
// the skip link; the 403 page inside the layout; the "signed out" notice.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { User } from "../../src/domain/access/users.ts";
import { createApp } from "../../src/http/app.ts";
import { agentCreate } from "../../src/operations/agents.ts";
import { apiKeyCreate } from "../../src/operations/api-keys.ts";
import { connectionCreate } from "../../src/operations/connections.ts";
import { userInviteCreate } from "../../src/operations/users.ts";
import { runOperation, sessionCaller, type ObjectSchema, type Operation } from "../../src/operations/registry.ts";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage, watchForProblems } from "../support/browser.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { waitUntil } from "../support/gateway-harness.ts";
import { agentResource, approve, dcrClient } from "../support/oauth-grants.ts";
import { authorizationUrl, pkcePair } from "../support/oauth-server.ts";
import { insertUsage, usageRecord } from "../support/usage-rows.ts";
import { createSignInUser, insertUser, sessionCookieFor } from "../support/users.ts";

// Eighteen pages at three widths for two people: well past the default 5 s.
setDefaultTimeout(180_000);

if (!haveChromium && !process.env.CI) console.warn(`skipping the page frame tests: ${CHROMIUM_MISSING}`);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const WIDTHS = [390, 768, 1280] as const;
/** One unbroken line of stderr, far wider than any viewport. */
const LONG_STDERR = `Error: ${"x".repeat(500)}`;
const LONG = "a key whose name goes on and on to see how the table copes in every width-we-test";

/** What the page list needs to know of the data the test made. */
type World = { connection: string; broken: string; agent: string; key: string; memberKey: string; logRow: string; invite: string };

/**
 * Every GET page of the admin, by route pattern: the URL that shows it with the test's data, and the
 * status a member gets (403 where only admins may look). A route pattern missing here fails the test
 * ("every GET route under /admin is covered"), so a new page is one line here.
 */
const PAGES: Record<string, { url: (w: World) => string; member: 200 | 403 | 404 }> = {
  "/admin": { url: () => "/admin", member: 200 },
  "/admin/connections": { url: () => "/admin/connections", member: 200 },
  "/admin/connections/new": { url: () => "/admin/connections/new", member: 403 },
  "/admin/connections/:id": { url: (w) => `/admin/connections/${w.broken}`, member: 200 },
  "/admin/agents": { url: () => "/admin/agents", member: 200 },
  "/admin/agents/new": { url: () => "/admin/agents/new", member: 403 },
  "/admin/agents/:id": { url: (w) => `/admin/agents/${w.agent}`, member: 200 },
  "/admin/agents/:id/edit": { url: (w) => `/admin/agents/${w.agent}/edit`, member: 403 },
  "/admin/keys": { url: () => "/admin/keys", member: 200 },
  "/admin/keys/:id": { url: (w) => `/admin/keys/${w.key}`, member: 404 },
  "/admin/keys/:id/activity": { url: (w) => `/admin/keys/${w.key}/activity`, member: 404 },
  "/admin/apps": { url: () => "/admin/apps", member: 200 },
  "/admin/connected-accounts": { url: () => "/admin/connected-accounts", member: 200 },
  "/admin/monitoring": { url: () => "/admin/monitoring", member: 200 },
  "/admin/monitoring/logs/:id": { url: (w) => `/admin/monitoring/logs/${w.logRow}`, member: 200 },
  "/admin/audit": { url: () => "/admin/audit", member: 200 },
  "/admin/users": { url: () => "/admin/users", member: 200 },
  "/admin/settings": { url: () => "/admin/settings", member: 200 },
  "/admin/account": { url: () => "/admin/account", member: 200 },
};

/** Extra pages that show a route in another state worth checking (a second instance of a pattern above). */
const MORE: { url: (w: World) => string; member: 200 | 403 | 404 }[] = [
  { url: (w) => `/admin/connections/${w.connection}`, member: 200 },
  { url: (w) => `/admin/keys/${w.memberKey}/activity`, member: 200 },
  { url: (w) => `/admin/keys/${w.memberKey}`, member: 200 },
];

/**
 * GET routes under /admin that are not signed-in pages: sign-in, setup and the invitee's page (tested
 * bare below), assets, a download, and the fragments pages poll for (a connection settling, the
 * dashboard's checklist).
 */
const NOT_PAGES = new Set([
  "/admin/", "/admin/login", "/admin/setup", "/admin/invite/:token", "/admin/assets/:name", "/admin/monitoring/export",
  "/admin/connections/:id/status", "/admin/getting-started",
]);

describe.skipIf(!haveChromium)("the page frame in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let admin: User;
  let member: User;
  let world: World;

  /** Runs an operation as `user`, as the admin's pages do. */
  const run = <I extends ObjectSchema, O extends ObjectSchema>(user: User, op: Operation<I, O>, input: unknown) =>
    runOperation(op, { deps: server.deps, caller: sessionCaller(user, server.deps.catalog), now: new Date(), origin: { face: "admin", address: "127.0.0.1" } }, input);

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    admin = await insertUser(server.deps, "admin", "the-administrator-with-a-long-address@example-company-with-a-long-domain.com");
    member = await createSignInUser(server.deps, "member@example.com", "member");

    const alpha = await run(admin, connectionCreate, { slug: "alpha", transport: "stdio", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "alpha" } });
    const broken = await run(admin, connectionCreate, {
      slug: "broken",
      transport: "stdio",
      command: process.execPath,
      args: ["-e", `console.error(${JSON.stringify(LONG_STDERR)}); process.exit(1)`],
    });
    await server.deps.gateway.refresh(alpha.id);
    await waitUntil(() => server.deps.gateway.stderr(broken.id).some((line) => line.includes("xxxx")), "the broken server's stderr");
    const agent = await run(admin, agentCreate, { slug: "assistant", connections: [{ connection: alpha.id, tools: "all" }] });
    const self = ["API_KEY_LIST", "API_KEY_CREATE", "CONNECTION_LIST", "AGENT_LIST", "TOOL_LIST", "WHOAMI"];
    const keys = [];
    for (let i = 0; i < 4; i++) {
      keys.push(await run(admin, apiKeyCreate, { name: `${LONG} ${i}`, permissions: { [agent.id]: ["*"], [alpha.id]: ["echo", "add"], self } }));
    }
    const memberKey = await run(member, apiKeyCreate, { name: `${LONG} of the member`, permissions: { [agent.id]: ["*"] } });
    // Monitoring rows: calls by the admin's and the member's keys, one failing with a long message.
    let logRow = "";
    for (let i = 0; i < 20; i++) {
      const id = await insertUsage(
        server.deps.db,
        usageRecord(i % 2 === 0 ? admin.id : member.id, {
          at: new Date(Date.now() - (i + 1) * 90_000),
          target: { kind: "agent", id: agent.id, slug: "assistant" },
          name: `a_tool_with_a_rather_long_name_${i}`,
          connectionId: alpha.id,
          outcome: i === 3 ? "error" : "ok",
          errorCode: i === 3 ? "-32603" : null,
          errorMessage: i === 3 ? `upstream said: ${"y".repeat(300)}` : null,
          actor: { userId: i % 2 === 0 ? admin.id : member.id, credentialKind: "api_key", credentialId: i % 2 === 0 ? keys[0]!.key.id : memberKey.key.id },
        }),
      );
      if (i === 3) logRow = id;
    }
    // An OAuth app the member approved for the agent.
    await approve(server.deps, member, await dcrClient(server.deps, "A desktop client with a long name"), { id: agent.id, url: `${server.url}/mcp/agent/${agent.id}` });
    await approve(server.deps, admin, await dcrClient(server.deps, "Another client"), await agentResource(server.deps));
    const invite = await run(admin, userInviteCreate, { email: "someone.with.a.rather.long.address@example.com", role: "member" });
    world = { invite: new URL(invite.url).pathname, connection: alpha.id, broken: broken.id, agent: agent.id, key: keys[0]!.key.id, memberKey: memberKey.key.id, logRow };
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("every GET route under /admin is covered by the page list", () => {
    const routes = createApp(server.deps).routes.filter((r) => r.method === "GET" && r.path.startsWith("/admin")).map((r) => r.path);
    const missing = [...new Set(routes)].filter((path) => !NOT_PAGES.has(path) && !(path in PAGES));
    expect(missing).toEqual([]);
    // And no entry outlives its route (a renamed page would otherwise be visited as a 404 no one meant).
    expect(Object.keys(PAGES).filter((path) => !routes.includes(path))).toEqual([]);
  });

  /** Visits every page as `user` at every width and returns what went wrong, one line per fault. */
  async function visitAll(user: User, role: "admin" | "member"): Promise<string[]> {
    const cookie = await sessionCookieFor(server.deps, user, 600_000);
    const faults: string[] = [];
    const pages = [...Object.values(PAGES), ...MORE];
    for (const width of WIDTHS) {
      const { context, page, problems } = await signedInPage(browser, server.url, cookie);
      await page.setViewportSize({ width, height: 800 });
      for (const entry of pages) {
        const url = entry.url(world);
        const expected = role === "admin" ? 200 : entry.member;
        problems.length = 0;
        const res = await page.goto(`${server.url}${url}`);
        const status = res?.status() ?? 0;
        if (status !== expected) faults.push(`${role} ${width}px ${url}: status ${status}, expected ${expected}`);
        // The document's own answer is checked above; every other load must succeed.
        const others = problems.filter((p) => !(expected !== 200 && p === `${expected} ${new URL(url, server.url).pathname}`));
        for (const p of others) faults.push(`${role} ${width}px ${url}: ${p}`);
        const overflow = await horizontalOverflow(page);
        if (overflow !== 0) faults.push(`${role} ${width}px ${url}: ${overflow} px wider than the viewport (${await widest(page)})`);
        const mode = await page.evaluate(() => document.compatMode);
        if (mode !== "CSS1Compat") faults.push(`${role} ${width}px ${url}: ${mode}`);
      }
      await context.close();
    }
    return faults;
  }

  test("at 390 px the sidebar is a top bar: every section, who is signed in and Sign out in view, main below", async () => {
    const { context, page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, member, 600_000));
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${server.url}/admin/audit`);
    const bar = (await page.locator("nav.sidebar").boundingBox())!;
    expect(bar.width).toBe(390);
    const main = (await page.locator("main").boundingBox())!;
    expect(main.y).toBeGreaterThanOrEqual(bar.y + bar.height);
    const links = page.locator("nav.sidebar .nav a");
    expect(await links.count()).toBe(10);
    // In the viewport as the page opens: no menu to find, no sideways scroll.
    for (const link of [...(await links.all()), page.locator(".who a.account"), page.getByRole("button", { name: "Sign out" })]) {
      expect(await link.isVisible()).toBe(true);
      const box = (await link.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      expect(box.y + box.height).toBeLessThanOrEqual(800);
    }
    // A link works from there.
    await Promise.all([page.waitForURL(`${server.url}/admin/keys`), page.getByRole("link", { name: "API keys" }).click()]);
    expect(await page.locator('nav.sidebar a[aria-current="page"]').textContent()).toBe("API keys");
    // Above the breakpoint, the sidebar again: a column beside main.
    await page.setViewportSize({ width: 1280, height: 800 });
    const column = (await page.locator("nav.sidebar").boundingBox())!;
    expect(column.width).toBe(220);
    expect((await page.locator("main").boundingBox())!.x).toBeGreaterThanOrEqual(220);
    expect(problems).toEqual([]);
    await context.close();
  });

  test("the skip link: the first Tab shows it, Enter moves focus to the main content", async () => {
    const { context, page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, admin, 600_000));
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(`${server.url}/admin/connections`);
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.className)).toBe("skip-link");
      expect(await inViewport(page, ".skip-link:focus")).toBe(true);
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.activeElement?.id === "main");
      // The next Tab goes on inside main, past the nav.
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.closest("main") !== null)).toBe(true);
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  test("a member refused a page sees it inside their admin: the nav, who they are, \"You don't have access\"", async () => {
    const context = await browser.newContext();
    const [name, ...value] = (await sessionCookieFor(server.deps, member, 600_000)).split("=");
    await context.addCookies([{ name: name!, value: value.join("="), url: server.url }]);
    const page = await context.newPage();
    const problems = watchForProblems(page, { minStatus: 400, allow: (status, path) => status === 403 && path === "/admin/connections/new" });
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      const res = await page.goto(`${server.url}/admin/connections/new`);
      expect(res!.status()).toBe(403);
      expect(await page.locator("main h1").textContent()).toBe("You don't have access");
      expect(await page.locator("main").textContent()).toContain("ask an admin");
      expect(await page.locator(".who a.account").textContent()).toBe(member.email);
      expect(await page.getByRole("link", { name: "Connections" }).isVisible()).toBe(true);
      expect(await page.getByRole("button", { name: "Sign out" }).isVisible()).toBe(true);
      expect(await horizontalOverflow(page)).toBe(0);
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  test("after Sign out the sign-in page says so; a wrong password then shows only its error", async () => {
    const context = await browser.newContext();
    const [name, ...value] = (await sessionCookieFor(server.deps, member, 600_000)).split("=");
    await context.addCookies([{ name: name!, value: value.join("="), url: server.url }]);
    const page = await context.newPage();
    const problems = watchForProblems(page, { minStatus: 400, allow: (status, path) => status === 401 && path === "/admin/login" });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${server.url}/admin`);
    await Promise.all([page.waitForURL(`${server.url}/admin/login?signed_out=1`), page.getByRole("button", { name: "Sign out" }).click()]);
    const notice = page.getByRole("status");
    expect(await notice.textContent()).toBe("You are signed out.");
    expect(await inViewport(page, '[role="status"]')).toBe(true);
    await page.fill("#email", member.email);
    await page.fill("#password", "not the password");
    await page.click("button[type=submit]");
    await page.locator('#form-message [role="alert"]').waitFor();
    expect(await page.locator('#form-message [role="alert"]').textContent()).toBe("Wrong email or password.");
    expect(await page.getByRole("status").count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  test("a session that ended elsewhere: the next page sends to sign-in, which says the session ended", async () => {
    const other = await insertUser(server.deps, "member", "ended@example.com");
    const { context, page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, other, 600_000));
    await page.goto(`${server.url}/admin/keys`);
    server.deps.sqlite!.run("DELETE FROM sessions WHERE user_id = ?", [other.id]);
    await page.goto(`${server.url}/admin/audit`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    expect(await page.getByRole("status").textContent()).toBe("Your session ended; sign in again.");
    expect(await page.inputValue('input[name="next"]')).toBe("/admin/audit");
    expect(problems).toEqual([]);
    await context.close();
  });

  test("the pages before sign-in and the consent page fit every width too, in standards mode", async () => {
    const client = await dcrClient(server.deps, `A client that calls itself ${"by a very long name ".repeat(3)}`);
    const consent = authorizationUrl(server.url, { clientId: client.id, redirectUri: client.redirectUris[0]!, challenge: pkcePair().challenge, resource: `${server.url}/mcp/agent/${world.agent}` });
    const bare: { url: string; status: number; signedIn?: boolean }[] = [
      { url: `${server.url}/admin/login`, status: 200 },
      { url: `${server.url}/admin/login?signed_out=1`, status: 200 },
      { url: `${server.url}/admin/setup?token=nothing`, status: 404 },
      { url: `${server.url}${world.invite}`, status: 200 },
      { url: `${server.url}/admin/invite/sb_invite_nothing`, status: 404 },
      { url: `${server.url}/admin/assets/no-such-file.css`, status: 404 },
      { url: `${server.url}/oauth/authorize?client_id=sbc_nobody`, status: 400 },
      { url: consent, status: 200, signedIn: true },
    ];
    const faults: string[] = [];
    for (const width of WIDTHS) {
      const context = await browser.newContext({ viewport: { width, height: 800 } });
      const [name, ...value] = (await sessionCookieFor(server.deps, member, 600_000)).split("=");
      const page = await context.newPage();
      const problems = watchForProblems(page, { minStatus: 400, allow: (status) => bare.some((b) => b.status === status) });
      for (const entry of bare) {
        if (entry.signedIn) await context.addCookies([{ name: name!, value: value.join("="), url: server.url }]);
        const res = await page.goto(entry.url);
        if (res?.status() !== entry.status) faults.push(`${width}px ${entry.url}: status ${res?.status()}`);
        if (entry.signedIn && new URL(page.url()).pathname !== "/oauth/authorize") faults.push(`${width}px: no consent page but ${page.url()}`);
        const overflow = await horizontalOverflow(page);
        if (overflow !== 0) faults.push(`${width}px ${entry.url}: ${overflow} px wider than the viewport (${await widest(page)})`);
        if ((await page.evaluate(() => document.compatMode)) !== "CSS1Compat") faults.push(`${width}px ${entry.url}: quirks mode`);
      }
      faults.push(...problems.map((p) => `${width}px: ${p}`));
      await context.close();
    }
    expect(faults).toEqual([]);
  });

  test("as an admin, no page is wider than the viewport at 390, 768 and 1280 px", async () => {
    expect(await visitAll(admin, "admin")).toEqual([]);
  });

  test("as a member, no page is wider than the viewport at 390, 768 and 1280 px", async () => {
    expect(await visitAll(member, "member")).toEqual([]);
  });
});

/** The element that sticks out furthest to the right, for a failure message that says where to look. */
function widest(page: Page): Promise<string> {
  return page.evaluate(() => {
    let worst: Element | null = null;
    let right = document.documentElement.clientWidth;
    for (const el of Array.from(document.querySelectorAll("body *"))) {
      const r = el.getBoundingClientRect().right;
      // The deepest of those that reach furthest: the one to fix, not the ancestors it widened.
      if (r > right || (worst !== null && r === right && worst.contains(el))) {
        right = r;
        worst = el;
      }
    }
    if (!worst) return "nothing sticks out";
    const id = worst.id ? `#${worst.id}` : "";
    const cls = worst.getAttribute("class") ? `.${worst.getAttribute("class")!.split(" ").join(".")}` : "";
    return `${worst.tagName.toLowerCase()}${id}${cls} ends at ${Math.round(right)}`;
  });
}

