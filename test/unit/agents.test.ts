// Agents in the domain: the selection checks (exposed names, collisions naming both tools, unknown and
// repeated connections), storage by id or slug, what deleting a connection does to the agents that
// select it, the spec handed to the gateway, and agents declared in the config (schema, stable ids,
// read-only, removal, takeover).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInitialConfig } from "../../src/cli/commands/init.ts";
import { renderEffectiveConfig } from "../../src/config/describe.ts";
import { parseConfig } from "../../src/config/load.ts";
import { configAgentId, syncConfigAgents } from "../../src/domain/agents/config.ts";
import { checkSelections } from "../../src/domain/agents/rules.ts";
import { agentSpecLookup, deleteAgent, findAgent, getAgent, listAgents, toAgentSpec, updateAgent } from "../../src/domain/agents/agents.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { deleteConnection } from "../../src/domain/connections/connections.ts";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import { AGENT_ID } from "../../src/domain/access/permissions.ts";
import { AppError } from "../../src/errors.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createAgentHarness, pick, useAgentHarness } from "../support/agent-harness.ts";
import { problemsOf, rejectionOf } from "../support/errors.ts";

const harness = useAgentHarness();

async function appError(fn: () => Promise<unknown>): Promise<AppError> {
  const err = await rejectionOf(fn());
  if (!(err instanceof AppError)) throw err;
  return err;
}

/** Two connections that both offer "search", as the checks see them. */
const LOOKUP = {
  slugOf: (id: string) => ({ c1: "github", c2: "gitlab" })[id] ?? null,
  toolsOf: (id: string) => (id === "c1" ? [{ name: "search" }, { name: "get_issue" }] : id === "c2" ? [{ name: "search" }, { name: "merge" }] : []),
};
const sel = (connectionId: string, tools: AgentSelectionTools) => ({ connectionId, tools, resources: "none" as const, prompts: "none" as const });
type AgentSelectionTools = "all" | { name: string; alias?: string }[];

describe("checkSelections", () => {
  test("the same name from two connections is a collision naming both tools and both fixes", () => {
    const check = checkSelections({ prefixTools: false, connections: [sel("c1", [{ name: "search" }]), sel("c2", [{ name: "search" }])] }, LOOKUP);
    expect(check.collisions).toEqual([{ exposed: "search", tools: [{ connectionSlug: "github", upstream: "search" }, { connectionSlug: "gitlab", upstream: "search" }] }]);
    expect(check.problems).toEqual({});
  });

  test("tools selected with \"all\" take part, as discovered", () => {
    const check = checkSelections({ prefixTools: false, connections: [sel("c1", "all"), sel("c2", "all")] }, LOOKUP);
    expect(check.collisions.map((c) => c.exposed)).toEqual(["search"]);
    expect(check.tools.map((t) => t.exposed)).toEqual(["search", "get_issue", "merge"]);
  });

  test("an alias or prefix_tools resolves it; prefixing leaves aliases alone", () => {
    const aliased = checkSelections({ prefixTools: false, connections: [sel("c1", "all"), sel("c2", [{ name: "search", alias: "search_gitlab" }])] }, LOOKUP);
    expect(aliased.collisions).toEqual([]);
    expect(aliased.tools.map((t) => [t.exposed, t.connectionSlug, t.upstream])).toEqual([
      ["search", "github", "search"], ["get_issue", "github", "get_issue"], ["search_gitlab", "gitlab", "search"],
    ]);
    const prefixed = checkSelections({ prefixTools: true, connections: [sel("c1", [{ name: "search", alias: "find" }]), sel("c2", "all")] }, LOOKUP);
    expect(prefixed.tools.map((t) => t.exposed)).toEqual(["find", "gitlab__search", "gitlab__merge"]);
  });

  test("invalid names, a tool listed twice, a connection twice and an unknown connection are problems by field", () => {
    const long = "x".repeat(125);
    const lookup = { ...LOOKUP, toolsOf: (id: string) => (id === "c2" ? [{ name: long }] : LOOKUP.toolsOf(id)) };
    const check = checkSelections(
      {
        prefixTools: true,
        connections: [sel("c1", [{ name: "search", alias: "bad name" }, { name: "get_issue" }, { name: "get_issue", alias: "again" }]), sel("c2", "all"), sel("c1", []), sel("nope", "all")],
      },
      lookup,
    );
    expect(check.problems).toEqual({
      "connections.0.tools.0.alias": 'github/search would be exposed as "bad name", which is not a valid tool name (1-128 of A-Z a-z 0-9 _ - .): give it an alias',
      "connections.0.tools.2.name": "github/get_issue is listed twice",
      "connections.1.tools": `gitlab/${long} would be exposed as "gitlab__${long}", which is not a valid tool name (1-128 of A-Z a-z 0-9 _ - .): give it an alias`,
      "connections.2.connection": "github is selected twice: select each connection once",
      "connections.3.connection": "no such connection (nope)",
    });
  });
});

describe("agents in the database", () => {
  test("are created with an agent_<uuid> id, found by id or slug, and listed by slug", async () => {
    const h = await harness();
    const gh = await h.connection("github", { search: "Search" });
    const b = await h.agent("beta", [pick(gh, ["search"])], { title: "Beta", instructions: "Be brief." });
    const a = await h.agent("alpha", []);
    expect(b.id).toMatch(AGENT_ID);
    expect((await getAgent(h.deps.db, b.id))?.slug).toBe("beta");
    expect(await findAgent(h.deps.db, "beta")).toMatchObject({ id: b.id, title: "Beta", instructions: "Be brief.", enabled: true, prefixTools: false });
    expect(a.title).toBe("alpha");
    expect((await listAgents(h.deps.db)).map((x) => x.slug)).toEqual(["alpha", "beta"]);
    expect(await getAgent(h.deps.db, "nope")).toBeNull();
    expect((await appError(() => findAgent(h.deps.db, "nope"))).code).toBe("AGENT_NOT_FOUND");
  });

  test("a collision is refused with AGENT_TOOL_COLLISION (409), naming both tools and suggesting an alias or prefix_tools", async () => {
    const h = await harness();
    const gh = await h.connection("github", { search: "" });
    const gl = await h.connection("gitlab", { search: "" });
    const err = await appError(() => h.agent("both", [pick(gh, ["search"]), pick(gl, "all")]));
    expect([err.code, err.status]).toEqual(["AGENT_TOOL_COLLISION", 409]);
    expect(err.message).toBe('github/search and gitlab/search would both be exposed as "search": give one an alias, or set prefix_tools = true');
    expect(err.fields).toEqual({ "tools.search": err.message });
    expect(await listAgents(h.deps.db)).toEqual([]);
    expect((await h.agent("aliased", [pick(gh, ["search"]), pick(gl, [["search", "search_gitlab"]])])).slug).toBe("aliased");
    expect((await h.agent("prefixed", [pick(gh, ["search"]), pick(gl, "all")], { prefixTools: true })).slug).toBe("prefixed");
    // Changing an agent is checked the same way.
    expect((await appError(() => updateAgent(agentStore(h.deps), "prefixed", { prefixTools: false }))).code).toBe("AGENT_TOOL_COLLISION");
    expect((await findAgent(h.deps.db, "prefixed")).prefixTools).toBe(true);
  });

  test("an unknown connection id is refused; a selected tool the upstream does not offer is kept and flagged missing", async () => {
    const h = await harness();
    const gh = await h.connection("github", { search: "" });
    const err = await appError(() => h.agent("x", [pick({ id: "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70" }, "all")]));
    expect([err.code, err.fields]).toEqual(["VALIDATION_FAILED", { "connections.0.connection": "no such connection (conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70)" }]);
    const agent = await h.agent("kept", [pick(gh, ["search", "gone"])]);
    expect(agent.connections[0]!.tools).toEqual([{ name: "search" }, { name: "gone" }]);
  });

  test("a slug is unique: AGENT_SLUG_TAKEN on create and rename", async () => {
    const h = await harness();
    await h.agent("one", []);
    await h.agent("two", []);
    expect((await appError(() => h.agent("one", []))).code).toBe("AGENT_SLUG_TAKEN");
    const err = await appError(() => updateAgent(agentStore(h.deps), "two", { slug: "one" }));
    expect([err.code, err.status, err.fields]).toEqual(["AGENT_SLUG_TAKEN", 409, { slug: "another agent has this slug" }]);
  });

  test("deleting a connection removes it from every agent that selects it, keeping the rest of each agent", async () => {
    const h = await harness();
    const gh = await h.connection("github", { search: "" });
    const gl = await h.connection("gitlab", { merge: "" });
    const both = await h.agent("both", [pick(gh, ["search"]), pick(gl, ["merge"])]);
    const only = await h.agent("only-github", [pick(gh, "all")]);
    const other = await h.agent("other", [pick(gl, "all")]);
    const before = (await findAgent(h.deps.db, "other")).updatedAt;
    await deleteConnection(connectionStore(h.deps), gh.id);
    expect((await findAgent(h.deps.db, both.id)).connections.map((s) => s.connectionId)).toEqual([gl.id]);
    expect((await findAgent(h.deps.db, only.id)).connections).toEqual([]);
    expect((await findAgent(h.deps.db, other.id)).updatedAt).toEqual(before);
  });

  test("the spec for the gateway, found by id or slug; deleted agents are gone", async () => {
    const h = await harness();
    const gh = await h.connection("github", { search: "" });
    const agent = await h.agent("spec", [pick(gh, [["search", "find"]], { resources: ["repo://*"], prompts: "all" })], { instructions: "Hi", prefixTools: true });
    const lookup = agentSpecLookup(h.deps);
    const expected: AgentSpec = {
      id: agent.id, slug: "spec", title: "spec", description: "", instructions: "Hi", enabled: true, prefixTools: true, fromConfig: false, recordPayloads: false,
      connections: [{ connectionId: gh.id, tools: [{ name: "search", alias: "find" }], resources: ["repo://*"], prompts: "all" }],
    };
    expect(await lookup(agent.id)).toEqual(expected);
    expect(await lookup("spec")).toEqual(expected);
    expect(toAgentSpec(agent)).toEqual(expected);
    await deleteAgent(h.deps.db, "spec");
    expect(await lookup(agent.id)).toBeNull();
  });
});

describe("agents declared in the config", () => {
  const CONNECTIONS = [{ slug: "everything", command: "npx" }, { slug: "github", url: "https://api.example.com/mcp" }];
  const DECLARED = [
    { slug: "demo", instructions: "Tools for the demo.", tools: { everything: ["echo", "get-sum"], github: "*" } },
    {
      slug: "rich",
      prefix_tools: true,
      connections: [{ connection: "github", tools: [{ name: "search_issues", alias: "find", description: "Find issues" }, "get_issue"], resources: ["repo://*"], prompts: "all" }],
    },
  ];
  const parse = (raw: unknown) => parseConfig(raw, { source: "t.toml", env: {}, baseDir: "/etc/sb" });
  const problems = (raw: unknown) => problemsOf(() => parse(raw));

  test("both forms become selections of the declared connections, stored with ids derived from the slugs, read-only", async () => {
    const h = await harness({ connections: CONNECTIONS, agents: DECLARED });
    expect((await listAgents(h.deps.db)).map((a) => [a.slug, a.id, a.fromConfig])).toEqual([["demo", configAgentId("demo"), true], ["rich", configAgentId("rich"), true]]);
    expect(await findAgent(h.deps.db, "demo")).toMatchObject({
      instructions: "Tools for the demo.",
      connections: [
        { connectionId: configConnectionId("everything"), tools: [{ name: "echo" }, { name: "get-sum" }], resources: "none", prompts: "none" },
        { connectionId: configConnectionId("github"), tools: "all", resources: "none", prompts: "none" },
      ],
    });
    expect(await findAgent(h.deps.db, "rich")).toMatchObject({
      prefixTools: true,
      connections: [{ connectionId: configConnectionId("github"), tools: [{ name: "search_issues", alias: "find", description: "Find issues" }, { name: "get_issue" }], resources: ["repo://*"], prompts: "all" }],
    });
    for (const change of [() => updateAgent(agentStore(h.deps), "demo", { title: "x" }), () => deleteAgent(h.deps.db, "demo")]) {
      expect((await appError(change)).code).toBe("AGENT_READ_ONLY");
    }
    expect(configAgentId("demo")).toMatch(AGENT_ID);
    expect(configAgentId("demo")).not.toBe(configAgentId("rich"));
  });

  test("keep their ids across restarts, are rewritten when changed and deleted when dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-agent-restart-"));
    try {
      const first = await createAgentHarness({ connections: CONNECTIONS, agents: DECLARED }, dir);
      const stamp = (await findAgent(first.deps.db, "demo")).updatedAt;
      first.close();
      const same = await createAgentHarness({ connections: CONNECTIONS, agents: DECLARED }, dir);
      expect(await findAgent(same.deps.db, "demo")).toMatchObject({ id: configAgentId("demo"), updatedAt: stamp });
      same.close();
      const changed = await createAgentHarness({ connections: CONNECTIONS, agents: [{ ...DECLARED[0]!, instructions: "New." }] }, dir);
      expect((await listAgents(changed.deps.db)).map((a) => [a.slug, a.instructions])).toEqual([["demo", "New."]]);
      changed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an agent made in the admin is taken over (keeping its id) when the file declares its slug", async () => {
    const h = await harness({ connections: CONNECTIONS });
    const mine = await h.agent("demo", []);
    const result = await syncConfigAgents(h.deps.db, parse({ connections: CONNECTIONS, agents: DECLARED }).agents);
    expect(result.adopted).toEqual(["demo"]);
    expect(await findAgent(h.deps.db, "demo")).toMatchObject({ id: mine.id, fromConfig: true, instructions: "Tools for the demo." });
    expect((await syncConfigAgents(h.deps.db, [])).removed.sort()).toEqual([mine.id, configAgentId("rich")].sort());
  });

  test("unknown connections, a connection selected twice, bad names and collisions are refused with their key path", () => {
    expect(problems({ connections: CONNECTIONS, agents: [{ slug: "a", tools: { githb: ["x"] } }] })).toEqual(['agents[0].tools.githb: no connection "githb" is declared in [[connections]]']);
    expect(problems({ connections: CONNECTIONS, agents: [{ slug: "a", tools: { github: "*" }, connections: [{ connection: "github", tools: ["x"] }, { connection: "nope", tools: "*" }] }] })).toEqual([
      'agents[0].connections[0].connection: "github" is also in tools: select each connection once',
      'agents[0].connections[1].connection: no connection "nope" is declared in [[connections]]',
    ]);
    expect(problems({ connections: CONNECTIONS, agents: [{ slug: "a", tools: { everything: ["echo"], github: ["echo"] } }] })).toEqual([
      'agents[0]: everything/echo and github/echo would both be exposed as "echo": give one an alias, or set prefix_tools = true',
    ]);
    expect(parse({ connections: CONNECTIONS, agents: [{ slug: "a", prefix_tools: true, tools: { everything: ["echo"], github: ["echo"] } }] }).agents).toHaveLength(1);
    expect(problems({ connections: CONNECTIONS, agents: [{ slug: "a", connections: [{ connection: "github", tools: [{ name: "x", alias: "not valid" }] }] }] })).toEqual([
      "agents[0].connections[0].tools[0].alias: expected a tool name: 1-128 of A-Z a-z 0-9 _ - .",
    ]);
    expect(problems({ connections: CONNECTIONS, agents: [{ slug: "a", tools: { github: "some" } }] })).toEqual([
      'agents[0].tools.github: expected "*" or a list of tool names (or { name, alias, description } tables)',
    ]);
    expect(problems({ agents: [{ slug: "a" }, { slug: "a" }] })).toEqual(['agents[1].slug: slug "a" is declared twice']);
    expect(problems({ agents: [{ slug: "a", tool: {} }] })).toEqual(["agents[0].tool: unknown key"]);
  });

  test("the effective config shows them, and init leaves [[agents]] and [[agents.connections]] commented out", () => {
    const text = renderEffectiveConfig(parse({ connections: CONNECTIONS, agents: DECLARED }), { secretSource: "x" });
    const parsed = Bun.TOML.parse(text) as { agents: Record<string, unknown>[] };
    expect(parsed.agents).toEqual(DECLARED);
    expect(renderEffectiveConfig(parse({}), { secretSource: "x" })).toContain("# no [[agents]] declared");
    const init = renderInitialConfig("s".repeat(40));
    expect(init).toContain("\n# [[agents]]\n");
    expect(init).toContain("\n# [[agents.connections]]\n");
    expect(Bun.TOML.parse(init)).not.toHaveProperty("agents");
  });
});
