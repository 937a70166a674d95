// Calls to an OAuth-protected upstream (the loopback fixture, test/fixtures/oauth-upstream.ts) through
// the gateway carry the right token: the shared account's for everyone in shared mode, each user's own
// in per-user mode (the fixture answers whoami with the account the token belongs to), through a
// connection and through an agent. A user without a usable token gets a tool error naming where to
// connect, never another's token, while other users' calls go on at once; tokens are refreshed before
// expiry and on a 401, once for concurrent calls; a refused refresh marks only that user's link.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { discoverAuthorizationServerMetadata, exchangeAuthorization, registerClient, startAuthorization } from "@modelcontextprotocol/sdk/client/auth.js";
import { createChangeFeed } from "../../src/db/change-probe.ts";
import type { DbHandle } from "../../src/db/client.ts";
import type { Db } from "../../src/db/store.ts";
import { getUser } from "../../src/domain/access/users.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject, UpstreamOAuthStore } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { OAuthMode } from "../../src/domain/connections/spec.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { OAuthCredentials } from "../../src/gateway/upstream/oauth/credentials.ts";
import { DEFAULT_ADDRESS_POLICY } from "../../src/gateway/upstream/address-policy.ts";
import { silentLogger } from "../../src/logger.ts";
import { approveAuthorization, startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { useTestDatabase } from "../support/db.ts";
import { GatewayHarness, httpSpec, makeCaller, textOf, waitUntil, type GatewayCaller } from "../support/gateway-harness.ts";
import { TEST_ON_POSTGRES, usePostgres } from "../support/postgres.ts";
import { insertUser } from "../support/users.ts";

const PUBLIC_URL = "https://sb.example.com";
const REDIRECT = "http://127.0.0.1:1/oauth/upstream/callback";
type UserName = "admin" | "alice" | "bob" | "carol";

const openSqlite = useTestDatabase();
const pg = usePostgres();

let upstream: OAuthUpstream;
let store: UpstreamOAuthStore;
let db: Db;
let handle: DbHandle;
let USERS: Record<UserName, OAuthSubject>;
let clock = 0;
let harness: GatewayHarness | null = null;
let records: UsageRecord[] = [];

/** A fresh database (SQLite, or PostgreSQL under SWITCHBOARD_TEST_DATABASE=postgres) with an admin and three members. */
async function world(): Promise<void> {
  handle = TEST_ON_POSTGRES ? await pg.open() : openSqlite();
  db = handle.db as Db;
  store = upstreamOAuthStore({ db, encryptionKey: randomBytes(32), stdio: { enabled: false, allowed_commands: [] } });
  const ids = await Promise.all((["admin", "member", "member", "member"] as const).map((role) => insertUser({ db }, role)));
  USERS = { admin: ids[0]!.id, alice: ids[1]!.id, bob: ids[2]!.id, carol: ids[3]!.id } as Record<UserName, OAuthSubject>;
}

function caller(name: UserName): GatewayCaller {
  const base = makeCaller({ "*": ["*"] }, `key_${name}`);
  return { ...base, user: { ...base.user, id: USERS[name], email: `${name}@example.com`, role: name === "admin" ? "admin" : "member" } };
}

/** Registers Switchboard at the fixture (dynamic registration) and stores the registration for `connectionId`. */
async function register(connectionId: string): Promise<{ clientId: string }> {
  const metadata = (await discoverAuthorizationServerMetadata(upstream.issuer))!;
  const client = await registerClient(upstream.issuer, { metadata, clientMetadata: { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], client_name: "switchboard-test" } });
  await store.saveRegistration({
    connectionId,
    issuer: upstream.issuer,
    resource: upstream.mcpUrl,
    authorizationEndpoint: metadata.authorization_endpoint,
    tokenEndpoint: metadata.token_endpoint,
    revocationEndpoint: null,
    userinfoEndpoint: null,
    method: "dcr",
    clientId: client.client_id,
    clientSecret: null,
    tokenEndpointAuthMethod: "none",
    scopes: "mcp:tools",
    redirectUri: REDIRECT,
    createdAt: new Date(),
  });
  return { clientId: client.client_id };
}

/** Authorizes `account` at the fixture (code + PKCE, as the authorizer does) and stores the link of `subject`. */
async function connectAccount(connectionId: string, subject: OAuthSubject, account: string): Promise<void> {
  const registration = (await store.getRegistration(connectionId))!;
  const metadata = (await discoverAuthorizationServerMetadata(upstream.issuer))!;
  const clientInformation = { client_id: registration.clientId, token_endpoint_auth_method: "none" };
  const { authorizationUrl, codeVerifier } = await startAuthorization(upstream.issuer, { metadata, clientInformation, redirectUrl: REDIRECT, scope: "mcp:tools", resource: new URL(upstream.mcpUrl), state: "s" });
  const code = new URL(await approveAuthorization(authorizationUrl, account)).searchParams.get("code")!;
  const tokens = await exchangeAuthorization(upstream.issuer, { metadata, clientInformation, authorizationCode: code, codeVerifier, redirectUri: REDIRECT, resource: new URL(upstream.mcpUrl) });
  const now = new Date(Date.now() + clock);
  const expiresAt = tokens.expires_in ? new Date(now.getTime() + tokens.expires_in * 1000) : null;
  await store.saveLink({ connectionId, subject, tokens: { accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? null, expiresAt, scope: tokens.scope ?? null }, account, connectedBy: subject === "shared" ? USERS.admin : subject, now });
}

async function setup(mode: OAuthMode, options: { agent?: boolean } = {}): Promise<{ harness: GatewayHarness; spec: ReturnType<typeof httpSpec>; agent: AgentSpec }> {
  await world();
  const row = await createConnection({ db, encryptionKey: randomBytes(32), stdio: { enabled: false, allowed_commands: [] } }, newConnectionFields({ slug: `tracker-${mode}`, transport: "http", url: upstream.mcpUrl }));
  const spec = httpSpec(upstream.mcpUrl, { id: row.id, oauth: { mode }, title: "Tracker", slug: `tracker-${mode}` });
  const agent: AgentSpec = {
    id: `agent_${crypto.randomUUID()}`,
    slug: `agent-${mode}`,
    title: "",
    description: "",
    instructions: "",
    enabled: true,
    prefixTools: false,
    connections: [{ connectionId: spec.id, tools: "all", resources: "none", prompts: "none" }],
    fromConfig: false,
  };
  const credentials = new OAuthCredentials({
    store,
    isAdmin: async (id) => (await getUser(db, id))?.role === "admin",
    probe: createChangeFeed(handle),
    publicUrl: PUBLIC_URL,
    addressPolicy: DEFAULT_ADDRESS_POLICY,
    logger: silentLogger,
    now: () => Date.now() + clock,
    refusalRecheckMs: 10,
  });
  harness = new GatewayHarness([spec], {
    agents: options.agent === false ? [] : [agent],
    credentials,
    usage: { sink: { record: (r) => void records.push(r) }, payloadMaxBytes: 0, redactPatterns: [] },
  });
  return { harness, spec, agent };
}

async function whoamiOf(client: Client): Promise<string> {
  const result = await client.callTool({ name: "whoami", arguments: {} });
  expect(result.isError).toBeFalsy();
  return textOf(result);
}

beforeAll(async () => {
  upstream = await startOAuthUpstream({ cimd: false });
});

afterAll(async () => {
  await upstream.close();
});

afterEach(async () => {
  await harness?.close();
  harness = null;
  records = [];
  clock = 0;
  upstream.setAccessTtl(3600);
});

describe("shared mode", () => {
  test("one token for every caller: two users' keys call as the shared account", async () => {
    const { harness, spec } = await setup("shared");
    await register(spec.id);
    await connectAccount(spec.id, "shared", "teambot");
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    const b = await harness.connect(spec.id, { caller: caller("bob") });
    expect(await whoamiOf(a)).toContain("teambot");
    expect(await whoamiOf(b)).toContain("teambot");
    expect(upstream.stats.toolCalls.slice(-2).map((c) => c.user)).toEqual(["teambot", "teambot"]);
  });

  test("not authorized yet: discovery shows needs_authorization (no backoff, no error state) and a call gets the admin's page", async () => {
    const { harness, spec } = await setup("shared");
    const runtime = await harness.runtime(spec.id);
    const discovery = await runtime.refresh();
    expect(runtime.getStatus().state).toBe("needs_authorization");
    expect(runtime.getStatus().lastError).toContain(`${PUBLIC_URL}/admin/connections/${spec.id}#oauth`);
    expect(discovery.error).toContain("has not been authorized yet");
    const client = await harness.connect(spec.id, { caller: caller("alice") });
    const result = await client.callTool({ name: "whoami", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`${PUBLIC_URL}/admin/connections/${spec.id}#oauth`);
    // Authorized now: the status being polled turns connected by itself, and the very next call goes through.
    await register(spec.id);
    await connectAccount(spec.id, "shared", "teambot");
    await waitUntil(async () => (await harness.gateway.status(spec.id)).state === "connected", "the status to see the authorization");
    expect(runtime.discovery.tools.map((t) => t.name)).toContain("whoami");
    expect(await whoamiOf(client)).toContain("teambot");
  });
});

describe("per-user mode", () => {
  let fixture: Awaited<ReturnType<typeof setup>>;

  async function perUser(): Promise<Awaited<ReturnType<typeof setup>>> {
    fixture = await setup("per_user");
    await register(fixture.spec.id);
    await connectAccount(fixture.spec.id, USERS.admin, "root");
    await connectAccount(fixture.spec.id, USERS.alice, "alice");
    await connectAccount(fixture.spec.id, USERS.bob, "bob");
    return fixture;
  }

  test("each call carries its user's own token, through the connection and through an agent", async () => {
    const { harness, spec, agent } = await perUser();
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    const b = await harness.connect(spec.id, { caller: caller("bob") });
    expect(await whoamiOf(a)).toContain("alice");
    expect(await whoamiOf(b)).toContain("bob");
    const agentA = await harness.connectAgent(agent.id, { caller: caller("alice") });
    const agentB = await harness.connectAgent(agent.id, { caller: caller("bob") });
    expect((await agentA.listTools()).tools.map((t) => t.name)).toContain("whoami");
    expect(await whoamiOf(agentA)).toContain("alice");
    expect(await whoamiOf(agentB)).toContain("bob");
    expect(upstream.stats.toolCalls.filter((c) => c.tool === "whoami").slice(-4).map((c) => c.user)).toEqual(["alice", "bob", "alice", "bob"]);
  });

  test("a user without a link gets the tool error with the page to connect (never the admin's or the shared token), while others' calls go on at once", async () => {
    const { harness, spec, agent } = await perUser();
    // A shared link exists too: it must never serve a per-user connection's calls.
    await connectAccount(spec.id, "shared", "teambot");
    const carol = await harness.connect(spec.id, { caller: caller("carol") });
    // Carol's client still lists the tools (from discovery), so it can call one and be told where to connect.
    expect((await carol.listTools()).tools.map((t) => t.name)).toContain("whoami");
    const calls = upstream.stats.toolCalls.length;
    const result = await carol.callTool({ name: "whoami", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
    expect(textOf(result)).toContain("You have not connected your account");
    expect(upstream.stats.toolCalls.length).toBe(calls);
    const viaAgent = await harness.connectAgent(agent.id, { caller: caller("carol") });
    const agentResult = await viaAgent.callTool({ name: "whoami", arguments: {} });
    expect(agentResult.isError).toBe(true);
    expect(textOf(agentResult)).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
    expect(upstream.stats.toolCalls.length).toBe(calls);
    // Any other request: a JSON-RPC error with the same message.
    const read = await carol.readResource({ uri: "fixture://nothing" }).then(() => null, (e: Error) => e);
    expect(read?.message).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
    // Bob at once: no backoff, no error state.
    const bob = await harness.connect(spec.id, { caller: caller("bob") });
    expect(await whoamiOf(bob)).toContain("bob");
    expect((await harness.runtime(spec.id)).getStatus().state).not.toBe("error");
    // Usage: recorded as an error with the code, naming the page.
    const denied = records.filter((r) => r.method === "tools/call" && r.errorCode === "UPSTREAM_AUTHORIZATION_REQUIRED");
    expect(denied.length).toBe(2);
    expect(denied.every((r) => r.outcome === "error" && r.actor.userId === USERS.carol)).toBe(true);
  });

  test("the admin's Try it and connection test: Try it calls as the signed-in user; the test uses discovery's (an admin's) token", async () => {
    const { harness, spec, agent } = await perUser();
    expect(textOf(await harness.gateway.callAgentTool(agent.id, caller("alice"), "whoami", {}))).toContain("alice");
    const carol = await harness.gateway.callAgentTool(agent.id, caller("carol"), "whoami", {});
    expect(carol.isError).toBe(true);
    expect(textOf(carol)).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
    const tested = await harness.gateway.test(spec);
    expect(tested.ok).toBe(true);
    expect(tested.tools).toBeGreaterThan(0);
    await store.deleteLink(spec.id, USERS.admin);
    const untested = await harness.gateway.test({ ...spec });
    expect(untested.ok).toBe(false);
    expect(untested.error).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
  });

  test("a refused refresh (revoked + expired) marks only that user's link; the other user's calls go on", async () => {
    const { harness, spec } = await perUser();
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    const b = await harness.connect(spec.id, { caller: caller("bob") });
    expect(await whoamiOf(a)).toContain("alice");
    upstream.revokeRefreshTokens("alice");
    upstream.expireAccessTokens();
    const result = await a.callTool({ name: "whoami", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("needs to be connected again");
    expect((await store.getLink(spec.id, USERS.alice))!.state).toBe("needs_reauth");
    expect((await store.getLink(spec.id, USERS.bob))!.state).toBe("connected");
    expect(await whoamiOf(b)).toContain("bob");
    expect((await harness.runtime(spec.id)).getStatus().state).not.toBe("error");
  });

  test("expiry: refreshed before the token expires, and on the 401 after it was expired early; no call fails", async () => {
    upstream.setAccessTtl(2);
    const { harness, spec } = await perUser();
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    expect(await whoamiOf(a)).toContain("alice");
    const before = upstream.stats.tokenRequests.refresh_token;
    const unauthorized = upstream.stats.unauthorized;
    // 1.5 s on: the 2 s token is past half its life, so it is refreshed before it is used.
    clock = 1500;
    expect(await whoamiOf(a)).toContain("alice");
    expect(upstream.stats.tokenRequests.refresh_token).toBe(before + 1);
    expect(upstream.stats.unauthorized).toBe(unauthorized);
    // Expired early by the server: the 401 is answered by a refresh and the same call goes through.
    upstream.setAccessTtl(3600);
    clock = 0;
    upstream.expireAccessTokens();
    expect(await whoamiOf(a)).toContain("alice");
    expect(upstream.stats.tokenRequests.refresh_token).toBe(before + 2);
  });

  test("concurrent calls after expiry refresh once", async () => {
    const { harness, spec } = await perUser();
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    expect(await whoamiOf(a)).toContain("alice");
    const before = upstream.stats.tokenRequests.refresh_token;
    upstream.expireAccessTokens();
    const answers = await Promise.all(Array.from({ length: 6 }, () => whoamiOf(a)));
    expect(answers.every((t) => t.includes("alice"))).toBe(true);
    expect(upstream.stats.tokenRequests.refresh_token).toBe(before + 1);
  });

  test("a disconnect stops the user's next call, even on an open session", async () => {
    const { harness, spec } = await perUser();
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    expect(await whoamiOf(a)).toContain("alice");
    await store.deleteLink(spec.id, USERS.alice);
    const result = await a.callTool({ name: "whoami", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("You have not connected your account");
    // Connected again (maybe as another account): the same session calls with the new token.
    await connectAccount(spec.id, USERS.alice, "alice2");
    expect(await whoamiOf(a)).toContain("alice2");
  });

  test("discovery uses an admin's link; with none (only members connected) it needs authorization, and members still call", async () => {
    const { harness, spec } = await setup("per_user", { agent: false });
    await register(spec.id);
    await connectAccount(spec.id, USERS.alice, "alice");
    const runtime = await harness.runtime(spec.id);
    await runtime.refresh();
    expect(runtime.getStatus().state).toBe("needs_authorization");
    const a = await harness.connect(spec.id, { caller: caller("alice") });
    expect(await whoamiOf(a)).toContain("alice");
    // A member's session reaching the upstream does not hide that discovery has no admin's link.
    expect(runtime.getStatus().state).toBe("needs_authorization");
    expect(runtime.getStatus().lastError).toContain(`${PUBLIC_URL}/admin/connected-accounts#${spec.id}`);
    // Said to whoever reads the status (an admin, most likely): an admin's own account is what is missing.
    expect(runtime.getStatus().lastError).toContain("no admin has a connected one");
    // Looking at the status again and again (the admin's page polls it) never shows "connecting" while
    // there is still no token to connect with.
    for (let i = 0; i < 3; i++) {
      expect((await harness.gateway.status(spec.id)).state).toBe("needs_authorization");
      (runtime as unknown as { authorizationRecheckAt: number }).authorizationRecheckAt = 0;
    }
    await connectAccount(spec.id, USERS.admin, "root");
    const discovery = await runtime.refresh();
    expect(discovery.error).toBeNull();
    expect(discovery.tools.map((t) => t.name)).toContain("whoami");
    expect(runtime.getStatus().state).toBe("connected");
  });
});
