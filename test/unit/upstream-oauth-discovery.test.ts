// Discovery and registration of Switchboard as an OAuth client, against a scripted upstream and
// authorization server behind a fake fetch that still goes through the address policy and the bounds.
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { AddressPolicy } from "../../src/gateway/upstream/address-policy.ts";
import { boundedFetch, discoverAuthorizationServer } from "../../src/gateway/upstream/oauth/discovery.ts";
import { registerAtServer } from "../../src/gateway/upstream/oauth/registration.ts";
import { fakeServer, json, routedFetch, type FakeServerOptions } from "../support/upstream-oauth-fakes.ts";

const OPEN = new AddressPolicy();

function setup(options: FakeServerOptions = {}, policy = OPEN) {
  const server = fakeServer(options);
  const seen: string[] = [];
  const fetchFn = boundedFetch(policy, { base: routedFetch(server.routes, seen) });
  return { server, seen, fetchFn, discover: () => discoverAuthorizationServer(server.upstream, { policy, fetchFn }) };
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("discovery", () => {
  test("follows the 401's resource_metadata to the protected resource and the server's RFC 8414 metadata", async () => {
    const { server, seen, discover } = setup();
    const found = await discover();
    expect(found.resource).toBe(server.upstream);
    expect(found.issuer).toBe(server.issuer);
    expect(found.metadata.token_endpoint).toBe(`${server.issuer}/token`);
    expect(found.scopes).toBe("mcp:tools");
    expect(seen[0]).toBe(`POST ${server.upstream}`);
  });

  test("without resource_metadata in WWW-Authenticate, the path-inserted well-known URL is found", async () => {
    const { server, seen, discover } = setup({ resourceMetadataInHeader: false });
    expect((await discover()).resource).toBe(server.upstream);
    expect(seen).toContain("GET http://127.0.0.1:9001/.well-known/oauth-protected-resource/mcp");
  });

  test("an issuer with a path is found by path insertion; an OpenID-only server through openid-configuration", async () => {
    const tenant = setup({ issuer: "http://127.0.0.1:9002/tenant" });
    const found = await tenant.discover();
    expect(found.issuer).toBe("http://127.0.0.1:9002/tenant");
    expect(tenant.seen).toContain("GET http://127.0.0.1:9002/.well-known/oauth-authorization-server/tenant");
    const openid = setup({ openidOnly: true, issuer: "http://127.0.0.1:9002/tenant" });
    const viaOpenid = await openid.discover();
    expect(viaOpenid.metadata.revocation_endpoint).toBe("http://127.0.0.1:9002/tenant/revoke");
    expect(openid.seen).toContain("GET http://127.0.0.1:9002/.well-known/openid-configuration/tenant");
  });

  test("refuses an upstream that does not answer 401, or publishes no protected resource metadata", async () => {
    expect((await refusal(setup({ challengeStatus: 200 }).discover())).message).toContain("not 401");
    const none = setup();
    none.server.routes.delete("GET http://127.0.0.1:9001/.well-known/oauth-protected-resource/mcp");
    const err = await refusal(none.discover());
    expect(err.code).toBe("UPSTREAM_OAUTH_UNAVAILABLE");
    expect(err.message).toContain("RFC 9728");
  });

  test("refuses metadata written for another resource (RFC 9728 §3.3) and an issuer that is not the server's own", async () => {
    expect((await refusal(setup({ prm: { resource: "http://127.0.0.1:9001/other" } }).discover())).message).toContain("is for http://127.0.0.1:9001/other");
    expect((await refusal(setup({ metadata: { issuer: "http://127.0.0.1:9009" } }).discover())).message).toContain("names issuer");
  });

  test("refuses a server without S256 in code_challenge_methods_supported (or without the list)", async () => {
    expect((await refusal(setup({ metadata: { code_challenge_methods_supported: ["plain"] } }).discover())).message).toContain("S256");
    expect((await refusal(setup({ metadata: { code_challenge_methods_supported: undefined } }).discover())).message).toContain("S256");
  });

  test("refuses endpoints the address policy denies: the token endpoint, and the authorization endpoint only browsers visit", async () => {
    const deny = new AddressPolicy({ upstream_deny: ["127.0.0.2/32"], upstream_allow: [] });
    const token = setup({ metadata: { token_endpoint: "http://127.0.0.2:9001/token" } }, deny);
    expect((await refusal(token.discover())).message).toContain("token endpoint (127.0.0.2:9001) may not be reached");
    expect(token.seen.some((s) => s.includes("127.0.0.2"))).toBe(false);
    const authorize = setup({ metadata: { authorization_endpoint: "http://127.0.0.2:9001/authorize" } }, deny);
    expect((await refusal(authorize.discover())).message).toContain("authorization endpoint");
    // Built-in denials hold with nothing configured (cloud metadata).
    expect((await refusal(setup({ metadata: { userinfo_endpoint: "http://169.254.169.254/latest" } }).discover())).message).toContain("userinfo endpoint");
  });

  test("refuses a resource_metadata URL at a denied address before fetching it", async () => {
    const deny = new AddressPolicy({ upstream_deny: ["127.0.0.3/32"], upstream_allow: [] });
    const s = setup({}, deny);
    s.server.routes.set(`POST ${s.server.upstream}`, () => new Response("", { status: 401, headers: { "www-authenticate": 'Bearer resource_metadata="http://127.0.0.3/prm"' } }));
    const err = await refusal(s.discover());
    expect(err.message).toContain("127.0.0.3");
    expect(s.seen.some((x) => x.includes("127.0.0.3"))).toBe(false);
  });

  test("refuses plain-http or non-http endpoints for an https upstream", async () => {
    const s = setup({ upstream: "https://127.0.0.1:9443/mcp", metadata: { token_endpoint: "http://127.0.0.1:9443/token" } });
    expect((await refusal(s.discover())).message).toContain("plain http while the upstream is https");
    const ftp = setup({ metadata: { revocation_endpoint: "ftp://127.0.0.1/revoke" } });
    expect((await refusal(ftp.discover())).message).toContain("revocation endpoint is not an http(s) URL");
  });

  test("bounds the answers: a metadata document over the size limit is refused, not read", async () => {
    const server = fakeServer();
    server.routes.set(`GET ${server.issuer}/.well-known/oauth-authorization-server`, () => json({ issuer: server.issuer, padding: "x".repeat(2 * 1024 * 1024) }));
    const fetchFn = boundedFetch(OPEN, { base: routedFetch(server.routes) });
    expect((await refusal(discoverAuthorizationServer(server.upstream, { policy: OPEN, fetchFn }))).message).toContain("answered more than");
  });

  test("bounds the wait: an upstream that never answers is given up with a clear reason", async () => {
    const server = fakeServer();
    server.routes.set(`POST ${server.upstream}`, (req) => new Promise<Response>((_, reject) => req.signal.addEventListener("abort", () => reject(req.signal.reason))));
    const fetchFn = boundedFetch(OPEN, { base: routedFetch(server.routes), timeoutMs: 50 });
    const err = await refusal(discoverAuthorizationServer(server.upstream, { policy: OPEN, fetchFn }));
    expect(err.message).toContain("could not be reached: no answer within");
  });
});

describe("registration", () => {
  const now = new Date("2026-11-29T12:00:00Z");
  const base = { connectionId: "conn_1", clientId: null, clientSecret: null, scopes: null };

  test("a configured client id and secret are used as given (manual), with basic or post as the server supports", async () => {
    const { discover, fetchFn } = setup();
    const server = await discover();
    const basic = await registerAtServer({ ...base, clientId: "given", clientSecret: "s3cret" }, server, { publicUrl: "https://sb.example", fetchFn, now });
    expect(basic).toMatchObject({ method: "manual", clientId: "given", clientSecret: "s3cret", tokenEndpointAuthMethod: "client_secret_basic" });
    const postOnly = await registerAtServer({ ...base, clientId: "given", clientSecret: "s3cret" }, { ...server, metadata: { ...server.metadata, token_endpoint_auth_methods_supported: ["client_secret_post"] } }, { publicUrl: "https://sb.example", fetchFn, now });
    expect(postOnly.tokenEndpointAuthMethod).toBe("client_secret_post");
  });

  test("CIMD when the server supports it and the public URL is https or loopback: client_id is the document's URL", async () => {
    const { discover, fetchFn, server: fake } = setup();
    const server = await discover();
    const r = await registerAtServer(base, server, { publicUrl: "https://sb.example", fetchFn, now });
    expect(r).toMatchObject({ method: "cimd", clientId: "https://sb.example/oauth/upstream/client.json", redirectUri: "https://sb.example/oauth/upstream/callback", tokenEndpointAuthMethod: "none" });
    expect(fake.registrations).toHaveLength(0);
    expect((await registerAtServer(base, server, { publicUrl: "http://127.0.0.1:8787", fetchFn, now })).method).toBe("cimd");
  });

  test("DCR when CIMD cannot be used (a plain-http public URL off loopback): a public client with the callback", async () => {
    const { discover, fetchFn, server: fake } = setup();
    const r = await registerAtServer(base, await discover(), { publicUrl: "http://switchboard.test", fetchFn, now });
    expect(r).toMatchObject({ method: "dcr", clientId: "dcr-client-1", clientSecret: null, tokenEndpointAuthMethod: "none" });
    expect(fake.registrations[0]).toMatchObject({ redirect_uris: ["http://switchboard.test/oauth/upstream/callback"], token_endpoint_auth_method: "none", client_name: "Switchboard" });
  });

  test("neither CIMD nor DCR nor a client id: refused, naming the issuer and the callback to register", async () => {
    const { discover, fetchFn } = setup({ cimd: false, dcr: false });
    const err = await refusal(registerAtServer(base, await discover(), { publicUrl: "https://sb.example", fetchFn, now }));
    expect(err.message).toBe(
      "This server supports neither client metadata documents nor dynamic registration: enter a client id (and secret) registered at http://127.0.0.1:9001 with redirect URI https://sb.example/oauth/upstream/callback.",
    );
  });

  test("a refused registration is a clear error that quotes no response body", async () => {
    const { discover, fetchFn, server: fake } = setup({ cimd: false });
    fake.routes.set(`POST ${fake.issuer}/register`, () => new Response("<html>secret-internal-page</html>", { status: 500 }));
    const err = await refusal(registerAtServer(base, await discover(), { publicUrl: "https://sb.example", fetchFn, now }));
    expect(err.code).toBe("UPSTREAM_OAUTH_FAILED");
    expect(err.message).not.toContain("secret-internal-page");
  });
});
