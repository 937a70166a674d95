// End to end, a shared OAuth connection: a real listening Switchboard, the OAuth upstream fixture on
// loopback with two-second access tokens, Chromium for the admin's pages and the fixture's sign-in, and
// real MCP clients with API keys. The admin creates the connection in the form and authorizes it as
// "teambot"; an agent with `whoami` answers "teambot" to two users' keys (and so does /mcp/<connection>);
// calls across several token lifetimes and after the upstream's 401 never fail (refreshed); a revoked
// refresh token turns the next call into a clear tool error and the page into "needs re-authorization",
// until the admin authorizes again. No page ever shows a token; no page has a console error.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { User } from "../../src/domain/access/users.ts";
import type { RunningServer } from "../../src/server.ts";
import { startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { mintKey } from "../support/key-harness.ts";
import { approveAtFixture, callText, discovered, keyClient, leaveFor, pastExpiry, SeenTokens, whoami } from "../support/upstream-oauth-browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// Sign-ins at another server and back, and waits across token lifetimes, take seconds.
setDefaultTimeout(60_000);

if (!haveChromium && !process.env.CI) console.warn(`skipping the shared upstream OAuth end-to-end tests: ${CHROMIUM_MISSING}`);

describe.skipIf(!haveChromium)("a shared OAuth connection, end to end", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let upstream: OAuthUpstream;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let admin: User;
  let member: User;
  let seen: SeenTokens;
  let connectionId = "";
  let agentId = "";
  const clients: Client[] = [];
  /** The admin's and the member's clients of the agent. */
  let adminClient: Client;
  let memberClient: Client;

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    upstream = await startOAuthUpstream({ cimd: false });
    admin = await insertUser(server.deps, "admin");
    member = await insertUser(server.deps, "member");
    seen = new SeenTokens(server);
    browser = await launchChromium();
    ({ context, page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, admin, 600_000)));
  });

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await browser?.close();
    await upstream?.close();
    await running?.cleanup();
  });

  const connectionPage = () => `${server.url}/admin/connections/${connectionId}`;

  test("the admin creates the connection in the form, authorizes it as teambot, and comes back connected with its tools", async () => {
    // Tokens live two seconds from the first authorization on: every later test runs across many lifetimes.
    upstream.setAccessTtl(2);
    await page.goto(`${server.url}/admin/connections/new`);
    await page.fill("#c-slug", "team");
    await page.selectOption("#c-transport", "http");
    await page.fill("#c-url", upstream.mcpUrl);
    await page.selectOption("#c-auth", "oauth");
    await page.getByLabel("Shared: one account an admin authorizes for every caller").check();
    await Promise.all([page.waitForURL(/\/admin\/connections\/conn_[0-9a-f-]{36}\?created=1$/), page.click("text=Create connection")]);
    connectionId = /conn_[0-9a-f-]{36}/.exec(page.url())![0];
    expect(await page.textContent("#oauth")).toContain("Not authorized yet");

    await leaveFor(page, upstream, () => page.getByRole("button", { name: "Authorize", exact: true }).click());
    await approveAtFixture(page, upstream, "teambot", `${connectionPage()}?oauth=connected#oauth`);
    expect(await page.getByRole("status").filter({ hasText: "Connected as teambot." }).isVisible()).toBe(true);
    expect(await page.textContent("#oauth-shared")).toMatch(/Connected as teambot, expires \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    const tokens = await seen.read(connectionId, "shared");
    expect(tokens?.refresh).not.toBeNull();
    await seen.expectNoneIn(page);

    // The gateway discovers the tools with the shared token; the page it came back to lists them, without a reload.
    await page.locator("#discovery", { hasText: "whoami" }).waitFor();
    expect(page.url()).toBe(`${connectionPage()}?oauth=connected#oauth`);
    await discovered(server, connectionId, "whoami");
    expect(await page.textContent("#discovery")).toContain("The upstream user the access token belongs to");
    await seen.expectNoneIn(page);
    expect(problems).toEqual([]);
  });

  test("an agent with whoami, built in the admin, answers teambot to two users' keys; so does the connection's own endpoint", async () => {
    await page.goto(`${server.url}/admin/agents/new`);
    await page.fill("#a-slug", "bot");
    await page.check('input[aria-label="Select team/whoami"]');
    await Promise.all([page.waitForURL(/\/admin\/agents\/agent_[0-9a-f-]{36}/), page.click("text=Create agent")]);
    agentId = /agent_[0-9a-f-]{36}/.exec(page.url())![0];

    const adminKey = (await mintKey(server.deps, admin, { [agentId]: ["whoami"] }, { name: "admin script" })).token;
    const memberKey = (await mintKey(server.deps, member, { [agentId]: ["whoami"] }, { name: "member script" })).token;
    adminClient = await keyClient(`${server.url}/mcp/agent/${agentId}`, adminKey);
    memberClient = await keyClient(`${server.url}/mcp/agent/${agentId}`, memberKey);
    clients.push(adminClient, memberClient);
    expect((await adminClient.listTools()).tools.map((t) => t.name)).toEqual(["whoami"]);
    const before = upstream.stats.toolCalls.length;
    expect(await whoami(adminClient)).toBe("teambot");
    expect(await whoami(memberClient)).toBe("teambot");

    const connectionKey = (await mintKey(server.deps, member, { [connectionId]: ["*"] }, { name: "connection script" })).token;
    const direct = await keyClient(`${server.url}/mcp/${connectionId}`, connectionKey);
    clients.push(direct);
    expect(await whoami(direct)).toBe("teambot");
    // The fixture saw three whoami calls, all as the shared account.
    expect(upstream.stats.toolCalls.slice(before)).toEqual([
      { tool: "whoami", user: "teambot" },
      { tool: "whoami", user: "teambot" },
      { tool: "whoami", user: "teambot" },
    ]);
    await page.goto(`${server.url}/admin/agents/${agentId}`);
    await seen.expectNoneIn(page);
    expect(problems).toEqual([]);
  });

  test("calls across more than two token lifetimes all succeed, refreshed without a failed call", async () => {
    const refreshesBefore = upstream.stats.tokenRequests.refresh_token;
    const unauthorizedBefore = upstream.stats.unauthorized;
    for (let lifetime = 0; lifetime < 3; lifetime++) {
      const tokens = await seen.read(connectionId, "shared");
      // Wait until the token the last call used is expired by the fixture's clock, then call again.
      await pastExpiry(tokens!.expiresAt);
      expect(await whoami(lifetime % 2 === 0 ? adminClient : memberClient)).toBe("teambot");
      const after = await seen.read(connectionId, "shared");
      expect(after!.access).not.toBe(tokens!.access);
    }
    expect(upstream.stats.tokenRequests.refresh_token).toBeGreaterThanOrEqual(refreshesBefore + 3);
    // Refreshed before use, not after the upstream refused an expired token.
    expect(upstream.stats.unauthorized).toBe(unauthorizedBefore);
    await page.goto(connectionPage());
    expect(await page.textContent("#oauth-shared")).toContain("Connected as teambot, expires");
    await seen.expectNoneIn(page);
  });

  test("a token the upstream refuses (401) is refreshed and the call still succeeds", async () => {
    // Long-lived tokens, so Switchboard has no reason to refresh before using it: only the 401 can make it.
    upstream.setAccessTtl(3600);
    const held = await seen.read(connectionId, "shared");
    await pastExpiry(held!.expiresAt);
    expect(await whoami(adminClient)).toBe("teambot");
    const fresh = await seen.read(connectionId, "shared");
    expect(fresh!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 600_000);

    upstream.expireAccessTokens();
    const refreshes = upstream.stats.tokenRequests.refresh_token;
    const unauthorized = upstream.stats.unauthorized;
    expect(await whoami(memberClient)).toBe("teambot");
    expect(upstream.stats.unauthorized).toBeGreaterThan(unauthorized);
    expect(upstream.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect((await seen.read(connectionId, "shared"))!.access).not.toBe(fresh!.access);
  });

  test("a revoked refresh token: a clear tool error naming the connection page, 'needs re-authorization' there, until the admin authorizes again", async () => {
    upstream.revokeRefreshTokens("teambot");
    upstream.expireAccessTokens();
    const failed = await callText(memberClient, "whoami");
    expect(failed.isError).toBe(true);
    expect(failed.text).toContain("needs re-authorization");
    expect(failed.text).toContain(`${server.url}/admin/connections/${connectionId}#oauth`);
    // The other caller gets the same answer, never a stale token.
    expect((await callText(adminClient, "whoami")).isError).toBe(true);

    await page.goto(connectionPage());
    const warning = page.locator("#oauth-shared [role=alert]");
    expect(await warning.textContent()).toContain("The shared account needs re-authorization");
    await seen.expectNoneIn(page);

    await leaveFor(page, upstream, () => page.getByRole("button", { name: "Re-authorize", exact: true }).click());
    await approveAtFixture(page, upstream, "teambot", `${connectionPage()}?oauth=connected#oauth`);
    expect(await page.getByRole("status").filter({ hasText: "Connected as teambot." }).isVisible()).toBe(true);
    expect(await page.locator("#oauth-shared [role=alert]").count()).toBe(0);
    await seen.read(connectionId, "shared");
    await seen.expectNoneIn(page);
    // Both sessions stay open and work again.
    expect(await whoami(memberClient)).toBe("teambot");
    expect(await whoami(adminClient)).toBe("teambot");
    expect(problems).toEqual([]);
    await context.close();
  });
});
