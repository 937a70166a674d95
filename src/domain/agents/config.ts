// Agents declared in switchboard.toml ([[agents]]): written to the database at every start with an id
// derived from the slug (so keys granted on them survive restarts and fresh databases), removed when
// removed from the file. They select only connections the same file declares, so the file alone says
// what they are, and `check-config` can find every mistake.
import { eq } from "drizzle-orm";
import type { ConfigAgent } from "../../config/schema.ts";
import type { Db } from "../../db/client.ts";
import { tables, transaction } from "../../db/store.ts";
import { createAgent, deleteAgent, fieldsOf, getAgent, updateAgent, type Agent, type AgentFields } from "./agents.ts";
import { nameBasedUuid } from "../derived-id.ts";

/** The id of the agent the config declares with this slug: agent_ + a UUID (version 8) from SHA-256. */
export function configAgentId(slug: string): string {
  return `agent_${nameBasedUuid(`switchboard/config-agent/${slug}`)}`;
}

export type AgentSyncResult = {
  /** Agents created or changed: the gateway should apply them. */
  changed: Agent[];
  /** Ids of the agents among `changed` that did not exist before (the others were rewritten). */
  created: string[];
  /** Ids of agents the file no longer declares, now deleted. */
  removed: string[];
  /** Slugs that belonged to an agent made in the admin, now taken over by the file. */
  adopted: string[];
  /** Keys that lost their grant on a removed agent (a later one under its slug inherits nothing). */
  keysChanged: string[];
};

function fieldsFrom(declared: ConfigAgent, connectionIdOf: (slug: string) => string): AgentFields {
  return {
    slug: declared.slug,
    title: declared.title ?? declared.slug,
    description: declared.description,
    instructions: declared.instructions,
    enabled: declared.enabled,
    prefixTools: declared.prefix_tools,
    connections: declared.selections.map((s) => ({ connectionId: connectionIdOf(s.connection), tools: s.tools, resources: s.resources, prompts: s.prompts })),
    // Compared with fieldsOf(current) by value (key order aside: PostgreSQL's jsonb reorders keys) to tell whether the file changed the agent.
    recordPayloads: declared.record_payloads,
  };
}

/**
 * Makes the database match the file, after the connections have been synced: creates or rewrites each
 * declared agent (from_config) and deletes declared ones the file dropped. An agent made in the admin
 * whose slug the file now declares is taken over, keeping its id. One transaction.
 */
export async function syncConfigAgents(db: Db, declared: readonly ConfigAgent[], now = new Date()): Promise<AgentSyncResult> {
  const result: AgentSyncResult = { changed: [], created: [], removed: [], adopted: [], keysChanged: [] };
  await transaction(db, async (tx) => {
    const { agents, connections } = tables(tx);
    // What a selection holds right now is unknown before the gateway runs: "*" selections are checked when served.
    const store = { db: tx, toolsOf: () => [] };
    const idBySlug = new Map((await tx.select({ id: connections.id, slug: connections.slug }).from(connections)).map((c) => [c.slug, c.id]));
    const connectionIdOf = (slug: string): string => {
      const id = idBySlug.get(slug);
      if (id === undefined) throw new Error(`agent selects connection ${JSON.stringify(slug)}, which does not exist`);
      return id;
    };
    const slugs = new Set(declared.map((a) => a.slug));
    for (const row of await tx.select({ id: agents.id, slug: agents.slug }).from(agents).where(eq(agents.fromConfig, true))) {
      if (!slugs.has(row.slug)) {
        result.keysChanged.push(...(await deleteAgent(tx, row.id, { fromConfig: true })).keysChanged);
        result.removed.push(row.id);
      }
    }
    for (const declaredAgent of declared) {
      const fields = fieldsFrom(declaredAgent, connectionIdOf);
      const current = await getAgent(tx, fields.slug);
      if (!current) {
        result.changed.push(await createAgent(store, fields, { now, id: configAgentId(fields.slug), fromConfig: true }));
        result.created.push(configAgentId(fields.slug));
      } else if (!current.fromConfig || !Bun.deepEquals(fieldsOf(current), fields)) {
        if (!current.fromConfig) result.adopted.push(fields.slug);
        result.changed.push(await updateAgent(store, current.id, fields, { now, fromConfig: true }));
      }
    }
  });
  return result;
}
