// The Hono application: middleware order, the route groups, and the one error boundary.
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { AppError } from "../errors.ts";
import type { AppDeps, AppEnv } from "./context.ts";
import { renderError } from "./error-boundary.ts";
import { limitBody } from "./middleware/body-limit.ts";
import { noStore } from "./middleware/no-store.ts";
import { crossOriginProtection } from "./middleware/csrf.ts";
import { requestLog } from "./middleware/request-log.ts";
import { dnsRebindingProtection } from "./middleware/dns-rebinding.ts";
import { pathGuard } from "./middleware/path-guard.ts";
import { requireSession } from "./middleware/session.ts";
import { adminAuthRoutes } from "./routes/admin-auth.ts";
import { adminPageRoutes } from "./routes/admin-pages.ts";
import { adminUserRoutes } from "./routes/admin-users.ts";
import { adminAccountRoutes } from "./routes/admin-account.ts";
import { adminInviteRoutes } from "./routes/admin-invite.ts";
import { adminKeyRoutes } from "./routes/admin-keys.ts";
import { adminConnectionRoutes } from "./routes/admin-connections.ts";
import { adminAgentRoutes } from "./routes/admin-agents.ts";
import { adminAppsRoutes } from "./routes/admin-apps.ts";
import { adminAuditRoutes } from "./routes/admin-audit.ts";
import { adminMonitoringRoutes } from "./routes/admin-monitoring.ts";
import { assetRoutes } from "./routes/assets.ts";
import { healthRoutes } from "./routes/health.ts";
import { apiRoutes } from "./routes/api.ts";
import { mcpSelfRoutes } from "./routes/mcp-self.ts";
import { mcpProxyRoutes } from "./routes/mcp-proxy.ts";
import { wellKnownRoutes } from "./routes/well-known.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { exportResponse } from "./routes/monitoring-export.ts";
import { sessionCaller } from "../operations/registry.ts";
import { countRequests, HttpRequestCounter } from "./middleware/http-metrics.ts";
import { oauthRoutes } from "./oauth/routes.ts";
import { upstreamClientMetadataRoutes } from "./oauth/upstream-client-metadata.ts";

/** Builds the whole HTTP surface over the given dependencies. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const httpRequests = new HttpRequestCounter();

  app.use("*", countRequests(httpRequests));
  app.use("*", requestLog(deps.logger));
  // Before any route: a path with control characters or broken percent-encoding is a 400 here,
  // never a 500 where a route or a header copies it.
  app.use("*", pathGuard());
  app.use("*", limitBody(deps.config.server.max_body_size));
  // The config is final and frozen (a port 0 is resolved before the app is built): read once.
  const publicUrl = deps.config.server.public_url;
  const errorOptions = { logger: deps.logger, publicUrl };
  app.onError((err, c) => renderError(c, err, errorOptions));
  app.notFound((c) => renderError(c, new AppError("NOT_FOUND"), errorOptions));

  app.route("/", healthRoutes(deps));
  app.route("/", metricsRoutes(deps, httpRequests));
  app.route("/", wellKnownRoutes(deps));
  // Every MCP endpoint: refuse foreign Host and Origin headers first (DNS rebinding).
  app.use("/mcp/*", dnsRebindingProtection({ publicUrl }));
  app.use("/mcp-key/*", dnsRebindingProtection({ publicUrl }));
  // Management answers may carry a new key's token (API_KEY_CREATE, API_KEY_ROTATE): never cached.
  app.use("/mcp/self/*", noStore());
  app.use("/api/v1/*", noStore());
  app.route("/mcp/self", mcpSelfRoutes(deps));
  app.route("/mcp", mcpProxyRoutes(deps, { oauth: deps.config.oauth.enabled }));
  // The same endpoints for API keys only, publishing no OAuth discovery (for clients that start a
  // browser sign-in, ignoring their configured Authorization header, whenever OAuth is offered).
  app.route("/mcp-key", mcpProxyRoutes(deps, { oauth: false }));
  app.route("/api/v1", apiRoutes(deps));
  // Switchboard as an OAuth client of its upstreams: its metadata document, whatever [oauth] says.
  app.route("/", upstreamClientMetadataRoutes(deps));
  // The authorization server (absent when [oauth] enabled = false: its paths are 404s).
  const oauth = oauthRoutes(deps);
  if (oauth) {
    // The consent form is posted with the admin's session cookie: the same cross-site refusal as the admin's.
    app.use("/oauth/authorize", crossOriginProtection({ publicUrl }));
    app.route("/oauth", oauth);
  }
  app.get("/", (c) => c.redirect("/admin", 302));
  // The admin's home with a trailing slash (strict routing would 404 it) is the same page.
  app.get("/admin/", (c) => c.redirect("/admin", 301));
  // The setup page carries the one-time setup token.
  app.use("/admin/setup", noStore());
  // An invite's page carries its one-time link.
  app.use("/admin/invite/*", noStore());

  // The admin: strict headers (no framing, scripts only from here), CSRF defence on every state change.
  app.use(
    "/admin/*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        // "Try it" plays audio a tool returned as a data: URL (views/try-it-result.tsx).
        mediaSrc: ["'self'", "data:"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    }),
  );
  app.use("/admin/*", crossOriginProtection({ publicUrl }));
  app.use("/admin", crossOriginProtection({ publicUrl }));
  app.route("/admin/assets", assetRoutes());
  app.route("/admin", adminAuthRoutes(deps));
  // The invitee is not signed in yet: beside sign-in and setup, before the session guard.
  app.route("/admin/invite", adminInviteRoutes(deps));

  const signedIn = new Hono<AppEnv>();
  signedIn.use("*", requireSession(deps));
  signedIn.route("/", adminPageRoutes(deps));
  signedIn.route("/users", adminUserRoutes(deps));
  signedIn.route("/account", adminAccountRoutes(deps));
  signedIn.route("/keys", adminKeyRoutes(deps));
  signedIn.route("/connections", adminConnectionRoutes(deps));
  signedIn.route("/agents", adminAgentRoutes(deps));
  signedIn.route("/apps", adminAppsRoutes(deps));
  signedIn.get("/monitoring/export", (c) => exportResponse(c, deps, sessionCaller(c.get("user"), deps.catalog), "admin"));
  signedIn.route("/monitoring", adminMonitoringRoutes(deps));
  signedIn.route("/audit", adminAuditRoutes(deps));
  app.route("/admin", signedIn);

  return app;
}
