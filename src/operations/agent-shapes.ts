// The public shapes of agents (with the tools they expose, and the endpoint clients use) and the input
// fields of the agent operations.
import { z } from "zod";
import { DescriptionSchema, SlugSchema, TitleSchema } from "../domain/connections/rules.ts";
import {
  collisionMessages,
  InstructionsSchema,
  PromptsSelectionSchema,
  ResourcesSelectionSchema,
  ToolSelectionSchema,
  UpstreamToolNameSchema,
} from "../domain/agents/rules.ts";
import { checkAgent, connectionSlugs, type Agent, type AgentChanges, type AgentStore } from "../domain/agents/agents.ts";
import type { AgentConnectionSelection, AgentFields } from "../domain/agents/tools.ts";
import type { OperationDeps } from "./registry.ts";
import { Timestamp } from "./shapes.ts";

const SelectionInput = z.object({
  connection: z.string().min(1).max(100).describe("The connection's id (conn_<uuid>) or slug"),
  tools: z
    .union([z.literal("all"), z.literal("*"), z.array(z.union([UpstreamToolNameSchema, ToolSelectionSchema])).max(1000)], {
      error: 'expected "all" or a list of tool names (or {name, alias, description} objects)',
    })
    .describe('"all" (every tool the connection offers, now and later) or a list: "name" or {"name", "alias", "description"}'),
  resources: ResourcesSelectionSchema.optional().describe('"all", "none" (the default), or URI patterns ("*" matches any run of characters)'),
  prompts: PromptsSelectionSchema.optional().describe('"all", "none" (the default), or prompt names'),
});

/** The input fields of an agent, as AGENT_CREATE and AGENT_UPDATE take them (snake_case). */
export const AgentFieldsInput = {
  slug: SlugSchema.describe('A short unique name, e.g. "support": 1-63 of a-z 0-9 -; the agent is reachable at /mcp/agent/<slug> too'),
  title: TitleSchema.describe("Name shown to people; defaults to the slug"),
  description: DescriptionSchema.describe("What this agent is for"),
  instructions: InstructionsSchema.describe("Sent to MCP clients as the server's instructions"),
  enabled: z.boolean().describe("false keeps the agent but refuses sessions to it"),
  prefix_tools: z.boolean().describe("Expose every tool as <connection-slug>__<tool> (aliases excepted), so tools of different connections never collide"),
  record_payloads: z.boolean().describe("Record arguments and results: usage rows keep each call's arguments and result, capped at monitoring.payload_max_size, with the connections' secret values and monitoring.redact_patterns masked (default false: neither is kept)"),
  connections: z.array(SelectionInput).max(100).describe("What the agent takes from each connection, in order; replaced whole on update"),
};

/** One connection's part of an agent, as AGENT_CREATE takes it with every field present. */
export type AgentSelectionDraft = Omit<AgentConnectionSelection, "connectionId"> & { connection: string };

/**
 * An agent's fields exactly as AGENT_CREATE takes them (AGENT_UPDATE adds the id), every one present:
 * what the admin's editor holds, reads from its form and submits with no renaming.
 */
export type AgentDraft = Omit<AgentFields, "prefixTools" | "connections" | "recordPayloads"> & { prefix_tools: boolean; record_payloads: boolean; connections: AgentSelectionDraft[] };

type FieldsInput = Partial<{ [K in keyof typeof AgentFieldsInput]: z.output<(typeof AgentFieldsInput)[K]> }>;

/**
 * Operation input (snake_case, connections by id or slug) → domain changes (camelCase, by id).
 * A slug that names no connection is kept as given, for the domain to refuse by name.
 */
export async function agentChangesFrom(deps: Pick<OperationDeps, "db">, input: FieldsInput): Promise<AgentChanges> {
  const changes: AgentChanges = {
    slug: input.slug,
    title: input.title,
    description: input.description,
    instructions: input.instructions,
    enabled: input.enabled,
    prefixTools: input.prefix_tools,
    recordPayloads: input.record_payloads,
  };
  if (input.connections !== undefined) {
    const idBySlug = new Map([...(await connectionSlugs(deps.db))].map(([id, slug]) => [slug, id]));
    changes.connections = input.connections.map((s): AgentConnectionSelection => ({
      connectionId: idBySlug.get(s.connection) ?? s.connection,
      tools: typeof s.tools === "string" ? "all" : s.tools.map((t) => (typeof t === "string" ? { name: t } : t)),
      resources: s.resources ?? "none",
      prompts: s.prompts ?? "none",
    }));
  }
  for (const key of Object.keys(changes) as (keyof AgentChanges)[]) if (changes[key] === undefined) delete changes[key];
  return changes;
}

const Selection = z.object({
  connection_id: z.string(),
  connection_slug: z.string().nullable().describe("null if the connection no longer exists"),
  tools: z.union([z.literal("all"), z.array(z.object({ name: z.string(), alias: z.string().optional(), description: z.string().optional() }))]),
  resources: z.union([z.literal("all"), z.literal("none"), z.array(z.string())]),
  prompts: z.union([z.literal("all"), z.literal("none"), z.array(z.string())]),
});

export const AgentShape = z.object({
  id: z.string().describe('agent_<uuid>; grant a key its tools as {"agent_<uuid>": [exposed tool names] or ["*"]}'),
  slug: z.string(),
  title: z.string(),
  description: z.string(),
  instructions: z.string(),
  enabled: z.boolean(),
  prefix_tools: z.boolean(),
  record_payloads: z.boolean().describe("Whether usage rows keep this agent's call arguments and results (capped, redacted)"),
  endpoint: z.string().describe("Where MCP clients reach this agent (Streamable HTTP; Authorization: Bearer <API key or OAuth access token>)"),
  connections: z.array(Selection),
  tool_count: z.number().describe("How many tools it exposes now (selected tools the upstream no longer offers not counted)"),
  from_config: z.boolean().describe("Declared in switchboard.toml: read-only here"),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export type AgentView = z.output<typeof AgentShape>;

export const AgentDetailShape = AgentShape.extend({
  tools: z
    .array(
      z.object({
        name: z.string().describe("The name the agent exposes (use it in key permissions under the agent's id)"),
        connection_id: z.string(),
        connection_slug: z.string(),
        upstream: z.string().describe("The tool's name upstream"),
        description: z.string().nullable(),
        missing: z.boolean().describe("Selected, but the upstream does not offer it now: left out of tools/list"),
        input_schema: z
          .record(z.string(), z.unknown())
          .nullable()
          .describe("The JSON Schema of the tool's arguments, as the upstream last listed it (null when it does not offer the tool now)"),
      }),
    )
    .describe("The tools the agent exposes, in order, as of the last discovery"),
  collisions: z.array(z.string()).describe("Names two tools would share (possible when the upstream adds tools to an \"all\" selection): the later one is hidden until fixed"),
  health: z
    .array(z.object({ connection_id: z.string(), connection_slug: z.string().nullable(), error: z.string().nullable(), at: Timestamp.nullable() }))
    .describe("Per connection: the last failure to reach it while listing, or null"),
});

export type AgentDetailView = z.output<typeof AgentDetailShape>;

type ShapeDeps = Pick<OperationDeps, "db" | "config" | "gateway">;

function storeOf(deps: ShapeDeps): AgentStore {
  return { db: deps.db, toolsOf: (id) => deps.gateway.discovery(id).tools };
}

/** The public view of an agent, with its endpoint and how many tools it exposes now. */
export async function agentOut(deps: ShapeDeps, agent: Agent, given?: Map<string, string>): Promise<z.input<typeof AgentShape>> {
  const slugs = given ?? (await connectionSlugs(deps.db));
  const { tools } = await checkAgent(storeOf(deps), agent);
  return {
    id: agent.id,
    slug: agent.slug,
    title: agent.title,
    description: agent.description,
    instructions: agent.instructions,
    enabled: agent.enabled,
    prefix_tools: agent.prefixTools,
    record_payloads: agent.recordPayloads === true,
    endpoint: `${deps.config.server.public_url}/mcp/agent/${agent.id}`,
    connections: agent.connections.map((s) => ({
      connection_id: s.connectionId,
      connection_slug: slugs.get(s.connectionId) ?? null,
      tools: s.tools,
      resources: s.resources,
      prompts: s.prompts,
    })),
    tool_count: tools.filter((t) => !t.missing).length,
    from_config: agent.fromConfig,
    created_at: agent.createdAt.toISOString(),
    updated_at: agent.updatedAt.toISOString(),
  };
}

/** The agent with the tools it exposes (missing ones flagged), any collisions, and each connection's health. */
export async function agentDetailOut(deps: ShapeDeps, agent: Agent): Promise<z.input<typeof AgentDetailShape>> {
  const slugs = await connectionSlugs(deps.db);
  const { tools, collisions } = await checkAgent(storeOf(deps), agent);
  const upstreamTool = (connectionId: string, name: string) => deps.gateway.discovery(connectionId).tools.find((t) => t.name === name);
  return {
    ...(await agentOut(deps, agent, slugs)),
    tools: tools.map((t) => {
      const upstream = upstreamTool(t.connectionId, t.upstream);
      return {
        name: t.exposed,
        connection_id: t.connectionId,
        connection_slug: t.connectionSlug,
        upstream: t.upstream,
        description: t.description ?? upstream?.description ?? null,
        missing: t.missing,
        // Discovery keeps only tools whose inputSchema is an object (src/gateway/discovery.ts): "Try it" shows it.
        input_schema: upstream?.inputSchema ?? null,
      };
    }),
    collisions: collisionMessages(collisions),
    health: (await deps.gateway.agentHealth(agent.id)).map((h) => ({
      connection_id: h.connectionId,
      connection_slug: slugs.get(h.connectionId) ?? null,
      error: h.error,
      at: h.at?.toISOString() ?? null,
    })),
  };
}
