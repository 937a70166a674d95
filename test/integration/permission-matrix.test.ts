// Generated matrix: every kind of key × every management operation. For each pair, /mcp/self lists the
// tool exactly when tools/call runs it, and /api/v1 agrees (403 exactly when MCP refuses). What is
// allowed is computed here from DESIGN.md's rule, independently of the code under test:
// grants(p, "self", OP), with a member owner's key narrowed to the tools members may use.
import { beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { User } from "../../src/domain/access/users.ts";
import { createInvite } from "../../src/domain/access/invites.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { OPERATIONS } from "../../src/operations/index.ts";
import type { Operation } from "../../src/operations/registry.ts";
import { apiRequest, callTool, mcpRequest, mintKey, resultText, useSharedHarness, type Harness, type JsonRpcResponse } from "../support/key-harness.ts";
import { agentResource, approve, cimdClient, dcrClient } from "../support/oauth-grants.ts";
import { insertUser } from "../support/users.ts";
import { insertUsage, usageRecord } from "../support/usage-rows.ts";

/** The operations only admins (and their keys) may use; everything else is open to members. */
const ADMIN_ONLY = new Set([
  "USER_CREATE", "USER_UPDATE", "USER_DELETE", "USER_INVITE_CREATE", "USER_INVITE_LIST", "USER_INVITE_REVOKE", "CONNECTION_CREATE", "CONNECTION_UPDATE", "CONNECTION_DELETE", "AGENT_CREATE", "AGENT_UPDATE", "AGENT_DELETE",
  "AGENT_CHECK", "OAUTH_CLIENT_LIST", "OAUTH_CLIENT_DELETE",
]);

type KeyCase = { label: string; owner: "admin" | "member"; permissions: Record<string, string[]> };

const KEY_CASES: KeyCase[] = [
  { label: "{}", owner: "admin", permissions: {} },
  { label: '{"self":["*"]} owned by an admin', owner: "admin", permissions: { self: ["*"] } },
  { label: '{"self":["*"]} owned by a member', owner: "member", permissions: { self: ["*"] } },
  { label: '{"self":["API_KEY_LIST"]}', owner: "admin", permissions: { self: ["API_KEY_LIST"] } },
  { label: '{"self":["WHOAMI","USER_LIST"]}', owner: "admin", permissions: { self: ["WHOAMI", "USER_LIST"] } },
  { label: '{"*":["*"]} (no self)', owner: "admin", permissions: { "*": ["*"] } },
  { label: '{"self":["USER_CREATE","WHOAMI"]} owned by a member', owner: "member", permissions: { self: ["USER_CREATE", "WHOAMI"] } },
];

function expectedAllowed(k: KeyCase, op: string): boolean {
  const self = k.permissions.self ?? [];
  const granted = self.includes("*") || self.includes(op);
  return granted && (k.owner === "admin" || !ADMIN_ONLY.has(op));
}

function hasAnySelf(k: KeyCase): boolean {
  return OPERATIONS.some((op) => expectedAllowed(k, op.name));
}

/**
 * Valid arguments for each operation, acting on fresh things the caller may manage, so an allowed
 * call succeeds outright. A new operation without an entry here fails the matrix.
 */
/** A fresh stored connection's id. */
async function connectionId(h: Harness): Promise<string> {
  const slug = `m-${randomUUID().slice(0, 8)}`;
  return (await createConnection(connectionStore(h.deps), newConnectionFields({ slug, transport: "http", url: "https://mcp.example.com/mcp" }))).id;
}

/** A fresh per-user OAuth connection's id. */
async function oauthConnectionId(h: Harness): Promise<string> {
  const slug = `o-${randomUUID().slice(0, 8)}`;
  return (await createConnection(connectionStore(h.deps), newConnectionFields({ slug, transport: "http", url: "https://mcp.example.com/mcp", auth: "oauth", oauthMode: "per_user" }))).id;
}

/** A fresh stored agent's id. */
async function agentId(h: Harness): Promise<string> {
  return (await createAgent(agentStore(h.deps), newAgentFields({ slug: `a-${randomUUID().slice(0, 8)}` }))).id;
}

const ARGS: Record<string, (h: Harness, owner: User) => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  WHOAMI: () => ({}),
  CONNECTION_LIST: () => ({}),
  CONNECTION_GET: async (h) => ({ id: await connectionId(h) }),
  CONNECTION_CREATE: () => ({ slug: `made-${randomUUID().slice(0, 8)}`, transport: "http", url: "https://mcp.example.com/mcp" }),
  CONNECTION_UPDATE: async (h) => ({ id: await connectionId(h), title: "renamed" }),
  CONNECTION_DELETE: async (h) => ({ id: await connectionId(h) }),
  CONNECTION_TEST: async (h) => ({ id: await connectionId(h) }),
  CONNECTION_REFRESH: async (h) => ({ id: await connectionId(h) }),
  CONNECTION_OAUTH_LINKS: async (h) => ({ connection: await oauthConnectionId(h) }),
  OAUTH_ACCOUNTS_LIST: () => ({}),
  // The caller's own link (none: { disconnected: false }), which every caller may cut.
  CONNECTION_OAUTH_DISCONNECT: async (h) => ({ connection: await oauthConnectionId(h) }),
  TOOL_LIST: () => ({}),
  AGENT_LIST: () => ({}),
  AGENT_GET: async (h) => ({ id: await agentId(h) }),
  AGENT_CREATE: () => ({ slug: `made-${randomUUID().slice(0, 8)}` }),
  AGENT_UPDATE: async (h) => ({ id: await agentId(h), title: "renamed" }),
  AGENT_DELETE: async (h) => ({ id: await agentId(h) }),
  AGENT_CHECK: async (h) => ({ connections: [{ connection: await connectionId(h), tools: ["echo"] }] }),
  API_KEY_CREATE: () => ({ name: "made by the matrix", permissions: { self: ["WHOAMI"] } }),
  API_KEY_LIST: () => ({}),
  API_KEY_GET: async (h, owner) => ({ id: (await mintKey(h.deps, owner, {})).key.id }),
  API_KEY_UPDATE: async (h, owner) => ({ id: (await mintKey(h.deps, owner, {})).key.id, name: "renamed" }),
  API_KEY_ROTATE: async (h, owner) => ({ id: (await mintKey(h.deps, owner, {})).key.id }),
  API_KEY_DELETE: async (h, owner) => ({ id: (await mintKey(h.deps, owner, {})).key.id }),
  USER_LIST: () => ({}),
  USER_CREATE: () => ({ email: `made-${randomUUID().slice(0, 8)}@example.com`, role: "member", password: "a long enough password" }),
  USER_UPDATE: async (h) => ({ id: (await insertUser(h.deps, "member")).id, role: "member" }),
  USER_DELETE: async (h) => ({ id: (await insertUser(h.deps, "member")).id }),
  USER_INVITE_CREATE: () => ({ email: `invited-${randomUUID().slice(0, 8)}@example.com`, role: "member" }),
  USER_INVITE_LIST: () => ({}),
  USER_INVITE_REVOKE: async (h) => ({ id: (await createInvite(h.deps.db, h.deps.keys.tokenHmac, { email: `invited-${randomUUID().slice(0, 8)}@example.com`, role: "member" }, { invitedBy: null })).invite.id }),
  SERVER_STATS: () => ({}),
  OAUTH_GRANT_LIST: () => ({}),
  OAUTH_GRANT_REVOKE: async (h, owner) => ({ id: (await approve(h.deps, owner, await dcrClient(h.deps), await agentResource(h.deps))).grantId }),
  OAUTH_CLIENT_LIST: () => ({}),
  // A URL id: REST sends it percent-encoded in the path.
  OAUTH_CLIENT_DELETE: async (h) => ({ id: (await cimdClient(h.deps, `https://client-${randomUUID().slice(0, 8)}.example/oauth/metadata`)).id }),
  MONITORING_LOGS_LIST: () => ({ range: "1h" }),
  // The owner's own row and key: allowed to a member's key as much as to an admin's.
  MONITORING_LOG_GET: async (h, owner) => ({ id: await insertUsage(h.deps.db, usageRecord(owner.id, { name: `m-${randomUUID()}` })) }),
  MONITORING_STATS: () => ({ range: "24h", buckets: 4 }),
  MONITORING_KEY_ACTIVITY: async (h, owner) => ({ credential_id: (await mintKey(h.deps, owner, {})).key.id, range: "7d" }),
  AUDIT_LIST: () => ({ range: "24h" }),
};

/** The REST request for an operation: path params from the arguments, the rest as query or JSON body. */
function restCall(h: Harness, op: Operation, token: string, args: Record<string, unknown>): Promise<Response> {
  const rest = { ...args };
  const path = op.rest.path.replace(/:(\w+)/g, (_, name: string) => {
    const value = String(rest[name]);
    delete rest[name];
    return encodeURIComponent(value);
  });
  if (op.rest.method === "GET" || op.rest.method === "DELETE") {
    const query = new URLSearchParams(Object.entries(rest).map(([k, v]) => [k, String(v)])).toString();
    return apiRequest(h.app, op.rest.method, query ? `${path}?${query}` : path, { token });
  }
  return apiRequest(h.app, op.rest.method, path, { token, json: rest });
}

const harness = useSharedHarness();

test("every operation has matrix arguments, and the admin-only set matches the registry", () => {
  expect(Object.keys(ARGS).sort()).toEqual(OPERATIONS.map((op) => op.name).sort());
  expect(OPERATIONS.filter((op) => !op.forMembers).map((op) => op.name).sort()).toEqual([...ADMIN_ONLY].sort());
});

for (const k of KEY_CASES) {
  describe(`key ${k.label}`, () => {
    let h: Harness;
    let owner: User;
    let token: string;
    let listed: string[] | null;

    beforeAll(async () => {
      h = await harness();
      owner = k.owner === "admin" ? h.admin : h.member;
      token = (await mintKey(h.deps, owner, k.permissions, { name: k.label })).token;
      const res = await mcpRequest(h.app, token, "tools/list");
      if (res.status === 200) {
        const answer = (await res.json()) as JsonRpcResponse;
        listed = answer.result?.tools?.map((t) => t.name) ?? null;
      } else {
        listed = null;
        // A key with no management permission at all is refused at the door.
        expect(res.status).toBe(403);
        const body = await res.text();
        expect(body).toContain("FORBIDDEN");
        for (const op of OPERATIONS) expect(body).not.toContain(op.name);
      }
    });

    test("tools/list shows exactly the permitted tools, in registry order", () => {
      const expected = OPERATIONS.filter((op) => expectedAllowed(k, op.name)).map((op) => op.name);
      if (!hasAnySelf(k)) {
        expect(listed).toBeNull();
        return;
      }
      expect(listed).toEqual(expected);
      for (const op of OPERATIONS) if (!expected.includes(op.name)) expect(listed).not.toContain(op.name);
    });

    for (const op of OPERATIONS) {
      const allowed = expectedAllowed(k, op.name);
      test(`${op.name}: ${allowed ? "allowed" : "refused"} over MCP and REST alike`, async () => {
        // MCP
        const mcpArgs = await ARGS[op.name]!(h, owner);
        if (!hasAnySelf(k)) {
          const res = await mcpRequest(h.app, token, "tools/call", { name: op.name, arguments: mcpArgs });
          expect(res.status).toBe(403);
          expect(await res.text()).not.toContain('"result"');
        } else {
          const answer: JsonRpcResponse = await callTool(h.app, token, op.name, mcpArgs);
          expect(listed!.includes(op.name)).toBe(allowed);
          if (allowed) {
            expect(answer.error).toBeUndefined();
            expect(answer.result?.isError).toBeUndefined();
            expect(resultText(answer)).not.toContain("Unknown tool");
            expect(answer.result?.structuredContent).toBeObject();
          } else {
            expect(answer.result).toBeUndefined();
            expect(answer.error?.message).toContain(`Unknown tool: ${op.name}`);
            // Refused reads exactly like nonexistent: no hint that the tool exists or why.
            expect(answer.error?.message).not.toContain("permission");
            expect(answer.error?.message).not.toContain("admin");
          }
        }

        // REST
        const res = await restCall(h, op, token, await ARGS[op.name]!(h, owner));
        const body = (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } };
        if (allowed) {
          expect(res.status).toBe(op.rest.successStatus ?? 200);
          // No error envelope ({error: {code, message}}); CONNECTION_TEST reports a failed test as a string `error`.
          expect((body.error as { code?: string } | undefined)?.code).toBeUndefined();
        } else {
          expect(res.status).toBe(403);
          expect(body).toEqual({ error: { code: "FORBIDDEN", message: expect.any(String) } });
          expect(Object.keys(body)).toEqual(["error"]);
        }
      });
    }
  });
}
