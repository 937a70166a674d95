// Bearer authentication for /mcp and /api: an API key in the Authorization header, never elsewhere.
// Unknown, revoked, expired and malformed tokens all get the one same 401.
import type { MiddlewareHandler } from "hono";
import { effectivePermissions } from "../../domain/access/permissions.ts";
import { AppError } from "../../errors.ts";
import type { AppDeps, AppEnv } from "../context.ts";

const BEARER = /^Bearer +([^\s]+) *$/i;

/** Requires a valid API key; sets the caller (user, key, permissions in force now). */
export function requireBearer(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    const verified = token === undefined ? null : deps.verifyKey(token);
    if (!verified) {
      // RFC 6750 §3.1: error="invalid_token" only when a bearer token was presented; no header, another
      // scheme (Basic) or "Bearer" without a token carry no token to call invalid.
      throw new AppError("UNAUTHENTICATED", "Missing or invalid bearer token.", { cause: token === undefined ? "no credentials" : "invalid token" });
    }
    c.set("caller", {
      user: verified.owner,
      key: { id: verified.keyId, permissions: verified.permissions, expiresAt: verified.expiresAt },
      permissions: effectivePermissions(verified.permissions, verified.owner.role, deps.catalog),
    });
    deps.lastUsed.record(verified.keyId);
    await next();
  };
}
