// Switchboard authorizing at a real OAuth-protected upstream (the loopback fixture with its own
// authorization server): CIMD fetched from Switchboard's own listening server, DCR, a manual
// confidential client, path-inserted and OpenID-only issuers, and the refusals, through deps.upstreamAuth.
import { afterEach, describe, expect, test } from "bun:test";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { AppError } from "../../src/errors.ts";
import type { AuthorizationResult } from "../../src/gateway/upstream/oauth/types.ts";
import type { AppDeps } from "../../src/http/context.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { approveAuthorization, startOAuthUpstream, type OAuthUpstream, type OAuthUpstreamOptions } from "../fixtures/oauth-upstream.ts";
import { startTestServer, type ConfigOverrides, type TestServer } from "../support/app.ts";
import { insertUser } from "../support/users.ts";
import { mintKey } from "../support/key-harness.ts";
import { getUser } from "../../src/domain/access/users.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

type Setup = { server: TestServer; deps: AppDeps; upstream: OAuthUpstream; connectionId: string; userId: string };

/** A real Switchboard on a free port, then the fixture (whose options may name the server's callback). */
async function setup(
  options: { upstream?: OAuthUpstreamOptions | ((serverUrl: string) => OAuthUpstreamOptions); connection?: Record<string, unknown>; overrides?: ConfigOverrides } = {},
): Promise<Setup> {
  const server = await startTestServer({ overrides: options.overrides });
  cleanups.push(() => server.cleanup());
  const upstream = await startOAuthUpstream(typeof options.upstream === "function" ? options.upstream(server.url) : options.upstream);
  cleanups.push(() => upstream.close());
  const deps = server.server.deps;
  const user = await insertUser(deps, "member");
  const connection = await createConnection(
    connectionStore(deps),
    newConnectionFields({ slug: "fixture", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauthMode: "per_user", ...options.connection }),
  );
  return { server, deps, upstream, connectionId: connection.id, userId: user.id };
}

/** Start → the fixture's sign-in approved as `username` → finish, as a browser and the callback route would. */
async function authorize(s: Setup, username: string, subject: OAuthSubject = s.userId as OAuthSubject): Promise<AuthorizationResult> {
  const { authorizationUrl } = await s.deps.upstreamAuth.start({ connectionId: s.connectionId, subject, userId: s.userId, bindingHash: "binding", returnTo: "/admin/connected-accounts" });
  const back = new URL(await approveAuthorization(authorizationUrl, username));
  const q = back.searchParams;
  return s.deps.upstreamAuth.finish({ state: q.get("state"), code: q.get("code"), error: q.get("error"), iss: q.get("iss"), userId: s.userId, bindingHash: "binding" });
}

async function linkOf(s: Setup) {
  return upstreamOAuthStore(connectionStore(s.deps)).getLink(s.connectionId, s.userId as OAuthSubject);
}

describe("authorizing at the fixture", () => {
  test("CIMD: the fixture fetches Switchboard's document from its listening server; the link is stored as the approving user", async () => {
    const s = await setup();
    const document = (await (await fetch(`${s.server.url}/oauth/upstream/client.json`)).json()) as Record<string, unknown>;
    expect(document.client_id).toBe(`${s.server.url}/oauth/upstream/client.json`);
    const result = await authorize(s, "alice");
    expect(result).toMatchObject({ ok: true, account: "alice" });
    expect(s.upstream.stats.metadataDocumentFetches).toBeGreaterThan(0);
    expect(s.upstream.stats.registrations).toBe(0);
    const link = await linkOf(s);
    expect(link?.state).toBe("connected");
    expect(link?.tokens.accessToken).toBeString();
    // The operations show the link, never the tokens the fixture issued (nor anything of them in the database's clear text).
    const user = (await getUser(s.deps.db, s.userId))!;
    const { token } = await mintKey(s.deps, user, { self: ["*"] });
    for (const path of [`/api/v1/connections/${s.connectionId}/oauth/links`, "/api/v1/oauth/accounts"]) {
      const res = await fetch(`${s.server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).toContain("alice");
      expect(text).not.toContain(link!.tokens.accessToken);
      expect(text).not.toContain(link!.tokens.refreshToken!);
    }
  });

  test("DCR when the server offers no CIMD", async () => {
    const s = await setup({ upstream: { cimd: false } });
    expect((await authorize(s, "bob")).ok).toBe(true);
    expect(s.upstream.stats.registrations).toBe(1);
    expect((await upstreamOAuthStore(connectionStore(s.deps)).getRegistration(s.connectionId))?.method).toBe("dcr");
  });

  test("a manual confidential client (the id and secret an admin enters), authenticated at the token endpoint", async () => {
    const client = { id: "sb-manual", secret: "manual-secret-value" };
    const s = await setup({
      upstream: (serverUrl) => ({ cimd: false, dcr: false, clients: [{ ...client, redirectUris: [`${serverUrl}/oauth/upstream/callback`] }] }),
      connection: { oauthClientId: client.id, oauthClientSecret: client.secret },
    });
    expect(await authorize(s, "carol")).toMatchObject({ ok: true, account: "carol" });
    expect(s.upstream.stats.tokenRequests.authorization_code).toBe(1);
    expect((await upstreamOAuthStore(connectionStore(s.deps)).getRegistration(s.connectionId))?.method).toBe("manual");
  });

  test("an issuer with a path (RFC 8414 path insertion), and an OpenID-only server", async () => {
    const tenant = await setup({ upstream: { separateAuthServer: { issuerPath: "/tenant" } } });
    expect((await authorize(tenant, "dave")).ok).toBe(true);
    const openid = await setup({ upstream: { separateAuthServer: { issuerPath: "/tenant" }, openidOnly: true } });
    expect((await authorize(openid, "erin")).ok).toBe(true);
  });

  test("no resource_metadata in WWW-Authenticate: the well-known URL is found", async () => {
    const s = await setup({ upstream: { resourceMetadataInHeader: false } });
    expect((await authorize(s, "frank")).ok).toBe(true);
  });

  test("refused: a token endpoint at an address the policy denies; the fixture is never asked for a token", async () => {
    const s = await setup({ upstream: { metadataOverrides: { token_endpoint: "http://127.0.0.2:9/token" } }, overrides: { gateway: { upstream_deny: ["127.0.0.2/32"] } } });
    const err = await s.deps.upstreamAuth
      .start({ connectionId: s.connectionId, subject: s.userId as OAuthSubject, userId: s.userId, bindingHash: "b", returnTo: "/admin" })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("UPSTREAM_OAUTH_UNAVAILABLE");
    expect((err as AppError).message).toContain("token endpoint");
    expect(s.upstream.stats.tokenRequests.authorization_code).toBe(0);
  });

  test("refused at the start, nothing registered: no S256, metadata for another resource, an authorization endpoint at a denied address (cloud metadata)", async () => {
    const cases: [OAuthUpstreamOptions, string][] = [
      [{ metadataOverrides: { code_challenge_methods_supported: ["plain"] } }, "S256"],
      [{ resourceMetadataOverrides: { resource: "http://127.0.0.1:1/elsewhere" } }, "is for http://127.0.0.1:1/elsewhere"],
      [{ metadataOverrides: { authorization_endpoint: "http://169.254.169.254/authorize" } }, "authorization endpoint"],
    ];
    for (const [upstream, says] of cases) {
      const s = await setup({ upstream });
      const err = await s.deps.upstreamAuth
        .start({ connectionId: s.connectionId, subject: s.userId as OAuthSubject, userId: s.userId, bindingHash: "b", returnTo: "/admin" })
        .then(() => null, (e: unknown) => e);
      expect((err as AppError).code).toBe("UPSTREAM_OAUTH_UNAVAILABLE");
      expect((err as AppError).message).toContain(says);
      expect(await upstreamOAuthStore(connectionStore(s.deps)).getRegistration(s.connectionId)).toBeNull();
      expect(s.upstream.stats.registrations + s.upstream.stats.authorizationCodes).toBe(0);
    }
  });

  test("a callback finished by another user, or twice, stores nothing", async () => {
    const s = await setup();
    const { authorizationUrl } = await s.deps.upstreamAuth.start({ connectionId: s.connectionId, subject: s.userId as OAuthSubject, userId: s.userId, bindingHash: "binding", returnTo: "/admin" });
    const q = new URL(await approveAuthorization(authorizationUrl, "alice")).searchParams;
    const other = await insertUser(s.deps, "admin");
    const cb = { state: q.get("state"), code: q.get("code"), error: null, iss: q.get("iss"), bindingHash: "binding" };
    expect((await s.deps.upstreamAuth.finish({ ...cb, userId: other.id })).ok).toBe(false);
    // The flow was spent by the refused attempt: the rightful user must start again, and the code is never exchanged.
    expect((await s.deps.upstreamAuth.finish({ ...cb, userId: s.userId })).ok).toBe(false);
    expect(s.upstream.stats.tokenRequests.authorization_code).toBe(0);
    expect(await linkOf(s)).toBeNull();
  });
});
