// The dashboard: the state of this Switchboard at a glance.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { BarList, Sparkline, type BarEntry } from "./charts.tsx";
import { AdminLayout } from "./layout.tsx";

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

/** "Healthy" only when no connection is in error; otherwise how many fail, each linked below. */
function Status(props: { health: DashboardHealth }) {
  const failing = props.health.failing.length;
  return failing === 0 ? (
    <div class="value" style="color:var(--ok)" data-status="healthy">Healthy</div>
  ) : (
    <div class="value" style="color:var(--danger)" data-status="failing">{failing} of {props.health.connections} failing</div>
  );
}

function Usage(props: { usage: DashboardUsage }) {
  const u = props.usage;
  if (u === null) return <p class="muted">Usage could not be read; see the server log.</p>;
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

export function DashboardPage(props: { user: User; stats: DashboardStats; health: DashboardHealth; usage: DashboardUsage }) {
  const s = props.stats;
  return (
    <AdminLayout title="Dashboard" user={props.user} active="dashboard">
      <div class="cards">
        <div class="card"><div class="label">Status</div><Status health={props.health} /></div>
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
      <Usage usage={props.usage} />
      <div class="panel">
        <h2 style="margin-top:0">This gateway</h2>
        <dl class="kv">
          <dt>Public URL</dt><dd><code>{s.publicUrl}</code></dd>
          <dt>Health check</dt><dd><a href="/healthz"><code>{s.publicUrl}/healthz</code></a></dd>
          <dt>Signed in as</dt><dd>{props.user.email} ({props.user.role})</dd>
        </dl>
      </div>
    </AdminLayout>
  );
}
