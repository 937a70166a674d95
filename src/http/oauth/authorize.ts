// GET and POST /oauth/authorize: check the request, send a signed-out browser to sign in, show the
// consent page, and turn the decision into a code (or access_denied) sent back to the client.
import type { Context } from "hono";
import { Hono } from "hono";
import { findSession } from "../../domain/access/sessions.ts";
import type { User } from "../../domain/access/users.ts";
import { issueCode } from "../../domain/oauth/authorizations.ts";
import { AppError, OAuthError } from "../../errors.ts";
import { agentGet } from "../../operations/agents.ts";
import { connectionGet } from "../../operations/connections.ts";
import { ConsentPage, OAuthErrorPage, type ConsentFields } from "../../../views/oauth.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { recordSessionAction } from "../session-audit.ts";
import { readForm } from "../form.ts";
import { runAsUser } from "../form-flow.ts";
import { readSessionToken } from "../middleware/session.ts";
import { clientIp } from "../client-ip.ts";
import { maskSecrets } from "../../domain/monitoring/mask.ts";
import { AddressThrottle } from "./throttle.ts";
import { checkClient, checkParams, checkResource, redirectBack, type CheckedRequest, type ClientPart, type RedirectableError } from "./request.ts";

/**
 * Client metadata documents fetched per client address per hour: each is an outbound request a
 * stranger can ask for (an unknown https client_id), so a flood of made-up ids is bounded; cached
 * documents do not count.
 */
export const METADATA_FETCHES_PER_WINDOW = 60;
const FETCH_WINDOW_MS = 60 * 60_000;

/** How long a code may wait for its exchange: the client exchanges it at once (RFC 6749 §4.1.2: at most 10 minutes). */
export const CODE_TTL_MS = 2 * 60_000;

export function authorizeRoutes(deps: AppDeps, fetches = new AddressThrottle(METADATA_FETCHES_PER_WINDOW, FETCH_WINDOW_MS)): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Each document fetch a request causes counts against its address (an outbound request a stranger can ask for).
  const beforeFetch = (c: Context<AppEnv>) => () => {
    const wait = fetches.take(clientIp(c, deps.config.server.trusted_proxies));
    if (wait > 0) throw new OAuthError("temporarily_unavailable", `Too many client metadata documents were fetched for your address; try again in ${Math.ceil(wait / 60_000)} minute(s).`);
  };
  const issuer = deps.config.server.public_url;

  /**
   * The request checked in the order that keeps it safe: the client and its redirect URI (an error page
   * otherwise: never a redirect to an unproven URI); then, for a signed-in user only, the parameters
   * (their errors go back to the client: RFC 9700 §4.11.2, the user is authenticated first, so a
   * self-registered client cannot bounce strangers off this host to its own site); then the agent or
   * connection, whose absence is an error page too, so that a client learns nothing of what exists.
   */
  const check = async (c: Context<AppEnv>, params: Record<string, string>): Promise<CheckedRequest | Response> => {
    const part = await provenClient(c, deps, params, beforeFetch(c));
    if (part instanceof Response) return part;
    const asked = checkParams(issuer, params, part);
    if ("error" in asked) return sendBack(c, deps, part, asked);
    const checked = await checkResource(deps, asked);
    if ("error" in checked) return errorPage(c, new OAuthError(checked.error, checked.description));
    return checked;
  };

  app.get("/", async (c) => {
    const params = singleParams(new URL(c.req.url).searchParams);
    if (params === null) return errorPage(c, new OAuthError("invalid_request", "A parameter is repeated in the request."));
    const user = await signedInUser(c, deps);
    if (!user) {
      // The client is checked before anyone is sent to sign in (an unknown one is an error page now,
      // not after a sign-in); sign-in returns here (safeNext accepts exactly this path).
      const part = await provenClient(c, deps, params, beforeFetch(c));
      if (part instanceof Response) return part;
      const url = new URL(c.req.url);
      return c.redirect(`/admin/login?next=${encodeURIComponent(`${url.pathname}${url.search}`)}`, 303);
    }
    const checked = await check(c, params);
    if (checked instanceof Response) return checked;
    return consentPage(c, deps, checked, user, params);
  });

  app.post("/", async (c) => {
    const user = await signedInUser(c, deps);
    if (!user) throw new AppError("UNAUTHENTICATED", "Sign in to the admin first, then approve the request again from the application.");
    const form = await readForm(c);
    // Everything the form carries is checked again, as if it were a new request: it is the browser's.
    const checked = await check(c, form);
    if (checked instanceof Response) return checked;
    if (form.decision !== "approve") {
      recordDecision(c, deps, user, checked, "OAUTH_DENY");
      return c.redirect(redirectBack(checked.redirectUri, issuer, checked.state, { error: "access_denied", error_description: "The user denied the request." }), 303);
    }
    let code: string;
    try {
      code = await issueCode(
        deps.db,
        deps.keys.tokenHmac,
        {
          clientId: checked.client.id,
          userId: user.id,
          redirectUri: checked.redirectUri,
          codeChallenge: checked.codeChallenge,
          resource: checked.resource.id,
          resourceUrl: checked.resource.url,
          scope: checked.scope,
        },
        { ttlMs: CODE_TTL_MS },
      );
    } catch (err) {
      // The domain checks again (the resource may have been disabled since the page was shown): its
      // refusal goes back to the client like any other, except a client that is gone (an error page).
      if (err instanceof OAuthError && err.error !== "invalid_client") return sendBack(c, deps, checked, { error: err.error, description: err.message });
      throw err;
    }
    deps.logger.info("oauth request approved", { user: user.id, client: checked.client.id, resource: checked.resource.id });
    recordDecision(c, deps, user, checked, "OAUTH_APPROVE");
    return c.redirect(redirectBack(checked.redirectUri, issuer, checked.state, { code }), 303);
  });

  return app;
}

/**
 * The user's decision in the audit log. Its target is the agent or connection the client asked for: the
 * grant itself is made when the code is exchanged, and a denial makes none.
 */
function recordDecision(c: Context<AppEnv>, deps: AppDeps, user: User, checked: CheckedRequest, action: "OAUTH_APPROVE" | "OAUTH_DENY"): void {
  recordSessionAction(c, deps, {
    userId: user.id,
    action,
    targetId: checked.resource.id,
    change: maskSecrets({
      client_id: checked.client.id,
      client_name: checked.client.name,
      resource: checked.resource.url,
      scope: checked.scope,
      redirect_uri: checked.redirectUri,
    }),
    outcome: "ok",
  });
}

/** Query parameters as single strings, or null when one is repeated (RFC 6749 §3.1 forbids it). */
function singleParams(search: URLSearchParams): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (const [name, value] of search) {
    if (Object.hasOwn(params, name)) return null;
    params[name] = value;
  }
  return params;
}

/** The client and its redirect URI, or the error page refusing them (RFC 6749 §4.1.2.1: never a redirect). */
async function provenClient(c: Context<AppEnv>, deps: AppDeps, params: Record<string, string>, beforeFetch: () => void): Promise<ClientPart | Response> {
  try {
    return await checkClient(deps, params, new Date(), beforeFetch);
  } catch (err) {
    if (err instanceof OAuthError) return errorPage(c, err);
    throw err;
  }
}

/** A refusal sent back to the client's (proven) redirect URI, with its state and our issuer. */
function sendBack(c: Context<AppEnv>, deps: AppDeps, part: ClientPart, refusal: RedirectableError): Response {
  return c.redirect(redirectBack(part.redirectUri, deps.config.server.public_url, part.state, { error: refusal.error, error_description: refusal.description }), 303);
}

/** RFC 6749 §4.1.2.1: an unknown client or redirect URI is shown to the user, never redirected to. */
function errorPage(c: Context<AppEnv>, err: OAuthError): Response | Promise<Response> {
  return c.html(OAuthErrorPage({ error: err.error, description: err.message }), 400);
}

async function signedInUser(c: Context<AppEnv>, deps: AppDeps): Promise<User | null> {
  const token = await readSessionToken(c, deps);
  const found = token ? await findSession(deps.db, { hmacKey: deps.keys.tokenHmac, token }) : null;
  if (!found) return null;
  c.set("user", found.user);
  return found.user;
}

async function consentPage(c: Context<AppEnv>, deps: AppDeps, checked: CheckedRequest, user: User, params: Record<string, string>): Promise<Response> {
  // What the agent or connection exposes, read as the signed-in user through the operation anyone may run.
  const tools =
    checked.resource.kind === "agent"
      ? (await runAsUser(c, deps, agentGet, { id: checked.resource.id })).tools.filter((t) => !t.missing).map((t) => t.name)
      : (await runAsUser(c, deps, connectionGet, { id: checked.resource.id })).offers.tools.map((t) => t.name);
  const redirect = new URL(checked.redirectUri);
  const fields: ConsentFields = {
    client_id: checked.client.id,
    redirect_uri: params.redirect_uri ?? "",
    response_type: "code",
    code_challenge: checked.codeChallenge,
    code_challenge_method: "S256",
    resource: checked.resource.url,
    scope: checked.scope,
    state: checked.state,
  };
  // The approval is a form post answered by a redirect to the client; browsers apply form-action to
  // that redirect, so the client's own origin (or private-use scheme) is allowed besides this one.
  const target = redirect.protocol === "http:" || redirect.protocol === "https:" ? redirect.origin : redirect.protocol;
  c.header("Content-Security-Policy", consentPolicy(target));
  return c.html(
    ConsentPage({
      client: { name: checked.client.name, kind: checked.client.kind, id: checked.client.id },
      redirectHost: redirect.protocol === "http:" || redirect.protocol === "https:" ? redirect.host : redirect.protocol.replace(/:$/, ""),
      resource: checked.resource,
      tools,
      userEmail: user.email,
      fields,
    }),
  );
}

/** The admin's policy (scripts and styles from here only, no framing), with the client as a form target too. */
export function consentPolicy(formTarget: string | null): string {
  const formAction = formTarget === null ? "'self'" : `'self' ${formTarget}`;
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action ${formAction}; base-uri 'self'`;
}
