// Read-only admin pages: the dashboard and the effective settings.
import { Hono } from "hono";
import { renderEffectiveConfig } from "../../config/describe.ts";
import { serverStats } from "../../operations/stats.ts";
import { DashboardPage } from "../../../views/dashboard.tsx";
import { SettingsPage } from "../../../views/settings.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { runAsUser } from "../form-flow.ts";

export function adminPageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    // Through the registry, as the signed-in user: the registry decides who sees the figures.
    const stats = await runAsUser(c, deps, serverStats, {});
    return c.html(
      DashboardPage({
        user: c.get("user"),
        stats: {
          version: stats.version,
          uptimeSeconds: stats.uptime_seconds,
          users: stats.users,
          activeSessions: stats.active_sessions,
          databaseBytes: stats.database_bytes,
          publicUrl: stats.public_url,
        },
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
