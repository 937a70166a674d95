// Agents: virtual MCP servers composed of connections' tools (and resources and prompts). Stored with
// their selections keyed by connection id, checked on every save (connections exist, exposed names
// valid and never alike), and turned into the AgentSpec the gateway serves at /mcp/agent/:id.
import { randomUUID } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import type { agents } from "../../db/schema.ts";
import { tables, transaction } from "../../db/store.ts";
import { AppError } from "../../errors.ts";
import { checkSelections, collisionMessages, type AgentCheck, type SelectionLookup } from "./rules.ts";
import type { AgentConnectionSelection, AgentFields, AgentSpec } from "./tools.ts";
import { AGENT_ID } from "../access/permissions.ts";
import { removeGrantsOn } from "../access/grants.ts";

export type { AgentFields } from "./tools.ts";

export type Agent = AgentFields & { id: string; fromConfig: boolean; createdAt: Date; updatedAt: Date };

/** A change: absent fields stay; `connections` is replaced whole. */
export type AgentChanges = Partial<AgentFields>;

/**
 * What the agent functions need: the database, and what each connection offers now (the gateway's
 * discovery cache), so that tools selected with "all" take part in the collision check.
 */
export type AgentStore = { db: Db; toolsOf: (connectionId: string) => { name: string; description?: string }[] };

type Row = typeof agents.$inferSelect;

function toAgent(row: Row): Agent {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    instructions: row.instructions,
    enabled: row.enabled,
    prefixTools: row.prefixTools,
    connections: row.selections,
    recordPayloads: row.recordPayloads,
    fromConfig: row.fromConfig,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The agent with this id (agent_<uuid>) or slug, or null. */
export async function getAgent(db: Db, idOrSlug: string): Promise<Agent | null> {
  const { agents } = tables(db);
  const column = AGENT_ID.test(idOrSlug) ? agents.id : agents.slug;
  const [row] = await db.select().from(agents).where(eq(column, idOrSlug)).limit(1);
  return row ? toAgent(row) : null;
}

/** Like getAgent, but AGENT_NOT_FOUND when there is none. */
export async function findAgent(db: Db, idOrSlug: string): Promise<Agent> {
  const found = await getAgent(db, idOrSlug);
  if (!found) throw new AppError("AGENT_NOT_FOUND");
  return found;
}

/** Every agent, by slug. */
export async function listAgents(db: Db): Promise<Agent[]> {
  const { agents } = tables(db);
  return (await db.select().from(agents).orderBy(asc(agents.slug))).map(toAgent);
}

/** Whether an agent has this id (for permission validation). */
export async function agentExists(db: Db, id: string): Promise<boolean> {
  const { agents } = tables(db);
  const [row] = await db.select({ id: agents.id }).from(agents).where(eq(agents.id, id)).limit(1);
  return row !== undefined;
}

/** The slug of every connection by id: how agents name the connections they select. */
export async function connectionSlugs(db: Db): Promise<Map<string, string>> {
  const { connections } = tables(db);
  return new Map((await db.select({ id: connections.id, slug: connections.slug }).from(connections)).map((c) => [c.id, c.slug]));
}

/** The lookup the selection checks use: connection slugs from the database, tools from the discovery cache. */
export async function selectionLookup(store: AgentStore): Promise<SelectionLookup> {
  const slugs = await connectionSlugs(store.db);
  return { slugOf: (id) => slugs.get(id) ?? null, toolsOf: store.toolsOf };
}

/** Checks an agent's selections without saving anything (the admin's live warnings use this). */
export async function checkAgent(store: AgentStore, fields: Pick<AgentFields, "prefixTools" | "connections">): Promise<AgentCheck> {
  return checkSelections(fields, await selectionLookup(store));
}

/** Throws VALIDATION_FAILED naming each problem, or AGENT_TOOL_COLLISION naming both tools of each collision. */
export async function assertAgent(store: AgentStore, fields: AgentFields): Promise<void> {
  const { problems, collisions } = await checkAgent(store, fields);
  if (Object.keys(problems).length > 0) {
    throw new AppError("VALIDATION_FAILED", Object.entries(problems).map(([f, m]) => `${f}: ${m}`).join("; "), { fields: problems });
  }
  if (collisions.length > 0) {
    const messages = collisionMessages(collisions);
    throw new AppError("AGENT_TOOL_COLLISION", messages.join("; "), {
      fields: Object.fromEntries(collisions.map((c, i) => [`tools.${c.exposed}`, messages[i]!])),
    });
  }
}

function rowValues(f: AgentFields) {
  return {
    slug: f.slug,
    title: f.title.trim() || f.slug,
    description: f.description,
    instructions: f.instructions,
    enabled: f.enabled,
    prefixTools: f.prefixTools,
    selections: f.connections,
    recordPayloads: f.recordPayloads === true,
  };
}

function slugTaken(err: unknown): boolean {
  // SQLite says "UNIQUE constraint failed: agents.slug", PostgreSQL 'violates unique constraint "agents_slug_unique"';
  // drizzle may wrap either (the driver's error is then the cause).
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/UNIQUE constraint failed: agents\.slug|violates unique constraint "agents_slug_unique"/.test(e.message)) return true;
  }
  return false;
}

const SLUG_TAKEN = () => new AppError("AGENT_SLUG_TAKEN", undefined, { fields: { slug: "another agent has this slug" } });

/** Stores a new agent after checking it; AGENT_SLUG_TAKEN when the slug is in use. */
export async function createAgent(store: AgentStore, fields: AgentFields, options: { now?: Date; id?: string; fromConfig?: boolean } = {}): Promise<Agent> {
  const { agents } = tables(store.db);
  await assertAgent(store, fields);
  const now = options.now ?? new Date();
  const id = options.id ?? `agent_${randomUUID()}`;
  try {
    await store.db.insert(agents).values({ id, ...rowValues(fields), fromConfig: options.fromConfig ?? false, createdAt: now, updatedAt: now });
  } catch (err) {
    if (slugTaken(err)) throw SLUG_TAKEN();
    throw err;
  }
  return findAgent(store.db, id);
}

/** Changes an agent. Those declared in the config are read-only (AGENT_READ_ONLY) unless `fromConfig` (the config sync). */
export async function updateAgent(store: AgentStore, idOrSlug: string, changes: AgentChanges, options: { now?: Date; fromConfig?: boolean } = {}): Promise<Agent> {
  const { agents } = tables(store.db);
  const current = await findAgent(store.db, idOrSlug);
  if (current.fromConfig && !options.fromConfig) throw new AppError("AGENT_READ_ONLY");
  const next: AgentFields = { ...fieldsOf(current) };
  for (const [key, value] of Object.entries(changes) as [keyof AgentFields, never][]) if (value !== undefined) next[key] = value;
  await assertAgent(store, next);
  try {
    await store.db
      .update(agents)
      .set({ ...rowValues(next), fromConfig: options.fromConfig ?? current.fromConfig, updatedAt: options.now ?? new Date() })
      .where(eq(agents.id, current.id));
  } catch (err) {
    if (slugTaken(err)) throw SLUG_TAKEN();
    throw err;
  }
  return findAgent(store.db, current.id);
}

/**
 * Deletes an agent (not one declared in the config, unless `fromConfig`); returns what it was and the
 * keys that lost their grant on it (removed in the same transaction, so a later agent with its id
 * inherits nothing).
 */
export async function deleteAgent(db: Db, idOrSlug: string, options: { fromConfig?: boolean } = {}): Promise<Agent & { keysChanged: string[] }> {
  return transaction(db, async (tx) => {
    const { agents } = tables(tx);
    const current = await findAgent(tx, idOrSlug);
    if (current.fromConfig && !options.fromConfig) throw new AppError("AGENT_READ_ONLY");
    const keysChanged = await removeGrantsOn(tx, current.id);
    await tx.delete(agents).where(eq(agents.id, current.id));
    return { ...current, keysChanged };
  });
}

/** The ids of the agents that select this connection. */
export async function agentsSelecting(db: Db, connectionId: string): Promise<string[]> {
  return (await listAgents(db)).filter((a) => a.connections.some((s) => s.connectionId === connectionId)).map((a) => a.id);
}

/**
 * A connection is being deleted: every agent that selects it drops that selection (and so its
 * tools, resources and prompts); the rest of each agent is kept. Returns the ids of the agents changed.
 */
export async function removeConnectionFromAgents(db: Db, connectionId: string, now = new Date()): Promise<string[]> {
  const { agents } = tables(db);
  const changed: string[] = [];
  for (const agent of await listAgents(db)) {
    const kept = agent.connections.filter((s) => s.connectionId !== connectionId);
    if (kept.length === agent.connections.length) continue;
    await db.update(agents).set({ selections: kept, updatedAt: now }).where(eq(agents.id, agent.id));
    changed.push(agent.id);
  }
  return changed;
}

/** The plain fields of a stored agent. */
export function fieldsOf(agent: Agent): AgentFields {
  const { slug, title, description, instructions, enabled, prefixTools, connections: selected, recordPayloads } = agent;
  return { slug, title, description, instructions, enabled, prefixTools, connections: selected, recordPayloads };
}

/** The fields of a new agent, with defaults for what `partial` leaves out. */
export function newAgentFields(partial: Partial<AgentFields> & Pick<AgentFields, "slug">): AgentFields {
  const fields: AgentFields = { slug: partial.slug, title: "", description: "", instructions: "", enabled: true, prefixTools: false, connections: [], recordPayloads: false };
  for (const [key, value] of Object.entries(partial) as [keyof AgentFields, never][]) if (value !== undefined) fields[key] = value;
  return fields;
}

/** What the gateway serves for an agent. */
export function toAgentSpec(agent: Agent): AgentSpec {
  return {
    id: agent.id,
    slug: agent.slug,
    title: agent.title,
    description: agent.description,
    instructions: agent.instructions,
    enabled: agent.enabled,
    prefixTools: agent.prefixTools,
    connections: agent.connections.map((s) => ({ ...s, tools: s.tools === "all" ? "all" : s.tools.map((t) => ({ ...t })) })),
    fromConfig: agent.fromConfig,
    recordPayloads: agent.recordPayloads === true,
  };
}

/** Finds an agent's spec by id or slug: what the gateway's /mcp/agent/:agentId lookup needs. */
export function agentSpecLookup(deps: { db: Db }): (idOrSlug: string) => Promise<AgentSpec | null> {
  return async (idOrSlug) => {
    const found = await getAgent(deps.db, idOrSlug);
    return found ? toAgentSpec(found) : null;
  };
}
