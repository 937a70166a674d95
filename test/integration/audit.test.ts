// The audit log end to end: a change through each face (MCP /mcp/self, REST, the admin's form, the CLI,
// the config at start, sign-in, OAuth consent) makes exactly one audit row with the right actor, face,
// action, target and a masked change; refusals are recorded as refused; reads make a usage row and no
// audit row; members read only their own rows through AUDIT_LIST, REST and the Audit page.
import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { openDatabase } from "../../src/db/client.ts";
import { AuditLog, listAudit, type AuditRow } from "../../src/domain/monitoring/audit.ts";
import { listUsage } from "../../src/domain/monitoring/usage.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { AUDIT_MASK } from "../../src/domain/monitoring/mask.ts";
import { PUBLIC_URL, TEST_SECRET } from "../support/app.ts";
import { createConnectionHarness, discoveryOf, useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { apiRequest, callTool, mintKey, resultText, TOKEN_ANYWHERE } from "../support/key-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { insertUser, PASSWORD } from "../support/users.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useConnectionHarness();
const tempDir = useTempDirs("switchboard-audit-");

const TOKEN = "tok-Audit-S3cret-0001";
const HEADER = "hdr-Audit-S3cret-0002";
const ENV = "env-Audit-S3cret-0003";
const SECRETS = [TOKEN, HEADER, ENV];
const FORM = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };
/** The client address the admin's requests come from (app.request's env carries the socket's peer). */
const PEER = "203.0.113.9";
const fromPeer = { requestIP: () => ({ address: PEER }) };

async function audit(h: ConnectionHarness): Promise<AuditRow[]> {
  // On PostgreSQL (and on SQLite while a transaction is open) the log writes asynchronously.
  await (h.deps.audit as AuditLog).settled();
  return (await listAudit(h.deps.db, {}, { limit: 500 })).rows;
}

async function usage(h: ConnectionHarness) {
  await h.deps.usageRecorder.flush();
  return (await listUsage(h.deps.db, { from: new Date(0), to: new Date(Date.now() + 60_000) }, { limit: 500 })).rows;
}

/** No secret value anywhere: not in the row, not in the database's bytes. */
async function expectNoSecrets(h: ConnectionHarness, row: AuditRow): Promise<void> {
  const text = JSON.stringify(row);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  const raw = await h.rawDatabase();
  for (const secret of SECRETS) expect(raw).not.toContain(secret);
}

const CREATE_INPUT = { slug: "gh", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Api-Key": HEADER } };

describe("a change through each face makes exactly one audit row, masked", () => {
  test("MCP /mcp/self: the key's user and id, face mcp, the created id, token and header values masked", async () => {
    const h = await harness();
    const { key, token } = await mintKey(h.deps, h.admin, { self: ["CONNECTION_CREATE"] });
    const answer = await callTool(h.app, token, "CONNECTION_CREATE", CREATE_INPUT);
    expect(answer.result?.isError).toBeUndefined();
    const created = JSON.parse(resultText(answer)) as { id: string };
    const rows = await audit(h);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      face: "mcp",
      actor: { userId: h.admin.id, credentialKind: "api_key", credentialId: key.id },
      action: "CONNECTION_CREATE",
      targetId: created.id,
      outcome: "ok",
      change: { slug: "gh", transport: "http", url: "https://mcp.example.com/mcp", token: AUDIT_MASK, headers: { "X-Api-Key": AUDIT_MASK } },
    });
    await expectNoSecrets(h, rows[0]!);
    // And one usage row for the operation.
    expect((await usage(h)).filter((u) => u.method === "operation")).toMatchObject([{ name: "CONNECTION_CREATE", face: "mcp", outcome: "ok", target: { kind: "self" }, actor: { credentialId: key.id } }]);
  });

  test("REST: face api; a new key's token is never in the row (only the input is stored)", async () => {
    const h = await harness();
    const { key, token } = await mintKey(h.deps, h.member, { self: ["API_KEY_CREATE", "WHOAMI"] });
    const res = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "bot", permissions: { self: ["WHOAMI"] } } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { key: { id: string }; token: string };
    const rows = await audit(h);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ face: "api", actor: { userId: h.member.id, credentialKind: "api_key", credentialId: key.id }, action: "API_KEY_CREATE", targetId: body.key.id, outcome: "ok", change: { name: "bot" } });
    expect(JSON.stringify(rows[0])).not.toMatch(TOKEN_ANYWHERE);
    expect(JSON.stringify(rows[0])).not.toContain(body.token);
  });

  test("the admin's form: face admin, the session's user, the client address, secrets masked", async () => {
    const h = await harness();
    const cookie = await h.cookieFor(h.admin);
    const form = new URLSearchParams({ slug: "gh", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: `X-Api-Key: ${HEADER}` });
    const res = await h.app.request("/admin/connections", { method: "POST", headers: { ...FORM, cookie }, body: form.toString() }, fromPeer);
    expect(res.status).toBe(303);
    const rows = await audit(h);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      face: "admin",
      actor: { userId: h.admin.id, credentialKind: "session", credentialId: null },
      action: "CONNECTION_CREATE",
      targetId: new URL(res.headers.get("location")!, "http://x").pathname.split("/").pop(),
      address: PEER,
      outcome: "ok",
      change: { slug: "gh", token: AUDIT_MASK, headers: { "X-Api-Key": AUDIT_MASK } },
    });
    await expectNoSecrets(h, rows[0]!);
  });

  test("a refused change is recorded as refused, with what was asked masked; nothing else happens", async () => {
    const h = await harness();
    // A member's key holding everything is still capped by the member's role: no CONNECTION_CREATE.
    const { key, token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const res = await apiRequest(h.app, "POST", "/connections", { token, json: CREATE_INPUT });
    expect(res.status).toBe(403);
    const rows = await audit(h);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ face: "api", actor: { userId: h.member.id, credentialId: key.id }, action: "CONNECTION_CREATE", targetId: null, outcome: "refused", change: { token: AUDIT_MASK } });
    await expectNoSecrets(h, rows[0]!);
    expect((await usage(h)).find((u) => u.name === "CONNECTION_CREATE")).toMatchObject({ outcome: "refused", errorCode: "FORBIDDEN" });
  });

  test("a failed change is recorded as an error with its target as typed", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["CONNECTION_DELETE"] });
    const res = await apiRequest(h.app, "DELETE", "/connections/nothing-here", { token });
    expect(res.status).toBe(404);
    expect((await audit(h))).toMatchObject([{ action: "CONNECTION_DELETE", targetId: "nothing-here", outcome: "error" }]);
    expect((await usage(h)).find((u) => u.name === "CONNECTION_DELETE")).toMatchObject({ outcome: "error", errorCode: "CONNECTION_NOT_FOUND" });
  });

  test("reads make a usage row and no audit row", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["WHOAMI", "CONNECTION_LIST", "AUDIT_LIST"] });
    expect((await apiRequest(h.app, "GET", "/whoami", { token })).status).toBe(200);
    expect((await callTool(h.app, token, "CONNECTION_LIST")).result?.isError).toBeUndefined();
    expect((await apiRequest(h.app, "GET", "/audit", { token })).status).toBe(200);
    expect((await audit(h))).toEqual([]);
    expect((await usage(h)).map((u) => [u.name, u.face, u.outcome]).sort()).toEqual([["AUDIT_LIST", "api", "ok"], ["CONNECTION_LIST", "mcp", "ok"], ["WHOAMI", "api", "ok"]]);
  });
});

describe("the CLI", () => {
  async function workspace() {
    const cwd = tempDir();
    writeFileSync(join(cwd, "switchboard.toml"), `[database]\npath = "./data/sb.db"\n\n[security]\nsecret = "${TEST_SECRET}"\n`);
    const handle = openDatabase({ path: join(cwd, "data", "sb.db"), busyTimeoutMs: 1_000 });
    const member = await insertUser(handle, "member", "member@example.com");
    return { cwd, handle, member };
  }
  async function cli(cwd: string, args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), readStdin: async () => stdin, env: {}, cwd };
    return { code: await runCli(args, io), stdout, stderr };
  }

  test("key create: face cli, the host as actor (not the owner), the new id; the token never stored in the row", async () => {
    const ws = await workspace();
    try {
      const run = await cli(ws.cwd, ["key", "create", "--name", "ci", "--owner", "member@example.com", "--permissions", '{"self":["WHOAMI"]}', "--json"]);
      expect(run.code).toBe(0);
      const made = JSON.parse(run.stdout) as { key: { id: string }; token: string };
      const rows = (await listAudit(ws.handle.db, {}, { limit: 10 })).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ face: "cli", actor: { userId: null, credentialKind: "host", credentialId: null }, action: "API_KEY_CREATE", targetId: made.key.id, address: null, outcome: "ok" });
      expect(JSON.stringify(rows[0])).not.toContain(made.token);
    } finally {
      ws.handle.close();
    }
  });

  test("user reset-password: one row, no password; a reset of nobody is recorded as an error", async () => {
    const ws = await workspace();
    try {
      const password = "a brand new password 123";
      // A user with a password to reset: created through the CLI too (one more row, USER_CREATE).
      expect((await cli(ws.cwd, ["user", "create", "--email", "admin@example.com", "--role", "admin", "--password-stdin"], "first password 12345\n")).code).toBe(0);
      expect((await cli(ws.cwd, ["user", "reset-password", "--email", "admin@example.com", "--password-stdin"], `${password}\n`)).code).toBe(0);
      expect((await cli(ws.cwd, ["user", "reset-password", "--email", "nobody@example.com", "--password-stdin"], `${password}\n`)).code).not.toBe(0);
      const rows = (await listAudit(ws.handle.db, {}, { limit: 10 })).rows;
      expect(rows.map((r) => [r.action, r.outcome, r.face, r.actor.credentialKind])).toEqual([
        ["USER_RESET_PASSWORD", "error", "cli", "host"],
        ["USER_RESET_PASSWORD", "ok", "cli", "host"],
        ["USER_CREATE", "ok", "cli", "host"],
      ]);
      expect(rows[1]).toMatchObject({ targetId: expect.stringMatching(/^user_/), change: { email: "admin@example.com" } });
      expect(rows[0]).toMatchObject({ targetId: null, change: { email: "nobody@example.com" } });
      const text = JSON.stringify(rows);
      expect(text).not.toContain(password);
      expect(text).not.toContain("first password 12345");
    } finally {
      ws.handle.close();
    }
  });
});

describe("changes that are no operation", () => {
  test("the config at start: a row per connection and agent created, changed or removed; none when nothing changed", async () => {
    const dir = tempDir();
    const connection = { slug: "declared", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Api-Key": HEADER } };
    const agent = { slug: "helper", tools: { declared: ["echo"] } };
    const start = async (connections: Record<string, unknown>[], agents: Record<string, unknown>[]) => {
      const h = await createConnectionHarness({ connections, agents }, dir);
      const rows = await audit(h);
      const raw = await h.rawDatabase();
      h.close();
      return { rows, raw };
    };
    const first = await start([connection], [agent]);
    const base = { face: "config", actor: { userId: null, credentialKind: "config", credentialId: null }, address: null, outcome: "ok" };
    expect(first.rows).toHaveLength(2);
    expect(first.rows).toContainEqual(
      expect.objectContaining({ ...base, action: "CONNECTION_CREATE", targetId: configConnectionId("declared"), change: { event: "created", declared: expect.objectContaining({ slug: "declared", token: AUDIT_MASK, headers: { "X-Api-Key": AUDIT_MASK } }) } }),
    );
    expect(first.rows).toContainEqual(expect.objectContaining({ ...base, action: "AGENT_CREATE", targetId: configAgentId("helper") }));
    for (const secret of SECRETS) expect(first.raw).not.toContain(secret);

    // The same file again: nothing changed, nothing recorded.
    expect((await start([connection], [agent])).rows).toHaveLength(2);
    // A changed title, then the file without them.
    const changed = (await start([{ ...connection, title: "Declared" }], [agent])).rows;
    expect(changed).toHaveLength(3);
    expect(changed[0]).toMatchObject({ ...base, action: "CONNECTION_UPDATE", change: { event: "changed", declared: { title: "Declared", token: AUDIT_MASK } } });
    const removed = (await start([], [])).rows;
    expect(removed.slice(0, 2).map((r) => [r.action, r.targetId, (r.change as { event: string }).event]).sort()).toEqual([
      ["AGENT_DELETE", configAgentId("helper"), "removed"],
      ["CONNECTION_DELETE", configConnectionId("declared"), "removed"],
    ]);
  });

  test("the config takes over a connection made in the admin: recorded as adopted", async () => {
    const dir = tempDir();
    const made = await createConnectionHarness({}, dir);
    await made.store({ slug: "shared", transport: "http", url: "https://mcp.example.com/mcp" });
    made.close();
    const h = await createConnectionHarness({ connections: [{ slug: "shared", transport: "http", url: "https://mcp.example.com/other" }] }, dir);
    try {
      expect((await audit(h))).toMatchObject([{ face: "config", action: "CONNECTION_UPDATE", change: { event: "adopted", declared: { slug: "shared" } } }]);
    } finally {
      h.close();
    }
  });

  test("sign-in: SIGN_IN for the user, SIGN_IN_FAILED naming only the email typed, never a password", async () => {
    const h = await harness();
    const user = await h.createUser("person@example.com", "member");
    const login = (password: string) =>
      h.app.request(`${PUBLIC_URL}/admin/login`, { method: "POST", headers: FORM, body: new URLSearchParams({ email: "person@example.com", password }).toString() }, fromPeer);
    expect((await login("wrong password 999")).status).toBe(401);
    expect((await login(PASSWORD)).status).toBe(303);
    const rows = await audit(h);
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([["SIGN_IN", "ok"], ["SIGN_IN_FAILED", "refused"]]);
    expect(rows[0]).toMatchObject({ face: "admin", actor: { userId: user.id, credentialKind: "session" }, targetId: user.id, address: PEER });
    expect(rows[1]).toMatchObject({ actor: { userId: null }, targetId: null, address: PEER, change: { email: "person@example.com" } });
    const text = JSON.stringify(rows);
    expect(text).not.toContain("wrong password 999");
    expect(text).not.toContain(PASSWORD);
  });

  test("first-admin setup: SETUP_FIRST_ADMIN for the new admin, no password", async () => {
    const h = await harness();
    // The harness made users; setup is open only to a server without any.
    await rawRun(h.deps, "DELETE FROM users");
    const token = h.deps.setup.open();
    const res = await h.request("/admin/setup", { method: "POST", headers: FORM, body: new URLSearchParams({ token, email: "first@example.com", password: PASSWORD, confirm: PASSWORD }).toString() });
    expect(res.status).toBe(303);
    const rows = await audit(h);
    expect(rows).toMatchObject([{ action: "SETUP_FIRST_ADMIN", face: "admin", actor: { credentialKind: "session" }, change: { email: "first@example.com", role: "admin" }, outcome: "ok" }]);
    expect(rows[0]!.targetId).toBe(rows[0]!.actor.userId!);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  test("OAuth consent: OAUTH_APPROVE and OAUTH_DENY by the signed-in user, the agent as target", async () => {
    const h = await harness();
    const conn = await h.store({ slug: "files", transport: "http", url: "https://files.example.com/mcp" });
    h.gateway.discoveries.set(conn.id, discoveryOf({ read_file: "Read a file" }));
    const agent = await createAgent(agentStore(h.deps), newAgentFields({ slug: "helper", connections: [{ connectionId: conn.id, tools: [{ name: "read_file" }], resources: "none", prompts: "none" }] }));
    const cookie = await h.cookieFor(h.member);
    const registered = await h.request("/oauth/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/callback"], client_name: "Audit client" }) });
    const clientId = ((await registered.json()) as { client_id: string }).client_id;
    const decide = async (decision: "approve" | "deny") => {
      const verifier = randomBytes(32).toString("base64url");
      const fields = {
        response_type: "code",
        client_id: clientId,
        redirect_uri: "http://127.0.0.1/callback",
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
        state: "st",
        resource: `${PUBLIC_URL}/mcp/agent/helper`,
        scope: "mcp",
      };
      const res = await h.request("/oauth/authorize", { method: "POST", headers: { ...FORM, cookie }, body: new URLSearchParams({ ...fields, decision }).toString() });
      expect(res.status).toBe(303);
      return new URL(res.headers.get("location")!);
    };
    expect((await decide("deny")).searchParams.get("error")).toBe("access_denied");
    expect((await decide("approve")).searchParams.get("code")).toBeString();
    const rows = await audit(h);
    expect(rows.map((r) => r.action)).toEqual(["OAUTH_APPROVE", "OAUTH_DENY"]);
    for (const row of rows) {
      expect(row).toMatchObject({ face: "admin", actor: { userId: h.member.id, credentialKind: "session" }, targetId: agent.id, outcome: "ok", change: { client_id: clientId, client_name: "Audit client", scope: "mcp" } });
    }
  });
});

describe("members read only their own rows", () => {
  async function twoPeople() {
    const h = await harness();
    const adminKey = await mintKey(h.deps, h.admin, { self: ["*"] });
    const memberKey = await mintKey(h.deps, h.member, { self: ["*"] });
    // One change each: the admin's connection, the member's own key.
    expect((await apiRequest(h.app, "POST", "/connections", { token: adminKey.token, json: { slug: "theirs", transport: "http", url: "https://mcp.example.com/mcp" } })).status).toBe(201);
    expect((await apiRequest(h.app, "POST", "/keys", { token: memberKey.token, json: { name: "mine", permissions: { self: ["WHOAMI"] } } })).status).toBe(201);
    return { h, adminKey, memberKey };
  }

  test("AUDIT_LIST over MCP and REST: a member's filter is forced to themselves; an admin sees both", async () => {
    const { h, adminKey, memberKey } = await twoPeople();
    const viaMcp = JSON.parse(resultText(await callTool(h.app, memberKey.token, "AUDIT_LIST", { user_id: h.admin.id }))) as { rows: { action: string }[] };
    expect(viaMcp.rows.map((r) => r.action)).toEqual(["API_KEY_CREATE"]);
    const viaRest = (await (await apiRequest(h.app, "GET", `/audit?user_id=${h.admin.id}&action=CONNECTION_CREATE`, { token: memberKey.token })).json()) as { rows: unknown[] };
    expect(viaRest.rows).toEqual([]);
    const admin = (await (await apiRequest(h.app, "GET", "/audit", { token: adminKey.token })).json()) as { rows: { action: string; actor: { user_id: string } }[] };
    expect(admin.rows.map((r) => [r.action, r.actor.user_id])).toEqual([["API_KEY_CREATE", h.member.id], ["CONNECTION_CREATE", h.admin.id]]);
    const narrowed = (await (await apiRequest(h.app, "GET", `/audit?user_id=${h.member.id}`, { token: adminKey.token })).json()) as { rows: unknown[] };
    expect(narrowed.rows).toHaveLength(1);
  });

  test("a refused change's target is not told to exist (no probing ids through the log)", async () => {
    const { h, memberKey } = await twoPeople();
    const theirs = (await audit(h)).find((r) => r.action === "CONNECTION_CREATE")!.targetId!;
    expect((await apiRequest(h.app, "DELETE", `/connections/${theirs}`, { token: memberKey.token })).status).toBe(403);
    const rows = ((await (await apiRequest(h.app, "GET", "/audit", { token: memberKey.token })).json()) as { rows: { action: string; target_id: string; target_exists: boolean | null }[] }).rows;
    expect(rows.find((r) => r.action === "CONNECTION_DELETE")).toMatchObject({ target_id: theirs, target_exists: null });
    expect(rows.find((r) => r.action === "API_KEY_CREATE")).toMatchObject({ target_exists: true });
  });

  test("bad filters are a 400 naming the field, never a 500", async () => {
    const { h, adminKey } = await twoPeople();
    for (const query of ["range=2d", "from=yesterday", "limit=501", "cursor=abc", "face=web", "range=1h&from=2027-01-01T00:00:00Z"]) {
      const res = await apiRequest(h.app, "GET", `/audit?${query}`, { token: adminKey.token });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    }
  });

  test("the Audit page: guests sign in; a member sees their rows only; an admin everyone's, filtered by htmx, paged", async () => {
    const { h } = await twoPeople();
    const guest = await h.app.request("/admin/audit");
    expect(guest.status).toBe(303);
    expect(guest.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Faudit");

    const memberPage = await (await h.app.request("/admin/audit", { headers: { cookie: await h.cookieFor(h.member) } })).text();
    expect(memberPage).toContain("API_KEY_CREATE");
    expect(memberPage).not.toContain("CONNECTION_CREATE");
    expect(memberPage).not.toContain('id="audit-user"');
    expect(memberPage).toContain('href="/admin/audit" aria-current="page"');

    const cookie = await h.cookieFor(h.admin);
    const page = await (await h.app.request("/admin/audit", { headers: { cookie } })).text();
    expect(page).toContain("API_KEY_CREATE");
    expect(page).toContain("CONNECTION_CREATE");
    expect(page).toContain('hx-push-url="true"');
    expect(page).toContain("<details");
    // The created connection still exists: its target is linked.
    const connectionId = (await audit(h)).find((r) => r.action === "CONNECTION_CREATE")!.targetId!;
    expect(page).toContain(`href="/admin/connections/${connectionId}"`);

    // htmx asks for the section alone, with the filters applied.
    const fragment = await h.app.request("/admin/audit?action=CONNECTION_CREATE&face=api&range=24h", { headers: { cookie, "hx-request": "true" } });
    const html = await fragment.text();
    expect(html.startsWith('<div id="audit-section">')).toBe(true);
    expect(html).toContain("CONNECTION_CREATE");
    expect(html).not.toContain("API_KEY_CREATE");
    expect(html).not.toContain("<html");

    // A bad filter is a 400 page, not a 500.
    expect((await h.app.request("/admin/audit?range=2d", { headers: { cookie } })).status).toBe(400);
  });

  test("the page pages by cursor: Older leads to the next rows and no row shows twice", async () => {
    const h = await harness();
    for (let i = 0; i < 55; i++) {
      h.deps.audit.record({ at: new Date(Date.UTC(2030, 0, 1, 0, i)), face: "api", actor: { userId: h.admin.id, credentialKind: "session", credentialId: null }, action: `ACTION_${i}`, targetId: null, address: null, change: {}, outcome: "ok" });
    }
    await (h.deps.audit as AuditLog).settled();
    const cookie = await h.cookieFor(h.admin);
    const first = await (await h.app.request("/admin/audit", { headers: { cookie } })).text();
    expect(first).toContain("ACTION_54");
    expect(first).toContain("ACTION_5<");
    expect(first).not.toContain("ACTION_4<");
    const older = /id="audit-older" href="([^"]+)"/.exec(first)![1]!.replaceAll("&amp;", "&");
    const second = await (await h.app.request(older, { headers: { cookie, "hx-request": "true" } })).text();
    expect(second).toContain("ACTION_4<");
    expect(second).toContain("ACTION_0<");
    expect(second).not.toContain("ACTION_5<");
    expect(second).not.toContain('id="audit-older"');
  });
});
