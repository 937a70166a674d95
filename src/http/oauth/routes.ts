// The authorization server's endpoints under /oauth: CORS for the ones browsers' scripts call, strict
// headers for the pages, and nothing at all when [oauth] is off (or no registration when DCR is off).
import type { MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { AppDeps, AppEnv } from "../context.ts";
import { authorizeRoutes, consentPolicy } from "./authorize.ts";
import { registerRoutes } from "./register.ts";
import { revokeRoutes } from "./revoke.ts";
import { tokenRoutes } from "./token.ts";

/** The /oauth routes, or null when the server is no authorization server ([oauth] enabled = false). */
export function oauthRoutes(deps: AppDeps): Hono<AppEnv> | null {
  if (!deps.config.oauth.enabled) return null;
  const app = new Hono<AppEnv>();
  // Browser-based clients call these from their own origin; no cookie is involved (credentials off),
  // so any origin may (the client's identity is its client_id and PKCE, not its origin).
  const api = cors({ origin: "*", allowMethods: ["POST", "OPTIONS"], allowHeaders: ["Content-Type", "Authorization", "MCP-Protocol-Version"], maxAge: 86400 });
  const endpoints = deps.config.oauth.dynamic_registration ? ["/register", "/token", "/revoke"] : ["/token", "/revoke"];
  for (const path of endpoints) app.use(path, api);
  app.use("/authorize", pageHeaders());
  if (deps.config.oauth.dynamic_registration) app.route("/register", registerRoutes(deps));
  app.route("/token", tokenRoutes(deps));
  app.route("/revoke", revokeRoutes(deps));
  app.route("/authorize", authorizeRoutes(deps));
  return app;
}

/**
 * The consent and error pages: never framed (clickjacking an Approve button), never cached (they carry
 * the request), no Referer to whatever they link to. The consent page sets its own policy (its form
 * may lead to the client); every other answer gets the admin's.
 */
function pageHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", consentPolicy(null));
    headers.set("X-Frame-Options", "DENY");
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("Referrer-Policy", "no-referrer");
    headers.set("Cache-Control", "no-store");
  };
}
