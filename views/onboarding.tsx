// The dashboard's getting-started checklist: add a connection → build an agent → create a key → connect a
// client, each step ticked from what the viewer's own reads (through the registry) return.
/** @jsxImportSource hono/jsx */
import { mayReachAgent } from "../src/domain/access/permissions.ts";
import { Alert } from "./alert.tsx";

/** What the checklist is decided from: the viewer's own CONNECTION_LIST, AGENT_LIST, API_KEY_LIST, OAUTH_GRANT_LIST and MONITORING_STATS. */
export type SetupFacts = {
  role: "admin" | "member";
  connections: { id: string; slug: string; state: string; tools: number }[];
  agents: { id: string; slug: string; enabled: boolean; tool_count: number; connections: { connection_id: string }[] }[];
  keys: { permissions: Record<string, string[]>; expires_at: string | null; last_used_at: string | null }[];
  grants: { resource: { id: string; kind: "agent" | "connection"; slug: string | null }; last_used_at: string | null }[];
  /** Agents with MCP calls the viewer may see, over the longest window monitoring offers. */
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

/**
 * The steps, in order, for this viewer: admins get all four; members, who neither add connections nor
 * build agents, get the two that are theirs (a key for an agent, a client that uses it).
 */
export function setupSteps(f: SetupFacts): SetupStep[] {
  const now = f.now.getTime();
  const live = f.keys.filter((k) => k.expires_at === null || Date.parse(k.expires_at) > now);
  const reaches = (k: SetupFacts["keys"][number], a: Agent): boolean => mayReachAgent(k.permissions, a.id, a.connections.map((s) => s.connection_id));
  const agentGrants = f.grants.filter((g) => g.resource.kind === "agent" && g.resource.slug !== null);
  const firstReady = f.agents.find(ready);

  const working = f.connections.find(works);
  const broken = f.connections[0];
  const connection: SetupStep = working
    ? { id: "connection", title: "Add a connection", done: true, detail: `"${working.slug}" is connected with ${plural(working.tools, "tool")}.`, href: "", action: "" }
    : broken
      ? { id: "connection", title: "Add a connection", done: false, detail: `"${broken.slug}" is not connected yet (${broken.state}): open it to test it or see its error.`, href: `/admin/connections/${encodeURIComponent(broken.id)}`, action: `Open ${broken.slug}` }
      : { id: "connection", title: "Add a connection", done: false, detail: "Register an upstream MCP server: its tools are what your agents offer.", href: "/admin/connections/new", action: "Add a connection" };

  const empty = f.agents.find((a) => a.enabled && a.tool_count === 0);
  const agent: SetupStep = firstReady
    ? { id: "agent", title: "Build an agent", done: true, detail: `"${firstReady.slug}" exposes ${plural(firstReady.tool_count, "tool")}.`, href: "", action: "" }
    : empty
      ? { id: "agent", title: "Build an agent", done: false, detail: `"${empty.slug}" exposes no tools yet: choose its tools.`, href: `/admin/agents/${encodeURIComponent(empty.id)}/edit`, action: `Edit ${empty.slug}` }
      : { id: "agent", title: "Build an agent", done: false, detail: "Choose the tools one MCP endpoint offers your clients.", href: "/admin/agents/new", action: "Build an agent" };

  // A key (not expired) or an OAuth approval that reaches an agent that still exists.
  const keyed = f.agents.find((a) => live.some((k) => reaches(k, a)) || agentGrants.some((g) => g.resource.id === a.id));
  const forAgent = firstReady ?? f.agents[0];
  const key: SetupStep = keyed
    ? { id: "key", title: "Create a key", done: true, detail: `A key or an authorized app reaches "${keyed.slug}".`, href: "", action: "" }
    : {
        id: "key",
        title: "Create a key",
        done: false,
        detail: forAgent
          ? `Create a key for "${forAgent.slug}" (desktop clients may sign in with OAuth instead).`
          : f.role === "admin"
            ? "Create a key for an agent once one exists."
            : "No agent exists yet: an admin builds them, then you create a key for one.",
        href: forAgent ? `/admin/keys?grant=${encodeURIComponent(forAgent.id)}#create-key` : f.role === "admin" ? "/admin/keys#create-key" : "/admin/agents",
        action: forAgent || f.role === "admin" ? "Create a key" : "See the agents",
      };

  // A client has connected through an agent: a recorded call, or a key made for an agent (or an
  // agent's authorized app) that has been used. The last-used times outlive the usage log's retention.
  const agentKeyUsed = live.some((k) => k.last_used_at !== null && Object.keys(k.permissions).some((r) => f.agents.some((a) => a.id === r)));
  const grantUsed = agentGrants.some((g) => g.last_used_at !== null);
  const called = f.agents.find((a) => f.calledAgents.includes(a.id));
  const target = keyed ?? forAgent;
  const client: SetupStep =
    called || agentKeyUsed || grantUsed
      ? { id: "client", title: "Connect a client", done: true, detail: called ? `A client called "${called.slug}".` : "A client has used a key or an authorized app.", href: "", action: "" }
      : {
          id: "client",
          title: "Connect a client",
          done: false,
          detail: "Paste the agent's configuration into Cursor, Claude Desktop, VS Code or Claude Code, then call a tool.",
          href: target ? `/admin/agents/${encodeURIComponent(target.id)}#client-configs` : "/admin/agents",
          action: target ? `Connect to ${target.slug}` : "See the agents",
        };

  return f.role === "admin" ? [connection, agent, key, client] : [key, client];
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
