// The Agents pages. Everyone signed in sees the list and each agent (endpoint, client configurations,
// health, tools) and may call its tools from "Try it" as themselves; only admins create, change and
// delete agents. Changes go through the same operations as /mcp/self and /api/v1, with the signed-in
// user as the caller; the editor's live check is AGENT_CHECK, which saves nothing.
import { Hono, type Context } from "hono";
import { agentReach } from "../../domain/access/agent-reach.ts";
import { AGENT_ID } from "../../domain/access/permissions.ts";
import { TOOL_NAME } from "../../domain/agents/tools.ts";
import { AppError, type ErrorStatus } from "../../errors.ts";
import { agentCheck } from "../../operations/agent-check.ts";
import type { AgentDetailView, AgentDraft, AgentView } from "../../operations/agent-shapes.ts";
import { apiKeyList } from "../../operations/api-keys.ts";
import { agentCreate, agentDelete, agentGet, agentList, agentUpdate } from "../../operations/agents.ts";
import { toolList } from "../../operations/tools.ts";
import { CheckResult, type CheckOutcome } from "../../../views/agent-editor.tsx";
import { AgentEditorPage, AgentPage, AgentsPage, type AgentKey, type Message } from "../../../views/agents.tsx";
import { TryResult, type TryOutcome } from "../../../views/try-it.tsx";
import { agentDraftFromForm, EMPTY_DRAFT } from "../agent-form.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { confirmedDelete, formRefusal, requireOperation, runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";
import { tryAgentTool } from "../try-it.ts";

type Status = ErrorStatus | 200;

/** The editor's draft of a stored agent: its output, which names connections by id. */
function draftOf(a: AgentView): AgentDraft {
  return {
    slug: a.slug,
    title: a.title,
    description: a.description,
    instructions: a.instructions,
    enabled: a.enabled,
    prefix_tools: a.prefix_tools,
    record_payloads: a.record_payloads,
    connections: a.connections.map((s) => ({ connection: s.connection_id, tools: s.tools, resources: s.resources, prompts: s.prompts })),
  };
}

/**
 * The keys the signed-in user may see (API_KEY_LIST as them: an admin everyone's, a member their own)
 * that reach the agent: each with what agentReach says it may call of the tools the agent exposes now
 * (the ones the gateway lists: offered upstream, and named by MCP's rule).
 */
async function keysReaching(c: Context<AppEnv>, deps: AppDeps, a: AgentDetailView): Promise<AgentKey[]> {
  const { keys } = await runAsUser(c, deps, apiKeyList, {});
  const tools = a.tools.filter((t) => !t.missing && TOOL_NAME.test(t.name)).map((t) => ({ exposed: t.name, connectionId: t.connection_id, upstream: t.upstream }));
  const now = Date.now();
  return keys.flatMap((k): AgentKey[] => {
    const reach = agentReach(k.permissions, { id: a.id, tools });
    if (reach === null) return [];
    const expired = k.expires_at !== null && Date.parse(k.expires_at) <= now;
    return [{ id: k.id, name: k.name, owner_email: k.owner.email, reach, last_used_at: k.last_used_at, expires_at: k.expires_at, expired }];
  });
}

/** The fixed confirmations an agent's page shows after a redirect, by query flag (never query text). */
function confirmation(c: Context<AppEnv>, a: AgentDetailView): Message | undefined {
  if (c.req.query("created")) return { kind: "ok", text: `Agent ${a.title} created.` };
  if (c.req.query("saved")) return { kind: "ok", text: "Saved." };
  return undefined;
}

export function adminAgentRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // The editor's pages (new, check) are for whoever may create agents: the registry says who.
  const requireEditor = (c: Context<AppEnv>) => requireOperation(c, deps, agentCreate);

  /**
   * The names the draft would expose and what stops it from being saved, without saving (AGENT_CHECK, as
   * the signed-in user). A draft the operation refuses outright (a field past its limits) is shown as
   * its problems; a refusal of the caller (not an admin) goes to the error boundary.
   */
  const check = async (c: Context<AppEnv>, draft: AgentDraft): Promise<CheckOutcome> => {
    try {
      return await runAsUser(c, deps, agentCheck, draft);
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      const problems = Object.entries(refusal.fields).map(([field, message]) => `${field}: ${message}`);
      return { problems: problems.length > 0 ? problems : [refusal.message], collisions: [], exposed: [], missing: [] };
    }
  };

  const editorPage = async (c: Context<AppEnv>, agentId: string | null, draft: AgentDraft, outcome: { message?: Message; fieldErrors?: Record<string, string>; checked?: boolean; check?: CheckOutcome } = {}, status: Status = 200) => {
    // Every connection with what it offers, as last discovered: the editor's choices.
    const { connections } = await runAsUser(c, deps, toolList, {});
    return c.html(
      AgentEditorPage({
        viewer: c.get("user"),
        title: agentId ? `Edit ${draft.title || draft.slug}` : "New agent",
        back: agentId ? `/admin/agents/${agentId}` : "/admin/agents",
        message: outcome.message,
        editor: { agentId, draft, connections, check: outcome.check ?? (outcome.checked ? await check(c, draft) : undefined), fieldErrors: outcome.fieldErrors },
      }),
      status,
    );
  };

  /** A refused save: the editor again with what was typed, the check's verdict and the reason. */
  const refused = (c: Context<AppEnv>, agentId: string | null, draft: AgentDraft) => async (refusal: FormRefusal) => {
    const verdict = await check(c, draft);
    const shownBelow = verdict.problems.length + verdict.collisions.length > 0;
    const text = shownBelow ? "Not saved: fix what the check below names." : refusal.message;
    return editorPage(c, agentId, draft, { message: { kind: "error", text }, fieldErrors: refusal.fields, check: verdict }, refusal.status);
  };

  const agentPage = async (c: Context<AppEnv>, id: string, extra: { outcome?: TryOutcome; message?: Message } = {}, status: Status = 200) => {
    // AGENT_GET carries each tool's input schema: "Try it" reads nothing past the registry.
    const a = await runAsUser(c, deps, agentGet, { id });
    const keys = await keysReaching(c, deps, a);
    const message = extra.message ?? confirmation(c, a);
    return c.html(AgentPage({ viewer: c.get("user"), a, keys, publicUrl: deps.config.server.public_url, oauth: deps.config.oauth.enabled, ...extra, message }), status);
  };

  app.get("/", async (c) => {
    const { agents } = await runAsUser(c, deps, agentList, {});
    const message: Message | undefined = c.req.query("deleted") ? { kind: "ok", text: "Agent deleted." } : undefined;
    return c.html(AgentsPage({ viewer: c.get("user"), agents, message }));
  });

  app.get("/new", (c) => {
    requireEditor(c);
    return editorPage(c, null, EMPTY_DRAFT);
  });

  app.post("/", async (c) => {
    const draft = agentDraftFromForm(await readForm(c));
    return submitForm(c, deps, agentCreate, () => draft, { done: (created) => `/admin/agents/${created.id}?created=1`, refused: refused(c, null, draft) });
  });

  /** The live check: htmx gets the verdict, a plain post ("Check names") the editor around it. */
  app.post("/check", async (c) => {
    requireEditor(c);
    const form = await readForm(c);
    const draft = agentDraftFromForm(form);
    if (isHtmx(c)) return c.html(CheckResult({ check: await check(c, draft) }));
    // The id only shapes the page's links and form action: anything but an agent id means a new agent.
    return editorPage(c, AGENT_ID.test(form.agent_id ?? "") ? form.agent_id! : null, draft, { checked: true });
  });

  app.get("/:id", (c) => agentPage(c, c.req.param("id")));

  app.get("/:id/edit", async (c) => {
    requireEditor(c);
    const a = await runAsUser(c, deps, agentGet, { id: c.req.param("id") });
    if (a.from_config) throw new AppError("AGENT_READ_ONLY");
    return editorPage(c, a.id, draftOf(a), { checked: true });
  });

  app.post("/:id", async (c) => {
    const id = c.req.param("id");
    const draft = agentDraftFromForm(await readForm(c));
    return submitForm(c, deps, agentUpdate, () => ({ ...draft, id }), { done: (saved) => `/admin/agents/${saved.id}?saved=1`, refused: refused(c, id, draft) });
  });

  /** "Try it": calls one tool through the agent as the signed-in user (src/http/try-it.ts). */
  app.post("/:id/try", async (c) => {
    const id = c.req.param("id");
    const a = await runAsUser(c, deps, agentGet, { id });
    const outcome = await tryAgentTool(c, deps, a, await readForm(c));
    return isHtmx(c) ? c.html(TryResult({ outcome })) : agentPage(c, id, { outcome });
  });

  app.post("/:id/delete", (c) =>
    confirmedDelete(c, deps, agentDelete, { id: c.req.param("id") }, {
      done: "/admin/agents?deleted=1",
      page: (text, status) => agentPage(c, c.req.param("id"), { message: { kind: "error", text } }, status),
    }),
  );

  return app;
}
