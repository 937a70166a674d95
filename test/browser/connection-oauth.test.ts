// The admin's OAuth buttons in Chromium against a real listening Switchboard and the OAuth upstream
// fixture: the form shows only the chosen authentication's fields; an admin's Authorize leaves for the
// authorization server's sign-in page (past the admin's form-action policy), and its callback comes
// back to the connection page saying who it is connected as; a member connects their own account from
// Connected accounts, and finds the row the gateway's error links to.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import type { User } from "../../src/domain/access/users.ts";
import { connectionCreate } from "../../src/operations/connections.ts";
import { runOperation, sessionCaller, type ObjectSchema, type Operation } from "../../src/operations/registry.ts";
import type { RunningServer } from "../../src/server.ts";
import { startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A sign-in at another server and back takes a few page loads.
setDefaultTimeout(30_000);

if (!haveChromium && !process.env.CI) console.warn(`skipping the connection OAuth browser tests: ${CHROMIUM_MISSING}`);

describe.skipIf(!haveChromium)("OAuth connections in the admin, in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let upstream: OAuthUpstream;
  let browser: Browser;
  let admin: User;
  let member: User;
  let shared = "";
  let perUser = "";

  const run = <I extends ObjectSchema, O extends ObjectSchema>(user: User, op: Operation<I, O>, input: unknown) =>
    runOperation(op, { deps: server.deps, caller: sessionCaller(user, server.deps.catalog), now: new Date(), origin: { face: "admin", address: "127.0.0.1" } }, input);

  beforeAll(async () => {
    // Loopback http: the fixture accepts Switchboard's callback there (RFC 8252 §7.3).
    running = await startTestServer();
    server = running.server;
    upstream = await startOAuthUpstream({ cimd: false });
    admin = await insertUser(server.deps, "admin");
    member = await insertUser(server.deps, "member");
    shared = (await run(admin, connectionCreate, { slug: "team", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauth_mode: "shared" })).id;
    perUser = (await run(admin, connectionCreate, { slug: "mine", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauth_mode: "per_user" })).id;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await upstream?.close();
    await running?.cleanup();
  });

  test("the form shows the token for static authentication and whose account for OAuth", async () => {
    const { context, page, problems } = await signedInPage(browser, running!.url, await sessionCookieFor(server.deps, admin, 600_000));
    await page.goto(`${running!.url}/admin/connections/new`);
    await expect(page.locator("#c-token").isVisible()).resolves.toBe(true);
    await expect(page.getByLabel("Per user: each user connects their own account").isVisible()).resolves.toBe(false);
    await page.getByLabel("Authentication").selectOption("oauth");
    await expect(page.locator("#c-token").isVisible()).resolves.toBe(false);
    await expect(page.getByLabel("Per user: each user connects their own account").isVisible()).resolves.toBe(true);
    await page.getByText("Advanced: client id, secret and scopes").click();
    await expect(page.locator("#c-callback-url").textContent()).resolves.toBe(`${running!.url}/oauth/upstream/callback`);
    expect(problems).toEqual([]);
    await context.close();
  });

  test("an admin authorizes the shared account at the server and comes back connected", async () => {
    const { context, page, problems } = await signedInPage(browser, running!.url, await sessionCookieFor(server.deps, admin, 600_000));
    await page.goto(`${running!.url}/admin/connections/${shared}`);
    await expect(page.locator("#oauth").textContent()).resolves.toContain("Not authorized yet");
    await Promise.all([page.waitForURL(`${upstream.issuer}/authorize**`), page.getByRole("button", { name: "Authorize", exact: true }).click()]);
    await page.getByLabel("Username").fill("alice");
    await Promise.all([page.waitForURL(`${running!.url}/admin/connections/${shared}?oauth=connected#oauth`), page.getByRole("button", { name: "Approve" }).click()]);
    await expect(page.getByRole("status").filter({ hasText: "Connected as alice." }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole("button", { name: "Re-authorize" }).isVisible()).resolves.toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  test("a member connects their own account from Connected accounts", async () => {
    const { context, page, problems } = await signedInPage(browser, running!.url, await sessionCookieFor(server.deps, member, 600_000));
    // Where the gateway's "connect your account" error sends them.
    await page.goto(`${running!.url}/admin/connected-accounts#${perUser}`);
    const row = page.locator(`tr[id="${perUser}"]`);
    await expect(row.textContent()).resolves.toContain("not connected");
    await Promise.all([page.waitForURL(`${upstream.issuer}/authorize**`), row.getByRole("button", { name: "Connect" }).click()]);
    await page.getByLabel("Username").fill("bob");
    await Promise.all([page.waitForURL(`${running!.url}/admin/connected-accounts?oauth=connected&connection=${perUser}#${perUser}`), page.getByRole("button", { name: "Approve" }).click()]);
    await expect(page.getByRole("status").filter({ hasText: "Connected as bob." }).isVisible()).resolves.toBe(true);
    await expect(row.textContent()).resolves.toContain("bob");
    await expect(row.getByRole("button", { name: "Reconnect" }).isVisible()).resolves.toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
