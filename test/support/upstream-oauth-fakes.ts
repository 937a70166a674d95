// Test doubles for the upstream OAuth client's unit tests: an in-memory UpstreamOAuthStore with the
// contract's single-use and expiry rules, and a scripted upstream with its authorization server served
// through a fake fetch (IP-literal hosts, so the address policy checks them without DNS).
import { MemoryOAuthStore } from "./memory-oauth-store.ts";

/** The store's contract in memory (one implementation for every test: support/memory-oauth-store.ts). */
export function memoryStore(): MemoryOAuthStore {
  return new MemoryOAuthStore();
}

export type Handler = (req: Request) => Response | Promise<Response>;

/** A fetch answering from `routes` ("METHOD url-without-query"), 404 otherwise; every request is logged. */
export function routedFetch(routes: Map<string, Handler>, seen: string[] = []): typeof fetch {
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input instanceof Request ? input.url : String(input), init);
    const url = new URL(req.url);
    const name = `${req.method} ${url.origin}${url.pathname}`;
    seen.push(name);
    const handler = routes.get(name);
    return handler ? handler(req) : new Response("not found", { status: 404 });
  };
  return f as typeof fetch;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export type FakeServerOptions = {
  upstream?: string;
  issuer?: string;
  resourceMetadataInHeader?: boolean;
  openidOnly?: boolean;
  dcr?: boolean;
  cimd?: boolean;
  metadata?: Record<string, unknown>;
  prm?: Record<string, unknown>;
  /** What the upstream answers an unauthenticated initialize. */
  challengeStatus?: number;
};

/**
 * An MCP upstream at `upstream` (default http://127.0.0.1:9001/mcp) and its authorization server at
 * `issuer` (default its origin), as routes for routedFetch. The token endpoint issues "at-1"/"rt-1".
 */
export function fakeServer(options: FakeServerOptions = {}): { routes: Map<string, Handler>; upstream: string; issuer: string; tokenRequests: URLSearchParams[]; tokenHeaders: Headers[]; revoked: string[]; registrations: unknown[] } {
  const upstream = options.upstream ?? "http://127.0.0.1:9001/mcp";
  const origin = new URL(upstream).origin;
  const issuer = options.issuer ?? origin;
  const issuerUrl = new URL(issuer);
  const asBase = issuer.replace(/\/$/, "");
  const routes = new Map<string, Handler>();
  const tokenRequests: URLSearchParams[] = [];
  const tokenHeaders: Headers[] = [];
  const revoked: string[] = [];
  const registrations: unknown[] = [];
  const prmUrl = `${origin}/.well-known/oauth-protected-resource${new URL(upstream).pathname}`;
  routes.set(`POST ${upstream}`, () => {
    const header = options.resourceMetadataInHeader === false ? 'Bearer error="invalid_token", scope="mcp:tools"' : `Bearer error="invalid_token", resource_metadata="${prmUrl}", scope="mcp:tools"`;
    return new Response("", { status: options.challengeStatus ?? 401, headers: { "www-authenticate": header } });
  });
  routes.set(`GET ${prmUrl}`, () => json({ resource: upstream, authorization_servers: [issuer], scopes_supported: ["mcp:tools"], ...options.prm }));
  const metadata = {
    issuer,
    authorization_endpoint: `${asBase}/authorize`,
    token_endpoint: `${asBase}/token`,
    ...(options.dcr === false ? {} : { registration_endpoint: `${asBase}/register` }),
    revocation_endpoint: `${asBase}/revoke`,
    userinfo_endpoint: `${asBase}/userinfo`,
    response_types_supported: ["code"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    ...(options.cimd === false ? {} : { client_id_metadata_document_supported: true }),
    authorization_response_iss_parameter_supported: true,
    jwks_uri: `${asBase}/jwks`,
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    ...options.metadata,
  };
  const path = issuerUrl.pathname === "/" ? "" : issuerUrl.pathname.replace(/\/$/, "");
  const metadataUrl = options.openidOnly
    ? `${issuerUrl.origin}/.well-known/openid-configuration${path}`
    : `${issuerUrl.origin}/.well-known/oauth-authorization-server${path}`;
  routes.set(`GET ${metadataUrl}`, () => json(metadata));
  routes.set(`POST ${asBase}/register`, async (req) => {
    const body = (await req.json()) as Record<string, unknown>;
    registrations.push(body);
    return json({ ...body, client_id: "dcr-client-1" }, 201);
  });
  routes.set(`POST ${asBase}/token`, async (req) => {
    tokenRequests.push(new URLSearchParams(await req.text()));
    tokenHeaders.push(req.headers);
    return json({ access_token: "at-1", refresh_token: "rt-1", token_type: "Bearer", expires_in: 3600, scope: "mcp:tools" });
  });
  routes.set(`GET ${asBase}/userinfo`, (req) =>
    req.headers.get("authorization") === "Bearer at-1" ? json({ sub: "u-1", preferred_username: "alice", email: "alice@fixture.test" }) : json({}, 401),
  );
  routes.set(`POST ${asBase}/revoke`, async (req) => {
    revoked.push(new URLSearchParams(await req.text()).get("token") ?? "");
    return new Response(null, { status: 200 });
  });
  return { routes, upstream, issuer, tokenRequests, tokenHeaders, revoked, registrations };
}
