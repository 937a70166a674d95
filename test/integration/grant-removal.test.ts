// Grants never outlive their target: deleting a connection or agent (REST, MCP, admin, or removing it
// from switchboard.toml) removes its entry from every key in the same transaction, so a different
// server declared later under the old slug (the same derived id) inherits nothing. A key left with no
// permissions is kept as {}.
import { describe, expect, test } from "bun:test";
import { getApiKey } from "../../src/domain/access/api-keys.ts";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { Logger } from "../../src/logger.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createTestApp, type ConfigOverrides, type TestApp } from "../support/app.ts";
import { apiRequest, callTool, mintKey, useHarness, type Harness } from "../support/key-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { insertUser } from "../support/users.ts";

const harness = useHarness();
const tempDir = useTempDirs("switchboard-grants-");
// Loopback only, and nothing is contacted: connections are not connected at start.
const URL_A = "http://127.0.0.1:9/a/mcp";
const URL_B = "http://127.0.0.1:9/b/mcp";

async function connection(h: Harness, slug: string) {
  return await createConnection(connectionStore(h.deps), newConnectionFields({ slug, transport: "http", url: URL_A }));
}

async function agent(h: Harness, slug: string, connectionId: string) {
  return await createAgent(agentStore(h.deps), newAgentFields({ slug, connections: [{ connectionId, tools: [{ name: "echo" }], resources: "none", prompts: "none" }] }));
}

async function permissionsOf(h: { deps: TestApp["deps"] }, id: string): Promise<Permissions | undefined> {
  return (await getApiKey(h.deps.db, id))?.permissions;
}

describe("deleting a connection or agent removes its grants from every key", () => {
  test("REST CONNECTION_DELETE: the connection's entry goes, other entries stay; a key left empty is kept as {} and still authenticates", async () => {
    const h = await harness();
    const gone = await connection(h, "gone");
    const kept = await connection(h, "kept");
    const mixed = await mintKey(h.deps, h.member, { [gone.id]: ["*"], [kept.id]: ["echo"], self: ["WHOAMI"] }, { name: "mixed" });
    const only = await mintKey(h.deps, h.member, { [gone.id]: ["echo", "add"] }, { name: "only" });
    const unrelated = await mintKey(h.deps, h.member, { [kept.id]: ["*"] }, { name: "unrelated" });
    const untouchedAt = (await getApiKey(h.deps.db, unrelated.key.id))!.updatedAt;
    const root = await mintKey(h.deps, h.admin, { self: ["*"] });

    const res = await apiRequest(h.app, "DELETE", `/connections/${gone.id}`, { token: root.token });
    expect(res.status).toBe(200);

    expect(await permissionsOf(h, mixed.key.id)).toEqual({ [kept.id]: ["echo"], self: ["WHOAMI"] });
    expect(await permissionsOf(h, only.key.id)).toEqual({});
    expect((await h.deps.verifyKey(only.token))?.permissions).toEqual({});
    expect(await permissionsOf(h, unrelated.key.id)).toEqual({ [kept.id]: ["*"] });
    expect((await getApiKey(h.deps.db, unrelated.key.id))!.updatedAt).toEqual(untouchedAt);
    // The emptied key reaches nothing: its own management is refused too.
    expect((await apiRequest(h.app, "GET", "/whoami", { token: only.token })).status).toBe(403);
  });

  test("MCP AGENT_DELETE: the agent's entry goes, the connection's stays", async () => {
    const h = await harness();
    const conn = await connection(h, "upstream");
    const helper = await agent(h, "helper", conn.id);
    const granted = await mintKey(h.deps, h.member, { [helper.id]: ["echo"], [conn.id]: ["echo"] });
    const root = await mintKey(h.deps, h.admin, { self: ["*"] });
    const answer = await callTool(h.app, root.token, "AGENT_DELETE", { id: helper.id });
    expect(answer.result?.isError).toBeUndefined();
    expect(await permissionsOf(h, granted.key.id)).toEqual({ [conn.id]: ["echo"] });
  });

  test("admin delete of a connection removes its grants", async () => {
    const h = await harness();
    const admin = await h.createUser("boss@example.com", "admin");
    const cookie = await h.signIn(admin.email);
    const gone = await connection(h, "gone");
    const granted = await mintKey(h.deps, h.member, { [gone.id]: ["*"], "*": ["echo"] });
    const res = await h.request(`/admin/connections/${gone.id}/delete`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: "confirm=yes",
    });
    expect(res.status).toBe(303);
    expect(await permissionsOf(h, granted.key.id)).toEqual({ "*": ["echo"] });
  });

  test("the removal is logged, naming the keys changed", async () => {
    const lines: { message: string; fields: Record<string, unknown> }[] = [];
    const record = (message: string, fields: Record<string, unknown> = {}) => lines.push({ message, fields });
    const logger: Logger = { debug: () => {}, info: record, warn: record, error: record };
    const t = await createTestApp({ logger });
    try {
      const admin = await insertUser(t.deps, "admin");
      const conn = await createConnection(connectionStore(t.deps), newConnectionFields({ slug: "gone", transport: "http", url: URL_A }));
      const granted = await mintKey(t.deps, admin, { [conn.id]: ["*"] });
      const root = await mintKey(t.deps, admin, { self: ["*"] });
      expect((await apiRequest(t.app, "DELETE", `/connections/${conn.id}`, { token: root.token })).status).toBe(200);
      expect(lines.find((l) => l.message === "connection deleted")?.fields.keys_changed).toEqual([granted.key.id]);
    } finally {
      t.close();
    }
  });
});

describe("connections and agents removed from switchboard.toml", () => {
  const declared = (url: string | null, withAgent: boolean): ConfigOverrides => ({
    connections: url === null ? [] : [{ slug: "github", url }],
    agents: withAgent && url !== null ? [{ slug: "demo", tools: { github: ["echo"] } }] : [],
  });

  test("a key granted on a declared connection and agent loses both when they leave the file; re-declared under the slug, they grant nothing", async () => {
    const dir = tempDir();
    const connId = configConnectionId("github");
    const agentId = configAgentId("demo");

    const first = await createTestApp({ dir, overrides: declared(URL_A, true) });
    const owner = await insertUser(first.deps, "member");
    const granted = await mintKey(first.deps, owner, { [connId]: ["*"], [agentId]: ["echo"], self: ["WHOAMI"] });
    const onlyAgent = await mintKey(first.deps, owner, { [agentId]: ["*"] });
    first.close();

    // Same file: nothing changes.
    const same = await createTestApp({ dir, overrides: declared(URL_A, true) });
    expect(await permissionsOf(same, granted.key.id)).toEqual({ [connId]: ["*"], [agentId]: ["echo"], self: ["WHOAMI"] });
    same.close();

    // The agent leaves the file: its grant goes, the connection's stays.
    const noAgent = await createTestApp({ dir, overrides: declared(URL_A, false) });
    expect(await permissionsOf(noAgent, granted.key.id)).toEqual({ [connId]: ["*"], self: ["WHOAMI"] });
    expect(await permissionsOf(noAgent, onlyAgent.key.id)).toEqual({});
    noAgent.close();

    // The connection leaves the file too.
    const none = await createTestApp({ dir, overrides: declared(null, false) });
    expect(await permissionsOf(none, granted.key.id)).toEqual({ self: ["WHOAMI"] });
    none.close();

    // A different server later declared under the old slug gets the same id, and no grants.
    const again = await createTestApp({ dir, overrides: declared(URL_B, true) });
    try {
      expect(await again.deps.resourceExists(connId)).toBe(true);
      expect(await permissionsOf(again, granted.key.id)).toEqual({ self: ["WHOAMI"] });
      expect(await permissionsOf(again, onlyAgent.key.id)).toEqual({});
      expect((await again.deps.verifyKey(granted.token))?.permissions).toEqual({ self: ["WHOAMI"] });
    } finally {
      again.close();
    }
  });
});
