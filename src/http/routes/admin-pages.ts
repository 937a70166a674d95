// Read-only admin pages: the dashboard and the effective settings.
import { Hono } from "hono";
import { renderEffectiveConfig } from "../../config/describe.ts";
import { countActiveSessions, databaseSize } from "../../domain/stats.ts";
import { countUsers } from "../../domain/access/users.ts";
import { VERSION } from "../../version.ts";
import { DashboardPage } from "../../../views/dashboard.tsx";
import { SettingsPage } from "../../../views/settings.tsx";
import type { AppDeps, AppEnv } from "../context.ts";

export function adminPageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", (c) =>
    c.html(
      DashboardPage({
        user: c.get("user"),
        stats: {
          version: VERSION,
          uptimeSeconds: Math.floor((Date.now() - deps.startedAt.getTime()) / 1000),
          users: countUsers(deps.db),
          activeSessions: countActiveSessions(deps.db),
          databaseBytes: databaseSize(deps.config.database.path),
          publicUrl: deps.config.server.public_url,
        },
      }),
    ),
  );

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
