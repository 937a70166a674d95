// Read-only admin pages: the dashboard (with its getting-started checklist) and the effective settings.
import { Hono, type Context } from "hono";
import { renderEffectiveConfig } from "../../config/describe.ts";
import { agentList } from "../../operations/agents.ts";
import { apiKeyList } from "../../operations/api-keys.ts";
import { connectionList } from "../../operations/connections.ts";
import { monitoringStats } from "../../operations/monitoring.ts";
import { oauthGrantList } from "../../operations/oauth.ts";
import { serverStats } from "../../operations/stats.ts";
import { DashboardPage, type DashboardUsage } from "../../../views/dashboard.tsx";
import { barEntries } from "../../../views/monitoring.tsx";
import { setupSteps, type SetupFacts } from "../../../views/onboarding.tsx";
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

  /**
   * The agents the viewer's MCP calls reached over the longest window monitoring keeps (members: their
   * own calls, as MONITORING_STATS forces); none when monitoring cannot be read.
   */
  const calledAgents = async (c: Context<AppEnv>, agents: number): Promise<string[]> => {
    if (agents === 0) return [];
    try {
      const month = await runAsUser(c, deps, monitoringStats, { range: "30d", face: "mcp", buckets: 1, top: Math.min(100, agents) });
      return month.top.agents.map((a) => a.id);
    } catch (err) {
      deps.logger.error("the dashboard could not read which agents were called", { error: err });
      return [];
    }
  };

  app.get("/", async (c) => {
    // Through the registry, as the signed-in user: the registry decides who sees the figures, and a
    // member's keys, authorized apps and calls are their own.
    const [stats, { connections }, { agents }, { keys }, { grants }] = await Promise.all([
      runAsUser(c, deps, serverStats, {}),
      runAsUser(c, deps, connectionList, {}),
      runAsUser(c, deps, agentList, {}),
      runAsUser(c, deps, apiKeyList, {}),
      runAsUser(c, deps, oauthGrantList, {}),
    ]);
    const user = c.get("user");
    // The gateway's own state of each connection: "Healthy" only when none is in error.
    const failing = connections.filter((x) => x.status.state === "error").map((x) => ({ id: x.id, slug: x.slug, error: x.status.last_error }));
    const facts: SetupFacts = {
      role: user.role,
      connections: connections.map((x) => ({ id: x.id, slug: x.slug, state: x.status.state, tools: x.discovery.tools })),
      agents,
      keys,
      grants,
      calledAgents: await calledAgents(c, agents.length),
      now: new Date(),
    };
    return c.html(
      DashboardPage({
        user,
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
        agents: agents.map((a) => ({ id: a.id, slug: a.slug, title: a.title, enabled: a.enabled, tool_count: a.tool_count })),
        steps: setupSteps(facts),
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
