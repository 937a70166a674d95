// /api/v1: the management operations as REST/JSON, generated from the registry, plus its OpenAPI document.
import { Hono, type Context } from "hono";
import { AppError } from "../../errors.ts";
import { OPERATIONS } from "../../operations/index.ts";
import { runOperation, type Operation } from "../../operations/registry.ts";
import { requestOrigin } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { requireBearer } from "../middleware/bearer.ts";
import { buildOpenApi } from "./openapi.ts";
import { exportResponse } from "./monitoring-export.ts";

/** The operation's input from path params, the query (GET, DELETE: no body) and a JSON object body (POST, PATCH). */
async function readInput(c: Context<AppEnv>, op: Operation): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = {};
  if (op.rest.method === "POST" || op.rest.method === "PATCH") {
    const text = await c.req.text();
    if (text.trim() !== "") {
      const type = c.req.header("content-type") ?? "";
      if (!/^application\/(.+\+)?json\b/i.test(type)) throw new AppError("UNSUPPORTED_MEDIA_TYPE");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new AppError("BAD_REQUEST", "The request body is not valid JSON.");
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new AppError("BAD_REQUEST", "The request body must be a JSON object.");
      Object.assign(input, body);
    }
  } else {
    // A body here would be ignored, and the operation would run on its defaults instead (a DELETE whose
    // body named what to delete would delete the caller's own): refused, saying where the input goes.
    if ((await c.req.text()).trim() !== "") {
      throw new AppError("BAD_REQUEST", `${op.rest.method} ${op.rest.path} takes its input in the query string (e.g. ?name=value), not in a request body.`);
    }
    Object.assign(input, c.req.query());
  }
  // Path parameters win: the URL names the thing acted on.
  Object.assign(input, c.req.param());
  return input;
}

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Built per request: it names the public URL, which with port 0 is known only once listening.
  app.get("/openapi.json", (c) => c.json(buildOpenApi(OPERATIONS, deps.config.server.public_url)));

  app.use("*", requireBearer(deps));
  // Before the operations: /monitoring/logs/:id would otherwise take "export" for an id.
  app.get("/monitoring/logs/export", (c) => exportResponse(c, deps, c.get("caller"), "api"));
  // Each route serves one operation of any shape: the loop sees them as the common Operation.
  const operations: readonly Operation[] = OPERATIONS;
  for (const op of operations) {
    app.on(op.rest.method, op.rest.path, async (c) => {
      const output = await runOperation(op, { deps, caller: c.get("caller"), now: new Date(), origin: requestOrigin(c, deps.config.server.trusted_proxies, "api") }, await readInput(c, op));
      return c.json(output, op.rest.successStatus ?? 200);
    });
  }
  return app;
}
