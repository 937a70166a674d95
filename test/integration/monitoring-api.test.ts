// The monitoring operations through every face (REST, /mcp/self, the admin's runAsUser) and the export:
// a member sees only their own rows whatever they filter, another's row or key reads as missing,
// filters and pages narrow, and the CSV escapes quotes, commas, line breaks and formula starts.
import { describe, expect, test } from "bun:test";
import { runAsUser } from "../../src/http/form-flow.ts";
import { csvCell, exportUsage } from "../../src/operations/monitoring-export.ts";
import { monitoringKeyActivity, monitoringLogGet, monitoringLogsList, monitoringStats } from "../../src/operations/monitoring.ts";
import { sessionCaller } from "../../src/operations/registry.ts";
import type { Context } from "hono";
import type { AppEnv } from "../../src/http/context.ts";
import { agentResource, approve, dcrClient } from "../support/oauth-grants.ts";
import { apiRequest, callTool, mintKey, useHarness, type Harness } from "../support/key-harness.ts";
import { insertUsage, usageRecord } from "../support/usage-rows.ts";

const harness = useHarness();
type Json = Record<string, unknown>;

/** One row of the admin's and one of the member's, each with a payload and a distinct name. */
async function twoUsers(h: Harness) {
  const adminRow = await insertUsage(h.deps.db, usageRecord(h.admin.id, { name: "admin-tool", address: "203.0.113.1", payload: { arguments: { secret: "admin-payload" } } }));
  const memberRow = await insertUsage(h.deps.db, usageRecord(h.member.id, { name: "member-tool", payload: { arguments: { q: "member-payload" } } }));
  return { adminRow, memberRow };
}

/** A context the admin's handlers would run with, for runAsUser (it reads only the signed-in user). */
/** Just enough of a request context for runAsUser: the signed-in user and a request from loopback. */
function adminContext(user: Harness["member"]): Context<AppEnv> {
  return { get: () => user, req: { header: () => undefined, raw: new Request("http://switchboard.test/admin") }, env: { requestIP: () => ({ address: "127.0.0.1" }) } } as unknown as Context<AppEnv>;
}

describe("a member sees only their own rows", () => {
  test("REST: the list ignores user_id and every filter that would reach another's rows", async () => {
    const h = await harness();
    const { adminRow, memberRow } = await twoUsers(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    for (const query of ["", `?user_id=${h.admin.id}`, "?name=admin-tool", "?range=30d"]) {
      const res = await apiRequest(h.app, "GET", `/monitoring/logs${query}`, { token });
      const text = await res.text();
      expect(res.status).toBe(200);
      const ids = (JSON.parse(text) as { rows: Json[] }).rows.map((r) => r.id);
      expect(ids).not.toContain(adminRow);
      expect(text).not.toContain("admin-tool");
      expect(text).not.toContain("203.0.113.1");
      if (query === "" || query === "?range=30d") expect(ids).toEqual([memberRow]);
    }
    // An admin's key sees both, and narrows by user.
    const admin = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
    const all = (await (await apiRequest(h.app, "GET", "/monitoring/logs", { token: admin })).json()) as { rows: Json[] };
    expect(all.rows.map((r) => r.id)).toEqual([memberRow, adminRow]);
    const narrowed = (await (await apiRequest(h.app, "GET", `/monitoring/logs?user_id=${h.member.id}`, { token: admin })).json()) as { rows: Json[] };
    expect(narrowed.rows.map((r) => r.id)).toEqual([memberRow]);
  });

  test("REST: another user's row by id is 404 USAGE_NOT_FOUND with nothing of it; their own has its payload", async () => {
    const h = await harness();
    const { adminRow, memberRow } = await twoUsers(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const res = await apiRequest(h.app, "GET", `/monitoring/logs/${adminRow}`, { token });
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "USAGE_NOT_FOUND", message: "No such usage record." } });
    expect(text).not.toContain("admin-payload");
    // The same answer as an id that does not exist: ids are not probed.
    const missing = await apiRequest(h.app, "GET", "/monitoring/logs/999999999", { token });
    expect(await missing.text()).toBe(text);
    const own = (await (await apiRequest(h.app, "GET", `/monitoring/logs/${memberRow}`, { token })).json()) as Json;
    expect(own).toMatchObject({ id: memberRow, payload: { arguments: { q: "member-payload" } } });
  });

  test("REST: stats count only the member's calls, whatever user_id says", async () => {
    const h = await harness();
    await twoUsers(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const body = (await (await apiRequest(h.app, "GET", `/monitoring/stats?user_id=${h.admin.id}`, { token })).json()) as Json;
    expect(body.totals).toMatchObject({ calls: 1 });
    expect(JSON.stringify(body)).not.toContain("admin-tool");
    expect(JSON.stringify(body)).not.toContain(h.admin.id);
  });

  test("MCP (/mcp/self): the same rules: the list is own rows only, another's row is an error", async () => {
    const h = await harness();
    const { adminRow, memberRow } = await twoUsers(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const list = await callTool(h.app, token, "MONITORING_LOGS_LIST", { user_id: h.admin.id });
    const text = JSON.stringify(list);
    expect((list.result?.structuredContent as { rows: Json[] }).rows.map((r) => r.id)).toEqual([memberRow]);
    expect(text).not.toContain("admin-tool");
    const other = await callTool(h.app, token, "MONITORING_LOG_GET", { id: adminRow });
    expect(other.result?.isError).toBe(true);
    expect(JSON.stringify(other)).toContain("USAGE_NOT_FOUND");
    expect(JSON.stringify(other)).not.toContain("admin-payload");
  });

  test("admin face (runAsUser): a member's session sees own rows; another's row throws USAGE_NOT_FOUND", async () => {
    const h = await harness();
    const { adminRow, memberRow } = await twoUsers(h);
    const c = adminContext(h.member);
    const list = await runAsUser(c, h.deps, monitoringLogsList, { user_id: h.admin.id });
    expect(list.rows.map((r) => r.id)).toEqual([memberRow]);
    await expect(runAsUser(c, h.deps, monitoringLogGet, { id: adminRow })).rejects.toMatchObject({ code: "USAGE_NOT_FOUND" });
    const stats = await runAsUser(c, h.deps, monitoringStats, {});
    expect(stats.totals.calls).toBe(1);
    const asAdmin = await runAsUser(adminContext(h.admin), h.deps, monitoringLogsList, {});
    expect(asAdmin.rows.map((r) => r.id)).toEqual([memberRow, adminRow]);
  });
});

describe("key activity", () => {
  test("a member asking for another user's key or grant gets 404; their own works; an admin sees any", async () => {
    const h = await harness();
    const adminKey = (await mintKey(h.deps, h.admin, {})).key;
    const memberKey = (await mintKey(h.deps, h.member, {})).key;
    const adminGrant = (await approve(h.deps, h.admin, await dcrClient(h.deps), await agentResource(h.deps))).grantId;
    await insertUsage(h.deps.db, usageRecord(h.admin.id, { actor: { userId: h.admin.id, credentialKind: "api_key", credentialId: adminKey.id }, address: "203.0.113.50" }));
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const other = await apiRequest(h.app, "GET", `/monitoring/keys/${adminKey.id}/activity`, { token });
    expect(other.status).toBe(404);
    const text = await other.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: "API_KEY_NOT_FOUND" } });
    expect(text).not.toContain("203.0.113.50");
    expect((await apiRequest(h.app, "GET", `/monitoring/keys/${adminGrant}/activity`, { token })).status).toBe(404);
    // A key id that never existed: the same 404 for a member.
    expect((await apiRequest(h.app, "GET", "/monitoring/keys/key_00000000-0000-4000-8000-00000000dead/activity", { token })).status).toBe(404);
    expect((await apiRequest(h.app, "GET", `/monitoring/keys/${memberKey.id}/activity`, { token })).status).toBe(200);
    const admin = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
    const seen = (await (await apiRequest(h.app, "GET", `/monitoring/keys/${adminKey.id}/activity`, { token: admin })).json()) as Json;
    expect(seen).toMatchObject({ calls: 1, addresses: [{ address: "203.0.113.50" }] });
    await expect(runAsUser(adminContext(h.member), h.deps, monitoringKeyActivity, { credential_id: adminKey.id })).rejects.toMatchObject({ code: "API_KEY_NOT_FOUND" });
  });
});

describe("filters and pages", () => {
  test("outcome, name, face and window narrow; pages follow next_cursor to the end without repeats", async () => {
    const h = await harness();
    const base = Date.now() - 30 * 60_000;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await insertUsage(h.deps.db, usageRecord(h.member.id, { at: new Date(base + i * 1000), name: `t${i}`, outcome: i % 2 ? "error" : "ok" })));
    await insertUsage(h.deps.db, usageRecord(h.member.id, { at: new Date(Date.now() - 3 * 3_600_000), name: "old" }));
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const get = async (q: string) => (await (await apiRequest(h.app, "GET", `/monitoring/logs${q}`, { token })).json()) as { rows: Json[]; next_cursor: string | null };
    expect((await get("?outcome=error")).rows.map((r) => r.name)).toEqual(["t5", "t3", "t1"]);
    expect((await get("?name=t2")).rows.map((r) => r.id)).toEqual([ids[2]]);
    expect((await get("?face=api")).rows).toEqual([]);
    expect((await get("?range=1h")).rows.map((r) => r.name)).not.toContain("old");
    expect((await get("?range=24h")).rows.map((r) => r.name)).toContain("old");
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { rows: Json[]; next_cursor: string | null } = await get(`?range=1h&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.rows.length).toBeLessThanOrEqual(3);
      seen.push(...page.rows.map((r) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  test("bad filters are 400 VALIDATION_FAILED naming the field, never a 500", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    for (const [q, field] of [
      ["?limit=501", "limit"], ["?limit=abc", "limit"], ["?outcome=fine", "outcome"], ["?range=2y", "range"], ["?from=yesterday", "from"],
      ["?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z", "from"], ["?from=2000-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", "from"], ["?user_id=bob", "user_id"], ["?cursor=garbage", "cursor"],
    ] as const) {
      const res = await apiRequest(h.app, "GET", `/monitoring/logs${q}`, { token });
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect(((await res.json()) as { error: { code: string; fields: Json } }).error).toMatchObject({ code: "VALIDATION_FAILED", fields: { [field]: expect.any(String) } });
    }
    for (const id of ["abc", "1e3", "99999999999999999999"]) expect((await apiRequest(h.app, "GET", `/monitoring/logs/${id}`, { token })).status).toBe(404);
    for (const q of ["?buckets=0", "?buckets=501", "?top=x", "?range=1h&from=nonsense"]) expect((await apiRequest(h.app, "GET", `/monitoring/stats${q}`, { token })).status).toBe(400);
    expect((await apiRequest(h.app, "GET", "/monitoring/keys/key_nope/activity", { token })).status).toBe(400);
    expect((await apiRequest(h.app, "GET", "/monitoring/logs/export?cursor=garbage&from=x", { token })).status).toBe(400);
  });
});

describe("export", () => {
  test("csvCell quotes commas, quotes and line breaks, and neutralises = + - @ tab and CR starts", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell("line\nbreak")).toBe('"line\nbreak"');
    expect(csvCell("=HYPERLINK(\"http://evil\")")).toBe("\"'=HYPERLINK(\"\"http://evil\"\")\"");
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell(null)).toBe("");
    expect(csvCell(-5)).toBe("-5");
  });

  test("REST CSV: a header, every row, hostile cells escaped, a member's export holds only their rows", async () => {
    const h = await harness();
    await twoUsers(h);
    await insertUsage(h.deps.db, usageRecord(h.member.id, { name: "=cmd|' /C calc'!A0", errorMessage: 'said "no", then\nleft', outcome: "error" }));
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const res = await apiRequest(h.app, "GET", `/monitoring/logs/export?format=csv&user_id=${h.admin.id}`, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="switchboard-usage-[0-9TZ-]+\.csv"$/);
    const text = await res.text();
    expect(text.startsWith("id,at,duration_ms,face,target_kind,")).toBe(true);
    // The formula start is neutralised: the cell opens with ' (no quotes needed: no comma, quote or break).
    expect(text).toContain(",'=cmd|' /C calc'!A0,");
    expect(text).toContain('"said ""no"", then\nleft"');
    expect(text).toContain("member-tool");
    expect(text).not.toContain("admin-tool");
    expect(text).not.toContain("payload");
  });

  test("REST JSON lines: one row per line; the admin route streams for a signed-in session; guests are refused", async () => {
    const h = await harness();
    await twoUsers(h);
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await apiRequest(h.app, "GET", "/monitoring/logs/export?format=json", { token });
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as Json);
    expect(lines.map((l) => l.name)).toEqual(["member-tool", "admin-tool"]);
    expect((await apiRequest(h.app, "GET", "/monitoring/logs/export")).status).toBe(401);
    expect((await apiRequest(h.app, "GET", "/monitoring/logs/export?format=xml", { token })).status).toBe(400);
    const noExport = (await mintKey(h.deps, h.admin, { self: ["WHOAMI"] })).token;
    expect((await apiRequest(h.app, "GET", "/monitoring/logs/export", { token: noExport })).status).toBe(403);

    const cookie = await h.cookieFor(h.member);
    const admin = await h.request("/admin/monitoring/export?format=csv", { headers: { cookie } });
    expect(admin.status).toBe(200);
    const csv = await admin.text();
    expect(csv).toContain("member-tool");
    expect(csv).not.toContain("admin-tool");
    const guest = await h.request("/admin/monitoring/export?format=csv");
    expect(guest.status).toBe(303);
    expect(await guest.text()).not.toContain("member-tool");
  });

  test("an export past its bound ends with a note; one of exactly the bound does not", async () => {
    const h = await harness();
    for (let i = 0; i < 5; i++) await insertUsage(h.deps.db, usageRecord(h.member.id, { at: new Date(Date.now() - 60_000 + i), name: `n${i}` }));
    const ctx = { deps: h.deps, caller: sessionCaller(h.admin, h.deps.catalog), now: new Date(), origin: { face: "admin" as const, address: null } };
    const read = async (maxRows: number, format: "csv" | "json") => new Response(await exportUsage(ctx, {}, format, { maxRows })).text();
    const cut = await read(3, "csv");
    expect(cut.split("\r\n").filter((l) => l.startsWith("#"))).toEqual(["# export cut at 3 rows; narrow the range or the filters for the rest"]);
    expect(cut.split("\r\n").filter((l) => /^\d/.test(l))).toHaveLength(3);
    const whole = await read(5, "csv");
    expect(whole).not.toContain("# export cut");
    expect(whole.split("\r\n").filter((l) => /^\d/.test(l))).toHaveLength(5);
    const json = (await read(2, "json")).trimEnd().split("\n").map((l) => JSON.parse(l) as Json);
    expect(json).toHaveLength(3);
    expect(json.at(-1)).toMatchObject({ truncated: true, max_rows: 2 });
  });
});
