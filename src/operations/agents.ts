// Agent operations. Everyone may list and read agents (what they expose, where to reach them); only
// admins create, change or delete them, and those declared in switchboard.toml are read-only. Every
// change is handed to the gateway at once, so open sessions see the new selection.
import { z } from "zod";
import { connectionSlugs, createAgent, deleteAgent, findAgent, listAgents, newAgentFields, updateAgent, type AgentStore } from "../domain/agents/agents.ts";
import type { AgentControl } from "../gateway/types.ts";
import { AgentDetailShape, AgentFieldsInput as F, AgentShape, agentChangesFrom, agentDetailOut, agentOut } from "./agent-shapes.ts";
import { defineOperation, type OperationContext, type OperationDeps } from "./registry.ts";

const IdOrSlug = z.string().min(1).max(100).describe("The agent's id (agent_<uuid>) or its slug");

/** The agent functions' view of the operation dependencies: the database and the discovery cache. */
export function agentStore(deps: Pick<OperationDeps, "db" | "gateway">): AgentStore {
  return { db: deps.db, toolsOf: (id) => deps.gateway.discovery(id).tools };
}

/** Tells the gateway; the database already holds the change, so a gateway failure is logged, not thrown. */
export async function tellAgents(ctx: Pick<OperationContext, "deps">, what: string, id: string, action: (agents: AgentControl) => Promise<void>): Promise<void> {
  try {
    await action(ctx.deps.gateway);
  } catch (err) {
    ctx.deps.logger.warn(`gateway could not ${what} the agent`, { agent: id, error: err });
  }
}

const AllFieldsOptional = z.object({
  slug: F.slug.optional(),
  title: F.title.optional(),
  description: F.description.optional(),
  instructions: F.instructions.optional(),
  enabled: F.enabled.optional(),
  prefix_tools: F.prefix_tools.optional(),
  record_payloads: F.record_payloads.optional(),
  connections: F.connections.optional(),
});

export const agentCreate = defineOperation({
  name: "AGENT_CREATE",
  title: "Create an agent",
  description:
    "Admins only. Create an agent: one MCP endpoint (/mcp/agent/<id or slug>) exposing exactly the tools chosen from one or more " +
    "connections. connections lists, per connection (id or slug), tools: \"all\" or a list of names or {name, alias, description}; " +
    "resources and prompts: \"all\", \"none\" (default) or a list. A tool keeps its upstream name unless aliased, or prefix_tools exposes " +
    "every tool as <connection-slug>__<tool>. Two tools with the same exposed name are refused (AGENT_TOOL_COLLISION, naming both). " +
    "Returns the agent with its endpoint; grant keys {\"agent_<id>\": [exposed names] or [\"*\"]}.",
  input: AllFieldsOptional.extend({ slug: F.slug }),
  output: AgentShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "POST", path: "/agents", successStatus: 201 },
  async handler(ctx, input) {
    const created = await createAgent(agentStore(ctx.deps), newAgentFields({ ...(await agentChangesFrom(ctx.deps, input)), slug: input.slug }), { now: ctx.now });
    ctx.deps.logger.info("agent created", { agent: created.id, slug: created.slug, by: ctx.caller.user.id });
    await tellAgents(ctx, "apply", created.id, (agents) => agents.agentApplied(created.id));
    return agentOut(ctx.deps, created);
  },
});

export const agentList = defineOperation({
  name: "AGENT_LIST",
  title: "List agents",
  description:
    "List the agents of this Switchboard, by slug: id, endpoint URL, what each takes from which connection, whether enabled, " +
    "and how many tools it exposes now.",
  input: z.object({}),
  output: z.object({ agents: z.array(AgentShape) }),
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/agents" },
  handler: async (ctx) => {
    const slugs = await connectionSlugs(ctx.deps.db);
    return { agents: await Promise.all((await listAgents(ctx.deps.db)).map((a) => agentOut(ctx.deps, a, slugs))) };
  },
});

export const agentGet = defineOperation({
  name: "AGENT_GET",
  title: "Get an agent",
  description:
    "Get one agent by id or slug: its settings, endpoint URL, and the tools it exposes (exposed name, connection, upstream name, " +
    "description, and missing when the upstream no longer offers a selected tool), name collisions, and each connection's last failure.",
  input: z.object({ id: IdOrSlug }),
  output: AgentDetailShape,
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/agents/:id" },
  handler: async (ctx, input) => agentDetailOut(ctx.deps, await findAgent(ctx.deps.db, input.id)),
});

export const agentUpdate = defineOperation({
  name: "AGENT_UPDATE",
  title: "Change an agent",
  description:
    "Admins only. Change an agent by id or slug; fields left out stay as they are, and connections, when given, replaces the whole " +
    "selection. The same checks as AGENT_CREATE apply. Open sessions get the new tool list (list_changed). Agents declared in " +
    "switchboard.toml cannot be changed here.",
  input: AllFieldsOptional.extend({ id: IdOrSlug }),
  output: AgentShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "PATCH", path: "/agents/:id" },
  async handler(ctx, input) {
    const { id, ...fields } = input;
    const updated = await updateAgent(agentStore(ctx.deps), id, await agentChangesFrom(ctx.deps, fields), { now: ctx.now });
    ctx.deps.logger.info("agent updated", { agent: updated.id, by: ctx.caller.user.id });
    await tellAgents(ctx, "apply", updated.id, (agents) => agents.agentApplied(updated.id));
    return agentOut(ctx.deps, updated);
  },
});

export const agentDelete = defineOperation({
  name: "AGENT_DELETE",
  title: "Delete an agent",
  description:
    "Admins only. Delete an agent by id or slug: its sessions end. Keys that named it lose that grant and keep their other permissions. " +
    "Agents declared in switchboard.toml are removed there instead.",
  input: z.object({ id: IdOrSlug }),
  output: z.object({ id: z.string(), deleted: z.literal(true) }),
  forMembers: false,
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/agents/:id" },
  async handler(ctx, input) {
    const deleted = await deleteAgent(ctx.deps.db, input.id);
    ctx.deps.logger.info("agent deleted", { agent: deleted.id, by: ctx.caller.user.id, keys_changed: deleted.keysChanged });
    await tellAgents(ctx, "remove", deleted.id, (agents) => agents.agentRemoved(deleted.id));
    return { id: deleted.id, deleted: true as const };
  },
});
