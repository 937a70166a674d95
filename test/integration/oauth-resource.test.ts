// The resource server side of OAuth: an access token works only on the agent or connection it was
// issued for, expired, revoked and orphaned tokens are the same 401 invalid_token as unknown ones,
// keys keep working on the same URLs, and the client's token never reaches the upstream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { deleteUser } from "../../src/domain/access/users.ts";
import { exchangeCode, issueCode, revokeGrant } from "../../src/domain/oauth/authorizations.ts";
import { registerClient } from "../../src/domain/oauth/clients.ts";
import type { User } from "../../src/domain/access/users.ts";
import { PUBLIC_URL } from "../support/app.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { startHttpFixture } from "../support/gateway-harness.ts";
import { createHarness, MCP_ACCEPT, mintKey, type Harness } from "../support/key-harness.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const VERIFIER = "a-perfectly-random-code-verifier-of-sufficient-length-0123456789";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
const REDIRECT = "http://127.0.0.1:5555/callback";
const HOUR = 3_600_000;

let h: Harness;
let manage: string;
const ids: Record<string, string> = {};

async function api(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await h.app.request(path, { method, headers: { authorization: `Bearer ${manage}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** An access token for `resource` (an agent or connection id) approved by `user`, minted through the domain. */
async function tokenFor(user: User, resource: string, resourcePath: string, options: { now?: Date } = {}): Promise<{ access: string; grantId: string }> {
  const client = await registerClient(h.deps.db, { name: "Test client", redirectUris: [REDIRECT], clientUri: null, logoUri: null });
  const resourceUrl = `${PUBLIC_URL}${resourcePath}`;
  const code = await issueCode(h.deps.db, h.deps.keys.tokenHmac, { clientId: client.id, userId: user.id, redirectUri: REDIRECT, codeChallenge: CHALLENGE, resource, resourceUrl, scope: "mcp" }, { ttlMs: 300_000, now: options.now });
  const set = await exchangeCode(h.deps.db, h.deps.keys.tokenHmac, { code, clientId: client.id, redirectUri: REDIRECT, codeVerifier: VERIFIER, resourceUrl }, { accessTtlMs: HOUR, refreshTtlMs: 24 * HOUR, now: options.now });
  return { access: set.accessToken, grantId: set.grantId };
}

const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "oauth-resource", version: "1" } } });

function post(path: string, token: string | null, body = INIT, sessionId?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: MCP_ACCEPT };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (sessionId) headers["mcp-session-id"] = sessionId;
  return h.request(path, { method: "POST", headers, body });
}

async function expectInvalidToken(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate") ?? "").toContain('error="invalid_token"');
  await res.body?.cancel();
}

beforeAll(async () => {
  h = await createHarness();
  manage = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
  ids.conn = (await api("POST", "/api/v1/connections", { slug: "echoes", transport: "stdio", command: process.execPath, args: [FIXTURE] })).id as string;
  ids.agentA = (await api("POST", "/api/v1/agents", { slug: "agent-a", connections: [{ connection: "echoes", tools: ["echo"] }] })).id as string;
  ids.agentB = (await api("POST", "/api/v1/agents", { slug: "agent-b", connections: [{ connection: "echoes", tools: ["echo"] }] })).id as string;
});

afterAll(async () => {
  await h.deps.gateway.close();
  h.close();
});

describe("an access token for agent A", () => {
  test("initializes, lists and calls on A, by id and by slug", async () => {
    const { access } = await tokenFor(h.member, ids.agentA!, `/mcp/agent/${ids.agentA}`);
    for (const path of [`/mcp/agent/${ids.agentA}`, "/mcp/agent/agent-a"]) {
      const init = await post(path, access);
      expect(init.status).toBe(200);
      const session = init.headers.get("mcp-session-id")!;
      await init.body?.cancel();
      await (await post(path, access, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), session)).body?.cancel();
      const list = await post(path, access, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), session);
      expect(await list.text()).toContain('"echo"');
      const call = await post(path, access, JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "hello" } } }), session);
      expect(await call.text()).toContain("hello");
    }
  });

  test("is invalid_token on agent B, on A's connection, on a missing agent, on the management endpoints and on the key-only URL", async () => {
    const { access } = await tokenFor(h.admin, ids.agentA!, `/mcp/agent/${ids.agentA}`);
    await expectInvalidToken(await post(`/mcp/agent/${ids.agentB}`, access));
    await expectInvalidToken(await post(`/mcp/${ids.conn}`, access));
    await expectInvalidToken(await post("/mcp/agent/agent_00000000-0000-4000-8000-000000000000", access));
    await expectInvalidToken(await post("/mcp/agent/no-such-agent", access));
    await expectInvalidToken(await post("/mcp/self", access));
    await expectInvalidToken(await h.request("/api/v1/whoami", { headers: { authorization: `Bearer ${access}` } }));
    await expectInvalidToken(await post(`/mcp-key/agent/${ids.agentA}`, access));
  });

  test("a session opened with it cannot be used with another credential of the same user", async () => {
    const { access } = await tokenFor(h.admin, ids.agentA!, `/mcp/agent/${ids.agentA}`);
    const init = await post(`/mcp/agent/${ids.agentA}`, access);
    const session = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    const key = (await mintKey(h.deps, h.admin, { "*": ["*"] })).token;
    const borrowed = await post(`/mcp/agent/${ids.agentA}`, key, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), session);
    expect(borrowed.status).toBe(404);
    await borrowed.body?.cancel();
  });

  test("stops on the very next request once expired, revoked, or its user deleted", async () => {
    const expired = await tokenFor(h.admin, ids.agentA!, `/mcp/agent/${ids.agentA}`, { now: new Date(Date.now() - 2 * HOUR) });
    await expectInvalidToken(await post(`/mcp/agent/${ids.agentA}`, expired.access));

    const revoked = await tokenFor(h.admin, ids.agentA!, `/mcp/agent/${ids.agentA}`);
    const ok = await post(`/mcp/agent/${ids.agentA}`, revoked.access);
    expect(ok.status).toBe(200);
    const session = ok.headers.get("mcp-session-id")!;
    await ok.body?.cancel();
    await revokeGrant(h.deps.db, revoked.grantId);
    await expectInvalidToken(await post(`/mcp/agent/${ids.agentA}`, revoked.access, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), session));

    const leaver = (await h.createUser("leaver@example.com", "member")) as User;
    const orphan = await tokenFor(leaver, ids.agentA!, `/mcp/agent/${ids.agentA}`);
    expect((await post(`/mcp/agent/${ids.agentA}`, orphan.access)).status).toBe(200);
    await deleteUser(h.deps.db, leaver.id);
    await expectInvalidToken(await post(`/mcp/agent/${ids.agentA}`, orphan.access));
  });
});

describe("an access token for a connection", () => {
  test("works on that connection only", async () => {
    const { access } = await tokenFor(h.member, ids.conn!, `/mcp/${ids.conn}`);
    const res = await post("/mcp/echoes", access);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await expectInvalidToken(await post(`/mcp/agent/${ids.agentA}`, access));
  });
});

describe("API keys on the same URLs", () => {
  test("work on /mcp/agent/<id> and on the key-only /mcp-key/agent/<id>", async () => {
    const key = (await mintKey(h.deps, h.member, { [ids.agentA!]: ["*"] })).token;
    for (const path of [`/mcp/agent/${ids.agentA}`, `/mcp-key/agent/${ids.agentA}`, "/mcp-key/agent/agent-a"]) {
      const res = await post(path, key);
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }
    const conn = (await mintKey(h.deps, h.member, { [ids.conn!]: ["*"] })).token;
    const res = await post(`/mcp-key/${ids.conn}`, conn);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe("the upstream", () => {
  test("never sees the client's access token, only the connection's own credentials", async () => {
    const seen: (string | null)[] = [];
    const fixture = await startHttpFixture("http");
    const target = new URL(fixture.url);
    // A recording proxy in front of the fixture: what the upstream is sent, header by header.
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        seen.push(req.headers.get("authorization"));
        const url = new URL(req.url);
        url.host = target.host;
        return fetch(url, { method: req.method, headers: req.headers, body: req.body });
      },
    });
    try {
      const id = (await api("POST", "/api/v1/connections", { slug: "recorded", transport: "http", url: `http://127.0.0.1:${proxy.port}/mcp`, token: "connection-own-token" })).id as string;
      const { access } = await tokenFor(h.member, id, `/mcp/${id}`);
      const res = await post(`/mcp/${id}`, access);
      expect(res.status).toBe(200);
      await res.body?.cancel();
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((value) => value === "Bearer connection-own-token")).toBe(true);
    } finally {
      proxy.stop(true);
      await fixture.stop();
    }
  });
});
