// Two replicas on one PostgreSQL database behind a round-robin proxy (issue 15): a key made through
// one works through the other, a revocation on A stops the key on B on the very next request, an MCP
// session keeps working while its requests alternate between A and B, killing A ends its sessions
// cleanly (404, the SDK client re-initialises on B), nothing committed before the kill is lost, and an
// agent made on B is served on A, an agent narrowed on B is narrowed in the sessions open on A, and a
// connection changed on A is applied on B before its next request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { count, eq } from "drizzle-orm";
import { openPostgres, type DbHandle } from "../../src/db/client.ts";
import { tables } from "../../src/db/store.ts";
import { startTestServer, type ConfigOverrides, type TestServer } from "../support/app.ts";
import { waitUntil } from "../support/gateway-harness.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { MCP_ACCEPT, mintKey } from "../support/key-harness.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { startRoundRobin, type RoundRobin } from "../support/round-robin.ts";
import { freePort } from "../../bench/processes.ts";
import { insertUser } from "../support/users.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const HEARTBEAT_MS = 100;
const DEAD_AFTER_MS = 600;

reportMissingPostgres("the scale-out test", test);
const postgres = usePostgres();

/**
 * A replica, reached by the others and by the proxy through its own door: a one-backend proxy at its
 * advertised address. Closing the door abruptly is the network's view of a killed process (its
 * connections cut, its port refusing), while the replica's heartbeat is stopped as a dead one's would be.
 */
type Replica = { name: "A" | "B"; server: TestServer; door: RoundRobin; url: string };

let databaseUrl: string;
let maintenance: SQL;
let own: DbHandle;
let a: Replica;
let b: Replica;
let proxy: RoundRobin;
let admin: Awaited<ReturnType<typeof insertUser>>;
let token: string;
let manage: string;

async function startReplica(name: "A" | "B"): Promise<Replica> {
  const port = await freePort();
  const door = startRoundRobin([`http://127.0.0.1:${port}`]);
  const overrides: ConfigOverrides = {
    server: { listen: `127.0.0.1:${port}` },
    database: { url: databaseUrl },
    cluster: { enabled: true, advertise_url: door.url, heartbeat: `${HEARTBEAT_MS}ms`, dead_after: `${DEAD_AFTER_MS}ms` },
    connections: [{ slug: "echo", transport: "stdio", command: process.execPath, args: [FIXTURE] }],
  };
  const server = await startTestServer({ overrides });
  await server.server.deps.cluster!.start();
  return { name, server, door, url: door.url };
}

/**
 * The database outlives each test (usePostgres drops its databases after every test): one of our
 * own on the same server, made beside the one usePostgres gives, dropped at the end. The first replica
 * to open it migrates it.
 */
async function sharedDatabase(): Promise<string> {
  const probe = new URL(await postgres.emptyUrl());
  const name = `switchboard_scale_out_${process.pid}`;
  probe.pathname = "/postgres";
  maintenance = new SQL({ url: probe.toString(), max: 1 });
  await maintenance.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await maintenance.unsafe(`CREATE DATABASE "${name}"`);
  probe.pathname = `/${name}`;
  return probe.toString();
}

if (havePostgres) {
  beforeAll(async () => {
    databaseUrl = await sharedDatabase();
    a = await startReplica("A");
    b = await startReplica("B");
    proxy = startRoundRobin([a.url, b.url]);
    own = await openPostgres({ url: databaseUrl, poolSize: 2 });
    admin = await insertUser(a.server.server.deps, "admin");
    token = (await mintKey(a.server.server.deps, admin, { "*": ["*"] })).token;
    manage = (await mintKey(a.server.server.deps, admin, { self: ["*"], "*": ["*"] })).token;
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    for (const replica of [a, b]) {
      await replica?.door.stop();
      await replica?.server.cleanup();
    }
    await own?.close();
    await maintenance?.unsafe(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`);
    await maintenance?.close();
  });
}

async function api(base: string, method: string, path: string, bearer: string, json?: unknown): Promise<Response> {
  return fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
}

/** A tools/list on /mcp/echo with a fresh session (initialize): what a new client of the key gets. */
async function initialize(base: string, bearer: string, path = "/mcp/echo"): Promise<Response> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", accept: MCP_ACCEPT },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "scale-out", version: "1" } } }),
  });
  await res.clone().arrayBuffer();
  return res;
}

/** The SDK client through the proxy; which replica each of its requests reached is in proxy.log. */
async function proxiedClient(path = "/mcp/echo", setup?: (c: Client) => void): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "proxied", version: "1" });
  setup?.(client);
  await client.connect(transport);
  return { client, transport };
}

describe.if(havePostgres)("keys across replicas", () => {
  test("a key created through the proxy on A works through the proxy on B and on B directly", async () => {
    await waitUntilNext(a);
    const made = await api(proxy.url, "POST", "/keys", manage, { name: "made on A", permissions: { "*": ["*"] } });
    expect(made.status).toBe(201);
    expect(proxy.log.at(-1)).toBe(0);
    const { token: fresh } = (await made.json()) as { token: string };
    const onB = await initialize(proxy.url, fresh);
    expect(proxy.log.at(-1)).toBe(1);
    expect(onB.status).toBe(200);
    expect((await initialize(b.url, fresh)).status).toBe(200);
  });

  test("a revocation through A stops the key on B on the very next request", async () => {
    const made = await api(a.url, "POST", "/keys", manage, { name: "to revoke", permissions: { "*": ["*"] } });
    const { token: doomed, key } = (await made.json()) as { token: string; key: { id: string } };
    // B has seen (and cached) the key as valid.
    expect((await initialize(b.url, doomed)).status).toBe(200);
    expect((await api(a.url, "DELETE", `/keys/${key.id}`, manage)).status).toBe(200);
    const after = await initialize(b.url, doomed);
    expect(after.status).toBe(401);
  });
});

/** Makes the proxy's next request go to `replica` (a /healthz to the other one first, if need be). */
async function waitUntilNext(replica: Replica): Promise<void> {
  const index = replica === a ? 0 : 1;
  if (proxy.log.length === 0 ? index === 0 : proxy.log.at(-1) !== index) return;
  await (await fetch(`${proxy.url}/healthz`)).arrayBuffer();
}

describe.if(havePostgres)("an MCP session through the round-robin proxy", () => {
  test("initialize, tools/list, tools/call ×N, the SSE GET stream and DELETE, alternating between A and B", async () => {
    await waitUntilNext(a);
    const from = proxy.log.length;
    let changed!: () => void;
    const listChanged = new Promise<void>((resolve) => (changed = resolve));
    const { client, transport } = await proxiedClient("/mcp/echo", (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => changed()));
    const { mcpSessions } = tables(own.db);
    const [row] = await own.db.select({ replicaId: mcpSessions.replicaId }).from(mcpSessions).where(eq(mcpSessions.sessionId, transport.sessionId!));
    expect(row).toEqual({ replicaId: a.server.server.deps.cluster!.registry.id });

    expect((await client.listTools()).tools.map((t) => t.name)).toContain("echo");
    for (let i = 0; i < 6; i++) {
      const result = await client.callTool({ name: "echo", arguments: { text: `call ${i}` } });
      expect(result.content).toEqual([{ type: "text", text: `call ${i}` }]);
    }
    // The notification comes on the client's GET stream, wherever the proxy sent that.
    await client.callTool({ name: "add_tool", arguments: { name: "extra" } });
    await listChanged;
    const hops = proxy.log.slice(from);
    expect(hops.filter((h) => h === 0).length).toBeGreaterThanOrEqual(4);
    expect(hops.filter((h) => h === 1).length).toBeGreaterThanOrEqual(4);

    const sessionId = transport.sessionId!;
    const [recorded] = await own.db.select().from(mcpSessions).where(eq(mcpSessions.sessionId, sessionId));
    expect(recorded).toBeDefined();
    await transport.terminateSession();
    // The directory's row goes a moment after the session (its delete is not on the DELETE's answer).
    await waitUntil(async () => (await own.db.select().from(mcpSessions).where(eq(mcpSessions.sessionId, sessionId))).length === 0, "the session's row gone");
    await client.close();
  });
});

describe.if(havePostgres)("an agent made on one replica", () => {
  test("is served on the other on its next request", async () => {
    // A has looked for it already, and found nothing.
    expect((await initialize(a.url, token, "/mcp/agent/made-on-b")).status).toBe(404);
    const made = await api(b.url, "POST", "/agents", manage, { slug: "made-on-b", connections: [{ connection: "echo", tools: "all" }] });
    expect(made.status).toBe(201);
    const onA = await initialize(a.url, token, "/mcp/agent/made-on-b");
    expect(onA.status).toBe(200);
    const sessionId = onA.headers.get("mcp-session-id")!;
    const list = await fetch(`${a.url}/mcp/agent/made-on-b`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('"echo"');
  });
});

describe.if(havePostgres)("an agent changed on one replica", () => {
  test("a tool removed from the agent on B can no longer be listed or called in a session open on A", async () => {
    const made = await api(b.url, "POST", "/agents", manage, { slug: "narrowed", connections: [{ connection: "echo", tools: ["echo", "whoami"] }] });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    const init = await initialize(a.url, token, "/mcp/agent/narrowed");
    expect(init.status).toBe(200);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": init.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-06-18" };
    const rpc = async (body: unknown): Promise<string> => (await fetch(`${a.url}/mcp/agent/narrowed`, { method: "POST", headers, body: JSON.stringify(body) })).text();
    await rpc({ jsonrpc: "2.0", method: "notifications/initialized" });
    expect(await rpc({ jsonrpc: "2.0", id: 2, method: "tools/list" })).toContain('"whoami"');

    // The admin takes "whoami" out of the agent through replica B.
    expect((await api(b.url, "PATCH", `/agents/${id}`, manage, { connections: [{ connection: "echo", tools: ["echo"] }] })).status).toBe(200);

    // The call is the security part: A's session must not run what the agent no longer offers.
    const called = await rpc({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "whoami", arguments: {} } });
    expect(called).not.toContain('\\"pid\\"');
    expect(called).toContain("Tool whoami not found");
    const listed = await rpc({ jsonrpc: "2.0", id: 4, method: "tools/list" });
    expect(listed).toContain('"echo"');
    expect(listed).not.toContain('"whoami"');
  });
});

/** A new session on `base`, one tools/call in it: the tool's text, or the HTTP status when refused. */
async function callOnce(base: string, path: string, name: string, args: Record<string, unknown> = {}): Promise<string | number> {
  const init = await initialize(base, token, path);
  if (init.status !== 200) return init.status;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": init.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-06-18" };
  await (await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).arrayBuffer();
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }) });
  const text = await res.text();
  await (await fetch(`${base}${path}`, { method: "DELETE", headers })).arrayBuffer();
  const data = text.split("\n").find((line) => line.startsWith("data: "));
  const message = JSON.parse(data ? data.slice(6) : text) as { result?: { content: { text: string }[] } };
  return message.result!.content[0]!.text;
}

describe.if(havePostgres)("a connection changed on one replica", () => {
  test("is applied on the other before its next request: its new settings, then its removal", async () => {
    const made = await api(a.url, "POST", "/connections", manage, { slug: "live", transport: "stdio", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "before" } });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    // B loads the connection (its runtime, with the settings of the time) by using it.
    expect(JSON.parse((await callOnce(b.url, "/mcp/live", "whoami")) as string).name).toBe("before");

    expect((await api(a.url, "PATCH", `/connections/${id}`, manage, { env: { FIXTURE_NAME: "after" } })).status).toBe(200);
    expect(JSON.parse((await callOnce(b.url, "/mcp/live", "whoami")) as string).name).toBe("after");

    expect((await api(a.url, "DELETE", `/connections/${id}`, manage)).status).toBe(200);
    expect(await callOnce(b.url, "/mcp/live", "whoami")).toBe(404);
  });
});

describe.if(havePostgres)("the sticky proxy (the optional setup that saves the hop)", () => {
  test("sends every request of a session to the replica that answered its initialize", async () => {
    const sticky = startRoundRobin([a.url, b.url], { strategy: "sticky" });
    try {
      const sessions: { owner: number; log: number[] }[] = [];
      for (let n = 0; n < 2; n++) {
        const from = sticky.log.length;
        const transport = new StreamableHTTPClientTransport(new URL(`${sticky.url}/mcp/echo`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
        const client = new Client({ name: "sticky", version: "1" });
        await client.connect(transport);
        for (let i = 0; i < 4; i++) await client.callTool({ name: "echo", arguments: { text: `sticky ${i}` } });
        await transport.terminateSession();
        await client.close();
        sessions.push({ owner: sticky.log[from]!, log: sticky.log.slice(from) });
      }
      // Two initializes went round robin, to A then B; every later request followed its session.
      expect(sessions.map((s) => s.owner)).toEqual([0, 1]);
      for (const session of sessions) expect(session.log.every((i) => i === session.owner)).toBe(true);
    } finally {
      await sticky.stop();
    }
  });
});

// Last: A is killed.
describe.if(havePostgres)("killing replica A", () => {
  test("its sessions get 404 once dead_after has passed, the SDK client re-initialises on B, and nothing committed is lost", async () => {
    const { apiKeys, agents, usageEvents } = tables(own.db);
    const countOf = async (table: typeof apiKeys | typeof agents | typeof usageEvents): Promise<number> => (await own.db.select({ n: count() }).from(table))[0]!.n;
    const start = { keys: await countOf(apiKeys), usage: await countOf(usageEvents) };
    // Rows written before the kill, through both replicas: keys, usage rows (the agents of the tests before: made-on-b, narrowed).
    for (let i = 0; i < 4; i++) expect((await api(proxy.url, "POST", "/keys", manage, { name: `before the kill ${i}`, permissions: { "*": ["*"] } })).status).toBe(201);
    await waitUntilNext(a);
    const { client, transport } = await proxiedClient();
    const before = transport.sessionId!;
    for (let i = 0; i < 4; i++) await client.callTool({ name: "echo", arguments: { text: `before ${i}` } });
    // Usage rows are batched in memory: what was committed is what the recorders have flushed.
    await a.server.server.deps.usageRecorder.flush();
    await b.server.server.deps.usageRecorder.flush();
    const committed = { keys: await countOf(apiKeys), agents: await countOf(agents), usage: await countOf(usageEvents) };
    expect(committed.keys).toBe(start.keys + 4);
    expect(committed.agents).toBe(2);
    // initialize, initialized, 4 calls at least (the GET stream and list calls may add more).
    expect(committed.usage).toBeGreaterThanOrEqual(start.usage + 4);

    // The kill: no more heartbeats, no clean deregistration, the port closed with its connections cut.
    a.server.server.deps.cluster!.registry.stopHeartbeat();
    await a.door.stop();
    // The load balancer's health check takes A out of the pool.
    proxy.markDown(0);
    await Bun.sleep(DEAD_AFTER_MS + 2 * HEARTBEAT_MS);

    const stale = await fetch(`${b.url}/mcp/echo`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": before, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(stale.status).toBe(404);
    expect(await stale.json()).toEqual({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });

    // The SDK client sees the 404 and makes a new session (through the proxy, now on B only).
    await expect(client.callTool({ name: "echo", arguments: { text: "on the dead session" } })).rejects.toThrow(/404|Session not found/);
    await client.close();
    const again = await proxiedClient();
    expect(again.transport.sessionId).not.toBe(before);
    const result = await again.client.callTool({ name: "echo", arguments: { text: "after" } });
    expect(result.content).toEqual([{ type: "text", text: "after" }]);
    await again.client.close();

    // Read back through B's own handle.
    const bDb = b.server.server.deps.db;
    const onB = tables(bDb);
    expect((await bDb.select({ n: count() }).from(onB.apiKeys))[0]!.n).toBe(committed.keys);
    expect((await bDb.select({ n: count() }).from(onB.agents))[0]!.n).toBe(committed.agents);
    expect((await bDb.select({ n: count() }).from(onB.usageEvents))[0]!.n).toBeGreaterThanOrEqual(committed.usage);
  });
});
