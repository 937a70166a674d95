// Bearer authentication for /mcp and /api: an API key, or (on an agent's or a connection's endpoint)
// an OAuth access token, in the Authorization header, never elsewhere. Unknown, revoked, expired and
// malformed tokens all get the one same 401.
import type { MiddlewareHandler } from "hono";
import type { Caller } from "../../domain/access/caller.ts";
import { effectivePermissions } from "../../domain/access/permissions.ts";
import { AppError } from "../../errors.ts";
import type { AppDeps, AppEnv } from "../context.ts";

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The one 401 for a token that does not work here: RFC 6750 §3.1 error="invalid_token". */
function invalidToken(): AppError {
  return new AppError("UNAUTHENTICATED", "Missing or invalid bearer token.", { cause: "invalid token" });
}

/**
 * A verifier that cannot reach the database (its change probe or its load failed) cannot tell a
 * revoked credential from a good one: the request is refused for now (503, Retry-After), never
 * answered from a cached permission, and never told its credential is bad (a 401 would make clients
 * throw working tokens away).
 */
export function databaseUnreachable(deps: AppDeps, err: unknown): AppError {
  deps.logger.error("cannot check a credential: the database is unreachable", { error: err });
  return new AppError("UNAVAILABLE", "The database cannot be reached; try again shortly.", { cause: err });
}

/**
 * Requires a valid credential and sets the caller (user, credential, permissions in force now).
 * `oauth`: whether OAuth access tokens are accepted here besides API keys (the management endpoints
 * and the key-only endpoints take keys only; a token there is no token).
 */
export function requireBearer(deps: AppDeps, options: { oauth: boolean } = { oauth: false }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    // RFC 6750 §3.1: error="invalid_token" only when a bearer token was presented; no header, another
    // scheme (Basic) or "Bearer" without a token carry no token to call invalid.
    if (token === undefined) throw new AppError("UNAUTHENTICATED", "Missing or invalid bearer token.", { cause: "no credentials" });
    const caller = await callerOf(deps, token, options.oauth).catch((err: unknown) => {
      throw databaseUnreachable(deps, err);
    });
    if (caller === null) throw invalidToken();
    c.set("caller", caller);
    await next();
  };
}

/** The caller a token stands for, or null when it does not work (here). */
async function callerOf(deps: AppDeps, token: string, oauth: boolean): Promise<Caller | null> {
  const key = await deps.verifyKey(token);
  if (key) {
    deps.lastUsed.record(key.keyId);
    return {
      user: key.owner,
      key: { kind: "api_key", id: key.keyId, permissions: key.permissions, expiresAt: key.expiresAt, audience: null },
      permissions: effectivePermissions(key.permissions, key.owner.role, deps.catalog),
    };
  }
  if (!oauth) return null;
  const access = await deps.oauth.verifyAccessToken(token);
  if (!access) return null;
  deps.oauth.grantLastUsed.record(access.grantId);
  return {
    user: access.user,
    key: { kind: "oauth", id: access.grantId, permissions: access.permissions, expiresAt: access.expiresAt, audience: access.resource },
    // A grant is shaped like a key's permissions and narrowed the same way by its user's role now.
    permissions: effectivePermissions(access.permissions, access.user.role, deps.catalog),
  };
}

/**
 * An OAuth access token is for one agent or connection (its audience, RFC 8707): on any other
 * endpoint, existing or not, it is an invalid token, before anything about the target is told.
 */
export function requireAudience(caller: Caller, targetId: string | undefined): void {
  const audience = caller.key?.audience ?? null;
  if (audience !== null && audience !== targetId) throw invalidToken();
}
