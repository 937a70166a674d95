// POST /oauth/revoke (RFC 7009): a client gives up an access or refresh token. The answer is 200 for
// any well-formed request, whether the token existed or not (§2.2), so it reveals nothing.
import { Hono } from "hono";
import { revokeToken } from "../../domain/oauth/authorizations.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { readOAuthParams, requiredParam } from "./body.ts";

export function revokeRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/", async (c) => {
    const params = await readOAuthParams(c);
    // A token is a bearer credential: whoever holds it may give it up, with or without client_id.
    await revokeToken(deps.db, deps.keys.tokenHmac, requiredParam(params, "token"));
    c.header("Cache-Control", "no-store");
    return c.body(null, 200);
  });
  return app;
}
