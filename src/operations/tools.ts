// TOOL_LIST: what a key can be granted, in one read: every connection's offers as last discovered and
// every agent's exposed names. The admin's permission picker and agent editor read it; scripts may too.
import { z } from "zod";
import { checkAgent, listAgents } from "../domain/agents/agents.ts";
import { listConnectionSummaries } from "../domain/connections/connections.ts";
import { agentStore } from "./agents.ts";
import { seesAccountLists } from "./connection-shapes.ts";
import { defineOperation } from "./registry.ts";

const ConnectionOffers = z.object({
  id: z.string().describe('conn_<uuid>: grant as {"conn_<uuid>": [tool names] or ["*"]}'),
  slug: z.string(),
  title: z.string(),
  tools: z.array(z.object({ name: z.string(), description: z.string() })),
  resources: z.array(z.string()).describe("Resource URIs and URI templates"),
  prompts: z.array(z.string()),
  discovery_error: z.string().nullable().describe("Why the last discovery failed, if it did (the lists are then what was known before)"),
});

/** A connection with what it offers, as TOOL_LIST returns it (the agent editor's choices). */
export type ConnectionOffersView = z.output<typeof ConnectionOffers>;

const AgentOffers = z.object({
  id: z.string().describe('agent_<uuid>: grant as {"agent_<uuid>": [exposed names] or ["*"]}'),
  slug: z.string(),
  title: z.string(),
  tools: z.array(z.string()).describe("The names it exposes now (selected tools the upstream no longer offers left out)"),
});

export const toolList = defineOperation({
  name: "TOOL_LIST",
  title: "List what can be granted",
  description:
    "List every tool a key can be granted: per connection (id, slug, title) its tools (name, description), resource URIs and " +
    "templates and prompts as last discovered (of a per-user OAuth connection, members get only its tools), with the discovery error if the last one failed; per agent (id, slug, title) the tool " +
    'names it exposes now. Grant them as {"conn_<uuid>": [tool names]} or {"agent_<uuid>": [exposed names]} (API_KEY_CREATE).',
  input: z.object({}),
  output: z.object({ connections: z.array(ConnectionOffers), agents: z.array(AgentOffers) }),
  // The same facts CONNECTION_GET and AGENT_GET give everyone, gathered for whoever composes a key.
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/tools" },
  async handler(ctx) {
    const store = agentStore(ctx.deps);
    return {
      connections: (await listConnectionSummaries(ctx.deps.db)).map((conn) => {
        const found = ctx.deps.gateway.discovery(conn.id);
        // A per-user connection's resources and prompts were read with an admin's own account: admins only.
        const all = seesAccountLists(ctx.caller.user, conn);
        return {
          id: conn.id,
          slug: conn.slug,
          title: conn.title,
          // Discovery drops malformed tools; this stays safe should one slip through (the output schema would refuse it).
          tools: found.tools.filter((t) => typeof t.name === "string").map((t) => ({ name: t.name, description: typeof t.description === "string" ? t.description : "" })),
          resources: all ? [...found.resources.map((r) => r.uri), ...found.resourceTemplates.map((t) => t.uriTemplate)] : [],
          prompts: all ? found.prompts.map((p) => p.name) : [],
          discovery_error: found.error,
        };
      }),
      agents: await Promise.all(
        (await listAgents(ctx.deps.db)).map(async (agent) => ({
          id: agent.id,
          slug: agent.slug,
          title: agent.title,
          tools: (await checkAgent(store, agent)).tools.filter((t) => !t.missing).map((t) => t.exposed),
        })),
      ),
    };
  },
});
