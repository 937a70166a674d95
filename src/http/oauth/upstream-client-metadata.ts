// GET /oauth/upstream/client.json: Switchboard's client ID metadata document, which authorization
// servers of OAuth upstreams fetch to learn who Switchboard is. Served whether or not Switchboard is
// itself an authorization server ([oauth] enabled): it is the client side.
import { Hono } from "hono";
import { CLIENT_METADATA_PATH } from "../../domain/connections/oauth-types.ts";
import { clientMetadataDocument } from "../../gateway/upstream/oauth/client-metadata.ts";
import type { AppDeps, AppEnv } from "../context.ts";

export function upstreamClientMetadataRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Built once: the public URL is final when the app is built.
  const document = clientMetadataDocument(deps.config.server.public_url);
  app.get(CLIENT_METADATA_PATH, (c) => {
    // Public and the same for everyone: servers may cache it a few minutes (a changed public URL shows soon).
    c.header("Cache-Control", "public, max-age=300");
    c.header("X-Content-Type-Options", "nosniff");
    return c.json(document);
  });
  return app;
}
