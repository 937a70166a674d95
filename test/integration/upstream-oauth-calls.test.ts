// OAuth connections through a running Switchboard (the composition root's wiring: the credentials over
// the database store, its change feed and the users' roles): accounts authorized through
// deps.upstreamAuth at the loopback fixture, then called with API keys at /mcp/<connection>. Each key's
// call carries its owner's account; a member without one gets the tool error naming the page; a revoked
// refresh token shows "needs_reauth" in CONNECTION_OAUTH_LINKS for that user only. A manual confidential
// client refreshes with the client authentication it exchanged the code with.
import { afterEach, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { User } from "../../src/domain/access/users.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import type { AppDeps } from "../../src/http/context.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { upstreamCallbackUrl } from "../../src/gateway/upstream/oauth/client-metadata.ts";
import { approveAuthorization, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { startTestServer } from "../support/app.ts";
import { textOf } from "../support/gateway-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** Start → the fixture's sign-in approved as `account` → finish, as the admin's button and the callback route do. */
async function authorize(deps: AppDeps, connectionId: string, user: User, account: string, subject = user.id as OAuthSubject): Promise<void> {
  const { authorizationUrl } = await deps.upstreamAuth.start({ connectionId, subject, userId: user.id, bindingHash: "binding", returnTo: "/admin/connected-accounts" });
  const q = new URL(await approveAuthorization(authorizationUrl, account)).searchParams;
  const result = await deps.upstreamAuth.finish({ state: q.get("state"), code: q.get("code"), error: q.get("error"), iss: q.get("iss"), userId: user.id, bindingHash: "binding" });
  expect(result.ok).toBe(true);
}

test("per-user through the server: each key calls as its owner's account, a member without one is told where to connect, a revoked one shows needs_reauth for that user only", async () => {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const upstream = await startOAuthUpstream({ cimd: false });
  cleanups.push(() => upstream.close());
  const deps = server.server.deps;
  const [admin, alice, bob, carol] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member"), insertUser(deps, "member"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "tracker", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauthMode: "per_user" }));
  await authorize(deps, connection.id, admin!, "root");
  await authorize(deps, connection.id, alice!, "alice");
  await authorize(deps, connection.id, bob!, "bob");

  const open = async (user: User): Promise<Client> => {
    const { token } = await mintKey(deps, user, { [connection.id]: ["*"] });
    const client = new Client({ name: "oauth-calls", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${connection.id}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    cleanups.push(() => client.close());
    return client;
  };
  const whoami = async (client: Client) => client.callTool({ name: "whoami", arguments: {} });
  const [a, b, c] = [await open(alice!), await open(bob!), await open(carol!)];
  expect(textOf(await whoami(a))).toContain("alice");
  expect(textOf(await whoami(b))).toContain("bob");
  expect(upstream.stats.toolCalls.slice(-2).map((t) => t.user)).toEqual(["alice", "bob"]);

  const calls = upstream.stats.toolCalls.length;
  const refused = await whoami(c);
  expect(refused.isError).toBe(true);
  expect(textOf(refused)).toContain(`${server.url}/admin/connected-accounts#${connection.id}`);
  expect(upstream.stats.toolCalls.length).toBe(calls);

  upstream.revokeRefreshTokens("alice");
  upstream.expireAccessTokens();
  const lost = await whoami(a);
  expect(lost.isError).toBe(true);
  expect(textOf(lost)).toContain("needs to be connected again");
  expect(textOf(await whoami(b))).toContain("bob");

  const { token: adminKey } = await mintKey(deps, admin!, { self: ["*"] });
  const res = await fetch(`${server.url}/api/v1/connections/${connection.id}/oauth/links`, { headers: { authorization: `Bearer ${adminKey}` } });
  const body = (await res.json()) as { links: { subject: string; state: string }[] };
  const states = Object.fromEntries(body.links.map((l) => [l.subject, l.state]));
  expect(states).toEqual({ [admin!.id]: "connected", [alice!.id]: "needs_reauth", [bob!.id]: "connected" });
  const got = (await (await fetch(`${server.url}/api/v1/connections/${connection.id}`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { status: { state: string } };
  expect(got.status.state).not.toBe("error");
});

test("a manual confidential client whose secret has a '+' refreshes as it exchanged the code (RFC 6749 §2.3.1 form-encoding, both times)", async () => {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const deps = server.server.deps;
  // '+' decodes to a space unless form-encoded: a refresh that skips the encoding is refused (invalid_client), forever.
  const secret = "s3cret+with+plus";
  const upstream = await startOAuthUpstream({ cimd: false, dcr: false, clients: [{ id: "switchboard", secret, redirectUris: [upstreamCallbackUrl(deps.config.server.public_url)] }] });
  cleanups.push(() => upstream.close());
  const admin = (await insertUser(deps, "admin"))!;
  const connection = await createConnection(
    connectionStore(deps),
    newConnectionFields({ slug: "manual", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauthMode: "shared", oauthClientId: "switchboard", oauthClientSecret: secret }),
  );
  await authorize(deps, connection.id, admin, "bot", "shared" as OAuthSubject);
  upstream.expireAccessTokens(); // the next call is refused (401) and refreshed with the same client authentication
  const { token } = await mintKey(deps, admin, { [connection.id]: ["*"] });
  const client = new Client({ name: "refresh", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${connection.id}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  cleanups.push(() => client.close());
  const result = await client.callTool({ name: "whoami", arguments: {} });
  expect(JSON.stringify(result)).not.toContain("invalid_client");
  expect(result.isError ?? false).toBe(false);
  expect(textOf(result)).toContain("bot");
});
