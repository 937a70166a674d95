// Read-only admin pages: the dashboard (with its getting-started checklist) and the effective settings.
import { Hono, type Context } from "hono";
import { renderEffectiveConfig } from "../../config/describe.ts";
import type { AgentView } from "../../operations/agent-shapes.ts";
import { agentList } from "../../operations/agents.ts";
import { apiKeyList } from "../../operations/api-keys.ts";
import type { ConnectionSummaryView } from "../../operations/connection-shapes.ts";
import { connectionList } from "../../operations/connections.ts";
import { monitoringStats } from "../../operations/monitoring.ts";
import { oauthGrantList } from "../../operations/oauth.ts";
import { serverStats } from "../../operations/stats.ts";
import { DashboardPage, type DashboardUsage } from "../../../views/dashboard.tsx";
import { barEntries } from "../../../views/monitoring.tsx";
import { GettingStartedUpdate, progressKey, setupSteps, type SetupFacts } from "../../../views/onboarding.tsx";
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
   * The agents the viewer's MCP calls reached and were answered by (a refused call is no working
   * client) over the longest window monitoring offers (members: their own calls, as MONITORING_STATS
   * forces); none when monitoring cannot be read.
   */
  const calledAgents = async (c: Context<AppEnv>, agents: number): Promise<string[]> => {
    if (agents === 0) return [];
    try {
      const month = await runAsUser(c, deps, monitoringStats, { range: "30d", face: "mcp", outcome: "ok", buckets: 1, top: Math.min(100, agents) });
      return month.top.agents.map((a) => a.id);
    } catch (err) {
      deps.logger.error("the dashboard could not read which agents were called", { error: err });
      return [];
    }
  };

  /**
   * What the checklist is decided from, read through the registry as the signed-in user: a member's
   * keys, authorized apps and calls are their own.
   */
  const setupFacts = async (c: Context<AppEnv>, connections: ConnectionSummaryView[], agents: AgentView[]): Promise<SetupFacts> => {
    const [{ keys }, { grants }, called] = await Promise.all([
      runAsUser(c, deps, apiKeyList, {}),
      runAsUser(c, deps, oauthGrantList, {}),
      calledAgents(c, agents.length),
    ]);
    return {
      role: c.get("user").role,
      connections: connections.map((x) => ({ id: x.id, slug: x.slug, state: x.status.state, tools: x.discovery.tools })),
      agents,
      keys,
      grants,
      calledAgents: called,
      now: new Date(),
    };
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
        agents: agents.map((a) => ({ id: a.id, slug: a.slug, title: a.title, enabled: a.enabled, tool_count: a.tool_count })),
        steps: setupSteps(await setupFacts(c, connections, agents)),
      }),
    );
  });

  /**
   * The checklist alone, for the dashboard's poll (htmx): 204 while nothing changed since the state the
   * page shows (`seen`), so nothing is swapped or announced again; the new checklist when a step
   * changed; a one-line "set up" once every step is done (no poll after it). Outside htmx: the dashboard.
   */
  app.get("/getting-started", async (c) => {
    if (!c.req.header("hx-request")) return c.redirect("/admin", 303);
    const [{ connections }, { agents }] = await Promise.all([runAsUser(c, deps, connectionList, {}), runAsUser(c, deps, agentList, {})]);
    const steps = setupSteps(await setupFacts(c, connections, agents));
    if (c.req.query("seen") === progressKey(steps)) return c.body(null, 204);
    return c.html(GettingStartedUpdate({ steps }));
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
