// End to end, a per-user OAuth connection: a real listening Switchboard, the OAuth upstream fixture on
// loopback, each user in their own Chromium context connecting their own account from "Connected
// accounts", and real MCP clients with each user's API key calling an agent's `whoami`. Each call carries
// its caller's identity upstream; a user who never connected gets a tool error naming the page where they
// can, connects there, and the same session then works; a revoked refresh token shows "needs
// re-authorization" to that user and to an admin, without stopping anyone else, until they reconnect.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { User } from "../../src/domain/access/users.ts";
import { agentCreate } from "../../src/operations/agents.ts";
import { connectionCreate } from "../../src/operations/connections.ts";
import { runOperation, sessionCaller, type ObjectSchema, type Operation } from "../../src/operations/registry.ts";
import type { RunningServer } from "../../src/server.ts";
import { startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { mintKey } from "../support/key-harness.ts";
import { approveAtFixture, callText, discovered, keyClient, leaveFor, SeenTokens, whoami } from "../support/upstream-oauth-browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// Sign-ins at another server and back take a few page loads each.
setDefaultTimeout(60_000);

if (!haveChromium && !process.env.CI) console.warn(`skipping the per-user upstream OAuth end-to-end tests: ${CHROMIUM_MISSING}`);

type Person = { user: User; page: Page; problems: string[]; client?: Client };

describe.skipIf(!haveChromium)("a per-user OAuth connection, end to end", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let upstream: OAuthUpstream;
  let browser: Browser;
  let seen: SeenTokens;
  let connectionId = "";
  let agentId = "";
  /** An admin who connects (discovery uses her account), a member who connects, a member who does not at first, an admin who only looks. */
  let alice: Person;
  let bob: Person;
  let carol: Person;
  let dana: Person;
  const clients: Client[] = [];

  const run = <I extends ObjectSchema, O extends ObjectSchema>(user: User, op: Operation<I, O>, input: unknown) =>
    runOperation(op, { deps: server.deps, caller: sessionCaller(user, server.deps.catalog), now: new Date(), origin: { face: "admin", address: "127.0.0.1" } }, input);

  async function person(role: "admin" | "member"): Promise<Person> {
    const user = await insertUser(server.deps, role);
    const { page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, user, 600_000));
    return { user, page, problems };
  }

  /** A client of the agent with a key of the person's own, granted whoami. */
  async function agentClient(p: Person): Promise<Client> {
    const { token } = await mintKey(server.deps, p.user, { [agentId]: ["whoami"] }, { name: "script" });
    const client = await keyClient(`${server.url}/mcp/agent/${agentId}`, token);
    clients.push(client);
    return client;
  }

  const accountsUrl = () => `${server.url}/admin/connected-accounts#${connectionId}`;
  const backUrl = () => `${server.url}/admin/connected-accounts?oauth=connected&connection=${connectionId}#${connectionId}`;

  /** On Connected accounts, the person clicks `button` on the connection's row and signs in at the fixture as `account`. */
  async function connect(p: Person, account: string, button: "Connect" | "Reconnect"): Promise<void> {
    await p.page.goto(accountsUrl());
    const row = p.page.locator(`tr[id="${connectionId}"]`);
    await leaveFor(p.page, upstream, () => row.getByRole("button", { name: button, exact: true }).click());
    await approveAtFixture(p.page, upstream, account, backUrl());
    expect(await p.page.getByRole("status").filter({ hasText: `Connected as ${account}.` }).isVisible()).toBe(true);
    expect(await row.textContent()).toContain(account);
    await seen.read(connectionId, p.user.id);
    await seen.expectNoneIn(p.page);
  }

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    upstream = await startOAuthUpstream({ cimd: false });
    browser = await launchChromium();
    seen = new SeenTokens(server);
    [alice, bob, carol, dana] = [await person("admin"), await person("member"), await person("member"), await person("admin")];
    connectionId = (await run(dana.user, connectionCreate, { slug: "mine", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauth_mode: "per_user" })).id;
  });

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await browser?.close();
    await upstream?.close();
    await running?.cleanup();
  });

  test("alice and bob each connect their own account, and each one's key calls whoami through the agent as themselves", async () => {
    await connect(alice, "alice-up", "Connect");
    // Per-user discovery uses an admin's own account: alice's.
    await discovered(server, connectionId, "whoami");
    await connect(bob, "bob-up", "Connect");
    agentId = (await run(dana.user, agentCreate, { slug: "mine-agent", connections: [{ connection: connectionId, tools: ["whoami"] }] })).id;

    alice.client = await agentClient(alice);
    bob.client = await agentClient(bob);
    const before = upstream.stats.toolCalls.length;
    expect(await whoami(alice.client)).toBe("alice-up");
    expect(await whoami(bob.client)).toBe("bob-up");
    expect(await whoami(alice.client)).toBe("alice-up");
    expect(upstream.stats.toolCalls.slice(before)).toEqual([
      { tool: "whoami", user: "alice-up" },
      { tool: "whoami", user: "bob-up" },
      { tool: "whoami", user: "alice-up" },
    ]);

    // The connection's own endpoint carries the caller's account too.
    const { token } = await mintKey(server.deps, bob.user, { [connectionId]: ["*"] }, { name: "direct" });
    const direct = await keyClient(`${server.url}/mcp/${connectionId}`, token);
    clients.push(direct);
    expect(await whoami(direct)).toBe("bob-up");
    expect(upstream.stats.toolCalls.at(-1)).toEqual({ tool: "whoami", user: "bob-up" });

    // An admin's connection page lists both accounts; never a token.
    await dana.page.goto(`${server.url}/admin/connections/${connectionId}`);
    const users = await dana.page.textContent("#oauth-users");
    expect(users).toContain(alice.user.email);
    expect(users).toContain("alice-up");
    expect(users).toContain(bob.user.email);
    expect(users).toContain("bob-up");
    await seen.expectNoneIn(dana.page);
    for (const p of [alice, bob, dana]) expect(p.problems).toEqual([]);
  });

  test("carol, never connected, gets a tool error naming the page where she can; she connects there and the same session works", async () => {
    carol.client = await agentClient(carol);
    const calls = upstream.stats.toolCalls.length;
    const failed = await callText(carol.client, "whoami");
    expect(failed.isError).toBe(true);
    expect(failed.text).toContain("You have not connected your account");
    expect(failed.text).toContain(accountsUrl());
    // Never someone else's token: the upstream saw no call for her.
    expect(upstream.stats.toolCalls.length).toBe(calls);

    // The link in the error, opened in her browser: the connection's row, with Connect.
    const link = /https?:\/\/\S+#conn_[0-9a-f-]{36}/.exec(failed.text)![0];
    await carol.page.goto(link);
    const row = carol.page.locator(`tr[id="${connectionId}"]`);
    expect(await row.textContent()).toContain("not connected");
    expect(await row.getByRole("button", { name: "Connect", exact: true }).isVisible()).toBe(true);
    await leaveFor(carol.page, upstream, () => row.getByRole("button", { name: "Connect", exact: true }).click());
    await approveAtFixture(carol.page, upstream, "carol-up", backUrl());
    expect(await carol.page.getByRole("status").filter({ hasText: "Connected as carol-up." }).isVisible()).toBe(true);
    await seen.read(connectionId, carol.user.id);
    await seen.expectNoneIn(carol.page);

    expect(await whoami(carol.client)).toBe("carol-up");
    expect(upstream.stats.toolCalls.at(-1)).toEqual({ tool: "whoami", user: "carol-up" });
    expect(carol.problems).toEqual([]);
  });

  test("alice's revoked refresh token: her call says to reconnect, her page and an admin's show needs re-authorization, bob goes on; she reconnects", async () => {
    upstream.revokeRefreshTokens("alice-up");
    upstream.expireAccessTokens();
    const failed = await callText(alice.client!, "whoami");
    expect(failed.isError).toBe(true);
    expect(failed.text).toContain("needs to be connected again");
    expect(failed.text).toContain(accountsUrl());

    // Bob's and carol's expired tokens are refreshed; their calls go on as themselves.
    const refreshes = upstream.stats.tokenRequests.refresh_token;
    expect(await whoami(bob.client!)).toBe("bob-up");
    expect(await whoami(carol.client!)).toBe("carol-up");
    expect(upstream.stats.tokenRequests.refresh_token).toBeGreaterThan(refreshes);

    await alice.page.goto(accountsUrl());
    const row = alice.page.locator(`tr[id="${connectionId}"]`);
    expect(await row.locator("[role=alert]").textContent()).toContain("Needs re-authorization");
    expect(await row.textContent()).toContain("needs re-authorization");
    await seen.expectNoneIn(alice.page);

    await dana.page.goto(`${server.url}/admin/connections/${connectionId}`);
    const aliceRow = dana.page.locator("#oauth-users tr", { hasText: alice.user.email });
    expect(await aliceRow.textContent()).toContain("needs re-authorization");
    const bobRow = dana.page.locator("#oauth-users tr", { hasText: bob.user.email });
    expect(await bobRow.textContent()).not.toContain("needs re-authorization");
    await seen.expectNoneIn(dana.page);

    await connect(alice, "alice-up", "Reconnect");
    expect(await alice.page.locator(`tr[id="${connectionId}"] [role=alert]`).count()).toBe(0);
    expect(await whoami(alice.client!)).toBe("alice-up");
    expect(await whoami(bob.client!)).toBe("bob-up");
    for (const p of [alice, bob, carol, dana]) expect(p.problems).toEqual([]);
  });
});
