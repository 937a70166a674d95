// The dashboard: the state of this Switchboard at a glance.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { BarList, Sparkline, type BarEntry } from "./charts.tsx";
import { AdminLayout } from "./layout.tsx";
import { GettingStartedRegion, type SetupStep } from "./onboarding.tsx";

export type DashboardStats = {
  version: string;
  uptimeSeconds: number;
  users: number;
  /** Admin sign-ins not yet expired. */
  activeSessions: number;
  /** MCP sessions open on connections and agents. */
  mcpSessions: number;
  databaseBytes: number;
  publicUrl: string;
};

/** What the gateway says of its connections: those in error, with their last error. */
export type DashboardHealth = { connections: number; failing: { id: string; slug: string; error: string | null }[] };

/** The agents as the viewer may list them: an enabled agent exposing no tools is a warning, never healthy. */
export type DashboardAgent = { id: string; slug: string; title: string; enabled: boolean; tool_count: number };

/** The last 24 hours of calls the viewer may see (members: their own), or null if monitoring could not be read. */
export type DashboardUsage = { calls: number; errors: number; series: number[]; errorSeries: number[]; agents: BarEntry[] } | null;

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * "Healthy" only when no connection is in error and no enabled agent exposes nothing; with no
 * connection at all there is nothing to be healthy yet.
 */
function Status(props: { health: DashboardHealth; emptyAgents: number }) {
  const failing = props.health.failing.length;
  if (failing > 0) return <div class="value status-failing" data-status="failing">{failing} of {props.health.connections} failing</div>;
  if (props.emptyAgents > 0) return <div class="value status-warning" data-status="warning">{props.emptyAgents === 1 ? "1 warning" : `${props.emptyAgents} warnings`}</div>;
  if (props.health.connections === 0) return <div class="value status-empty" data-status="empty">No connections</div>;
  return <div class="value status-ok" data-status="healthy">Healthy</div>;
}

/** Each agent with what it exposes: a tick for one that serves tools, a warning (linked) for an enabled one that serves none. */
function AgentHealth(props: { agents: DashboardAgent[]; admin: boolean }) {
  if (props.agents.length === 0) {
    return (
      <div class="panel empty-state" data-empty="agents">
        <h2>Agents</h2>
        <p>No agents yet. An agent is one MCP endpoint exposing the tools chosen for it from your connections; clients connect to agents.</p>
        {props.admin ? <a class="button" href="/admin/agents/new">Build an agent</a> : <p class="muted small">An admin builds agents; once one exists you can create a key for it.</p>}
      </div>
    );
  }
  return (
    <div class="panel">
      <h2>Agents</h2>
      <ul class="agent-health">
        {props.agents.map((a) => {
          const href = `/admin/agents/${encodeURIComponent(a.id)}`;
          if (!a.enabled) {
            return (
              <li data-agent={a.id} data-health="disabled">
                <span class="mark" aria-hidden="true">–</span> <a href={href}>{a.slug}</a> <span class="muted">disabled</span>
              </li>
            );
          }
          if (a.tool_count === 0) {
            return (
              <li data-agent={a.id} data-health="warning" class="warning">
                <span class="mark" aria-hidden="true">!</span> <a href={href}>{a.slug}</a> <strong>Warning: exposes no tools</strong>
                <span class="muted"> — clients that connect see nothing; choose its tools.</span>
              </li>
            );
          }
          return (
            <li data-agent={a.id} data-health="ok">
              <span class="mark ok" aria-hidden="true">✓</span> <a href={href}>{a.slug}</a> <span class="muted">{a.tool_count === 1 ? "1 tool" : `${a.tool_count} tools`}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** With no connection, what one is and where to add it (members are told who adds them). */
function NoConnections(props: { admin: boolean }) {
  return (
    <div class="panel empty-state" data-empty="connections">
      <h2>Connections</h2>
      <p>No connections yet. A connection is an upstream MCP server (a URL, or a command Switchboard runs); agents take their tools from connections.</p>
      {props.admin ? <a class="button" href="/admin/connections/new">Add a connection</a> : <p class="muted small">An admin adds connections.</p>}
    </div>
  );
}

function Usage(props: { usage: DashboardUsage }) {
  const u = props.usage;
  if (u === null) return <p class="muted">Usage could not be read; see the server log.</p>;
  if (u.calls === 0) {
    return (
      <div class="panel empty-state" data-empty="usage">
        <h2>Usage</h2>
        <p>No MCP calls in the last 24 hours. Once a client connects to an agent with a key (or signs in with OAuth), its calls and errors show here.</p>
        <p class="small">
          <a href="/admin/agents">Agents and their client configurations →</a> · <a href="/admin/monitoring">Monitoring →</a>
        </p>
      </div>
    );
  }
  return (
    <div class="charts">
      <div class="panel usage">
        <div class="row spread">
          <div><div class="muted small">MCP calls, last 24 h</div><div class="value" data-figure="calls">{u.calls}</div></div>
          <Sparkline label="Calls per hour, last 24 h" values={u.series} />
        </div>
        <div class="row spread">
          <div><div class="muted small">MCP errors, last 24 h</div><div class="value" data-figure="errors">{u.errors}</div></div>
          <Sparkline label="Errors per hour, last 24 h" values={u.errorSeries} tone="errors" />
        </div>
        <p class="small"><a href={"/admin/monitoring?range=24h&face=mcp"}>Monitoring →</a></p>
      </div>
      <BarList title="Busiest agents, last 24 h" entries={u.agents} empty="No agent was called in the last 24 h." />
    </div>
  );
}

/** The dashboard: the getting-started checklist until it is done, health, usage and this gateway's figures. */
export function DashboardPage(props: { user: User; stats: DashboardStats; health: DashboardHealth; usage: DashboardUsage; agents: DashboardAgent[]; steps: SetupStep[] }) {
  const s = props.stats;
  const admin = props.user.role === "admin";
  const emptyAgents = props.agents.filter((a) => a.enabled && a.tool_count === 0);
  return (
    <AdminLayout title="Dashboard" user={props.user} active="dashboard">
      <div class="dashboard">
      <GettingStartedRegion steps={props.steps} />
      <div class="cards">
        <div class="card"><div class="label">Status</div><Status health={props.health} emptyAgents={emptyAgents.length} /></div>
        <div class="card"><div class="label">Uptime</div><div class="value">{formatUptime(s.uptimeSeconds)}</div></div>
        <div class="card"><div class="label">Users</div><div class="value">{s.users}</div></div>
        <div class="card"><div class="label">MCP sessions</div><div class="value" data-figure="mcp-sessions">{s.mcpSessions}</div></div>
        <div class="card"><div class="label">Admin sign-ins</div><div class="value">{s.activeSessions}</div></div>
        <div class="card"><div class="label">Database</div><div class="value">{formatBytes(s.databaseBytes)}</div></div>
        <div class="card"><div class="label">Version</div><div class="value">{s.version}</div></div>
      </div>
      {props.health.failing.length > 0 && (
        <div class="alert error" role="alert">
          <strong>Connections in error</strong>
          <ul>
            {props.health.failing.map((f) => (
              <li data-failing={f.id}><a href={`/admin/connections/${encodeURIComponent(f.id)}`}>{f.slug}</a>{f.error && <span>: {f.error}</span>}</li>
            ))}
          </ul>
        </div>
      )}
      {emptyAgents.length > 0 && (
        <div class="alert warning" role="status" data-warning="empty-agents">
          <strong>{emptyAgents.length === 1 ? "An agent exposes no tools" : "Agents expose no tools"}</strong>
          <ul>
            {emptyAgents.map((a) => (
              <li data-empty-agent={a.id}><a href={`/admin/agents/${encodeURIComponent(a.id)}`}>{a.slug}</a>: enabled, but clients see no tools</li>
            ))}
          </ul>
        </div>
      )}
      {props.health.connections === 0 && <NoConnections admin={admin} />}
      <Usage usage={props.usage} />
      <AgentHealth agents={props.agents} admin={admin} />
      <div class="panel">
        <h2>This gateway</h2>
        <dl class="kv">
          <dt>Public URL</dt><dd><code>{s.publicUrl}</code></dd>
          <dt>Health check</dt><dd><a href="/healthz"><code>{s.publicUrl}/healthz</code></a></dd>
          <dt>Signed in as</dt><dd>{props.user.email} ({props.user.role})</dd>
        </dl>
      </div>
      </div>
    </AdminLayout>
  );
}
