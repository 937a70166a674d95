// CONNECTION_TEST with unsaved OAuth settings: the stored registration and tokens were got for the stored
// URL (RFC 8707 resource) and must never reach a URL an admin types in before saving.
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
