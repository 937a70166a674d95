// The agent operations over REST (and /mcp/self): a guest, a wrong-permission and a happy row per
// route, members refused the admin-only ones, collisions refused naming both tools, connections by id
// or slug, config-declared agents read-only, the gateway told of every change (and of agents that
// lose a deleted connection), and key permissions that name agents checked against the ones that exist.
import { describe, expect, test } from "bun:test";
import { findAgent, getAgent } from "../../src/domain/agents/agents.ts";
import { OPERATIONS } from "../../src/operations/index.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { pick, useAgentHarness, type AgentHarness, type AgentOverrides } from "../support/agent-harness.ts";
import { apiRequest, callTool, mintKey } from "../support/key-harness.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const UNKNOWN_AGENT = "agent_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";

const harness = useAgentHarness();

type Ctx = { h: AgentHarness; githubId: string; gitlabId: string; agentId: string; keys: Record<"happy" | "wrong" | "member", string> };

/** Two connections that both offer "search", an agent over them (gitlab's aliased), and keys for the row kinds. */
async function setup(op: string, overrides: AgentOverrides = {}): Promise<Ctx> {
  const h = await harness(overrides);
  const github = await h.connection("github", { search: "Search GitHub", get_issue: "One issue" });
  const gitlab = await h.connection("gitlab", { search: "Search GitLab", merge: "Merge" });
  const agent = await h.agent("support", [pick(github, ["search", "get_issue", "gone"]), pick(gitlab, [["search", "search_gitlab"]])], { instructions: "Help." });
  const others = OPERATIONS.map((o) => o.name).filter((name) => name !== op);
  return {
    h,
    githubId: github.id,
    gitlabId: gitlab.id,
    agentId: agent.id,
    keys: {
      happy: (await mintKey(h.deps, h.admin, { self: [op] })).token,
      wrong: (await mintKey(h.deps, h.admin, { self: others, "*": ["*"] })).token,
      member: (await mintKey(h.deps, h.member, { self: ["*"] })).token,
    },
  };
}

const auth = (kind: "happy" | "wrong") => (ctx: Ctx) => ({ authorization: `Bearer ${ctx.keys[kind]}`, "content-type": "application/json" });

type Route = { op: string; method: string; url: (ctx: Ctx) => string; body?: (ctx: Ctx) => unknown; status: number; expected: (ctx: Ctx) => string[]; after?: Scenario<Ctx>["after"] };

const ROUTES: Route[] = [
  { op: "AGENT_LIST", method: "GET", url: () => "/agents", status: 200, expected: () => ['"slug":"support"', '"tool_count":3', '"connection_slug":"gitlab"', '"endpoint":"http://switchboard.test/mcp/agent/agent_'] },
  {
    op: "AGENT_GET", method: "GET", url: (c) => `/agents/${c.agentId}`, status: 200,
    expected: (c) => [
      `{"name":"search","connection_id":"${c.githubId}","connection_slug":"github","upstream":"search","description":"Search GitHub","missing":false,"input_schema":{"type":"object"}}`,
      // A tool the upstream no longer offers has no schema to show.
      '{"name":"search_gitlab","connection_id":', '"upstream":"gone","description":null,"missing":true,"input_schema":null}', '"collisions":[]', '"instructions":"Help."',
    ],
  },
  {
    op: "AGENT_CREATE", method: "POST", url: () => "/agents", status: 201, expected: () => ['"slug":"made"', '"tool_count":2'],
    body: () => ({ slug: "made", connections: [{ connection: "github", tools: "all" }] }),
    after: async ({ h, githubId }) => {
      const made = await findAgent(h.deps.db, "made");
      expect(made.connections).toEqual([{ connectionId: githubId, tools: "all", resources: "none", prompts: "none" }]);
      expect(h.agents.applied).toEqual([made.id]);
    },
  },
  {
    op: "AGENT_UPDATE", method: "PATCH", url: (c) => `/agents/${c.agentId}`, status: 200, expected: () => ['"title":"Renamed"', '"prefix_tools":true'],
    body: () => ({ title: "Renamed", prefix_tools: true }),
    after: async ({ h, agentId }) => {
      expect(await findAgent(h.deps.db, agentId)).toMatchObject({ title: "Renamed", prefixTools: true, instructions: "Help." });
      expect(h.agents.applied).toEqual([agentId]);
    },
  },
  {
    // A draft over both connections: the missing tool, a bad alias and a collision are reported, and nothing is saved or told.
    op: "AGENT_CHECK", method: "POST", url: () => "/agents/check", status: 200,
    body: () => ({ slug: "draft", connections: [{ connection: "github", tools: ["search", "gone"] }, { connection: "gitlab", tools: ["search", { name: "merge", alias: "bad name" }] }] }),
    expected: () => ['"missing":["github/gone"]', '"problems":["gitlab/merge would be exposed as \\"bad name\\"', "search", '"collisions":["'],
    after: (ctx, res, body) => nothingChanged?.(ctx, res, body),
  },
  {
    op: "AGENT_DELETE", method: "DELETE", url: (c) => `/agents/${c.agentId}`, status: 200, expected: () => ['"deleted":true'],
    after: async ({ h, agentId }) => {
      expect(await getAgent(h.deps.db, agentId)).toBeNull();
      expect(h.agents.removed).toEqual([agentId]);
    },
  },
];

const nothingChanged: Scenario<Ctx>["after"] = async ({ h }) => {
  expect((await rawRows(h.deps, "SELECT slug, title, prefix_tools FROM agents ORDER BY slug"))).toEqual([{ slug: "support", title: "support", prefix_tools: 0 }]);
  expect([h.agents.applied, h.agents.removed]).toEqual([[], []]);
};

test("the table covers every agent operation", () => {
  expect(ROUTES.map((r) => r.op).sort()).toEqual(OPERATIONS.filter((o) => o.name.startsWith("AGENT_")).map((o) => o.name).sort());
});

for (const route of ROUTES) {
  describe(route.op, () => {
    const rows: (Omit<Scenario<Ctx>, "expectedContent"> & { expectedContent?: (ctx: Ctx) => string[] })[] = [
      { name: "guest", expectedStatus: 401, expectedContent: () => ['"UNAUTHENTICATED"'], notExpectedContent: ['"slug"'], after: nothingChanged, url: "" },
      { name: "wrong permission", headers: auth("wrong"), expectedStatus: 403, expectedContent: () => ['"FORBIDDEN"'], notExpectedContent: ['"slug"', "search"], after: nothingChanged, url: "" },
      { name: "happy", headers: auth("happy"), expectedStatus: route.status, expectedContent: route.expected, after: route.after, url: "" },
    ];
    for (const row of rows) {
      test(`${row.name}: ${row.expectedStatus}`, async () => {
        const ctx = await setup(route.op);
        const body = route.body?.(ctx);
        await runScenario(
          { ...row, expectedContent: row.expectedContent?.(ctx), method: route.method, url: route.url(ctx), body: body === undefined ? undefined : JSON.stringify(body) },
          ctx,
          (url, init) => Promise.resolve(ctx.h.app.request(`/api/v1${url}`, init)),
        );
      });
    }
  });
}

async function send(ctx: Ctx, method: string, path: string, json?: unknown, token?: string) {
  const res = await apiRequest(ctx.h.app, method, path, { token: token ?? (await mintKey(ctx.h.deps, ctx.h.admin, { self: ["*"], "*": ["*"] })).token, json });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; fields?: Record<string, string> } } & Record<string, unknown> };
}

describe("members", () => {
  test.each([
    ["create", "POST", "/agents", { slug: "mine", connections: [{ connection: "github", tools: "all" }] }],
    ["update", "PATCH", "/agents/support", { connections: [] }],
    ["delete", "DELETE", "/agents/support", undefined],
  ])("may not %s an agent (403) even with {self: [*]}", async (_label, method, path, json) => {
    const ctx = await setup("WHOAMI");
    const { status, body } = await send(ctx, method, path, json, ctx.keys.member);
    expect([status, body.error.code]).toEqual([403, "FORBIDDEN"]);
    nothingChanged(ctx, new Response(), "");
  });

  test("may list and read agents", async () => {
    const ctx = await setup("WHOAMI");
    expect((await send(ctx, "GET", "/agents", undefined, ctx.keys.member)).status).toBe(200);
    expect((await send(ctx, "GET", "/agents/support", undefined, ctx.keys.member)).body).toMatchObject({ id: ctx.agentId, tool_count: 3 });
  });
});

describe("errors", () => {
  test("a collision is 409 AGENT_TOOL_COLLISION naming both tools and the two fixes; nothing is saved", async () => {
    const ctx = await setup("WHOAMI");
    const { status, body } = await send(ctx, "POST", "/agents", { slug: "clash", connections: [{ connection: "github", tools: ["search"] }, { connection: ctx.gitlabId, tools: "all" }] });
    expect(status).toBe(409);
    expect(body.error).toEqual({
      code: "AGENT_TOOL_COLLISION",
      message: 'github/search and gitlab/search would both be exposed as "search": give one an alias, or set prefix_tools = true',
      fields: { "tools.search": 'github/search and gitlab/search would both be exposed as "search": give one an alias, or set prefix_tools = true' },
    });
    expect(await getAgent(ctx.h.deps.db, "clash")).toBeNull();
    expect(ctx.h.agents.applied).toEqual([]);
    const prefixed = await send(ctx, "POST", "/agents", { slug: "clash", prefix_tools: true, connections: [{ connection: "github", tools: ["search"] }, { connection: ctx.gitlabId, tools: "all" }] });
    expect(prefixed.status).toBe(201);
    expect((await send(ctx, "GET", "/agents/clash")).body.tools).toMatchObject([{ name: "github__search" }, { name: "gitlab__search" }, { name: "gitlab__merge" }]);
  });

  test("bad fields are named: slug, alias, an unknown connection, resources", async () => {
    const ctx = await setup("WHOAMI");
    expect(await send(ctx, "POST", "/agents", { slug: "Bad!", connections: [{ connection: "github", tools: [{ name: "search", alias: "no spaces" }], resources: "some" }] })).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_FAILED", fields: { slug: expect.stringContaining("lowercase"), "connections.0.tools.0.alias": expect.stringContaining("tool name"), "connections.0.resources": 'expected "all", "none" or a list of URI patterns' } } },
    });
    expect(await send(ctx, "POST", "/agents", { slug: "x", connections: [{ connection: "nope", tools: "all" }] })).toMatchObject({
      status: 400, body: { error: { code: "VALIDATION_FAILED", fields: { "connections.0.connection": "no such connection (nope)" } } },
    });
    expect(await send(ctx, "POST", "/agents", { slug: "support" })).toMatchObject({ status: 409, body: { error: { code: "AGENT_SLUG_TAKEN" } } });
    expect(await send(ctx, "GET", "/agents/nope")).toMatchObject({ status: 404, body: { error: { code: "AGENT_NOT_FOUND" } } });
  });

  test("config-declared agents are read-only: AGENT_READ_ONLY (409)", async () => {
    const ctx = await setup("WHOAMI", { connections: [{ slug: "declared", url: "https://d/mcp" }], agents: [{ slug: "fixed", tools: { declared: "*" } }] });
    expect(await send(ctx, "PATCH", "/agents/fixed", { title: "x" })).toMatchObject({ status: 409, body: { error: { code: "AGENT_READ_ONLY" } } });
    expect(await send(ctx, "DELETE", "/agents/fixed")).toMatchObject({ status: 409, body: { error: { code: "AGENT_READ_ONLY" } } });
    expect((await send(ctx, "GET", "/agents/fixed", undefined, ctx.keys.member)).body).toMatchObject({ from_config: true, connections: [{ connection_slug: "declared", tools: "all" }] });
  });
});

test("deleting a connection drops it from the agents that select it, and the gateway hears of each", async () => {
  const ctx = await setup("WHOAMI");
  const other = await ctx.h.agent("other", [pick({ id: ctx.gitlabId }, ["merge"])]);
  const res = await send(ctx, "DELETE", `/connections/${ctx.githubId}`);
  expect(res.status).toBe(200);
  expect((await findAgent(ctx.h.deps.db, ctx.agentId)).connections.map((s) => s.connectionId)).toEqual([ctx.gitlabId]);
  expect(ctx.h.agents.applied).toEqual([ctx.agentId]);
  expect((await findAgent(ctx.h.deps.db, other.id)).connections).toHaveLength(1);
});

test("renaming a connection tells the gateway about the agents over it (prefixed names change)", async () => {
  const ctx = await setup("WHOAMI");
  await send(ctx, "PATCH", `/agents/${ctx.agentId}`, { prefix_tools: true });
  ctx.h.agents.applied = [];
  expect((await send(ctx, "PATCH", `/connections/${ctx.githubId}`, { slug: "gh" })).status).toBe(200);
  expect(ctx.h.agents.applied).toEqual([ctx.agentId]);
  expect(((await send(ctx, "GET", "/agents/support")).body.tools as { name: string }[]).map((t) => t.name)).toEqual(["gh__search", "gh__get_issue", "gh__gone", "search_gitlab"]);
});

describe("key permissions name agents", () => {
  test("an unknown agent_ id is refused; an existing one is accepted; a deleted one is unknown again", async () => {
    const ctx = await setup("WHOAMI");
    const unknown = await send(ctx, "POST", "/keys", { name: "k", permissions: { [UNKNOWN_AGENT]: ["search"] } });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: "INVALID_PERMISSIONS", message: `Invalid permissions: ${UNKNOWN_AGENT}: no such agent` } } });
    expect((await send(ctx, "POST", "/keys", { name: "k", permissions: { [ctx.agentId]: ["search_gitlab"] } })).status).toBe(201);
    await send(ctx, "DELETE", `/agents/${ctx.agentId}`);
    expect((await send(ctx, "POST", "/keys", { name: "k", permissions: { [ctx.agentId]: ["*"] } })).body.error.message).toContain(`${ctx.agentId}: no such agent`);
  });
});

test("over /mcp/self, AGENT_GET answers the same agent", async () => {
  const ctx = await setup("AGENT_GET");
  const answer = await callTool(ctx.h.app, ctx.keys.happy, "AGENT_GET", { id: "support" });
  expect(answer.result?.structuredContent).toMatchObject({ id: ctx.agentId, endpoint: `http://switchboard.test/mcp/agent/${ctx.agentId}` });
});
