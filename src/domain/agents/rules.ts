// What makes an agent valid, shared by the config schema ([[agents]]), the agent operations and the
// admin's live check: field formats as zod schemas, and the rules on what an agent selects (each
// connection once and existing, each tool once, exposed names that follow the MCP rules and never
// collide). Pure: no database, no I/O.
import { z } from "zod";
import { multiLine, singleLine } from "../text.ts";
import {
  describeCollision,
  exposedName,
  exposeTools,
  TOOL_NAME,
  type AgentConnectionSelection,
  type AgentSpec,
  type Collision,
  type ExposedTool,
  type ToolSelection,
} from "./tools.ts";

const TOOL_NAME_RULE = "1-128 of A-Z a-z 0-9 _ - .";

// Instructions and descriptions reach every client's model: lines and tabs, no hidden controls or bidi (../text.ts).
export const InstructionsSchema = multiLine(z.string().max(20_000, { error: "expected at most 20000 characters" }));
/** A tool's name as its upstream gives it (not necessarily a valid exposed name: an alias can fix that). */
export const UpstreamToolNameSchema = singleLine(z.string().min(1, { error: "expected a tool name" }).max(256, { error: "expected at most 256 characters" }));
export const AliasSchema = z.string().regex(TOOL_NAME, { error: `expected a tool name: ${TOOL_NAME_RULE}` });
export const ToolDescriptionSchema = multiLine(z.string().max(2000, { error: "expected at most 2000 characters" }));

export const ToolSelectionSchema = z.strictObject({
  name: UpstreamToolNameSchema.describe("The tool's name upstream"),
  alias: AliasSchema.optional().describe(`The name the agent exposes it under (${TOOL_NAME_RULE}); defaults to the upstream name`),
  description: ToolDescriptionSchema.optional().describe("Replaces the upstream's description"),
});

const UriPattern = singleLine(z.string().min(1, { error: "expected a URI pattern" }).max(1024));
const PromptName = singleLine(z.string().min(1, { error: "expected a prompt name" }).max(256));

export const ResourcesSelectionSchema = z
  .union([z.literal("all"), z.literal("none"), z.array(UriPattern).max(500)], { error: 'expected "all", "none" or a list of URI patterns' })
  .describe('"all", "none", or URI patterns ("*" matches any run of characters, e.g. "file:///docs/*")');
export const PromptsSelectionSchema = z
  .union([z.literal("all"), z.literal("none"), z.array(PromptName).max(500)], { error: 'expected "all", "none" or a list of prompt names' })
  .describe('"all", "none", or prompt names');

/** How connections are named in the checks: their slug (null when there is no such connection), and what they offer now. */
export type SelectionLookup = {
  slugOf: (connectionId: string) => string | null;
  toolsOf: (connectionId: string) => { name: string; description?: string }[];
};

/** The outcome of checking a selection: problems by field, collisions, and the tools it would expose. */
export type AgentCheck = { problems: Record<string, string>; collisions: Collision[]; tools: ExposedTool[] };

function invalidName(exposed: string, what: string): string {
  return `${what} would be exposed as ${JSON.stringify(exposed)}, which is not a valid tool name (${TOOL_NAME_RULE}): give it an alias`;
}

/**
 * Checks what an agent selects against the connections as they are now: each selected connection
 * exists and appears once; each tool appears once in its list; every exposed name follows the MCP
 * rules (tools selected with "all" included, as discovered); no two exposed names are alike.
 */
export function checkSelections(agent: Pick<AgentSpec, "prefixTools" | "connections">, lookup: SelectionLookup): AgentCheck {
  const problems: Record<string, string> = {};
  const seen = new Set<string>();
  agent.connections.forEach((selection, i) => {
    const slug = lookup.slugOf(selection.connectionId);
    if (slug === null) {
      problems[`connections.${i}.connection`] = `no such connection (${selection.connectionId})`;
      return;
    }
    if (seen.has(selection.connectionId)) problems[`connections.${i}.connection`] = `${slug} is selected twice: select each connection once`;
    seen.add(selection.connectionId);
    for (const [j, pick, exposed] of picksOf(agent.prefixTools, slug, selection, lookup)) {
      const at = j === null ? `connections.${i}.tools` : `connections.${i}.tools.${j}`;
      if (!TOOL_NAME.test(exposed)) problems[pick.alias ? `${at}.alias` : at] ??= invalidName(exposed, `${slug}/${pick.name}`);
    }
    if (selection.tools !== "all") {
      const names = new Set<string>();
      selection.tools.forEach((pick, j) => {
        if (names.has(pick.name)) problems[`connections.${i}.tools.${j}.name`] = `${slug}/${pick.name} is listed twice`;
        names.add(pick.name);
      });
    }
  });
  const { tools, collisions } = exposeTools(agent, lookup);
  return { problems, collisions, tools };
}

/** Each selected tool with its index in the list (null for "all") and the name it is exposed under. */
function picksOf(prefixTools: boolean, slug: string, selection: AgentConnectionSelection, lookup: SelectionLookup): [number | null, ToolSelection, string][] {
  const picks: ToolSelection[] = selection.tools === "all" ? lookup.toolsOf(selection.connectionId).map((t) => ({ name: t.name })) : selection.tools;
  return picks.map((pick, j) => [
    selection.tools === "all" ? null : j,
    pick,
    exposedName({ prefixTools, connectionSlug: slug, upstream: pick.name, alias: pick.alias }),
  ]);
}

/** The collisions as one sentence each: both tools named, and how to fix it. */
export function collisionMessages(collisions: Collision[]): string[] {
  return collisions.map(describeCollision);
}
