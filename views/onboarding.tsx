// The dashboard's getting-started checklist: add a connection → build an agent → create a key → connect a
// client, each step ticked from what the viewer's own reads (through the registry) return.
/** @jsxImportSource hono/jsx */
import { mayReachAgent } from "../src/domain/access/permissions.ts";
import { Alert } from "./alert.tsx";

/** What the checklist is decided from: the viewer's own CONNECTION_LIST, AGENT_LIST, API_KEY_LIST, OAUTH_GRANT_LIST and MONITORING_STATS. */
export type SetupFacts = {
  role: "admin" | "member";
  connections: { id: string; slug: string; state: string; tools: number }[];
  agents: { id: string; slug: string; enabled: boolean; from_config: boolean; tool_count: number; connections: { connection_id: string }[] }[];
  keys: { permissions: Record<string, string[]>; expires_at: string | null; last_used_at: string | null }[];
  grants: { resource: { id: string }; last_used_at: string | null }[];
  /** Agents with answered MCP calls the viewer may see, over the longest window monitoring offers (30 days). */
  calledAgents: string[];
  now: Date;
};

export type SetupStepId = "connection" | "agent" | "key" | "client";

export type SetupStep = {
  id: SetupStepId;
  title: string;
  done: boolean;
  /** What is true now, or what to do. */
  detail: string;
  /** Where to do it (shown only while the step is not done). */
  href: string;
  action: string;
};

type Agent = SetupFacts["agents"][number];

/** A connection that answers: connected now, or idle between sessions with tools discovered. */
function works(c: SetupFacts["connections"][number]): boolean {
  return c.state === "connected" || (c.state === "idle" && c.tools > 0);
}

/** An agent a client can use: enabled and exposing at least one tool. */
function ready(a: Agent): boolean {
  return a.enabled && a.tool_count > 0;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? "" : "s"}`;

function connectionStep(f: SetupFacts): SetupStep {
  const base = { id: "connection" as const, title: "Add a connection" };
  const working = f.connections.find(works);
  if (working) return { ...base, done: true, detail: `"${working.slug}" is connected with ${plural(working.tools, "tool")}.`, href: "", action: "" };
  const first = f.connections[0];
  if (first) {
    const detail = `"${first.slug}" is not connected yet (${first.state}): open it to test it or see its error.`;
    return { ...base, done: false, detail, href: `/admin/connections/${encodeURIComponent(first.id)}`, action: `Open ${first.slug}` };
  }
  return { ...base, done: false, detail: "Register an upstream MCP server: its tools are what your agents offer.", href: "/admin/connections/new", action: "Add a connection" };
}

function agentStep(f: SetupFacts): SetupStep {
  const base = { id: "agent" as const, title: "Build an agent" };
  const first = f.agents.find(ready);
  if (first) return { ...base, done: true, detail: `"${first.slug}" exposes ${plural(first.tool_count, "tool")}.`, href: "", action: "" };
  const empty = f.agents.find((a) => a.enabled && a.tool_count === 0);
  if (empty) {
    // One declared in switchboard.toml is changed there; its page says so.
    const href = `/admin/agents/${encodeURIComponent(empty.id)}${empty.from_config ? "" : "/edit"}`;
    return { ...base, done: false, detail: `"${empty.slug}" exposes no tools yet: choose its tools.`, href, action: `${empty.from_config ? "Open" : "Edit"} ${empty.slug}` };
  }
  return { ...base, done: false, detail: "Choose the tools one MCP endpoint offers your clients.", href: "/admin/agents/new", action: "Build an agent" };
}

/** The agent a key or an authorized app reaches (a key not expired; an app for an agent that still exists), if any. */
function keyedAgent(f: SetupFacts): Agent | undefined {
  const now = f.now.getTime();
  const live = f.keys.filter((k) => k.expires_at === null || Date.parse(k.expires_at) > now);
  // An app approved for a connection holds tokens for that connection only (their audience), never an agent.
  const approved = new Set(f.grants.map((g) => g.resource.id));
  return f.agents.find((a) => approved.has(a.id) || live.some((k) => mayReachAgent(k.permissions, a.id, a.connections.map((s) => s.connection_id))));
}

function keyStep(f: SetupFacts, keyed: Agent | undefined, forAgent: Agent | undefined): SetupStep {
  const base = { id: "key" as const, title: "Create a key" };
  if (keyed) return { ...base, done: true, detail: `A key or an authorized app reaches "${keyed.slug}".`, href: "", action: "" };
  if (forAgent) {
    const detail = `Create a key for "${forAgent.slug}" (desktop clients may sign in with OAuth instead).`;
    return { ...base, done: false, detail, href: `/admin/keys?grant=${encodeURIComponent(forAgent.id)}#create-key`, action: "Create a key" };
  }
  if (f.role === "admin") return { ...base, done: false, detail: "Create a key for an agent once one exists.", href: "/admin/keys#create-key", action: "Create a key" };
  return { ...base, done: false, detail: "No agent exists yet: an admin builds them, then you create a key for one.", href: "/admin/agents", action: "See the agents" };
}

/**
 * A client has connected through an agent: an answered call recorded, or a key made for an agent (or an
 * agent's authorized app) that has been used. Last-used times outlive the usage log's retention; a key
 * for any connection may have been used on a connection alone, so only its calls count.
 */
function clientStep(f: SetupFacts, target: Agent | undefined): SetupStep {
  const base = { id: "client" as const, title: "Connect a client" };
  const now = f.now.getTime();
  const agentIds = new Set(f.agents.map((a) => a.id));
  const called = f.agents.find((a) => f.calledAgents.includes(a.id));
  const keyUsed = f.keys.some((k) => k.last_used_at !== null && (k.expires_at === null || Date.parse(k.expires_at) > now) && Object.keys(k.permissions).some((r) => agentIds.has(r)));
  const appUsed = f.grants.some((g) => agentIds.has(g.resource.id) && g.last_used_at !== null);
  if (called) return { ...base, done: true, detail: `A client called "${called.slug}".`, href: "", action: "" };
  if (keyUsed || appUsed) return { ...base, done: true, detail: "A client has used a key or an authorized app of an agent.", href: "", action: "" };
  const detail = "Paste the agent's configuration into Cursor, Claude Desktop, VS Code or Claude Code, then call a tool.";
  if (target) return { ...base, done: false, detail, href: `/admin/agents/${encodeURIComponent(target.id)}#client-configs`, action: `Connect to ${target.slug}` };
  return { ...base, done: false, detail, href: "/admin/agents", action: "See the agents" };
}

/**
 * The steps, in order, for this viewer: admins get all four; members, who neither add connections nor
 * build agents, get the two that are theirs (a key for an agent, a client that uses it).
 */
export function setupSteps(f: SetupFacts): SetupStep[] {
  const keyed = keyedAgent(f);
  const forAgent = f.agents.find(ready) ?? f.agents[0];
  const key = keyStep(f, keyed, forAgent);
  const client = clientStep(f, keyed ?? forAgent);
  return f.role === "admin" ? [connectionStep(f), agentStep(f), key, client] : [key, client];
}

/** Which steps are done, as one short string ("1100"): what the page shows, sent back by its poll. */
export function progressKey(steps: SetupStep[]): string {
  return steps.map((s) => (s.done ? "1" : "0")).join("");
}

/**
 * The checklist, or nothing once every step is done. A done step carries a tick and the words "done"
 * for screen readers; a step still to do links to where it is done. While shown, it asks every 5 s
 * whether a step changed (a client connecting is done elsewhere, often on another machine), and is
 * swapped only when one did.
 */
export function GettingStarted(props: { steps: SetupStep[] }) {
  const done = props.steps.filter((s) => s.done).length;
  if (done === props.steps.length) return null;
  return (
    <section
      class="panel getting-started"
      id="getting-started"
      aria-labelledby="getting-started-title"
      hx-get={`/admin/getting-started?seen=${progressKey(props.steps)}`}
      hx-trigger="every 5s"
      hx-swap="outerHTML"
      data-pause-hidden=""
    >
      <div class="row spread">
        <h2 id="getting-started-title">Getting started</h2>
        <span class="muted small" data-progress={`${done}/${props.steps.length}`}>
          {done} of {props.steps.length} done
        </span>
      </div>
      <ol class="checklist">
        {props.steps.map((s) => (
          <li class={s.done ? "done" : "todo"} data-step={s.id} data-done={s.done ? "true" : "false"}>
            <span class="tick" aria-hidden="true">{s.done ? "✓" : ""}</span>
            <div>
              <strong>{s.title}</strong>
              <span class="visually-hidden">{s.done ? " (done)" : " (to do)"}</span>
              <div class="muted small">{s.detail}</div>
              {!s.done && (
                <a class="step-action" href={s.href}>
                  {s.action} →
                </a>
              )}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}

/**
 * The checklist inside its live region on the dashboard, so a step that ticks while the page is open
 * is announced; empty once every step is done when the page loads.
 */
export function GettingStartedRegion(props: { steps: SetupStep[] }) {
  return (
    <div id="getting-started-live" aria-live="polite">
      <GettingStarted steps={props.steps} />
    </div>
  );
}

/** What the poll swaps in for the checklist: the checklist, or once every step is done, one line saying so. */
export function GettingStartedUpdate(props: { steps: SetupStep[] }) {
  if (props.steps.every((s) => s.done)) {
    return <Alert id="getting-started-done" message={{ kind: "ok", text: "You're set up: every step is done." }} />;
  }
  return <GettingStarted steps={props.steps} />;
}
