// Discovery documents: OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP and API endpoints,
// where the WWW-Authenticate header of a 401 points clients, and the Authorization Server Metadata
// (RFC 8414, also served as /.well-known/openid-configuration, which some clients try instead).
// Public, cacheable for a short while, readable from any origin (browser-based clients fetch them).
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { Config } from "../../config/load.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { canonicalPath, rawPathOf } from "../middleware/path-guard.ts";
import { oauthTargetOfPath } from "../oauth/resource-url.ts";
import { SCOPES_SUPPORTED } from "../../domain/oauth/scopes.ts";

const RESOURCE_METADATA = "/.well-known/oauth-protected-resource";

/** The authorization server's metadata: one document for both discovery paths. */
export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const issuer = config.server.public_url;
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    ...(config.oauth.dynamic_registration ? { registration_endpoint: `${issuer}/oauth/register` } : {}),
    revocation_endpoint: `${issuer}/oauth/revoke`,
    scopes_supported: [...SCOPES_SUPPORTED],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    // Public clients only (PKCE, no secret); ChatGPT needs "none" published to use it.
    token_endpoint_auth_methods_supported: ["none"],
    revocation_endpoint_auth_methods_supported: ["none"],
    client_id_metadata_document_supported: config.oauth.client_metadata_documents,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${issuer}/admin`,
  };
}

export function wellKnownRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const publicUrl = deps.config.server.public_url;
  const oauth = deps.config.oauth.enabled;
  app.use("/.well-known/*", cors({ origin: "*", allowMethods: ["GET", "OPTIONS"], maxAge: 86400 }));

  /**
   * The metadata of the resource at `resourcePath` ("" for the server as a whole, RFC 9728 §3.1). Only an
   * agent's or a connection's endpoint takes OAuth tokens; the management endpoints (/mcp/self, /api/v1)
   * take API keys only, so their metadata names no authorization server.
   */
  const resourceMetadata = (resourcePath: string): Record<string, unknown> => {
    const byOAuth = oauth && (resourcePath === "" || oauthTargetOfPath(resourcePath) !== null);
    return {
      resource: `${publicUrl}${resourcePath}`,
      ...(byOAuth ? { authorization_servers: [publicUrl], scopes_supported: [...SCOPES_SUPPORTED] } : {}),
      bearer_methods_supported: ["header"],
      resource_name: "Switchboard",
      resource_documentation: `${publicUrl}/api/v1/openapi.json`,
    };
  };

  app.get(RESOURCE_METADATA, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(resourceMetadata(""));
  });
  app.get(`${RESOURCE_METADATA}/*`, (c) => {
    // The canonical encoded path, the same the 401's WWW-Authenticate named.
    const resourcePath = canonicalPath(rawPathOf(c.req.url)).slice(RESOURCE_METADATA.length);
    // The key-only endpoints publish no discovery at all: that is their point (a client that sees
    // OAuth offered may ignore the header it was configured with).
    if (resourcePath === "/mcp-key" || resourcePath.startsWith("/mcp-key/")) return c.notFound();
    c.header("Cache-Control", "public, max-age=300");
    return c.json(resourceMetadata(resourcePath));
  });

  if (oauth) {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      app.get(path, (c) => {
        c.header("Cache-Control", "public, max-age=300");
        return c.json(authorizationServerMetadata(deps.config));
      });
    }
  }
  return app;
}
