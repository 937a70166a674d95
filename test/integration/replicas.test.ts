// Two replicas in one process sharing one PostgreSQL database (clustering on by itself): a session made
// on A keeps working when its requests alternate between A and B (tools/list, tools/call, the SSE GET
// stream, DELETE), B never forwards a forwarded request, a dead A's sessions are 404 on B, and a forged
// X-Switchboard-Forwarded gets nothing.
// Not one SQLite file: two handles on one file in one thread deadlock, one holding a transaction across
// an await while the other busy-waits on the file lock in the same thread, so the first never resumes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import { tables } from "../../src/db/store.ts";
import { deriveKeys } from "../../src/security/keys.ts";
import { CLIENT_HEADER, FORWARDED_HEADER } from "../../src/gateway/cluster/forward.ts";
import { startTestServer, TEST_SECRET, type TestServer } from "../support/app.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { MCP_ACCEPT, mintKey } from "../support/key-harness.ts";
import { freshPostgresDatabase, havePostgres, reportMissingPostgres, warmPostgres } from "../support/postgres.ts";
import { waitUntil } from "../support/gateway-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const KEY = deriveKeys(TEST_SECRET).replicaForward;
const DEAD_AFTER_MS = 400;

let dir: string;
let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let a: TestServer;
let b: TestServer;
let token: string;
let manage: string;
let admin: Awaited<ReturnType<typeof insertUser>>;

function startReplica(): Promise<TestServer> {
  return startTestServer({
    dir,
    overrides: {
      database: { url: database.url, pool_size: 4 },
      cluster: { heartbeat: "100ms", dead_after: `${DEAD_AFTER_MS}ms` },
      connections: [{ slug: "echo", transport: "stdio", command: process.execPath, args: [FIXTURE] }],
    },
  });
}

reportMissingPostgres("the replicas tests", test);
warmPostgres();

beforeAll(async () => {
  if (!havePostgres) return;
  dir = mkdtempSync(join(tmpdir(), "switchboard-replicas-"));
  database = await freshPostgresDatabase();
  a = await startReplica();
  b = await startReplica();
  await a.server.deps.cluster!.start();
  await b.server.deps.cluster!.start();
  admin = await insertUser(a.server.deps, "admin");
  token = (await mintKey(a.server.deps, admin, { "*": ["*"] })).token;
  manage = (await mintKey(a.server.deps, admin, { self: ["*"] })).token;
});

afterAll(async () => {
  await a?.server.stop();
  await b?.server.stop();
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The servers each request went to, in order. */
type Hops = { to: ("A" | "B")[] };

/**
 * A client of /mcp/echo behind a round-robin balancer played by its fetch: POSTs alternate between the
 * replicas (the initialize goes to A), and the GET stream and the DELETE go to B.
 */
async function balancedClient(hops: Hops, setup?: (c: Client) => void): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  let posts = 0;
  const balancer = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    const method = init?.method ?? "GET";
    const toB = method === "POST" ? posts++ % 2 === 1 : true;
    hops.to.push(toB ? "B" : "A");
    return fetch(`${toB ? b.url : a.url}${url.pathname}${url.search}`, init);
  };
  const transport = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp/echo`), { fetch: balancer, requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "balanced", version: "1" });
  setup?.(client);
  await client.connect(transport);
  return { client, transport };
}

/** A valid X-Switchboard-Forwarded for these fields (what a replica would send), at `at`. */
function signature(at: number, method: string, path: string, sessionId: string, client = ""): string {
  return `v1.${at}.${createHmac("sha256", KEY).update(`${at}\n${method}\n${path}\n${sessionId}\n${client}`).digest("hex")}`;
}

async function sessionRow(sessionId: string): Promise<{ replicaId: string } | undefined> {
  const db = a.server.deps.db;
  const { mcpSessions } = tables(db);
  const [row] = await db.select({ replicaId: mcpSessions.replicaId }).from(mcpSessions).where(eq(mcpSessions.sessionId, sessionId));
  return row;
}

function toolsList(server: TestServer, sessionId: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/mcp/echo`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18", ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list" }),
  });
}

describe.skipIf(!havePostgres)("a session across two replicas", () => {
  test("requests alternating between A and B reach A's session: tools/list, tools/call, the SSE stream, DELETE", async () => {
    const hops: Hops = { to: [] };
    let changed!: () => void;
    const listChanged = new Promise<void>((resolve) => (changed = resolve));
    const { client, transport } = await balancedClient(hops, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => changed()));
    const sessionId = transport.sessionId!;
    expect(await sessionRow(sessionId)).toEqual({ replicaId: a.server.deps.cluster!.registry.id });
    expect(b.server.deps.gateway.holds?.(sessionId)).toBe(false);

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("echo");
    for (const text of ["one", "two", "three"]) {
      const result = await client.callTool({ name: "echo", arguments: { text } });
      expect(result.content).toEqual([{ type: "text", text }]);
    }
    // The notification comes on the GET stream, which the client opened through B.
    await client.callTool({ name: "add_tool", arguments: { name: "extra" } });
    await listChanged;
    expect(hops.to.filter((h) => h === "B").length).toBeGreaterThanOrEqual(3);
    expect(hops.to).toContain("A");

    await transport.terminateSession();
    expect(a.server.deps.gateway.holds?.(sessionId)).toBe(false);
    // The directory's row goes a moment after the session (its delete is not on the DELETE's answer).
    await waitUntil(async () => (await sessionRow(sessionId)) === undefined, "the session's directory row gone");
    await client.close();
  });

  test("a request signed by a replica is served where it lands: B never forwards it again", async () => {
    const { client, transport } = await balancedClient({ to: [] });
    const sessionId = transport.sessionId!;
    const forwarded = await toolsList(b, sessionId, { [FORWARDED_HEADER]: signature(Date.now(), "POST", "/mcp/echo", sessionId) });
    expect(forwarded.status).toBe(404);
    expect(await forwarded.text()).toContain("Session not found");
    // The same request unsigned is forwarded to A and answered.
    const plain = await toolsList(b, sessionId);
    expect(plain.status).toBe(200);
    expect(await plain.text()).toContain("echo");
    // B does not check the credential: A does, and a wrong one gets A's 401 through B.
    const stranger = await toolsList(b, sessionId, { authorization: "Bearer mcp_key_not-a-token" });
    expect(stranger.status).toBe(401);
    expect(await stranger.text()).not.toContain("echo");
    await client.close();
  });

  test("the owner records the client a signed forward names, and ignores the header unsigned", async () => {
    const { client, transport } = await balancedClient({ to: [] });
    const sessionId = transport.sessionId!;
    // A key with no grant on the connection: the route refuses it and records the refusal with the client's address.
    const owner = await insertUser(a.server.deps, "admin");
    const { key, token: stranger } = await mintKey(a.server.deps, owner, { self: ["WHOAMI"] });
    const asStranger = { authorization: `Bearer ${stranger}`, [CLIENT_HEADER]: "203.0.113.7" };
    const signed = await toolsList(a, sessionId, { ...asStranger, [FORWARDED_HEADER]: signature(Date.now(), "POST", "/mcp/echo", sessionId, "203.0.113.7") });
    expect(signed.status).toBe(403);
    const unsigned = await toolsList(a, sessionId, asStranger);
    expect(unsigned.status).toBe(403);
    // The address is part of what is signed: another one under the same signature is refused outright.
    const swapped = await toolsList(a, sessionId, { ...asStranger, [CLIENT_HEADER]: "198.51.100.1", [FORWARDED_HEADER]: signature(Date.now(), "POST", "/mcp/echo", sessionId, "203.0.113.7") });
    expect(swapped.status).toBe(403);
    expect(await swapped.text()).toContain("invalid replica signature");
    await a.server.deps.usageRecorder.flush();
    const db = a.server.deps.db;
    const { usageEvents } = tables(db);
    const rows = await db.select({ address: usageEvents.address, outcome: usageEvents.outcome }).from(usageEvents).where(eq(usageEvents.credentialId, key.id)).orderBy(usageEvents.id);
    expect(rows).toEqual([
      { address: "203.0.113.7", outcome: "refused" },
      { address: "127.0.0.1", outcome: "refused" },
    ]);
    await client.close();
  });
});

describe.skipIf(!havePostgres)("a forwarded SSE stream", () => {
  /** A session made with raw requests on A (so no client opens a stream of its own). */
  async function rawSession(): Promise<string> {
    const init = await fetch(`${a.url}/mcp/echo`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    });
    const sessionId = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    const done = await fetch(`${a.url}/mcp/echo`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    expect(done.status).toBe(202);
    return sessionId;
  }

  function openStream(server: TestServer, sessionId: string, signal?: AbortSignal): Promise<Response> {
    return fetch(`${server.url}/mcp/echo`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" }, signal });
  }

  /** Makes the upstream announce a tool list change: an event on the session's stream. */
  function addTool(sessionId: string, name: string): Promise<Response> {
    return fetch(`${a.url}/mcp/echo`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: name, method: "tools/call", params: { name: "add_tool", arguments: { name } } }),
    });
  }

  /**
   * Opens the session's stream through `server`. Its headers come with its first event, and an event
   * sent before the stream is registered on A goes nowhere: tool list changes are made until it answers.
   */
  async function openWithEvents(server: TestServer, sessionId: string, signal: AbortSignal): Promise<Response> {
    let settled = false;
    const opening = openStream(server, sessionId, signal).finally(() => (settled = true));
    for (let i = 0; !settled && i < 200; i++) {
      await (await addTool(sessionId, `tool-${crypto.randomUUID()}`)).text();
      if (!settled) await Bun.sleep(10);
    }
    return opening;
  }

  test("streams through B, and the client's disconnect closes it on A", async () => {
    const sessionId = await rawSession();
    const abort = new AbortController();
    const stream = await openWithEvents(b, sessionId, abort.signal);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes("notifications/tools/list_changed")) text += new TextDecoder().decode((await reader.read()).value);
    // A session has one standalone stream: while B's forwarded one is open, A refuses another.
    const second = await openStream(a, sessionId);
    expect(second.status).toBe(409);
    abort.abort();
    // The disconnect travels B → A: A's stream ends, and a new one may be opened there.
    let status = 409;
    for (let i = 0; i < 100 && status === 409; i++) {
      const again = new AbortController();
      status = (await openWithEvents(a, sessionId, again.signal)).status;
      again.abort();
      if (status === 409) await Bun.sleep(20);
    }
    expect(status).toBe(200);
  });
});

describe.skipIf(!havePostgres)("a forged X-Switchboard-Forwarded gets nothing", () => {
  let client: Client;
  let sessionId: string;
  beforeAll(async () => {
    const made = await balancedClient({ to: [] });
    client = made.client;
    sessionId = made.transport.sessionId!;
  });
  afterAll(() => client.close());

  const cases: { name: string; header: () => string }[] = [
    { name: "a signature made with another key", header: () => `v1.${Date.now()}.${createHmac("sha256", "not the key").update("x").digest("hex")}` },
    { name: "not a signature at all", header: () => "yes" },
    { name: "a valid signature 31 s old (replayed)", header: () => signature(Date.now() - 31_000, "POST", "/mcp/echo", sessionId) },
    { name: "a valid signature for another path", header: () => signature(Date.now(), "POST", "/mcp/agent/echo", sessionId) },
    { name: "a valid signature for another method", header: () => signature(Date.now(), "GET", "/mcp/echo", sessionId) },
    { name: "a valid signature for another session", header: () => signature(Date.now(), "POST", "/mcp/echo", "another-session") },
  ];
  for (const c of cases) {
    test(`${c.name}: 403 on the owner and on the other replica, no tools`, async () => {
      for (const server of [a, b]) {
        const res = await toolsList(server, sessionId, { [FORWARDED_HEADER]: c.header(), [CLIENT_HEADER]: "203.0.113.9" });
        expect(res.status).toBe(403);
        const text = await res.text();
        expect(text).toContain('"jsonrpc":"2.0"');
        expect(text).not.toContain("echo");
      }
    });
  }
});

describe.skipIf(!havePostgres)("each replica's state of a connection", () => {
  type Detail = { replicas?: { replica_id: string; url: string; state: string; error: string | null; updated_at: string }[] };
  async function detailOn(server: TestServer): Promise<Detail> {
    const res = await fetch(`${server.url}/api/v1/connections/echo`, { headers: { authorization: `Bearer ${manage}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Detail;
  }

  test("CONNECTION_GET on either replica lists both, each with its own state; the page shows them", async () => {
    // Each replica discovers the declared connection at start, so each runs its own process.
    let detail: Detail = {};
    for (let i = 0; i < 200 && (detail.replicas ?? []).filter((r) => r.state === "connected").length < 2; i++) {
      if (i > 0) await Bun.sleep(25);
      detail = await detailOn(b);
    }
    const ids = [a.server.deps.cluster!.registry.id, b.server.deps.cluster!.registry.id];
    expect(detail.replicas!.map((r) => r.replica_id).sort()).toEqual([...ids].sort());
    expect(detail.replicas!.map((r) => r.state)).toEqual(["connected", "connected"]);
    expect(detail.replicas!.map((r) => r.url).sort()).toEqual([a.url, b.url].sort());
    expect((await detailOn(a)).replicas).toEqual(detail.replicas);

    const cookie = await sessionCookieFor(b.server.deps, admin, 60_000);
    const page = await (await fetch(`${b.url}/admin/connections/echo`, { headers: { cookie } })).text();
    expect(page).toContain('id="replica-states"');
    expect(page).toContain(a.url);
    expect(page).toContain(b.url);
  });

});

describe.skipIf(!havePostgres)("a replica that dies", () => {
  test("without deregistering: once dead_after has passed, B answers 404 for its sessions", async () => {
    const { client, transport } = await balancedClient({ to: [] });
    const sessionId = transport.sessionId!;
    expect((await toolsList(b, sessionId)).status).toBe(200);
    // A stops heartbeating, as a killed process would; its row and its sessions' rows stay behind.
    a.server.deps.cluster!.registry.stopHeartbeat();
    await Bun.sleep(DEAD_AFTER_MS + 100);
    const res = await toolsList(b, sessionId);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
    // A itself still holds the session: it was only unreachable through the cluster.
    expect((await toolsList(a, sessionId)).status).toBe(200);
    await client.close();
  });
});

// Last: stopping a server kills every stdio process of this process (A's and B's too).
describe("a single replica", () => {
  test("a single replica (clustering off) writes no replica rows and CONNECTION_GET has no replicas", async () => {
    // On SQLite whatever the run's backend: PostgreSQL would turn clustering on.
    const singleDir = mkdtempSync(join(tmpdir(), "switchboard-single-"));
    const single = await startTestServer({
      dir: singleDir,
      overrides: { database: { path: join(singleDir, "data", "switchboard.db") }, connections: [{ slug: "echo", transport: "stdio", command: process.execPath, args: [FIXTURE] }] },
    });
    try {
      expect(single.server.deps.cluster).toBeUndefined();
      const owner = await insertUser(single.server.deps, "admin");
      const key = (await mintKey(single.server.deps, owner, { self: ["*"] })).token;
      const res = await fetch(`${single.url}/api/v1/connections/echo`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(Object.keys((await res.json()) as object)).not.toContain("replicas");
      const db = single.server.deps.db;
      const { replicas, replicaConnections, mcpSessions } = tables(db);
      expect([...(await db.select().from(replicas)), ...(await db.select().from(replicaConnections)), ...(await db.select().from(mcpSessions))]).toEqual([]);
    } finally {
      await single.cleanup();
    }
  });
});
