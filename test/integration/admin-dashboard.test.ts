// The dashboard's first run through app.request(): the getting-started checklist ticks from real state
// (a working connection, an agent with tools, a key or OAuth approval reaching it, a client's call),
// links each open step to where it is done and goes away when all are done; a member's checklist is
// theirs alone; empty states explain and link; an enabled agent exposing no tools is a warning.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { z } from "zod";
import type { User } from "../../src/domain/access/users.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { agentCreate, agentUpdate } from "../../src/operations/agents.ts";
import { apiKeyCreate } from "../../src/operations/api-keys.ts";
import { connectionCreate } from "../../src/operations/connections.ts";
import { runOperation, sessionCaller, type ObjectSchema, type Operation } from "../../src/operations/registry.ts";
import { createTestApp, PUBLIC_URL, type TestApp } from "../support/app.ts";
import { discoveryOf, FakeGateway } from "../support/connection-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { approve, dcrClient } from "../support/oauth-grants.ts";

let t: TestApp;
let gateway: FakeGateway;
let boss: User;
let worker: User;
let bossCookie: string;
let workerCookie: string;

beforeEach(async () => {
  gateway = new FakeGateway();
  t = await createTestApp({ gateway });
  boss = await t.createUser("boss@example.com", "admin");
  worker = await t.createUser("worker@example.com", "member");
  bossCookie = await t.cookieFor(boss);
  workerCookie = await t.cookieFor(worker);
});

afterEach(async () => {
  await t.deps.usageRecorder.stop();
  t.close();
});

/** Runs an operation through the registry as `user`, as the admin's forms do. */
function run<I extends ObjectSchema, O extends ObjectSchema>(op: Operation<I, O>, user: User, input: unknown): Promise<z.output<O>> {
  return runOperation(op, { deps: t.deps, caller: sessionCaller(user, t.deps.catalog), now: new Date(), origin: { face: "admin", address: null } }, input);
}

async function dashboard(cookie: string | null): Promise<string> {
  const res = await t.request("/admin", { headers: cookie ? { cookie } : {} });
  expect(res.status).toBe(200);
  return res.text();
}

/** Each step of the checklist on the page: whether it is done, and where its link goes (if it has one). */
function steps(html: string): Record<string, { done: boolean; href: string | null }> {
  const out: Record<string, { done: boolean; href: string | null }> = {};
  for (const m of html.matchAll(/<li class="(?:done|todo)" data-step="([a-z]+)" data-done="(true|false)">(.*?)<\/li>/gs)) {
    out[m[1]!] = { done: m[2] === "true", href: /class="step-action" href="([^"]*)"/.exec(m[3]!)?.[1]?.replace(/&amp;/g, "&") ?? null };
  }
  return out;
}

/** A recorded MCP call by `user` with `key` through agent `agentId`. */
function agentCall(user: User, key: string, agentId: string): UsageRecord {
  return {
    at: new Date(Date.now() - 60_000),
    durationMs: 5,
    face: "mcp",
    target: { kind: "agent", id: agentId, slug: "support" },
    method: "tools/call",
    name: "echo",
    upstreamName: "echo",
    connectionId: null,
    outcome: "ok",
    errorCode: null,
    errorMessage: null,
    actor: { userId: user.id, credentialKind: "api_key", credentialId: key },
    sessionId: "s-1",
    client: { name: "test-client", version: "1" },
    address: "127.0.0.1",
    requestBytes: 10,
    responseBytes: 10,
    payload: null,
  };
}

/** A connection "alpha" the gateway reports connected with an echo tool, and an agent "support" exposing it. */
async function connectionAndAgent(): Promise<{ connectionId: string; agentId: string }> {
  const conn = await run(connectionCreate, boss, { slug: "alpha", transport: "http", url: "https://alpha.example/mcp" });
  gateway.statuses.set(conn.id, { state: "connected", lastError: null, since: new Date() });
  gateway.discoveries.set(conn.id, discoveryOf({ echo: "Echoes" }));
  const agent = await run(agentCreate, boss, { slug: "support", connections: [{ connection: "alpha", tools: ["echo"] }] });
  return { connectionId: conn.id, agentId: agent.id };
}

describe("who sees the dashboard", () => {
  test("a guest is sent to sign in, and sees no checklist", async () => {
    const res = await t.request("/admin");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("/admin/login");
    expect(await res.text()).not.toContain("Getting started");
  });
});

describe("the getting-started checklist", () => {
  test("a fresh install: 0 of 4, each step linked to where it is done, and empty states that explain", async () => {
    const html = await dashboard(bossCookie);
    expect(html).toContain('data-progress="0/4"');
    expect(steps(html)).toEqual({
      connection: { done: false, href: "/admin/connections/new" },
      agent: { done: false, href: "/admin/agents/new" },
      key: { done: false, href: "/admin/keys#create-key" },
      client: { done: false, href: "/admin/agents" },
    });
    // Screen readers hear each step's state, not just an icon.
    expect(html.match(/\(to do\)/g)).toHaveLength(4);
    expect(html).not.toContain("(done)");
    expect(html).toContain('data-empty="connections"');
    expect(html).toContain('data-empty="agents"');
    expect(html).toContain('data-empty="usage"');
    expect(html).toContain("No connections yet.");
    // Nothing is running, so nothing is "Healthy" yet.
    expect(html).toContain('data-status="empty"');
    expect(html).not.toContain('data-status="healthy"');
  });

  test("each step ticks from real state, in turn, and the checklist is gone when all four are done", async () => {
    // A connection that does not answer yet is no done step: its link opens it.
    const conn = await run(connectionCreate, boss, { slug: "alpha", transport: "http", url: "https://alpha.example/mcp" });
    gateway.statuses.set(conn.id, { state: "error", lastError: "refused", since: new Date() });
    let s = steps(await dashboard(bossCookie));
    expect(s.connection).toEqual({ done: false, href: `/admin/connections/${conn.id}` });

    gateway.statuses.set(conn.id, { state: "connected", lastError: null, since: new Date() });
    gateway.discoveries.set(conn.id, discoveryOf({ echo: "Echoes", add: "Adds" }));
    let html = await dashboard(bossCookie);
    s = steps(html);
    expect(s.connection!.done).toBe(true);
    expect(s.agent).toEqual({ done: false, href: "/admin/agents/new" });
    expect(html).toContain('data-progress="1/4"');
    expect(html).toContain("(done)");
    expect(html).not.toContain('data-empty="connections"');

    // An agent selecting a tool the upstream does not offer exposes nothing: not done, and a warning.
    const agent = await run(agentCreate, boss, { slug: "support", connections: [{ connection: "alpha", tools: ["gone"] }] });
    html = await dashboard(bossCookie);
    expect(steps(html).agent).toEqual({ done: false, href: `/admin/agents/${agent.id}/edit` });
    await run(agentUpdate, boss, { id: agent.id, connections: [{ connection: "alpha", tools: ["echo"] }] });
    html = await dashboard(bossCookie);
    s = steps(html);
    expect(s.agent!.done).toBe(true);
    expect(s.key).toEqual({ done: false, href: `/admin/keys?grant=${agent.id}#create-key` });
    expect(s.client).toEqual({ done: false, href: `/admin/agents/${agent.id}#client-configs` });

    // Keys that reach no agent, or no longer work, do not count.
    await mintKey(t.deps, boss, { self: ["*"] }, { name: "management only" });
    await mintKey(t.deps, boss, { [agent.id]: ["*"] }, { name: "expired", expiresAt: new Date(Date.now() - 1000), now: new Date(Date.now() - 60_000) });
    expect(steps(await dashboard(bossCookie)).key!.done).toBe(false);

    const { key } = await run(apiKeyCreate, boss, { name: "laptop", permissions: { [agent.id]: ["*"] } });
    s = steps(await dashboard(bossCookie));
    expect(s.key!.done).toBe(true);
    expect(s.client!.done).toBe(false);

    // A refused call through the agent is no working client.
    t.deps.usageRecorder.record({ ...agentCall(boss, key.id, agent.id), outcome: "refused", errorCode: "FORBIDDEN" });
    await t.deps.usageRecorder.flush();
    expect(steps(await dashboard(bossCookie)).client!.done).toBe(false);

    // A client's call through the agent, as the gateway records it.
    t.deps.usageRecorder.record(agentCall(boss, key.id, agent.id));
    await t.deps.usageRecorder.flush();
    html = await dashboard(bossCookie);
    expect(html).not.toContain('id="getting-started"');
    expect(html).not.toContain("Getting started");
    expect(html).toContain('data-status="healthy"');
  });

  test("a used key for an agent ticks the last step even after the usage log is gone; a used any-connection key does not", async () => {
    const { agentId } = await connectionAndAgent();
    const wide = await mintKey(t.deps, boss, { "*": ["*"] }, { name: "everything" });
    t.deps.lastUsed.record(wide.key.id);
    await t.deps.lastUsed.flush();
    let s = steps(await dashboard(bossCookie));
    // The wide key reaches the agent, but its use may have been on a connection: no client through an agent yet.
    expect(s.key!.done).toBe(true);
    expect(s.client!.done).toBe(false);

    // A key for the agent that was used, but has expired since, is no client connected now.
    const expired = await mintKey(t.deps, boss, { [agentId]: ["*"] }, { name: "old", expiresAt: new Date(Date.now() - 1000), now: new Date(Date.now() - 60_000) });
    t.deps.lastUsed.record(expired.key.id);
    await t.deps.lastUsed.flush();
    expect(steps(await dashboard(bossCookie)).client!.done).toBe(false);

    const forAgent = await mintKey(t.deps, boss, { [agentId]: ["echo"] }, { name: "agent key" });
    t.deps.lastUsed.record(forAgent.key.id);
    await t.deps.lastUsed.flush();
    expect(await dashboard(bossCookie)).not.toContain('id="getting-started"');
  });

  test("an OAuth sign-in to an agent (approval, then the client's token exchange) does for both key and client", async () => {
    const { agentId, connectionId } = await connectionAndAgent();
    const client = await dcrClient(t.deps);
    // An approval for the connection alone reaches no agent.
    await approve(t.deps, boss, client, { id: connectionId, url: `${PUBLIC_URL}/mcp/${connectionId}` });
    const s = steps(await dashboard(bossCookie));
    expect(s.key!.done).toBe(false);
    expect(s.client!.done).toBe(false);
    await approve(t.deps, boss, client, { id: agentId, url: `${PUBLIC_URL}/mcp/agent/${agentId}` });
    expect(await dashboard(bossCookie)).not.toContain('id="getting-started"');
  });
});

describe("a member's dashboard", () => {
  test("two steps of their own: the admin's key and calls never tick them, and no admin-only link shows", async () => {
    const { agentId } = await connectionAndAgent();
    const { key } = await run(apiKeyCreate, boss, { name: "boss laptop", permissions: { [agentId]: ["*"] } });
    t.deps.usageRecorder.record(agentCall(boss, key.id, agentId));
    await t.deps.usageRecorder.flush();
    expect(await dashboard(bossCookie)).not.toContain('id="getting-started"');

    let html = await dashboard(workerCookie);
    expect(steps(html)).toEqual({
      key: { done: false, href: `/admin/keys?grant=${agentId}#create-key` },
      client: { done: false, href: `/admin/agents/${agentId}#client-configs` },
    });
    expect(html).toContain('data-progress="0/2"');
    for (const adminOnly of ["/admin/connections/new", "/admin/agents/new", "boss laptop", key.id]) expect(html).not.toContain(adminOnly);
    // Their usage is their own: the admin's call is not theirs.
    expect(html).toContain('data-empty="usage"');

    const mine = await run(apiKeyCreate, worker, { name: "my laptop", permissions: { [agentId]: ["*"] } });
    expect(steps(await dashboard(workerCookie)).key!.done).toBe(true);
    t.deps.usageRecorder.record(agentCall(worker, mine.key.id, agentId));
    await t.deps.usageRecorder.flush();
    html = await dashboard(workerCookie);
    expect(html).not.toContain('id="getting-started"');
  });

  test("with no agent yet, a member is told who builds agents and is offered no admin action", async () => {
    const html = await dashboard(workerCookie);
    expect(Object.keys(steps(html))).toEqual(["key", "client"]);
    expect(steps(html).key!.href).toBe("/admin/agents");
    expect(html).toContain("An admin adds connections.");
    expect(html).toContain("An admin builds agents");
    expect(html).not.toContain('href="/admin/connections/new"');
    expect(html).not.toContain('href="/admin/agents/new"');
  });
});

describe("an agent declared in switchboard.toml", () => {
  test("exposing no tools, the step links to its page (changed in the file), not to the editor", async () => {
    const declared = await createTestApp({
      gateway: new FakeGateway(),
      overrides: { connections: [{ slug: "alpha", url: "https://alpha.example/mcp" }], agents: [{ slug: "filed", tools: { alpha: ["gone"] } }] },
    });
    try {
      const admin = await declared.createUser("filer@example.com", "admin");
      const html = await (await declared.request("/admin", { headers: { cookie: await declared.cookieFor(admin) } })).text();
      const id = /data-empty-agent="(agent_[0-9a-f-]{36})"/.exec(html)?.[1];
      expect(id).toBeDefined();
      expect(steps(html).agent).toEqual({ done: false, href: `/admin/agents/${id}` });
    } finally {
      await declared.deps.usageRecorder.stop();
      declared.close();
    }
  });
});

describe("the checklist's poll, GET /admin/getting-started", () => {
  const HX = { "hx-request": "true" };
  const poll = (cookie: string | null, seen: string) => t.request(`/admin/getting-started?seen=${seen}`, { headers: { ...HX, ...(cookie ? { cookie } : {}) } });

  test("a guest is sent to sign in (htmx: 401 with HX-Redirect) and sees no step", async () => {
    const res = await poll(null, "0000");
    expect(res.status).toBe(401);
    expect(res.headers.get("hx-redirect")).toStartWith("/admin/login");
    expect(await res.text()).not.toContain("data-step");
    const plain = await t.request("/admin/getting-started");
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toStartWith("/admin/login");
  });

  test("a cross-site POST is refused", async () => {
    const res = await t.request("/admin/getting-started", { method: "POST", headers: { cookie: bossCookie, origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" }, body: "seen=0000" });
    expect(res.status).toBe(403);
    // From the admin's own origin it gets past that check (and finds no POST route): the 403 was the CSRF defence.
    const same = await t.request("/admin/getting-started", { method: "POST", headers: { cookie: bossCookie, origin: PUBLIC_URL, "content-type": "application/x-www-form-urlencoded" }, body: "seen=0000" });
    expect(same.status).toBe(404);
  });

  test("outside htmx it is the dashboard; in htmx, 204 while nothing changed, the checklist when a step did", async () => {
    const plain = await t.request("/admin/getting-started", { headers: { cookie: bossCookie } });
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/admin");

    const page = await dashboard(bossCookie);
    expect(page).toContain('hx-get="/admin/getting-started?seen=0000"');
    expect(page).toContain('hx-trigger="every 5s"');
    expect(page).toContain('<div id="getting-started-live" aria-live="polite">');
    const same = await poll(bossCookie, "0000");
    expect(same.status).toBe(204);
    expect(await same.text()).toBe("");

    const { agentId } = await connectionAndAgent();
    const changed = await poll(bossCookie, "0000");
    expect(changed.status).toBe(200);
    const html = await changed.text();
    expect(html).toStartWith('<section class="panel getting-started" id="getting-started"');
    expect(html).not.toContain("<html");
    expect(html).toContain('hx-get="/admin/getting-started?seen=1100"');
    expect(steps(html).key).toEqual({ done: false, href: `/admin/keys?grant=${agentId}#create-key` });
    // Any other text the URL carries is only compared, never shown.
    const odd = await (await poll(bossCookie, "%3Cscript%3E")).text();
    expect(odd).not.toContain("<script>");
  });

  test("once every step is done it says so, in one line, and asks no more", async () => {
    const { agentId } = await connectionAndAgent();
    const { key } = await run(apiKeyCreate, boss, { name: "laptop", permissions: { [agentId]: ["*"] } });
    t.deps.usageRecorder.record(agentCall(boss, key.id, agentId));
    await t.deps.usageRecorder.flush();
    const res = await poll(bossCookie, "1110");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("You&#39;re set up: every step is done.");
    expect(html).toContain('role="status"');
    expect(html).not.toContain("hx-get");
    expect(html).not.toContain("data-step");
  });

  test("a member's poll is their own: the admin's finished setup does not finish theirs", async () => {
    const { agentId } = await connectionAndAgent();
    const { key } = await run(apiKeyCreate, boss, { name: "boss laptop", permissions: { [agentId]: ["*"] } });
    t.deps.usageRecorder.record(agentCall(boss, key.id, agentId));
    await t.deps.usageRecorder.flush();
    expect((await poll(workerCookie, "00")).status).toBe(204);
    const html = await (await poll(workerCookie, "11")).text();
    expect(Object.keys(steps(html))).toEqual(["key", "client"]);
    for (const hidden of ["boss laptop", key.id, "/admin/connections/new", "set up: every step"]) expect(html).not.toContain(hidden);
  });
});

describe("agent health", () => {
  test("an enabled agent exposing no tools is a linked warning, never a tick or Healthy; a disabled one is neither", async () => {
    const { connectionId, agentId } = await connectionAndAgent();
    const empty = await run(agentCreate, boss, { slug: "hollow", connections: [{ connection: "alpha", tools: ["missing"] }] });
    const off = await run(agentCreate, boss, { slug: "paused", enabled: false, connections: [{ connection: "alpha", tools: ["missing"] }] });
    for (const cookie of [bossCookie, workerCookie]) {
      const html = await dashboard(cookie);
      expect(html).toContain('data-status="warning"');
      expect(html).not.toContain('data-status="healthy"');
      expect(html).toContain(`<li data-empty-agent="${empty.id}"><a href="/admin/agents/${empty.id}">hollow</a>`);
      expect(html).toMatch(new RegExp(`data-agent="${empty.id}" data-health="warning"`));
      expect(html).toMatch(new RegExp(`data-agent="${agentId}" data-health="ok"`));
      expect(html).toMatch(new RegExp(`data-agent="${off.id}" data-health="disabled"`));
      expect(html).not.toContain(`data-empty-agent="${off.id}"`);
    }
    // Fixing the selection clears the warning.
    gateway.discoveries.set(connectionId, discoveryOf({ echo: "Echoes", missing: "Back again" }));
    const html = await dashboard(bossCookie);
    expect(html).not.toContain("data-empty-agent");
    expect(html).toContain('data-status="healthy"');
  });
});
