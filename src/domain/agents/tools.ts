// How an agent exposes the tools of its connections: which are selected, under what name
// (upstream name, alias, or "<connection-slug>__<tool>" with prefix_tools), and which names
// collide. Pure functions: the agent editor, validation on save and the /mcp/agent endpoint all use these.

/** One selected tool of a connection, optionally renamed or re-described. */
export type ToolSelection = { name: string; alias?: string; description?: string };

/** What an agent takes from one connection. */
export type AgentConnectionSelection = {
  connectionId: string;
  /** "all" follows the upstream; a list picks tools by upstream name. */
  tools: "all" | ToolSelection[];
  /** "all", "none", or URI patterns ("*" matches any run of characters). */
  resources: "all" | "none" | string[];
  /** "all", "none", or prompt names. */
  prompts: "all" | "none" | string[];
};

/** Everything an agent is made of. */
export type AgentFields = {
  slug: string;
  title: string;
  description: string;
  instructions: string;
  enabled: boolean;
  /** Expose every tool as "<connection-slug>__<tool>". */
  prefixTools: boolean;
  connections: AgentConnectionSelection[];
  /** Usage records keep the agent's call arguments and results (capped, redacted); absent: false. */
  recordPayloads?: boolean;
};

/** Everything the gateway needs to serve an agent. */
export type AgentSpec = AgentFields & { id: string; fromConfig: boolean };

/** A tool as the agent exposes it, and where it comes from. */
export type ExposedTool = {
  exposed: string;
  connectionId: string;
  connectionSlug: string;
  upstream: string;
  /** The description override, if any (else the upstream's is used). */
  description?: string;
  /** Selected by name but not offered by the upstream right now. */
  missing: boolean;
};

export type Collision = { exposed: string; tools: { connectionSlug: string; upstream: string }[] };

/** MCP tool names: 1-128 characters of A-Z a-z 0-9 _ - . */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export const PREFIX_SEPARATOR = "__";

/** The name a selected tool is exposed under. */
export function exposedName(options: { prefixTools: boolean; connectionSlug: string; upstream: string; alias?: string }): string {
  if (options.alias) return options.alias;
  return options.prefixTools ? `${options.connectionSlug}${PREFIX_SEPARATOR}${options.upstream}` : options.upstream;
}

/**
 * The agent's tools in connection order, given what each connection offers now. A name taken twice
 * is a collision: the first keeps it in the list, and the collision is reported (saving refuses it;
 * at run time the later tool stays hidden until the agent is fixed).
 */
export function exposeTools(
  agent: Pick<AgentSpec, "prefixTools" | "connections">,
  lookup: { slugOf: (connectionId: string) => string | null; toolsOf: (connectionId: string) => { name: string; description?: string }[] },
): { tools: ExposedTool[]; collisions: Collision[] } {
  const byName = new Map<string, ExposedTool[]>();
  const ordered: ExposedTool[] = [];
  for (const selection of agent.connections) {
    const connectionSlug = lookup.slugOf(selection.connectionId);
    if (connectionSlug === null) continue;
    const offered = lookup.toolsOf(selection.connectionId);
    const offeredNames = new Set(offered.map((t) => t.name));
    const picks: ToolSelection[] = selection.tools === "all" ? offered.map((t) => ({ name: t.name })) : selection.tools;
    for (const pick of picks) {
      const tool: ExposedTool = {
        exposed: exposedName({ prefixTools: agent.prefixTools, connectionSlug, upstream: pick.name, alias: pick.alias }),
        connectionId: selection.connectionId,
        connectionSlug,
        upstream: pick.name,
        missing: !offeredNames.has(pick.name),
      };
      if (pick.description !== undefined) tool.description = pick.description;
      ordered.push(tool);
      byName.set(tool.exposed, [...(byName.get(tool.exposed) ?? []), tool]);
    }
  }
  const collisions: Collision[] = [...byName]
    .filter(([, tools]) => tools.length > 1)
    .map(([exposed, tools]) => ({ exposed, tools: tools.map((t) => ({ connectionSlug: t.connectionSlug, upstream: t.upstream })) }));
  const kept = ordered.filter((tool) => byName.get(tool.exposed)![0] === tool);
  return { tools: kept, collisions };
}

/** The message for a collision: names both tools and says how to fix it. */
export function describeCollision(collision: Collision): string {
  const who = collision.tools.map((t) => `${t.connectionSlug}/${t.upstream}`).join(" and ");
  return `${who} would both be exposed as "${collision.exposed}": give one an alias, or set prefix_tools = true`;
}

/** Whether a resource URI is selected by a list of patterns ("*" matches any run of characters). */
export function matchesUriPattern(uri: string, patterns: "all" | "none" | string[]): boolean {
  if (patterns === "all") return true;
  if (patterns === "none") return false;
  return patterns.some((pattern) => {
    const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    return regex.test(uri);
  });
}

/** Whether a prompt is selected. */
export function promptSelected(name: string, selection: "all" | "none" | string[]): boolean {
  return selection === "all" ? true : selection === "none" ? false : selection.includes(name);
}
