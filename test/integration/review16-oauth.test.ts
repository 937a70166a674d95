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
  const result = await deps.upstreamAuth.finish({ state: q.get("state"), code: q.get("code"), error: q.get("error"), errorDescription: q.get("error_description"), iss: q.get("iss"), userId: user.id, bindingHash: "binding" });
  expect(result.ok).toBe(true);
}


test("a member's CONNECTION_TEST never shows the shared OAuth token, even when the upstream's error echoes it", async () => {
  const { upstreamOAuthStore } = await import("../../src/domain/connections/upstream-oauth.ts");
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const echo = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`rejected credentials: ${req.headers.get("authorization")}`, { status: 500 }) });
  cleanups.push(async () => void echo.stop(true));
  const deps = server.server.deps;
  const [admin, bob] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "echo", transport: "http", url: `http://127.0.0.1:${echo.port}/mcp`, auth: "oauth", oauthMode: "shared" }));
  await upstreamOAuthStore(connectionStore(deps)).saveLink({ connectionId: connection.id, subject: "shared" as OAuthSubject, tokens: { accessToken: "shared-secret-token", refreshToken: null, expiresAt: null, scope: null }, account: "bot", connectedBy: admin!.id });
  const { token } = await mintKey(deps, bob!, { self: ["*"] });
  const response = await fetch(`${server.url}/api/v1/connections/test`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ id: connection.id }) });
  const body = await response.text();
  expect(response.status).toBe(200);
  expect(body).not.toContain("shared-secret-token");
});

test("a manual confidential client whose secret has a '+' refreshes as it exchanged the code (RFC 6749 §2.3.1 form-encoding, both times)", async () => {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const { upstreamCallbackUrl } = await import("../../src/gateway/upstream/oauth/client-metadata.ts");
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const deps = server.server.deps;
  const secret = "s3cret+with+plus";
  const upstream = await startOAuthUpstream({ cimd: false, dcr: false, clients: [{ id: "switchboard", secret, redirectUris: [upstreamCallbackUrl(deps.config.server.public_url)] }] });
  cleanups.push(() => upstream.close());
  const [admin] = await Promise.all([insertUser(deps, "admin")]);
  const connection = await createConnection(
    connectionStore(deps),
    newConnectionFields({ slug: "manual", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauthMode: "shared", oauthClientId: "switchboard", oauthClientSecret: secret }),
  );
  await authorize(deps, connection.id, admin!, "shared" as OAuthSubject, "bot"); // the code exchange authenticates fine
  upstream.expireAccessTokens(); // the next call is refused (401) and refreshed with the same client authentication
  const { token } = await mintKey(deps, admin!, { [connection.id]: ["*"] });
  const client = new Client({ name: "review", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${connection.id}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  cleanups.push(() => client.close());
  const result = await client.callTool({ name: "whoami", arguments: {} });
  expect(JSON.stringify(result)).not.toContain("invalid_client");
  expect(result.isError ?? false).toBe(false);
});
