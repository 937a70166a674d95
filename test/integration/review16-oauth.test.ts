// Review of issue 16 (read-only review): failing tests for defects found in the upstream OAuth client.
import { afterEach, expect, test } from "bun:test";
import type { User } from "../../src/domain/access/users.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import type { AppDeps } from "../../src/http/context.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { approveAuthorization, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { startTestServer } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function authorize(deps: AppDeps, connectionId: string, user: User, subject: OAuthSubject, account: string): Promise<void> {
  const { authorizationUrl } = await deps.upstreamAuth.start({ connectionId, subject, userId: user.id, bindingHash: "binding", returnTo: "/admin/connected-accounts" });
  const q = new URL(await approveAuthorization(authorizationUrl, account)).searchParams;
  const result = await deps.upstreamAuth.finish({ state: q.get("state"), code: q.get("code"), error: q.get("error"), iss: q.get("iss"), userId: user.id, bindingHash: "binding" });
  expect(result.ok).toBe(true);
}

/** A server of the attacker's choosing: records every Authorization it is sent. */
function captureServer(): { url: string; seen: string[]; stop: () => void } {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const auth = req.headers.get("authorization");
      if (auth) seen.push(auth);
      return new Response("no", { status: 500 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, seen, stop: () => server.stop(true) };
}

for (const mode of ["shared", "per_user"] as const) {
  test(`CONNECTION_TEST with unsaved settings (another URL) never sends the stored ${mode} token to that URL`, async () => {
    const server = await startTestServer();
    cleanups.push(() => server.cleanup());
    const upstream = await startOAuthUpstream({ cimd: false });
    cleanups.push(() => upstream.close());
    const capture = captureServer();
    cleanups.push(async () => capture.stop());
    const deps = server.server.deps;
    const [admin, otherAdmin] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "admin")]);
    const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "tracker", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauthMode: mode }));
    // Shared: the shared account. Per user: ANOTHER admin's own account (discovery's subject).
    await authorize(deps, connection.id, otherAdmin!, mode === "shared" ? "shared" : (otherAdmin!.id as OAuthSubject), "victim-account");

    const { token } = await mintKey(deps, admin!, { self: ["*"] });
    const response = await fetch(`${server.url}/api/v1/connections/test`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: connection.id, connection: { url: capture.url } }),
    });
    expect(response.status).toBeLessThan(500);
    // The token was got for upstream.mcpUrl (RFC 8707 resource): it must never reach another URL.
    expect(capture.seen).toEqual([]);
  });
}

/** An MCP upstream whose resources are the token owner's own (as Notion's pages or GitHub's repos are). */
async function perUserResourcesUpstream(tokens: Record<string, string>): Promise<{ url: string; stop: () => void }> {
  const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
  const { WebStandardStreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const user = tokens[(req.headers.get("authorization") ?? "").replace(/^Bearer /, "")];
      if (!user) return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Unauthorized" }, id: null }), { status: 401, headers: { "www-authenticate": "Bearer" } });
      const mcp = new McpServer({ name: "per-user", version: "1" });
      mcp.registerResource("notes", `private://${user}/salary-review`, { description: `${user}'s private notes` }, async (uri) => ({ contents: [{ uri: uri.href, text: `${user} secret` }] }));
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await mcp.connect(transport);
      return transport.handleRequest(req);
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, stop: () => server.stop(true) };
}

test("per-user: a member who has not connected never sees an admin's account's resources (resources/list falls back to discovery's)", async () => {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const { upstreamOAuthStore } = await import("../../src/domain/connections/upstream-oauth.ts");
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const upstream = await perUserResourcesUpstream({ "tok-admin": "admin", "tok-alice": "alice" });
  cleanups.push(async () => upstream.stop());
  const deps = server.server.deps;
  const [admin, alice, bob] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "notes", transport: "http", url: upstream.url, auth: "oauth", oauthMode: "per_user" }));
  const store = upstreamOAuthStore(connectionStore(deps));
  for (const [user, token] of [[admin!, "tok-admin"], [alice!, "tok-alice"]] as const) {
    await store.saveLink({ connectionId: connection.id, subject: user.id as OAuthSubject, tokens: { accessToken: token, refreshToken: null, expiresAt: null, scope: null }, account: user.email, connectedBy: user.id });
  }
  const list = async (user: User): Promise<string[]> => {
    const { token } = await mintKey(deps, user, { [connection.id]: ["*"] });
    const client = new Client({ name: "review", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${connection.id}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    cleanups.push(() => client.close());
    return (await client.listResources().catch((err: Error) => ({ resources: [{ uri: `error: ${err.message}` }] }))).resources.map((r) => r.uri);
  };
  expect(await list(alice!)).toEqual(["private://alice/salary-review"]);
  // Bob has no account: he must be told to connect, never shown the admin's (or anyone's) resources.
  const bobs = await list(bob!);
  expect(bobs.join(" ")).not.toContain("private://admin/");
});

test("per-user: CONNECTION_GET shows a member the discovery lists read with an admin's own account", async () => {
  const { upstreamOAuthStore } = await import("../../src/domain/connections/upstream-oauth.ts");
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const upstream = await perUserResourcesUpstream({ "tok-admin": "admin" });
  cleanups.push(async () => upstream.stop());
  const deps = server.server.deps;
  const [admin, bob] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "notes", transport: "http", url: upstream.url, auth: "oauth", oauthMode: "per_user" }));
  await upstreamOAuthStore(connectionStore(deps)).saveLink({ connectionId: connection.id, subject: admin!.id as OAuthSubject, tokens: { accessToken: "tok-admin", refreshToken: null, expiresAt: null, scope: null }, account: "admin", connectedBy: admin!.id });
  const { token } = await mintKey(deps, bob!, { self: ["*"] });
  const get = (path: string, method = "GET") => fetch(`${server.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  await get(`/connections/${connection.id}/refresh`, "POST");
  const body = await (await get(`/connections/${connection.id}`)).text();
  expect(body).not.toContain("private://admin/");
});
