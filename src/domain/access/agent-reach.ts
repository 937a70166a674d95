// Which of an agent's tools a permissions object lets its holder call, and through which entries: what
// the admin's "keys that reach this agent" list shows. It asks mayCallAgentTool, the gateway's own
// decision, tool by tool, so the list can never claim more (or less) than a call would be allowed.
import { grants, mayCallAgentTool, mayUseResourcesOf, WILDCARD, type Permissions } from "./permissions.ts";

/** A tool as the agent exposes it now, and where it comes from. */
export type AgentReachTool = { exposed: string; connectionId: string; upstream: string };

/** Which entry of the permissions carries the reach: the agent's own, one of its connections', or "*" (every connection). */
export type ReachRoute = "agent" | "connection" | "any";

export type AgentReach = {
  /** "all": every tool the agent exposes, now and whatever it adds later; else the exposed names callable now. */
  tools: "all" | string[];
  /** The entries that carry it, in the order agent, connection, any. */
  via: ReachRoute[];
  /** Names granted under the agent's id that it does not expose now (they authorize nothing until it does). */
  stale: string[];
  /** Whether its resources and prompts may be used too ("*" on the agent or on "*"). */
  resources: boolean;
  /** It holds "*" on "*": every tool of every connection, so every agent (the admin marks it "all resources"). */
  everything: boolean;
};

/**
 * What `p` reaches of the agent `agent` (its id and the tools it exposes now), or null when it neither
 * names the agent nor lets a single one of its tools be called. A grant on one of the agent's
 * connections (or on "*") counts only for the tools it actually covers: an entry on a connection
 * opens the agent's endpoint, but lets nothing through unless the agent exposes a tool it names.
 */
export function agentReach(p: Permissions, agent: { id: string; tools: AgentReachTool[] }): AgentReach | null {
  const ownAll = grants(p, agent.id, WILDCARD);
  const anyAll = grants(p, WILDCARD, WILDCARD);
  const routes = new Set<ReachRoute>();
  if (ownAll) routes.add("agent");
  if (anyAll) routes.add("any");
  const callable: string[] = [];
  for (const t of agent.tools) {
    if (!mayCallAgentTool(p, agent.id, t.exposed, t.connectionId, t.upstream)) continue;
    callable.push(t.exposed);
    if (grants(p, agent.id, t.exposed)) routes.add("agent");
    if (grants(p, t.connectionId, t.upstream)) routes.add("connection");
    if (grants(p, WILDCARD, t.upstream)) routes.add("any");
  }
  const exposed = new Set(agent.tools.map((t) => t.exposed));
  const stale = (p[agent.id] ?? []).filter((name) => name !== WILDCARD && !exposed.has(name));
  if (stale.length > 0) routes.add("agent");
  const all = ownAll || anyAll;
  if (!all && callable.length === 0 && stale.length === 0) return null;
  const order: ReachRoute[] = ["agent", "connection", "any"];
  return { tools: all ? "all" : callable, via: order.filter((r) => routes.has(r)), stale, resources: mayUseResourcesOf(p, agent.id), everything: anyAll };
}
