// OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP and API endpoints, where the
// WWW-Authenticate header of a 401 points clients. Bearer tokens go in the header only.
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../context.ts";
import { canonicalPath, rawPathOf } from "../middleware/path-guard.ts";

export function wellKnownRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/.well-known/oauth-protected-resource/*", (c) => {
    // The canonical encoded path, the same the 401's WWW-Authenticate named.
    const resourcePath = canonicalPath(rawPathOf(c.req.url)).slice("/.well-known/oauth-protected-resource".length);
    return c.json({
      resource: `${deps.config.server.public_url}${resourcePath}`,
      bearer_methods_supported: ["header"],
      resource_name: "Switchboard",
      resource_documentation: `${deps.config.server.public_url}/api/v1/openapi.json`,
    });
  });
  return app;
}
