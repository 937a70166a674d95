// agentReach (what the agent page's Keys section lists) against the gateway's own decision: for any
// permissions, a tool is listed exactly when mayCallAgentTool lets it be called, "all" means every
// tool (a tool the agent adds later included), and resources follow mayUseResourcesOf.
import { describe, expect, test } from "bun:test";
import { agentReach, type AgentReachTool } from "../../src/domain/access/agent-reach.ts";
import { mayCallAgentTool, mayUseResourcesOf, type Permissions } from "../../src/domain/access/permissions.ts";

const AGENT = "agent_5a1c3e7f-9b2d-4f6a-8c0e-1d3f5b7a9c2e";
const OTHER_AGENT = "agent_9c2e1d3f-5b7a-4f6a-8c0e-5a1c3e7f9b2d";
const GITHUB = "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";
const GITLAB = "conn_7d9f2a34-1c5b-4e8f-a0d2-3b6c9e1f4a85";
const ELSEWHERE = "conn_1f4a853b-6c9e-4e8f-a0d2-7d9f2a341c5b";

/** github/search as "search", gitlab/search aliased "search_gitlab", gitlab/merge as "merge". */
const TOOLS: AgentReachTool[] = [
  { exposed: "search", connectionId: GITHUB, upstream: "search" },
  { exposed: "search_gitlab", connectionId: GITLAB, upstream: "search" },
  { exposed: "merge", connectionId: GITLAB, upstream: "merge" },
];
const agent = { id: AGENT, tools: TOOLS };

describe("agentReach", () => {
  const cases: { name: string; p: Permissions; expected: ReturnType<typeof agentReach> }[] = [
    { name: "the agent's own *", p: { [AGENT]: ["*"] }, expected: { tools: "all", via: ["agent"], stale: [], resources: true, everything: false } },
    { name: "named tools of the agent", p: { [AGENT]: ["merge"] }, expected: { tools: ["merge"], via: ["agent"], stale: [], resources: false, everything: false } },
    { name: "* on every resource", p: { "*": ["*"] }, expected: { tools: "all", via: ["any"], stale: [], resources: true, everything: true } },
    { name: "a tool name on every connection (upstream names)", p: { "*": ["search"] }, expected: { tools: ["search", "search_gitlab"], via: ["any"], stale: [], resources: false, everything: false } },
    { name: "* on one of its connections", p: { [GITLAB]: ["*"] }, expected: { tools: ["search_gitlab", "merge"], via: ["connection"], stale: [], resources: false, everything: false } },
    { name: "a connection grant by the upstream name, not the alias", p: { [GITLAB]: ["search_gitlab"] }, expected: null },
    { name: "a name the agent no longer exposes", p: { [AGENT]: ["gone"] }, expected: { tools: [], via: ["agent"], stale: ["gone"], resources: false, everything: false } },
    { name: "another agent's grant", p: { [OTHER_AGENT]: ["*"] }, expected: null },
    { name: "a connection the agent does not take from", p: { [ELSEWHERE]: ["*"] }, expected: null },
    { name: "a tool of its connection it does not expose", p: { [GITHUB]: ["get_issue"] }, expected: null },
    { name: "management only", p: { self: ["*"] }, expected: null },
    { name: "nothing", p: {}, expected: null },
    {
      name: "several routes at once",
      p: { [AGENT]: ["search", "gone"], [GITLAB]: ["merge"], "*": ["search"] },
      expected: { tools: ["search", "search_gitlab", "merge"], via: ["agent", "connection", "any"], stale: ["gone"], resources: false, everything: false },
    },
  ];
  for (const c of cases) test(c.name, () => expect(agentReach(c.p, agent)).toEqual(c.expected));

  test("an agent with no tools: only a * (own or everywhere) or a stale name lists a key", () => {
    const empty = { id: AGENT, tools: [] };
    expect(agentReach({ [AGENT]: ["*"] }, empty)?.tools).toBe("all");
    expect(agentReach({ "*": ["*"] }, empty)?.tools).toBe("all");
    expect(agentReach({ [GITHUB]: ["*"] }, empty)).toBeNull();
    expect(agentReach({ "*": ["search"] }, empty)).toBeNull();
  });

  test("agrees with mayCallAgentTool and mayUseResourcesOf on every combination of entries", () => {
    // Every subset of these entries, each resource with a few action lists: 5 resources, 4 choices each.
    const resources = [AGENT, GITHUB, GITLAB, "*", ELSEWHERE];
    const choices: (string[] | undefined)[] = [undefined, ["*"], ["search"], ["merge", "search_gitlab", "gone"]];
    // A tool the agent might add later, from a connection it does not take from today.
    const later: AgentReachTool = { exposed: "later", connectionId: ELSEWHERE, upstream: "later" };
    let checked = 0;
    for (let n = 0; n < choices.length ** resources.length; n++) {
      const p: Permissions = {};
      resources.forEach((r, i) => {
        const actions = choices[Math.floor(n / choices.length ** i) % choices.length];
        if (actions) p[r] = actions;
      });
      const reach = agentReach(p, agent);
      const callable = TOOLS.filter((t) => mayCallAgentTool(p, AGENT, t.exposed, t.connectionId, t.upstream)).map((t) => t.exposed);
      const listed = reach === null ? [] : reach.tools === "all" ? TOOLS.map((t) => t.exposed) : reach.tools;
      expect(listed).toEqual(callable);
      if (reach?.tools === "all") expect(mayCallAgentTool(p, AGENT, later.exposed, later.connectionId, later.upstream)).toBe(true);
      expect(reach?.resources ?? false).toBe(mayUseResourcesOf(p, AGENT));
      expect(reach?.everything ?? false).toBe(p["*"]?.includes("*") ?? false);
      // Listed at all: something is callable, or it names the agent.
      expect(reach !== null).toBe(callable.length > 0 || p[AGENT] !== undefined);
      checked++;
    }
    expect(checked).toBe(1024);
  });
});
