// GET /oauth/upstream/callback: where an upstream's authorization server sends the browser back after
// someone authorized Switchboard there. A signed-out browser signs in first and comes back; then the
// authorizer finishes the flow (state, this browser's binding cookie, the same user, the issuer, the code
// exchange); the admin page it started from says "Connected as …", or a page says why not.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { findSession } from "../../domain/access/sessions.ts";
import type { User } from "../../domain/access/users.ts";
import { AuthorizationFailedPage, type BackLink } from "../../../views/connected-accounts.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { readSessionToken } from "../middleware/session.ts";
import { databaseUnreachable } from "../middleware/bearer.ts";
import { ACCOUNTS, backTo, type Origin } from "../routes/admin-connection-oauth.ts";
import { recordSessionAction } from "../session-audit.ts";
import { clearFlowCookie, flowCookieHash } from "./upstream-flow-cookie.ts";

const PARAMS = ["state", "code", "error", "error_description", "iss"] as const;
/** How long the callback waits for the discovery an authorization made possible before sending the browser back. */
const DISCOVERY_WAIT_MS = 5_000;

/**
 * The page carries a code and a state in its URL: never cached, never framed, no Referer to anything it
 * links to; scripts and styles only from here, as in the admin.
 */
function pageHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    headers.set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'");
    headers.set("X-Frame-Options", "DENY");
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("Referrer-Policy", "no-referrer");
    headers.set("Cache-Control", "no-store");
  };
}

async function signedInUser(c: Context<AppEnv>, deps: AppDeps): Promise<User | null> {
  const token = await readSessionToken(c, deps);
  const found = token
    ? await findSession(deps.db, { hmacKey: deps.keys.tokenHmac, token }).catch((err: unknown) => {
        throw databaseUnreachable(deps, err);
      })
    : null;
  if (!found) return null;
  c.set("user", found.user);
  return found.user;
}

/**
 * The link just stored may be what the connection's discovery lacked (a shared account, or the first admin
 * of a per-user connection): discover now, so the page the browser returns to lists the tools. The page
 * polls only a connection that is connecting, never one waiting for an authorization, and the status'
 * own re-check is throttled: without this, the tools showed only after a later reload. A slow upstream
 * goes on in the background (the page then polls it as "connecting").
 */
async function discoverIfWaiting(deps: AppDeps, connectionId: string): Promise<void> {
  // The authorization is stored: a status that cannot be read now leaves discovery to the page's own re-check.
  const status = await deps.gateway.status(connectionId).catch(() => null);
  if (status?.state !== "needs_authorization") return;
  const discovery = deps.gateway.refresh(connectionId).catch((err: unknown) => deps.logger.warn("discovery after an authorization failed", { connection: connectionId, error: err }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([discovery, new Promise((resolve) => (timer = setTimeout(resolve, DISCOVERY_WAIT_MS)))]);
  clearTimeout(timer);
}

/**
 * Where a finished flow returns: the page it was started from, which the flow stored (a connection's
 * page or Connected accounts). Checked again here: a redirect never goes anywhere else.
 */
function originOf(returnTo: string | null, connectionId: string | null): Origin | null {
  if (connectionId === null) return null;
  // The connection's page, by id or by the slug it was started from: either way back to the flow's own connection.
  if (returnTo !== null && /^\/admin\/connections\/[^/?#]+$/.test(returnTo)) return { kind: "connection", id: connectionId };
  if (returnTo === ACCOUNTS) return { kind: "accounts", id: connectionId };
  return null;
}

function backLink(origin: Origin | null): BackLink {
  return origin?.kind === "connection"
    ? { href: `/admin/connections/${encodeURIComponent(origin.id)}#oauth`, label: "Back to the connection" }
    : { href: origin ? `${ACCOUNTS}#${encodeURIComponent(origin.id)}` : ACCOUNTS, label: "Back to Connected accounts" };
}

export function upstreamCallbackRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", pageHeaders());

  app.get("/", async (c) => {
    const url = new URL(c.req.url);
    const user = await signedInUser(c, deps);
    // Sign in, then come back here with the same query (safeNext accepts exactly this path).
    if (!user) return c.redirect(`/admin/login?next=${encodeURIComponent(`${url.pathname}${url.search}`)}`, 303);

    const fail = (message: string, origin: Origin | null) => c.html(AuthorizationFailedPage({ viewer: user, message, back: backLink(origin) }), 400);
    const bindingHash = flowCookieHash(c, deps);
    // The cookie serves one callback, whatever its outcome.
    clearFlowCookie(c, deps);
    if (PARAMS.some((name) => url.searchParams.getAll(name).length > 1)) return fail("The authorization server's answer repeats a parameter; it was not accepted.", null);
    const param = (name: (typeof PARAMS)[number]) => url.searchParams.get(name);

    const result = await deps.upstreamAuth.finish({
      state: param("state"),
      code: param("code"),
      error: param("error"),
      iss: param("iss"),
      userId: user.id,
      bindingHash,
    });
    const origin = originOf(result.returnTo, result.connectionId);
    // An authorization is a change (a shared account is what every caller then acts as): audited like a
    // consent, with whose link and the account, never a token. A refusal with no flow found names nothing.
    if (result.connectionId !== null) {
      recordSessionAction(c, deps, {
        userId: user.id,
        action: "CONNECTION_OAUTH_CONNECT",
        targetId: result.connectionId,
        change: result.ok ? { subject: result.subject, account: result.account } : { message: result.message },
        outcome: result.ok ? "ok" : "refused",
      });
    }
    if (!result.ok) return fail(result.message, origin);
    await discoverIfWaiting(deps, result.connectionId);
    // A fixed flag: the page reads "connected as …" from the link it now finds, never from this URL.
    return c.redirect(origin ? backTo(origin, "connected") : ACCOUNTS, 303);
  });

  return app;
}
