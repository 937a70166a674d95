// The upstream OAuth authorizer: starting (subject rules, PKCE, state), finishing (single use, user,
// browser, expiry, issuer, errors shown sanitized, tokens never in a message) and disconnecting.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { AppError } from "../../src/errors.ts";
import { silentLogger } from "../../src/logger.ts";
import { AddressPolicy } from "../../src/gateway/upstream/address-policy.ts";
import { createUpstreamAuthorizer, FLOW_TTL_MS, type OAuthConnection } from "../../src/gateway/upstream/oauth/authorizer.ts";
import { boundedFetch } from "../../src/gateway/upstream/oauth/discovery.ts";
import type { AuthorizationCallback } from "../../src/gateway/upstream/oauth/types.ts";
import { fakeServer, json, memoryStore, routedFetch, type FakeServerOptions } from "../support/upstream-oauth-fakes.ts";

const ALICE = "user_alice";
const BOB = "user_bob";

function setup(options: { server?: FakeServerOptions; connection?: Partial<OAuthConnection> } = {}) {
  const server = fakeServer(options.server);
  const store = memoryStore();
  let clock = new Date("2026-11-29T12:00:00Z");
  const connection: OAuthConnection = { id: "conn_1", title: "Fixture", url: server.upstream, mode: "per_user", clientId: null, clientSecret: null, scopes: null, ...options.connection };
  const policy = new AddressPolicy();
  const authorizer = createUpstreamAuthorizer({
    store,
    connection: async (id) => (id === connection.id ? connection : null),
    policy,
    publicUrl: "https://sb.example",
    hmacKey: Buffer.alloc(32, 7),
    logger: silentLogger,
    now: () => clock,
    fetchFn: boundedFetch(policy, { base: routedFetch(server.routes) }),
  });
  const start = async (subject: OAuthSubject = ALICE, userId = ALICE) => {
    const { authorizationUrl } = await authorizer.start({ connectionId: "conn_1", subject, userId, bindingHash: `binding-of-${userId}`, returnTo: "/admin/connected-accounts" });
    return new URL(authorizationUrl);
  };
  const callback = (url: URL, over: Partial<AuthorizationCallback> = {}): AuthorizationCallback => ({
    state: url.searchParams.get("state"),
    code: "code-1",
    error: null,
    iss: server.issuer,
    userId: ALICE,
    bindingHash: "binding-of-user_alice",
    ...over,
  });
  return { server, store, authorizer, start, callback, advance: (ms: number) => (clock = new Date(clock.getTime() + ms)) };
}

describe("start", () => {
  test("registers once, stores the flow under an HMAC of the state, and sends PKCE S256, state, resource and scope", async () => {
    const { start, store, server } = setup();
    const url = await start();
    expect(url.origin + url.pathname).toBe(`${server.issuer}/authorize`);
    expect(url.searchParams.get("client_id")).toBe("https://sb.example/oauth/upstream/client.json");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("redirect_uri")).toBe("https://sb.example/oauth/upstream/callback");
    expect(url.searchParams.get("resource")).toBe(server.upstream);
    expect(url.searchParams.get("scope")).toBe("mcp:tools");
    const state = url.searchParams.get("state")!;
    expect(Buffer.from(state, "base64url")).toHaveLength(32);
    expect(store.flows.size).toBe(1);
    const [hash, flow] = [...store.flows.entries()][0]!;
    expect(hash).not.toContain(state);
    expect(createHash("sha256").update(flow.codeVerifier).digest("base64url")).toBe(url.searchParams.get("code_challenge")!);
    expect(url.href).not.toContain(flow.codeVerifier);
    await start();
    expect(store.registrations.size).toBe(1);
  });

  test("a registration made under another public URL is made again, so the browser comes back here", async () => {
    const { start, store } = setup();
    await start();
    const old = store.registrations.get("conn_1")!;
    store.registrations.set("conn_1", { ...old, clientId: "https://old.example/oauth/upstream/client.json", redirectUri: "https://old.example/oauth/upstream/callback" });
    const url = await start();
    expect(url.searchParams.get("redirect_uri")).toBe("https://sb.example/oauth/upstream/callback");
    expect(url.searchParams.get("client_id")).toBe("https://sb.example/oauth/upstream/client.json");
    expect(store.registrations.get("conn_1")?.redirectUri).toBe("https://sb.example/oauth/upstream/callback");
  });

  test("the connection's own scopes win over the resource's", async () => {
    const { start } = setup({ connection: { scopes: "repo read:org" } });
    expect((await start()).searchParams.get("scope")).toBe("repo read:org");
  });

  test("per-user: only for oneself; shared: only the shared subject; not an OAuth connection: refused", async () => {
    const perUser = setup();
    const other = await perUser.start(BOB, ALICE).then(() => null, (e: AppError) => e);
    expect(other?.code).toBe("FORBIDDEN");
    expect((await perUser.start("shared", ALICE).then(() => null, (e: AppError) => e))?.code).toBe("FORBIDDEN");
    const shared = setup({ connection: { mode: "shared" } });
    expect((await shared.start(ALICE, ALICE).then(() => null, (e: AppError) => e))?.code).toBe("FORBIDDEN");
    expect((await shared.start("shared", ALICE)).searchParams.get("state")).toBeTruthy();
    const staticConnection = setup({ connection: { mode: null } });
    expect((await staticConnection.start().then(() => null, (e: AppError) => e))?.code).toBe("UPSTREAM_OAUTH_NOT_OAUTH");
    expect(perUser.store.flows.size).toBe(0);
  });

  test("a returnTo outside /admin is replaced by the connection's page (no open redirect)", async () => {
    const { authorizer, store } = setup();
    await authorizer.start({ connectionId: "conn_1", subject: ALICE, userId: ALICE, bindingHash: "b", returnTo: "https://evil.example/" });
    await authorizer.start({ connectionId: "conn_1", subject: ALICE, userId: ALICE, bindingHash: "b", returnTo: "//evil.example/admin" });
    expect([...store.flows.values()].map((f) => f.returnTo)).toEqual(["/admin/connected-accounts#conn_1", "/admin/connected-accounts#conn_1"]);
  });
});

describe("finish", () => {
  test("exchanges the code with the verifier and resource, reads who it is connected as, stores the link", async () => {
    const { start, callback, authorizer, store, server } = setup();
    const url = await start();
    const verifier = [...store.flows.values()][0]!.codeVerifier;
    const result = await authorizer.finish(callback(url));
    expect(result).toEqual({ ok: true, connectionId: "conn_1", subject: ALICE, account: "alice", returnTo: "/admin/connected-accounts" });
    const sent = server.tokenRequests[0]!;
    expect(sent.get("code_verifier")).toBe(verifier);
    expect(sent.get("resource")).toBe(server.upstream);
    expect(sent.get("client_id")).toBe("https://sb.example/oauth/upstream/client.json");
    const link = await store.getLink("conn_1", ALICE);
    expect(link?.tokens).toMatchObject({ accessToken: "at-1", refreshToken: "rt-1" });
    expect(link?.connectedBy).toBe(ALICE);
  });

  test("a manual confidential client authenticates with Basic at the token endpoint", async () => {
    const { start, callback, authorizer, server } = setup({ connection: { clientId: "given id", clientSecret: "s3cret" } });
    expect((await authorizer.finish(callback(await start()))).ok).toBe(true);
    expect(server.tokenHeaders[0]!.get("authorization")).toBe(`Basic ${btoa("given+id:s3cret")}`);
    expect(server.tokenRequests[0]!.get("client_secret")).toBeNull();
  });

  test("refused: another user, another browser, no binding, twice, after expiry, unknown state — nothing stored", async () => {
    const { start, callback, authorizer, store, advance } = setup();
    const cases: [string, AuthorizationCallback][] = [];
    cases.push(["another user", callback(await start(), { userId: BOB })]);
    cases.push(["another browser", callback(await start(), { bindingHash: "binding-of-someone-else" })]);
    cases.push(["no binding cookie", callback(await start(), { bindingHash: null })]);
    cases.push(["unknown state", callback(await start(), { state: "made-up" })]);
    cases.push(["no state", callback(await start(), { state: null })]);
    for (const [why, cb] of cases) {
      const result = await authorizer.finish(cb);
      expect(result.ok, why).toBe(false);
    }
    const url = await start();
    expect((await authorizer.finish(callback(url))).ok).toBe(true);
    await store.deleteLink("conn_1", ALICE);
    const again = await authorizer.finish(callback(url));
    expect(again.ok).toBe(false);
    expect(again.ok ? "" : again.message).toContain("already used");
    const late = await start();
    advance(FLOW_TTL_MS + 1);
    expect((await authorizer.finish(callback(late))).ok).toBe(false);
    expect(store.links.size).toBe(0);
  });

  test("a wrong iss is refused (RFC 9207); a missing one too when the server promised it", async () => {
    const { start, callback, authorizer, store, server } = setup();
    expect((await authorizer.finish(callback(await start(), { iss: "http://127.0.0.1:6666" }))).ok).toBe(false);
    expect((await authorizer.finish(callback(await start(), { iss: null }))).ok).toBe(false);
    expect(server.tokenRequests).toHaveLength(0);
    expect(store.links.size).toBe(0);
    const lax = setup({ server: { metadata: { authorization_response_iss_parameter_supported: false } } });
    expect((await lax.authorizer.finish(lax.callback(await lax.start(), { iss: null }))).ok).toBe(true);
  });

  test("the server's error is shown as a short code only, never its HTML or description", async () => {
    const { start, callback, authorizer } = setup();
    const result = await authorizer.finish(callback(await start(), { code: null, error: "access_denied<script>alert(1)</script>" }));
    expect(result.ok).toBe(false);
    const message = result.ok ? "" : result.message;
    expect(message).toContain("access_deniedscriptalert1script");
    expect(message).not.toMatch(/[<>]/);
    expect(message).not.toContain("evil");
  });

  test("a refused code is a clear failure that carries no token or body", async () => {
    const { start, callback, authorizer, server, store } = setup();
    server.routes.set(`POST ${server.issuer}/token`, () => json({ error: "invalid_grant", error_description: "<b>code expired</b> at-leaked" }, 400));
    const result = await authorizer.finish(callback(await start()));
    expect(result).toMatchObject({ ok: false, connectionId: "conn_1", returnTo: "/admin/connected-accounts" });
    const message = result.ok ? "" : result.message;
    expect(message).toBe("The authorization server refused the code: invalid_grant.");
    expect(store.links.size).toBe(0);
  });
});

describe("disconnect", () => {
  test("revokes the refresh token, then the access token, then deletes the link", async () => {
    const { start, callback, authorizer, store, server } = setup();
    await authorizer.finish(callback(await start()));
    expect(await authorizer.disconnect("conn_1", ALICE)).toBe(true);
    expect(server.revoked).toEqual(["rt-1", "at-1"]);
    expect(store.links.size).toBe(0);
    expect(await authorizer.disconnect("conn_1", ALICE)).toBe(false);
  });

  test("a failing revocation endpoint does not keep the link", async () => {
    const { start, callback, authorizer, store, server } = setup();
    await authorizer.finish(callback(await start()));
    server.routes.set(`POST ${server.issuer}/revoke`, () => new Response("down", { status: 503 }));
    expect(await authorizer.disconnect("conn_1", ALICE)).toBe(true);
    expect(store.links.size).toBe(0);
  });
});
