// AGENT_CHECK: what an agent draft would expose and what would stop it from being saved, without saving
// anything. The admin's editor checks as the admin types; scripts may check before AGENT_CREATE.
import { z } from "zod";
import { checkAgent } from "../domain/agents/agents.ts";
import { collisionMessages, PromptsSelectionSchema, ResourcesSelectionSchema, ToolDescriptionSchema, UpstreamToolNameSchema } from "../domain/agents/rules.ts";
import { agentChangesFrom } from "./agent-shapes.ts";
import { agentStore } from "./agents.ts";
import { defineOperation } from "./registry.ts";

// AGENT_CREATE's selection, except that an alias may be any name here: a check reports a name that is
// not a valid tool name as a problem (naming the tool) instead of refusing the whole draft.
const DraftSelection = z.object({
  connection: z.string().min(1).max(100).describe("The connection's id (conn_<uuid>) or slug"),
  tools: z
    .union([
      z.literal("all"),
      z.literal("*"),
      z.array(z.union([UpstreamToolNameSchema, z.strictObject({ name: UpstreamToolNameSchema, alias: UpstreamToolNameSchema.optional(), description: ToolDescriptionSchema.optional() })])).max(1000),
    ])
    .describe('"all" or a list: "name" or {"name", "alias", "description"}, as AGENT_CREATE takes it'),
  resources: ResourcesSelectionSchema.optional(),
  prompts: PromptsSelectionSchema.optional(),
});

export const agentCheck = defineOperation({
  name: "AGENT_CHECK",
  title: "Check an agent draft",
  description:
    "Admins only. Check an agent's selection without saving anything: given prefix_tools and connections as AGENT_CREATE takes them " +
    "(other fields are ignored), return the tool names it would expose, the selected tools the upstream does not offer now " +
    "(<connection-slug>/<tool>), the problems that would refuse it (unknown connection, invalid exposed name, a tool listed twice) " +
    "and the name collisions (AGENT_TOOL_COLLISION), each as a sentence.",
  input: z.object({
    prefix_tools: z.boolean().optional().describe("Expose every tool as <connection-slug>__<tool> (default false)"),
    connections: z.array(DraftSelection).max(100).optional().describe("What the agent would take from each connection, in order"),
  }),
  output: z.object({
    exposed: z.array(z.string()).describe("The names it would expose, in order"),
    missing: z.array(z.string()).describe("Selected tools the upstream does not offer now, as <connection-slug>/<tool>"),
    problems: z.array(z.string()).describe("What would refuse the draft (VALIDATION_FAILED), one sentence each"),
    collisions: z.array(z.string()).describe("Names two tools would share, both tools named (AGENT_TOOL_COLLISION)"),
  }),
  // The editor's own check: for whoever may create agents, as AGENT_CREATE.
  forMembers: false,
  readOnly: true,
  rest: { method: "POST", path: "/agents/check" },
  async handler(ctx, input) {
    // The operations' own conversion (slugs to ids, tool names to selections), so the check sees what a save would.
    const changes = await agentChangesFrom(ctx.deps, input);
    const result = await checkAgent(agentStore(ctx.deps), { prefixTools: changes.prefixTools ?? false, connections: changes.connections ?? [] });
    return {
      exposed: result.tools.filter((t) => !t.missing).map((t) => t.exposed),
      missing: result.tools.filter((t) => t.missing).map((t) => `${t.connectionSlug}/${t.upstream}`),
      problems: Object.values(result.problems),
      collisions: collisionMessages(result.collisions),
    };
  },
});
