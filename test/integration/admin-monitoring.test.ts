// The Monitoring pages, per-key activity and the dashboard through app.request(): guests are sent to
// sign in; a member sees only their own calls (whatever the URL asks) and no admin-only filter; filters
// narrow; a row opens its detail, another's row is a 404; the dashboard's health and figures are true.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { User } from "../../src/domain/access/users.ts";
import { deleteAgent, listAgents } from "../../src/domain/agents/agents.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { listUsage } from "../../src/domain/monitoring/usage.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { FakeGateway } from "../support/connection-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { agentResource, approve, dcrClient } from "../support/oauth-grants.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let t: TestApp;
let gateway: FakeGateway;
let boss: User;
let worker: User;
let bossCookie: string;
let workerCookie: string;
let bossKey: string;
let workerKey: string;
const ALPHA = configConnectionId("alpha");

/** A recorded tools/call to connection alpha (everything not given is a plain successful call). */
function call(actor: { user: User; key: string }, name: string, fields: Partial<UsageRecord> = {}): UsageRecord {
  return {
    at: new Date(Date.now() - 10 * 60_000),
    durationMs: 42,
    face: "mcp",
    target: { kind: "connection", id: ALPHA, slug: "alpha" },
    method: "tools/call",
    name,
    upstreamName: name,
    connectionId: ALPHA,
    outcome: "ok",
    errorCode: null,
    errorMessage: null,
    actor: { userId: actor.user.id, credentialKind: "api_key", credentialId: actor.key },
    sessionId: "session-1",
    client: { name: "test-client", version: "1.0" },
    address: "10.0.0.1",
    requestBytes: 100,
    responseBytes: 200,
    payload: null,
    ...fields,
  };
}

async function record(...records: UsageRecord[]): Promise<void> {
  for (const r of records) t.deps.usageRecorder.record(r);
  await t.deps.usageRecorder.flush();
}

function get(path: string, cookie: string | null, headers: Record<string, string> = {}): Promise<Response> {
  return t.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

/** The id of the one recorded call with this name. */
async function rowId(name: string): Promise<string> {
  const rows = (await listUsage(t.deps.db, { from: new Date(0), to: new Date(Date.now() + DAY), name }, { limit: 10 })).rows;
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

beforeAll(async () => {
  gateway = new FakeGateway();
  t = await createTestApp({ gateway, overrides: { connections: [{ slug: "alpha", url: "https://alpha.example/mcp" }] } });
  boss = await t.createUser("boss@example.com", "admin");
  worker = await t.createUser("worker@example.com", "member");
  bossCookie = await t.cookieFor(boss);
  workerCookie = await t.cookieFor(worker);
  bossKey = (await mintKey(t.deps, boss, { [ALPHA]: ["*"] }, { name: "boss key" })).key.id;
  workerKey = (await mintKey(t.deps, worker, { [ALPHA]: ["*"] }, { name: "worker key" })).key.id;
  await record(
    call({ user: boss, key: bossKey }, "boss_tool"),
    call({ user: boss, key: bossKey }, "boss_failing", { outcome: "error", errorCode: "-32603", errorMessage: "upstream broke" }),
    call({ user: worker, key: workerKey }, "worker_tool", { payload: { arguments: { q: "needle-argument" }, result: { ok: true } } }),
    call({ user: worker, key: workerKey }, "worker_refused", { outcome: "refused", errorCode: "FORBIDDEN" }),
    // The worker's key was first used from another address and client three days ago: today's are new.
    call({ user: worker, key: workerKey }, "worker_old", { at: new Date(Date.now() - 3 * DAY), address: "10.9.9.9", client: { name: "old-client", version: "0.1" } }),
  );
});

afterAll(async () => {
  await t.deps.usageRecorder.stop();
  t.close();
});

describe("guests", () => {
  test.each(["/admin/monitoring", "/admin/monitoring?range=1h", "/admin/monitoring/logs/usage_x", "/admin/keys/key_x/activity"])("%s sends a guest to sign in", async (path) => {
    const res = await get(path, null);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("/admin/login");
  });
});

describe("the Monitoring page", () => {
  test("an admin sees every user's calls, the charts, and the user filter", async () => {
    const res = await get("/admin/monitoring", bossCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const name of ["boss_tool", "boss_failing", "worker_tool", "worker_refused"]) expect(html).toContain(name);
    expect(html).toContain('data-chart="calls"');
    expect(html).toContain('data-chart="latency"');
    expect(html).toContain('name="user_id"');
    expect(html).toContain("Top users");
    expect(html).toContain('hx-trigger="every 10s"');
    // The nav entry is a link now, no longer "soon".
    expect(html).toContain('href="/admin/monitoring" aria-current="page"');
    expect(html).not.toContain("Monitoring <small>· soon</small>");
  });

  test("a member sees only their own calls and no user filter, whatever user_id the URL carries", async () => {
    for (const path of ["/admin/monitoring", `/admin/monitoring?user_id=${boss.id}`, `/admin/monitoring?credential_id=${bossKey}`]) {
      const res = await get(path, workerCookie);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).not.toContain("boss_tool");
      expect(html).not.toContain("boss_failing");
      expect(html).not.toContain("boss key");
      expect(html).not.toContain('name="user_id"');
      expect(html).not.toContain("Top users");
      if (!path.includes("credential_id")) expect(html).toContain("worker_tool");
    }
  });

  test("the face filter separates MCP calls from management operations", async () => {
    await record(call({ user: boss, key: bossKey }, "CONNECTION_LIST", { face: "api", method: "operation", target: { kind: "self", id: null, slug: null }, connectionId: null }));
    const mcp = await (await get("/admin/monitoring?face=mcp", bossCookie)).text();
    expect(mcp).toContain("boss_tool");
    expect(mcp).not.toContain("CONNECTION_LIST");
    const api = await (await get("/admin/monitoring?face=api", bossCookie)).text();
    expect(api).toContain("CONNECTION_LIST");
    expect(api).not.toContain("boss_tool");
  });

  test("filters narrow the figures and the log; htmx gets the results alone", async () => {
    const byName = await (await get("/admin/monitoring?name=boss_tool&range=24h", bossCookie)).text();
    expect(byName).toContain("boss_tool");
    expect(byName).not.toContain("worker_tool");
    expect(/data-figure="calls">(\d+)</.exec(byName)?.[1]).toBe("1");

    const errors = await get("/admin/monitoring?outcome=error", bossCookie, { "hx-request": "true" });
    const fragment = await errors.text();
    expect(fragment).toStartWith('<section id="monitor-results"');
    expect(fragment).not.toContain("<html");
    expect(fragment).toContain("boss_failing");
    expect(fragment).not.toContain("boss_tool<");
    expect(fragment).not.toContain("worker_refused");
    // The refresh asks for the same filtered view.
    expect(fragment).toContain('hx-get="/admin/monitoring?outcome=error"');

    const byUser = await (await get(`/admin/monitoring?user_id=${worker.id}`, bossCookie)).text();
    expect(byUser).toContain("worker_tool");
    expect(byUser).not.toContain("boss_tool");
  });

  test("the export links carry the filters: the CSV holds the filtered rows only", async () => {
    const html = await (await get("/admin/monitoring?outcome=error", bossCookie)).text();
    const href = /href="(\/admin\/monitoring\/export\?[^"]*format=csv[^"]*)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const res = await get(href!.replace(/&amp;/g, "&"), bossCookie);
    expect(res.status).toBe(200);
    const csv = await res.text();
    expect(csv).toContain("boss_failing");
    expect(csv).not.toMatch(/(^|,)boss_tool(,|$)/m);
    expect(csv).not.toContain("worker_tool");
  });

  test("an hour ago is outside 1h only when it is: the old call is in 7d, not in 24h", async () => {
    expect(await (await get("/admin/monitoring?range=24h", workerCookie)).text()).not.toContain("worker_old");
    expect(await (await get("/admin/monitoring?range=7d", workerCookie)).text()).toContain("worker_old");
  });

  test("custom from/to in the form's UTC minutes are applied; a range in the past has no calls", async () => {
    const from = new Date(Date.now() - 4 * DAY).toISOString().slice(0, 16);
    const to = new Date(Date.now() - 2 * DAY).toISOString().slice(0, 16);
    const html = await (await get(`/admin/monitoring?range=24h&from=${from}&to=${to}`, workerCookie)).text();
    expect(html).toContain("worker_old");
    expect(html).not.toContain("worker_tool");
  });

  test("a refused filter is shown on the page, not a 500", async () => {
    for (const query of ["from=yesterday", "outcome=exploded", "agent_id=nope", "from=2026-01-02T00:00&to=2026-01-01T00:00"]) {
      const res = await get(`/admin/monitoring?${query}`, bossCookie);
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('class="alert error"');
      expect(html).not.toContain("boss_tool");
      // Not polled again with the same refused filters.
      expect(html).not.toContain("every 10s");
    }
  });

  test("the log pages with a cursor", async () => {
    const first = await (await get("/admin/monitoring?range=7d&face=mcp", workerCookie)).text();
    // Three rows, 50 a page: no next page.
    expect(first).not.toContain("Older calls");
    const many = Array.from({ length: 55 }, (_, i) => call({ user: worker, key: workerKey }, `bulk_${i}`, { at: new Date(Date.now() - 2 * DAY + i * 1000), address: "10.9.9.9", client: { name: "old-client", version: "0.1" } }));
    await record(...many);
    const page1 = await (await get(`/admin/monitoring?range=7d&credential_id=${workerKey}`, workerCookie)).text();
    const next = /href="\/admin\/monitoring\?([^"]*cursor=[^"]*)"/.exec(page1)?.[1];
    expect(next).toBeDefined();
    const page2 = await (await get(`/admin/monitoring?${next!.replace(/&amp;/g, "&")}`, workerCookie)).text();
    expect(page2).toContain("worker_old");
    expect(page2).not.toContain("worker_tool");
  });
});

describe("a recorded call's detail", () => {
  test("every field, and the payload when it was stored", async () => {
    const res = await get(`/admin/monitoring/logs/${await rowId("worker_tool")}`, workerCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const text of ["worker_tool", "tools/call", "10.0.0.1", "test-client", "session-1", workerKey, "needle-argument", "100 bytes", "200 bytes"]) expect(html).toContain(text);
  });

  test("no payload says so", async () => {
    const html = await (await get(`/admin/monitoring/logs/${await rowId("boss_failing")}`, bossCookie)).text();
    expect(html).toContain("upstream broke");
    expect(html).toContain("Not stored");
  });

  test("another user's row is a 404 to a member, and so is a made-up id", async () => {
    for (const id of [await rowId("boss_tool"), "usage_nope"]) {
      const res = await get(`/admin/monitoring/logs/${id}`, workerCookie);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain("boss_tool");
    }
    // The admin reads anyone's.
    expect((await get(`/admin/monitoring/logs/${await rowId("worker_tool")}`, bossCookie)).status).toBe(200);
  });
});

describe("a key's activity", () => {
  test("the owner sees it on the key's page, with the new address and client flagged; the old address leads there", async () => {
    const old = await get(`/admin/keys/${workerKey}/activity?range=24h`, workerCookie);
    expect(old.status).toBe(302);
    expect(old.headers.get("location")).toBe(`/admin/keys/${workerKey}?range=24h#activity`);
    const res = await get(`/admin/keys/${workerKey}`, workerCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<h1>worker key</h1>");
    expect(html).toContain('id="activity"');
    expect(html).toContain('data-flag="new_address"');
    expect(html).toContain("10.0.0.1");
    expect(html).toContain('data-flag="new_client"');
    expect(html).toContain("old-client");
    expect(html).toContain("Tools used: bulk_0 1");
  });

  test("a key without unusual activity has no flags", async () => {
    const html = await (await get(`/admin/keys/${bossKey}`, bossCookie)).text();
    expect(html).toContain("<h1>boss key</h1>");
    expect(html).toContain('id="activity"');
    expect(html).not.toContain("data-flags");
  });

  test("a member asking for another's key gets a 404, and sees none of it", async () => {
    for (const path of [`/admin/keys/${bossKey}/activity`, `/admin/keys/${bossKey}`]) {
      const res = await get(path, workerCookie);
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(html).not.toContain("boss_tool");
      expect(html).not.toContain("boss key");
    }
  });

  test("an authorized app's grant has the same page: its user sees it, another member gets a 404", async () => {
    const grantId = (await approve(t.deps, worker, await dcrClient(t.deps, "Desk client"), await agentResource(t.deps))).grantId;
    await record(call({ user: worker, key: grantId }, "granted_tool", { at: new Date(Date.now() - 2 * DAY), actor: { userId: worker.id, credentialKind: "oauth", credentialId: grantId } }));
    const own = await get(`/admin/keys/${grantId}/activity`, workerCookie);
    expect(own.status).toBe(200);
    const html = await own.text();
    expect(html).toContain("Activity of app Desk client");
    expect(html).toContain("granted_tool");
    const stranger = await t.createUser(`stranger-${grantId.slice(-6)}@example.com`, "member");
    const res = await get(`/admin/keys/${grantId}/activity`, await t.cookieFor(stranger));
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("granted_tool");
  });

  test("a malformed id is refused, not a 500", async () => {
    expect((await get("/admin/keys/not-a-key/activity", bossCookie)).status).toBe(400);
  });

  test("the keys list links each key's activity and marks a flagged key", async () => {
    t.deps.lastUsed.record(workerKey);
    t.deps.lastUsed.record(bossKey);
    await t.deps.lastUsed.flush();
    const html = await (await get("/admin/keys", bossCookie)).text();
    expect(html).toContain(`href="/admin/keys/${workerKey}"`);
    const workerRow = /<tr id="key-key_[^"]*">(?:(?!<\/tr>).)*worker key(?:(?!<\/tr>).)*<\/tr>/s.exec(html)?.[0] ?? "";
    const bossRow = /<tr id="key-key_[^"]*">(?:(?!<\/tr>).)*boss key(?:(?!<\/tr>).)*<\/tr>/s.exec(html)?.[0] ?? "";
    expect(workerRow).toContain("data-flagged");
    expect(bossRow).not.toBe("");
    expect(bossRow).not.toContain("data-flagged");
  });
});

describe("the dashboard", () => {
  test("Healthy while no connection fails; a failing one is shown, linked, and Healthy is not", async () => {
    // An enabled agent exposing no tools (the authorized-apps test leaves one) is a warning of its own
    // (test/integration/admin-dashboard.test.ts): remove it to see the connections' health alone.
    for (const agent of await listAgents(t.deps.db)) await deleteAgent(t.deps.db, agent.id);
    gateway.statuses.delete(ALPHA);
    const healthy = await (await get("/admin", bossCookie)).text();
    expect(healthy).toContain('data-status="healthy"');

    gateway.statuses.set(ALPHA, { state: "error", lastError: "upstream said 502", since: new Date() });
    const failing = await (await get("/admin", workerCookie)).text();
    expect(failing).not.toContain('data-status="healthy"');
    expect(failing).toContain("1 of 1 failing");
    expect(failing).toContain(`href="/admin/connections/${ALPHA}"`);
    expect(failing).toContain("upstream said 502");
    gateway.statuses.delete(ALPHA);
  });

  test("MCP sessions are the gateway's, not admin sign-ins; MCP calls and errors of the last 24 h are the viewer's", async () => {
    // A management operation's row (as the admin's own page reads are recorded) is not an MCP call.
    await record(call({ user: boss, key: bossKey }, "API_KEY_LIST", { face: "admin", method: "operation", target: { kind: "self", id: null, slug: null }, connectionId: null }));
    gateway.sessionCount = 7;
    const admin = await (await get("/admin", bossCookie)).text();
    expect(/data-figure="mcp-sessions">(\d+)</.exec(admin)?.[1]).toBe("7");
    // Last 24 h: boss_tool, boss_failing, worker_tool, worker_refused (the old and bulk calls are older).
    expect(/data-figure="calls">(\d+)</.exec(admin)?.[1]).toBe("4");
    expect(/data-figure="errors">(\d+)</.exec(admin)?.[1]).toBe("2");
    expect(admin).toContain('data-chart="sparkline"');
    const member = await (await get("/admin", workerCookie)).text();
    expect(/data-figure="calls">(\d+)</.exec(member)?.[1]).toBe("2");
    gateway.sessionCount = 0;
  });
});
