// The dashboard: the state of this Switchboard at a glance.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { AdminLayout } from "./layout.tsx";

export type DashboardStats = {
  version: string;
  uptimeSeconds: number;
  users: number;
  activeSessions: number;
  databaseBytes: number;
  publicUrl: string;
};

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function DashboardPage(props: { user: User; stats: DashboardStats }) {
  const s = props.stats;
  return (
    <AdminLayout title="Dashboard" user={props.user} active="dashboard">
      <div class="cards">
        <div class="card"><div class="label">Status</div><div class="value" style="color:var(--ok)">Healthy</div></div>
        <div class="card"><div class="label">Uptime</div><div class="value">{formatUptime(s.uptimeSeconds)}</div></div>
        <div class="card"><div class="label">Users</div><div class="value">{s.users}</div></div>
        <div class="card"><div class="label">Active sessions</div><div class="value">{s.activeSessions}</div></div>
        <div class="card"><div class="label">Database</div><div class="value">{formatBytes(s.databaseBytes)}</div></div>
        <div class="card"><div class="label">Version</div><div class="value">{s.version}</div></div>
      </div>
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
