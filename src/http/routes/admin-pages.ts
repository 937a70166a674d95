// Read-only admin pages: the dashboard and the effective settings.
import { Hono, type Context } from "hono";
import { renderEffectiveConfig } from "../../config/describe.ts";
import { agentList } from "../../operations/agents.ts";
import { connectionList } from "../../operations/connections.ts";
import { monitoringStats } from "../../operations/monitoring.ts";
import { serverStats } from "../../operations/stats.ts";
import { DashboardPage, type DashboardUsage } from "../../../views/dashboard.tsx";
import { barEntries } from "../../../views/monitoring.tsx";
import { SettingsPage } from "../../../views/settings.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { runAsUser } from "../form-flow.ts";

export function adminPageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /**
   * MCP calls of the last 24 hours in hourly buckets, and the busiest agents; monitoring failing never
   * takes the dashboard down. MCP only: the admin's own reads (this page's among them) are recorded too.
   */
  const usage = async (c: Context<AppEnv>, agents: { id: string; label: string }[]): Promise<DashboardUsage> => {
    try {
      const day = await runAsUser(c, deps, monitoringStats, { range: "24h", face: "mcp", buckets: 24, top: 5 });
      return {
        calls: day.totals.calls,
        errors: day.totals.errors,
        series: day.series.map((b) => b.calls),
        errorSeries: day.series.map((b) => b.errors),
        agents: barEntries(day.top.agents, agents, (id) => `/admin/agents/${encodeURIComponent(id)}`),
      };
    } catch (err) {
      deps.logger.error("the dashboard could not read usage", { error: err });
      return null;
    }
  };

  app.get("/", async (c) => {
    // Through the registry, as the signed-in user: the registry decides who sees the figures.
    const [stats, { connections }, { agents }] = await Promise.all([
      runAsUser(c, deps, serverStats, {}),
      runAsUser(c, deps, connectionList, {}),
      runAsUser(c, deps, agentList, {}),
    ]);
    // The gateway's own state of each connection: "Healthy" only when none is in error.
    const failing = connections.filter((x) => x.status.state === "error").map((x) => ({ id: x.id, slug: x.slug, error: x.status.last_error }));
    return c.html(
      DashboardPage({
        user: c.get("user"),
        stats: {
          version: stats.version,
          uptimeSeconds: stats.uptime_seconds,
          users: stats.users,
          activeSessions: stats.active_sessions,
          mcpSessions: stats.mcp_sessions,
          databaseBytes: stats.database_bytes,
          publicUrl: stats.public_url,
        },
        health: { connections: connections.length, failing },
        usage: await usage(c, agents.map((a) => ({ id: a.id, label: a.slug }))),
      }),
    );
  });

  app.get("/settings", (c) =>
    c.html(
      SettingsPage({
        user: c.get("user"),
        configSource: deps.config.source,
        effectiveToml: renderEffectiveConfig(deps.config, { secretSource: deps.secretSource }),
      }),
    ),
  );

  return app;
}
