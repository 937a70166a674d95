// A test app with a fake gateway, its agent control exposed as `agents` (recording what they are told,
// answering what a test sets), for agent tests: config overrides ([[connections]], [[agents]]), an admin and a member,
// and makers of connections (with discovered tools) and agents that skip the operations.
import { createAgent, newAgentFields, type Agent, type AgentFields } from "../../src/domain/agents/agents.ts";
import type { AgentConnectionSelection } from "../../src/domain/agents/tools.ts";
import { createConnection, newConnectionFields, type Connection } from "../../src/domain/connections/connections.ts";
import type { User } from "../../src/domain/access/users.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createTestApp, useFresh, type ConfigOverrides, type TestApp } from "./app.ts";
import { discoveryOf, FakeAgents, FakeGateway } from "./connection-harness.ts";
import { insertUser } from "./users.ts";

export { FakeAgents };

export type AgentOverrides = Pick<ConfigOverrides, "connections" | "agents" | "oauth">;

export type AgentHarness = TestApp & {
  gateway: FakeGateway;
  agents: FakeAgents;
  admin: User;
  member: User;
  /** Stores an http connection offering these tools (name → description), as if discovered. */
  connection: (slug: string, tools?: Record<string, string>) => Promise<Connection>;
  /** Stores an agent directly (checked by the domain, no operation, no gateway call). */
  agent: (slug: string, connections: AgentConnectionSelection[], fields?: Partial<AgentFields>) => Promise<Agent>;
};

/** Builds the app over `dir` (a fresh one by default; pass one to restart over the same database). */
export async function createAgentHarness(overrides: AgentOverrides = {}, existingDir?: string): Promise<AgentHarness> {
  const gateway = new FakeGateway();
  const { agents } = gateway;
  const t = await createTestApp({ overrides, gateway, dir: existingDir });
  const { deps } = t;
  return {
    ...t,
    gateway,
    agents,
    admin: await insertUser(deps, "admin"),
    member: await insertUser(deps, "member"),
    async connection(slug, tools = {}) {
      const c = await createConnection(connectionStore(deps), newConnectionFields({ slug, transport: "http", url: `https://${slug}.example/mcp` }));
      gateway.discoveries.set(c.id, discoveryOf(tools));
      return c;
    },
    agent: (slug, connections, fields = {}) => createAgent(agentStore(deps), newAgentFields({ ...fields, slug, connections })),
  };
}

/** A fresh harness per call, closed after each test of the calling file. */
export function useAgentHarness(): (overrides?: AgentOverrides) => Promise<AgentHarness> {
  return useFresh((overrides?: AgentOverrides) => createAgentHarness(overrides));
}

/** A selection of these tools (names, or [name, alias]) of a connection, with no resources or prompts. */
export function pick(connection: { id: string }, tools: "all" | (string | [string, string])[], extra: Partial<AgentConnectionSelection> = {}): AgentConnectionSelection {
  return {
    connectionId: connection.id,
    tools: tools === "all" ? "all" : tools.map((t) => (typeof t === "string" ? { name: t } : { name: t[0], alias: t[1] })),
    resources: "none",
    prompts: "none",
    ...extra,
  };
}
