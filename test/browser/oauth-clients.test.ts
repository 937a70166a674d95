// OAuth end to end with real clients against a real listening Switchboard: the MCP TypeScript SDK's
// OAuthClientProvider registering itself (DCR) and naming a client ID metadata document (CIMD), and
// mcp-remote as Claude Desktop runs it, each sent through a headless Chromium that signs in and
// approves on the consent page, then listing and calling an agent's (or a connection's) tools; the
// SDK refreshing (a refused token, a really expired one) and registering again after its client was
// deleted; then what must not work (a token on another agent, a replayed refresh token, a revoked
// grant, a wrong PKCE verifier, a foreign redirect URI, a metadata document naming another client_id,
// a loopback document without the test switch), and API keys on the same URLs and the key-only ones.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { listGrants } from "../../src/domain/oauth/authorizations.ts";
import { CHROMIUM_MISSING, haveChromium, launchChromium, watchForProblems } from "../support/browser.ts";
import { approveButton, denyButton, openConsent, openRefused, type Person } from "../support/oauth-browser.ts";
import { waitUntil } from "../support/gateway-harness.ts";
import { startMcpRemote, type McpRemote } from "../support/oauth-mcp-remote.ts";
import { connectThroughSignIn, connectWith, MemoryOAuthProvider, type Connected } from "../support/oauth-sdk.ts";
import {
  authorizationUrl,
  pkcePair,
  postOAuthForm,
  startCallbackServer,
  startMetadataServer,
  startOAuthWorld,
  type CallbackServer,
  type MetadataServer,
  type OAuthWorld,
} from "../support/oauth-server.ts";

// Sign-ins in a real browser and a spawned mcp-remote take seconds, not the default 5 s budget.
setDefaultTimeout(60_000);

if (!haveChromium && !process.env.CI) console.warn(`skipping the OAuth client tests: ${CHROMIUM_MISSING}`);

const MCP_ACCEPT = "application/json, text/event-stream";
const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };

/** A raw initialize to an MCP endpoint with an optional bearer token: the status and the challenge. */
async function rawInitialize(url: string, token?: string): Promise<{ status: number; challenge: string | null }> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: MCP_ACCEPT };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(INITIALIZE) });
  await res.body?.cancel();
  return { status: res.status, challenge: res.headers.get("www-authenticate") };
}

/** The sorted tool names a connected client lists, and the text of one echo call. */
async function listAndEcho(client: Client, text: string): Promise<{ tools: string[]; echoed: string }> {
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: "echo", arguments: { text } });
  const content = result.content as { type: string; text: string }[];
  return { tools: tools.map((t) => t.name).sort(), echoed: content[0]?.text ?? "" };
}

describe.skipIf(!haveChromium)("OAuth with real clients", () => {
  let world: OAuthWorld;
  let base: string;
  let person: Person;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let callback: CallbackServer;
  let metadata: MetadataServer;
  let problems: string[];
  const remotes: McpRemote[] = [];
  const connections: Connected[] = [];
  /** The SDK client that registered itself; its tokens are used by the tests after the sign-ins. */
  let dcr: MemoryOAuthProvider;
  /** The SDK client that named a metadata document. */
  let cimd: MemoryOAuthProvider;
  /** The SDK client signed in for the connection. */
  let forConnection: MemoryOAuthProvider;

  beforeAll(async () => {
    world = await startOAuthWorld({ allowLoopbackClientMetadata: true });
    base = world.config.server.public_url;
    person = { email: world.admin.email, password: world.password };
    callback = startCallbackServer();
    metadata = startMetadataServer();
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    problems = watchForProblems(page, { minStatus: 500, origin: base });
  });

  afterAll(async () => {
    for (const c of connections) await c.client.close().catch(() => {});
    for (const r of remotes) await r.stop();
    await browser?.close();
    callback?.stop();
    metadata?.stop();
    await world?.cleanup();
  });

  test("an unauthenticated MCP request is told where to discover the authorization server", async () => {
    const { status, challenge } = await rawInitialize(world.agentUrl);
    expect(status).toBe(401);
    expect(challenge).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource/mcp/agent/one"`);
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp/agent/one`)).json()) as Record<string, unknown>;
    expect(prm.resource).toBe(world.agentUrl);
    expect(prm.authorization_servers).toEqual([base]);
  });

  test("the SDK client registers itself (DCR), the user signs in and approves, and it lists and calls the agent's tools", async () => {
    dcr = new MemoryOAuthProvider({ redirectUri: callback.redirectUri, clientName: "E2E registered client" });
    let signedIn = false;
    let consentText = "";
    const connected = await connectThroughSignIn(world.agentUrl, dcr, async (url) => {
      expect(`${url.origin}${url.pathname}`).toBe(`${base}/oauth/authorize`);
      expect(url.searchParams.get("resource")).toBe(world.agentUrl);
      expect(url.searchParams.get("code_challenge_method")).toBe("S256");
      signedIn = await openConsent(page, url.href, person, base);
      consentText = (await page.textContent("body")) ?? "";
      const redirected = callback.next();
      await approveButton(page).click();
      const redirect = await redirected;
      // RFC 6749 §4.1.2 and RFC 9207: the code, the client's state unchanged, and the issuer.
      expect(redirect.searchParams.get("state")).toBe(url.searchParams.get("state"));
      expect(redirect.searchParams.get("iss")).toBe(base);
      expect(redirect.searchParams.get("error")).toBeNull();
      return redirect.searchParams.get("code")!;
    });
    connections.push(connected);
    // The first sign-in went through Switchboard's sign-in page; the consent page named the client, where it sends the code, and the agent.
    expect(signedIn).toBe(true);
    expect(consentText).toContain("E2E registered client");
    expect(consentText).toContain(`sent back to ${new URL(callback.redirectUri).host}`);
    expect(consentText).toContain("(one)");
    // The tools agent one exposes, and none it does not.
    expect(consentText).toContain("echo");
    expect(consentText).toContain("add");
    expect(consentText).not.toContain("whoami");
    expect(dcr.clientId).toMatch(/^sbc_/);
    const tokens = dcr.tokens()!;
    expect(tokens.access_token).toStartWith("mcp_at_");
    expect(tokens.refresh_token).toStartWith("mcp_rt_");
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(await listAndEcho(connected.client, "hello over OAuth")).toEqual({ tools: ["add", "echo"], echoed: "hello over OAuth" });
    const sum = await connected.client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    expect((sum.content as { text: string }[])[0]!.text).toBe("5");
  });

  test("the SDK client names a client ID metadata document (CIMD): Switchboard fetches it, and the signed-in user approves", async () => {
    const documentUrl = metadata.urlOf("/e2e-client.json");
    metadata.serve("/e2e-client.json", {
      client_id: documentUrl,
      client_name: "E2E document client",
      redirect_uris: [callback.redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
    cimd = new MemoryOAuthProvider({ redirectUri: callback.redirectUri, clientName: "E2E document client", clientMetadataUrl: documentUrl });
    let signedIn = true;
    let consentText = "";
    const connected = await connectThroughSignIn(world.agentUrl, cimd, async (url) => {
      expect(url.searchParams.get("client_id")).toBe(documentUrl);
      signedIn = await openConsent(page, url.href, person, base);
      consentText = (await page.textContent("body")) ?? "";
      const redirected = callback.next();
      await approveButton(page).click();
      const redirect = await redirected;
      expect(redirect.searchParams.get("error")).toBeNull();
      return redirect.searchParams.get("code")!;
    });
    connections.push(connected);
    // The admin session of the first sign-in is still there: straight to the consent page.
    expect(signedIn).toBe(false);
    // The name comes from the document Switchboard fetched, not from anything the client sent.
    expect(metadata.requests).toContain("/e2e-client.json");
    expect(consentText).toContain("E2E document client");
    expect(cimd.clientId).toBe(documentUrl);
    expect(await listAndEcho(connected.client, "hello by document")).toEqual({ tools: ["add", "echo"], echoed: "hello by document" });
  });

  test("an SDK client signs in for a connection (/mcp/<slug>): it sees the whole upstream, and its token is refused on an agent", async () => {
    const connectionUrl = `${base}/mcp/alpha`;
    const provider = new MemoryOAuthProvider({ redirectUri: callback.redirectUri, clientName: "E2E connection client" });
    forConnection = provider;
    let consentText = "";
    const connected = await connectThroughSignIn(connectionUrl, provider, async (url) => {
      expect(url.searchParams.get("resource")).toBe(connectionUrl);
      await openConsent(page, url.href, person, base);
      consentText = (await page.textContent("body")) ?? "";
      const redirected = callback.next();
      await approveButton(page).click();
      return (await redirected).searchParams.get("code")!;
    });
    connections.push(connected);
    expect(consentText).toContain("connection");
    expect(consentText).toContain("alpha");
    const { tools } = await connected.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "add", "whoami"]));
    const echoed = await connected.client.callTool({ name: "echo", arguments: { text: "through the connection" } });
    expect((echoed.content as { text: string }[])[0]!.text).toBe("through the connection");
    const onAgent = await rawInitialize(world.agentUrl, provider.tokens()!.access_token);
    expect(onAgent.status).toBe(401);
    expect(onAgent.challenge).toContain('error="invalid_token"');
  });

  test("mcp-remote, as Claude Desktop runs it: registers, prints the sign-in URL, gets the code on its own callback, then proxies the agent", async () => {
    // Exactly the README's snippet for a server on this machine: the URL alone (mcp-remote allows plain http to 127.0.0.1).
    const remote = startMcpRemote(world.agentUrl);
    remotes.push(remote);
    const url = await Promise.race([remote.authorizationUrl(), remote.exited.then((code) => Promise.reject(new Error(`mcp-remote exited (${code}): ${remote.stderr.join("\n")}`)))]);
    expect(new URL(url).searchParams.get("resource")).toBe(world.agentUrl);
    expect(await openConsent(page, url, person, base)).toBe(false);
    // The redirect goes to mcp-remote's own loopback listener; the page arriving there is the event.
    await Promise.all([page.waitForURL((u) => u.pathname === "/oauth/callback" && u.origin !== base), approveButton(page).click()]);
    expect(new URL(page.url()).searchParams.get("iss")).toBe(base);
    await remote.waitForStderr(/Proxy established successfully/);
    const init = await remote.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "claude-desktop-e2e", version: "1" } });
    expect(init.error).toBeUndefined();
    remote.notify("notifications/initialized");
    const list = await remote.request("tools/list", {});
    expect((list.result?.tools as { name: string }[]).map((t) => t.name).sort()).toEqual(["add", "echo"]);
    const call = await remote.request("tools/call", { name: "add", arguments: { a: 20, b: 22 } });
    expect((call.result?.content as { text: string }[])[0]!.text).toBe("42");
    // Nothing it printed for the user is a failure.
    expect(remote.stderr.join("\n")).not.toMatch(/Fatal error|RegistrationRejected|invalid_/);
  });

  test("an access token works only for the agent it was issued for: another agent, the management endpoint and the key-only URL refuse it", async () => {
    const token = cimd.tokens()!.access_token;
    expect((await rawInitialize(world.agentUrl, token)).status).toBe(200);
    const other = await rawInitialize(world.otherAgentUrl, token);
    expect(other.status).toBe(401);
    expect(other.challenge).toContain('error="invalid_token"');
    expect((await rawInitialize(`${base}/mcp/agent/${world.otherAgentId}`, token)).status).toBe(401);
    expect((await rawInitialize(`${base}/mcp/self`, token)).status).toBe(401);
    expect((await rawInitialize(`${base}/mcp-key/agent/${world.agentId}`, token)).status).toBe(401);
    // The same agent by its id rather than its slug is still the resource the token is bound to.
    expect((await rawInitialize(`${base}/mcp/agent/${world.agentId}`, token)).status).toBe(200);
  });

  test("a refused access token makes the SDK refresh: the refresh token rotates and the call goes through", async () => {
    const before = dcr.tokens()!;
    const saved = dcr.savedTokens.length;
    // The token the client holds is no longer accepted (as after its expiry): the server answers 401
    // invalid_token, and the SDK presents its refresh token at the token endpoint by itself.
    dcr.setTokens({ ...before, access_token: `mcp_at_${"0".repeat(49)}` });
    const connected = await connectWith(world.agentUrl, dcr);
    connections.push(connected);
    expect(await listAndEcho(connected.client, "after refresh")).toEqual({ tools: ["add", "echo"], echoed: "after refresh" });
    expect(dcr.savedTokens.length).toBe(saved + 1);
    const after = dcr.tokens()!;
    expect(after.access_token).toStartWith("mcp_at_");
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toStartWith("mcp_rt_");
    expect(after.refresh_token).not.toBe(before.refresh_token);
    // The access token issued before the refresh still works until its expiry (only reuse revokes the family).
    expect((await rawInitialize(world.agentUrl, before.access_token)).status).toBe(200);
  });

  test("a replayed refresh token is invalid_grant, and the family's newest tokens stop too; the SDK then asks for a new sign-in", async () => {
    const spent = dcr.savedTokens.at(-2)!.refresh_token!;
    const newest = dcr.tokens()!;
    const replay = await postOAuthForm(base, "token", { grant_type: "refresh_token", refresh_token: spent, client_id: dcr.clientId! });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect(replay.body.access_token).toBeUndefined();
    expect(replay.headers.get("cache-control")).toContain("no-store");
    // Reuse detection (OAuth 2.1 §4.3.1): whoever holds the newest tokens may be the thief; all stop.
    const stopped = await rawInitialize(world.agentUrl, newest.access_token);
    expect(stopped.status).toBe(401);
    expect(stopped.challenge).toContain('error="invalid_token"');
    const newestRefresh = await postOAuthForm(base, "token", { grant_type: "refresh_token", refresh_token: newest.refresh_token!, client_id: dcr.clientId! });
    expect(newestRefresh.status).toBe(400);
    expect(newestRefresh.body.error).toBe("invalid_grant");
    // The SDK client holding them: 401, its refresh refused, so it sends the user back to the consent page.
    const asked = dcr.authorizationUrls.length;
    const refused = await connectWith(world.agentUrl, dcr).then(
      (c) => {
        connections.push(c);
        return null;
      },
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect(dcr.authorizationUrls.length).toBe(asked + 1);
  });

  test("revoking a token at /oauth/revoke (RFC 7009) stops the grant: the next call is 401", async () => {
    const tokens = cimd.tokens()!;
    const revoked = await postOAuthForm(base, "revoke", { token: tokens.refresh_token!, token_type_hint: "refresh_token", client_id: cimd.clientId! });
    expect(revoked.status).toBe(200);
    const after = await rawInitialize(world.agentUrl, tokens.access_token);
    expect(after.status).toBe(401);
    expect(after.challenge).toContain('error="invalid_token"');
    const refresh = await postOAuthForm(base, "token", { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: cimd.clientId! });
    expect(refresh.body.error).toBe("invalid_grant");
    // Revoking an unknown token is not an error (RFC 7009 §2.2): nothing to tell an attacker.
    expect((await postOAuthForm(base, "revoke", { token: `mcp_rt_${"1".repeat(49)}`, client_id: cimd.clientId! })).status).toBe(200);
  });

  test("a wrong PKCE verifier gets invalid_grant and no token, and spends the code", async () => {
    const { challenge, verifier } = pkcePair();
    await openConsent(page, authorizationUrl(base, { clientId: dcr.clientId!, redirectUri: callback.redirectUri, challenge, resource: world.agentUrl, state: "pkce" }), person, base);
    const redirected = callback.next();
    await approveButton(page).click();
    const code = (await redirected).searchParams.get("code")!;
    expect(code).toStartWith("mcp_ac_");
    const wrong = await postOAuthForm(base, "token", {
      grant_type: "authorization_code",
      code,
      code_verifier: pkcePair().verifier,
      redirect_uri: callback.redirectUri,
      client_id: dcr.clientId!,
      resource: world.agentUrl,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe("invalid_grant");
    expect(wrong.body.access_token).toBeUndefined();
    // The failed attempt spent the code: a guesser gets one try, and the right verifier is now too late.
    const right = await postOAuthForm(base, "token", {
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      redirect_uri: callback.redirectUri,
      client_id: dcr.clientId!,
      resource: world.agentUrl,
    });
    expect(right.status).toBe(400);
    expect(right.body.error).toBe("invalid_grant");
  });

  test("denying on the consent page sends access_denied with the state, and no code", async () => {
    const { challenge } = pkcePair();
    await openConsent(page, authorizationUrl(base, { clientId: dcr.clientId!, redirectUri: callback.redirectUri, challenge, resource: world.agentUrl, state: "deny-me" }), person, base);
    const redirected = callback.next();
    await denyButton(page).click();
    const redirect = await redirected;
    expect(redirect.searchParams.get("error")).toBe("access_denied");
    expect(redirect.searchParams.get("state")).toBe("deny-me");
    expect(redirect.searchParams.get("code")).toBeNull();
  });

  test("a loopback redirect URI matches on any port (RFC 8252 §7.3), but not on another path or host", async () => {
    const otherPort = startCallbackServer();
    const elsewhere = startCallbackServer("/elsewhere");
    try {
      const { challenge } = pkcePair();
      // Same host and path as registered, another port: the code goes there.
      await openConsent(page, authorizationUrl(base, { clientId: dcr.clientId!, redirectUri: otherPort.redirectUri, challenge, resource: world.agentUrl }), person, base);
      const redirected = otherPort.next();
      await approveButton(page).click();
      expect((await redirected).searchParams.get("code")).toStartWith("mcp_ac_");
      // Another path, and another loopback host name: an error page on Switchboard, never a redirect.
      for (const foreign of [elsewhere.redirectUri, callback.redirectUri.replace("127.0.0.1", "localhost")]) {
        const refused = await openRefused(page, authorizationUrl(base, { clientId: dcr.clientId!, redirectUri: foreign, challenge, resource: world.agentUrl }));
        expect(refused.status).toBe(400);
        expect(new URL(refused.url).origin).toBe(base);
        expect(refused.text).toMatch(/redirect/i);
      }
      expect(elsewhere.received).toEqual([]);
    } finally {
      otherPort.stop();
      elsewhere.stop();
    }
  });

  test("a metadata document whose client_id is not its own URL gets a clear error page, not a redirect or a 500", async () => {
    const impostorUrl = metadata.urlOf("/impostor.json");
    metadata.serve("/impostor.json", { client_id: metadata.urlOf("/e2e-client.json"), client_name: "Impostor", redirect_uris: [callback.redirectUri] });
    const received = callback.received.length;
    const { challenge } = pkcePair();
    const refused = await openRefused(page, authorizationUrl(base, { clientId: impostorUrl, redirectUri: callback.redirectUri, challenge, resource: world.agentUrl }));
    expect(metadata.requests).toContain("/impostor.json");
    expect(refused.status).toBe(400);
    expect(new URL(refused.url).origin).toBe(base);
    expect(refused.text).toContain("client_id");
    expect(refused.text).not.toContain("Impostor");
    expect(callback.received.length).toBe(received);
  });

  test("the user revokes mcp-remote under Authorized apps: its token stops at once, and its next call asks for a new sign-in", async () => {
    const remote = remotes[0]!;
    const held = remote.savedTokens();
    expect(held?.access_token).toStartWith("mcp_at_");
    expect((await rawInitialize(world.agentUrl, held!.access_token)).status).toBe(200);
    // The approval mcp-remote holds: the one of the client it registered ("MCP CLI Proxy").
    const grants = (await listGrants(world.server.deps.db)).filter((g) => g.clientName === "MCP CLI Proxy");
    expect(grants.map((g) => [g.resource, g.userId, g.clientKind])).toEqual([[world.agentId, world.admin.id, "dcr"]]);
    await page.goto(`${base}/admin/apps`);
    const row = page.locator(`#grant-${grants[0]!.id}`);
    expect(await row.textContent()).toContain("MCP CLI Proxy");
    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.waitFor({ state: "detached" });
    expect((await listGrants(world.server.deps.db)).map((g) => g.id)).not.toContain(grants[0]!.id);
    const after = await rawInitialize(world.agentUrl, held!.access_token);
    expect(after.status).toBe(401);
    expect(after.challenge).toContain('error="invalid_token"');
    // mcp-remote itself: 401, its refresh token refused, so it prints a new sign-in URL for the user.
    const before = remote.stderr.filter((l) => /Please authorize this client/.test(l)).length;
    const reauthorizing = remote.waitForStderr(/Please authorize this client by visiting/, remote.stderr.length);
    const call = remote.request("tools/call", { name: "echo", arguments: { text: "after revoke" } });
    await reauthorizing;
    expect(remote.stderr.filter((l) => /Please authorize this client/.test(l)).length).toBe(before + 1);
    await remote.stop();
    expect((await call).result).toBeUndefined();
  });

  test("an admin deletes a registered client: the SDK's refresh gets invalid_client, so it registers again, and a new approval connects it", async () => {
    const connectionUrl = `${base}/mcp/alpha`;
    const oldId = forConnection.clientId!;
    await page.goto(`${base}/admin/apps`);
    const row = page.locator("tr.client-row", { hasText: oldId });
    expect(await row.textContent()).toContain("E2E connection client");
    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await row.waitFor({ state: "detached" });
    // The refresh token of a deleted client: 401 invalid_client (RFC 6749 §5.2), which tells clients to register again.
    const refresh = await postOAuthForm(base, "token", { grant_type: "refresh_token", refresh_token: forConnection.tokens()!.refresh_token!, client_id: oldId });
    expect(refresh.status).toBe(401);
    expect(refresh.body.error).toBe("invalid_client");
    // The SDK holding them: its token is refused, its refresh too, so it registers anew and asks for a sign-in.
    const asked = forConnection.nextAuthorizationUrl();
    const refused = await connectWith(connectionUrl, forConnection).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UnauthorizedError);
    const url = await asked;
    const newId = forConnection.clientId!;
    expect(newId).toMatch(/^sbc_/);
    expect(newId).not.toBe(oldId);
    expect(url.searchParams.get("client_id")).toBe(newId);
    // The person approves the new registration and the client is back.
    await openConsent(page, url.href, person, base);
    const redirected = callback.next();
    await approveButton(page).click();
    const code = (await redirected).searchParams.get("code")!;
    const transport = new StreamableHTTPClientTransport(new URL(connectionUrl), { authProvider: forConnection });
    await transport.finishAuth(code);
    const connected = await connectWith(connectionUrl, forConnection);
    connections.push(connected);
    const echoed = await connected.client.callTool({ name: "echo", arguments: { text: "registered again" } });
    expect((echoed.content as { text: string }[])[0]!.text).toBe("registered again");
  });

  test("API keys still work on the agent's URL and on /mcp-key/agent/<id>, whose 401 names no OAuth metadata", async () => {
    for (const url of [world.agentUrl, `${base}/mcp-key/agent/${world.agentId}`]) {
      const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${world.apiKey}` } } });
      const client = new Client({ name: "key-client", version: "1" });
      await client.connect(transport);
      connections.push({ client, transport });
      expect(await listAndEcho(client, `key on ${new URL(url).pathname}`)).toEqual({ tools: ["add", "echo"], echoed: `key on ${new URL(url).pathname}` });
    }
    const keyOnly = await rawInitialize(`${base}/mcp-key/agent/${world.agentId}`);
    expect(keyOnly.status).toBe(401);
    expect(keyOnly.challenge).not.toBeNull();
    expect(keyOnly.challenge).not.toContain("resource_metadata");
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp-key/agent/${world.agentId}`)).status).toBe(404);
  });

  test("nothing on Switchboard's pages failed: no 5xx, no script error, no CSP refusal", () => {
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!haveChromium)("a server started without the test switch, with access tokens that expire", () => {
  let world: OAuthWorld;
  let browser: Browser;
  let page: Page;
  let callback: CallbackServer;
  let connected: Connected | undefined;

  beforeAll(async () => {
    // Access tokens live one second, so a test sees one expire for real (refresh tokens keep the default).
    world = await startOAuthWorld({ oauth: { access_token_ttl: "1s" } });
    callback = startCallbackServer();
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await connected?.client.close().catch(() => {});
    await browser?.close();
    callback?.stop();
    await world?.cleanup();
  });

  test("the SDK refreshes an expired access token by itself and goes on in the same MCP session", async () => {
    const base = world.config.server.public_url;
    const provider = new MemoryOAuthProvider({ redirectUri: callback.redirectUri, clientName: "E2E expiring client" });
    connected = await connectThroughSignIn(world.agentUrl, provider, async (url) => {
      await openConsent(page, url.href, { email: world.admin.email, password: world.password }, base);
      const redirected = callback.next();
      await approveButton(page).click();
      return (await redirected).searchParams.get("code")!;
    });
    const { client, transport } = connected;
    const session = transport.sessionId;
    expect(session).toBeString();
    const held = provider.tokens()!;
    expect(held.expires_in).toBe(1);
    // Waiting on the condition itself: the token the client holds is refused once its second is up.
    const expired = await waitUntil(async () => {
      const answer = await rawInitialize(world.agentUrl, held.access_token);
      return answer.status === 401 ? answer : null;
    }, "the access token to expire");
    expect(expired.challenge).toContain('error="invalid_token"');
    const saved = provider.savedTokens.length;
    expect(await listAndEcho(client, "after expiry")).toEqual({ tools: ["add", "echo"], echoed: "after expiry" });
    expect(provider.savedTokens.length).toBeGreaterThan(saved);
    expect(provider.tokens()!.refresh_token).not.toBe(held.refresh_token);
    // The session belongs to the approval, not to one access token: it survived the refresh.
    expect(transport.sessionId).toBe(session);
  });

  test("it never fetches a client metadata document from a loopback address: the sign-in stops on an error page", async () => {
    const base = world.config.server.public_url;
    const documents = startMetadataServer();
    try {
      const documentUrl = documents.urlOf("/client.json");
      documents.serve("/client.json", { client_id: documentUrl, client_name: "Local document", redirect_uris: [callback.redirectUri] });
      const refused = await openRefused(page, authorizationUrl(base, { clientId: documentUrl, redirectUri: callback.redirectUri, challenge: pkcePair().challenge, resource: world.agentUrl }));
      expect(refused.status).toBe(400);
      expect(new URL(refused.url).origin).toBe(base);
      expect(refused.text).not.toContain("Local document");
      expect(documents.requests).toEqual([]);
    } finally {
      documents.stop();
    }
  });
});
