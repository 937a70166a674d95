// An OAuth connection's tokens never come back through its upstream's text: an upstream that echoes the
// Authorization it was sent (in an error body, a discovery error) has it redacted wherever that text is
// shown or kept: a connection test's result, a call's error, discovery's error, a usage row. The
// tokens are the ones the gateway sent (spec.token is null for OAuth), so redact.ts learns them as sent.
import { afterEach, expect, test } from "bun:test";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { DEFAULT_ADDRESS_POLICY } from "../../src/gateway/upstream/address-policy.ts";
import { OAuthCredentials } from "../../src/gateway/upstream/oauth/credentials.ts";
import { silentLogger } from "../../src/logger.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { startTestServer } from "../support/app.ts";
import { GatewayHarness, httpSpec, makeCaller, textOf } from "../support/gateway-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { MemoryOAuthStore } from "../support/memory-oauth-store.ts";
import { insertUser } from "../support/users.ts";

const ACCESS = "shared-secret-token-4f9a";
const REFRESH = "refresh-secret-token-77c1";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/**
 * An MCP upstream with one tool, answering the JSON-RPC methods in `failing` with a 500 whose body
 * echoes the Authorization it was sent (as a careless upstream's error page does).
 */
function echoingUpstream(failing: Set<string>): string {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const text = req.method === "POST" ? await req.text() : null;
      const method = text ? (JSON.parse(text) as { method?: string }).method : undefined;
      if (method && failing.has(method)) return new Response(`rejected credentials: ${req.headers.get("authorization")}`, { status: 500 });
      const mcp = new McpServer({ name: "echo", version: "1" });
      mcp.registerTool("ping", { description: "answers pong" }, async () => ({ content: [{ type: "text", text: "pong" }] }));
      mcp.registerTool("headers", { description: "answers the Authorization it was sent" }, async (extra) => ({ content: [{ type: "text", text: `sent: ${extra.requestInfo?.headers.authorization}` }] }));
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await mcp.connect(transport);
      return transport.handleRequest(new Request(req.url, { method: req.method, headers: req.headers, body: text }));
    },
  });
  cleanups.push(async () => void server.stop(true));
  return `http://127.0.0.1:${server.port}/mcp`;
}

/** A gateway over one OAuth connection to `url`, the link of `subject` holding ACCESS and REFRESH. */
async function gatewayOver(url: string, subject: OAuthSubject = "shared" as OAuthSubject): Promise<{ harness: GatewayHarness; spec: ReturnType<typeof httpSpec>; records: UsageRecord[] }> {
  const store = new MemoryOAuthStore();
  const spec = httpSpec(url, { oauth: { mode: subject === "shared" ? "shared" : "per_user" }, title: "Echo", recordPayloads: true });
  await store.saveLink({ connectionId: spec.id, subject, tokens: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: null, scope: null }, account: "bot", connectedBy: "user_admin" });
  const credentials = new OAuthCredentials({ store, isAdmin: async () => true, probe: () => "v1", publicUrl: "https://sb.example.com", addressPolicy: DEFAULT_ADDRESS_POLICY, logger: silentLogger });
  const records: UsageRecord[] = [];
  const harness = new GatewayHarness([spec], { credentials, usage: { sink: { record: (r) => void records.push(r) }, payloadMaxBytes: 4096, redactPatterns: [] } });
  cleanups.push(() => harness.close());
  return { harness, spec, records };
}

test("a member's CONNECTION_TEST never shows the shared OAuth token, even when the upstream's error echoes it", async () => {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const url = echoingUpstream(new Set(["initialize"]));
  const deps = server.server.deps;
  const [admin, bob] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "echo", transport: "http", url, auth: "oauth", oauthMode: "shared" }));
  await upstreamOAuthStore(connectionStore(deps)).saveLink({ connectionId: connection.id, subject: "shared" as OAuthSubject, tokens: { accessToken: ACCESS, refreshToken: null, expiresAt: null, scope: null }, account: "bot", connectedBy: admin!.id });
  const { token } = await mintKey(deps, bob!, { self: ["*"] });
  const response = await fetch(`${server.url}/api/v1/connections/test`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ id: connection.id }) });
  const body = await response.text();
  expect(response.status).toBe(200);
  // The upstream did echo it (the test would prove nothing otherwise): redacted, not missing.
  expect(body).toContain("rejected credentials: Bearer [redacted]");
  expect(body).not.toContain(ACCESS);
});

test("a call's error ('Error POSTing to endpoint: <body>') and its usage row never carry the token the upstream echoed", async () => {
  const failing = new Set<string>();
  const { harness, spec, records } = await gatewayOver(echoingUpstream(failing));
  const client = await harness.connect(spec.id, { caller: makeCaller({ "*": ["*"] }) });
  expect(textOf(await client.callTool({ name: "ping", arguments: {} }))).toBe("pong");
  failing.add("tools/call");
  const outcome = await client.callTool({ name: "ping", arguments: {} }).then(
    (result) => textOf(result),
    (err: Error) => err.message,
  );
  expect(outcome).toContain("rejected credentials: Bearer [redacted]");
  expect(outcome).not.toContain(ACCESS);
  const failed = records.filter((r) => r.method === "tools/call" && r.outcome === "error");
  expect(failed.length).toBe(1);
  expect(failed[0]!.errorMessage).toContain("[redacted]");
  expect(JSON.stringify(records)).not.toContain(ACCESS);
});

test("per-user: a token first sent after the session began (its usage policy already made) is masked in the usage row's payload", async () => {
  const caller = makeCaller({ "*": ["*"] });
  const { harness, spec, records } = await gatewayOver(echoingUpstream(new Set()), caller.user.id as OAuthSubject);
  const client = await harness.connect(spec.id, { caller });
  // The caller's own token, in their own answer: theirs to see; the usage row (read by admins) masks it.
  expect(textOf(await client.callTool({ name: "headers", arguments: {} }))).toBe(`sent: Bearer ${ACCESS}`);
  const call = records.find((r) => r.method === "tools/call" && r.name === "headers");
  expect(JSON.stringify(call?.payload?.result)).toContain("sent: Bearer [redacted]");
  expect(JSON.stringify(records)).not.toContain(ACCESS);
});

test("discovery's error never carries the token the upstream echoed", async () => {
  const { harness, spec } = await gatewayOver(echoingUpstream(new Set(["tools/list"])));
  const runtime = await harness.runtime(spec.id);
  const discovery = await runtime.refresh();
  expect(discovery.error).toContain("rejected credentials: Bearer [redacted]");
  expect(discovery.error).not.toContain(ACCESS);
});

test("the connection test's result never carries the token the upstream echoed", async () => {
  const { harness, spec } = await gatewayOver(echoingUpstream(new Set(["initialize"])));
  const result = await harness.gateway.test(spec);
  expect(result.ok).toBe(false);
  expect(result.error).toContain("rejected credentials: Bearer [redacted]");
  expect(result.error).not.toContain(ACCESS);
});
