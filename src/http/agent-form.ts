// Reading the admin's agent editor into a draft: the input of AGENT_CREATE / AGENT_UPDATE itself, which
// the editor also shows again after a refusal (no renaming on the way in or out). Field names carry the connection id and the row number
// ("tool.<conn id>.<n>"), never a tool name, so any upstream name is safe in a form; connections keep
// the order of the form, which lists the agent's own selections first.
import type { ToolSelection } from "../domain/agents/tools.ts";
import type { AgentDraft, AgentSelectionDraft } from "../operations/agent-shapes.ts";

export const EMPTY_DRAFT: AgentDraft = { slug: "", title: "", description: "", instructions: "", enabled: true, prefix_tools: false, record_payloads: false, connections: [] };

function lines(text: string | undefined): string[] {
  return (text ?? "").split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
}

/** "all", "none", or the listed lines (an empty list is "none"). */
function listSelection(mode: string | undefined, list: string | undefined): "all" | "none" | string[] {
  const listed = lines(list);
  return mode === "all" ? "all" : mode === "list" && listed.length > 0 ? listed : "none";
}

/** The ticked tools of one connection, in row order, with their alias and description if typed. */
function pickedTools(form: Record<string, string>, connectionId: string): ToolSelection[] {
  const prefix = `tool.${connectionId}.`;
  return Object.keys(form)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length))
    .sort((a, b) => Number(a) - Number(b))
    .map((row) => {
      const pick: ToolSelection = { name: form[`${prefix}${row}`]! };
      const alias = (form[`alias.${connectionId}.${row}`] ?? "").trim();
      const description = (form[`desc.${connectionId}.${row}`] ?? "").trim();
      if (alias) pick.alias = alias;
      if (description) pick.description = description;
      return pick;
    });
}

/** The draft (the operation's input) a submitted editor describes. */
export function agentDraftFromForm(form: Record<string, string>): AgentDraft {
  const text = (name: string) => (form[name] ?? "").trim();
  // Every connection is in the form ("conn.<id>"); the agent takes one when something of it is chosen.
  const connections = Object.keys(form)
    .filter((key) => key.startsWith("conn."))
    .map((key): AgentSelectionDraft => {
      const id = key.slice("conn.".length);
      return {
        connection: id,
        tools: form[`mode.${id}`] === "all" ? "all" : pickedTools(form, id),
        resources: listSelection(form[`res.${id}`], form[`res_list.${id}`]),
        prompts: listSelection(form[`prm.${id}`], form[`prm_list.${id}`]),
      };
    })
    .filter((s) => s.tools === "all" || s.tools.length > 0 || s.resources !== "none" || s.prompts !== "none");
  return {
    slug: text("slug"),
    title: text("title"),
    description: text("description"),
    instructions: (form.instructions ?? "").trim(),
    // A box left unticked sends nothing: the *_shown markers tell "unticked" from "not in this form".
    enabled: form.enabled_shown === undefined ? true : form.enabled === "1",
    prefix_tools: form.prefix_tools === "1",
    record_payloads: form.record_payloads === "1",
    connections,
  };
}
