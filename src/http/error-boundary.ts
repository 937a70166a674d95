// The one place that turns errors into responses: JSON-RPC for /mcp, JSON for /api and other routes,
// an HTML page or fragment for the admin. Clients see the code and a safe message; the cause goes to
// the log, never a stack trace to the client.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { User } from "../domain/access/users.ts";
import { AppError, OAuthError, toAppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ErrorFragment, ErrorPage } from "../../views/error.tsx";
import { OAuthErrorPage } from "../../views/oauth.tsx";
import { canonicalPath, rawPathOf } from "./middleware/path-guard.ts";

function asAppError(err: unknown): AppError {
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError("PAYLOAD_TOO_LARGE");
    if (err.status === 400) return new AppError("BAD_REQUEST", undefined, { cause: err });
  }
  if (err instanceof SyntaxError) return new AppError("BAD_REQUEST", "The request body is not valid.", { cause: err });
  return toAppError(err);
}

/** The user the session middleware signed in for this request, if it ran and found one. */
function signedInUser(c: Context): User | undefined {
  const user: unknown = c.get("user");
  return typeof user === "object" && user !== null ? (user as User) : undefined;
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * An error on the authorization server's endpoints, as RFC 6749 §5.2 says: `{ error, error_description }`,
 * never cached. Any AppError there is spoken the same way: a 413 or unreadable body is invalid_request.
 */
function renderOAuthError(c: Context, err: unknown, options: { logger: Logger }): Response | Promise<Response> {
  const path = c.req.path;
  let error: string;
  let description: string;
  let status: number;
  if (err instanceof OAuthError) {
    ({ error, message: description, status } = err);
  } else {
    const app = asAppError(err);
    if (app.code === "INTERNAL") options.logger.error("unhandled error", { method: c.req.method, path, error: app.cause ?? err });
    status = app.status;
    description = app.message;
    error = status >= 500 ? "server_error" : status === 429 ? "temporarily_unavailable" : "invalid_request";
  }
  if (under(path, "/oauth/authorize")) return c.html(OAuthErrorPage({ error, description }), status as 400);
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
  if (status === 401) c.header("WWW-Authenticate", `Bearer error="${error}"`);
  return c.json({ error, error_description: description }, status as 400);
}

/** Renders `err` for the client in the form the route speaks. */
export function renderError(c: Context, err: unknown, options: { logger: Logger; publicUrl: string }): Response | Promise<Response> {
  if (under(c.req.path, "/oauth")) return renderOAuthError(c, err, options);
  const error = asAppError(err);
  const path = c.req.path;
  if (error.code === "INTERNAL") options.logger.error("unhandled error", { method: c.req.method, path, error: error.cause ?? err });
  if (under(path, "/admin")) {
    if (c.req.header("hx-request")) return c.html(ErrorFragment({ error }), error.status);
    // A signed-in user (the session middleware put them on the context) keeps the admin around the
    // refusal: their nav, who they are. Before sign-in (or where the session was never read) the bare page.
    return c.html(ErrorPage({ error, user: signedInUser(c) }), error.status);
  }
  // A capacity refusal (BUSY) passes soon: say when to come back.
  if (error.status === 503) c.header("Retry-After", "2");
  // The key-only endpoints (/mcp-key/…) speak MCP but offer no OAuth discovery: a bare challenge.
  const keyOnly = under(path, "/mcp-key");
  const isMcp = keyOnly || under(path, "/mcp");
  if (error.status === 401 && keyOnly) {
    c.header("WWW-Authenticate", error.cause === "invalid token" ? 'Bearer realm="switchboard", error="invalid_token"' : 'Bearer realm="switchboard"');
  } else if (error.status === 401 && (isMcp || under(path, "/api"))) {
    // RFC 9728 / MCP authorization: point the client at the resource metadata; RFC 6750 error code
    // only when a credential was presented (the same for unknown, revoked and expired tokens).
    // Built from the canonical, encoded path: nothing a client puts in the path (a quote, a comma,
    // CR/LF) can end the parameter or add another one.
    const params = [`resource_metadata="${options.publicUrl}/.well-known/oauth-protected-resource${canonicalPath(rawPathOf(c.req.url))}"`];
    if (error.cause === "invalid token") params.unshift('error="invalid_token"');
    c.header("WWW-Authenticate", `Bearer ${params.join(", ")}`);
  }
  if (isMcp) {
    return c.json({ jsonrpc: "2.0", error: { code: -32000, message: error.message, data: { code: error.code } }, id: null }, error.status);
  }
  const body: { error: { code: string; message: string; fields?: Record<string, string> } } = {
    error: { code: error.code, message: error.message },
  };
  if (error.fields) body.error.fields = error.fields;
  return c.json(body, error.status);
}
