// Bearer authentication for /mcp and /api: an API key in the Authorization header, never elsewhere.
// Unknown, revoked, expired and malformed tokens all get the one same 401.
import type { MiddlewareHandler } from "hono";
import { effectivePermissions } from "../../domain/permissions.ts";
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
      throw new AppError("UNAUTHENTICATED", "Missing or invalid bearer token.", { cause: header === undefined ? "no credentials" : "invalid token" });
    }
    c.set("caller", {
      user: verified.owner,
      key: { id: verified.keyId },
      permissions: effectivePermissions(verified.permissions, verified.owner.role, deps.catalog),
    });
    deps.lastUsed.record(verified.keyId);
    await next();
  };
}
