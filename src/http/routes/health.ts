// GET /healthz: 200 when the database answers, 503 otherwise. No authentication, no details that leak.
import { Hono } from "hono";
import { ping } from "../../db/client.ts";
import type { AppDeps, AppEnv } from "../context.ts";

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", async (c) => {
    try {
      await ping(deps.db);
      return c.json({ status: "ok" });
    } catch (err) {
      deps.logger.error("health check failed", { error: err });
      return c.json({ status: "unavailable", checks: { database: "failing" } }, 503);
    }
  });
  return app;
}
