// The browser binding of an upstream authorization (Switchboard as an OAuth client): a random value in a
// cookie set when someone clicks Authorize, whose HMAC the flow keeps, so that only the browser that
// started a flow can finish it (a code and state lured into another browser are refused).
import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { hmacToken } from "../../domain/access/token-format.ts";
import { UPSTREAM_CALLBACK_PATH } from "../../domain/connections/oauth-types.ts";
import type { AppDeps, AppEnv } from "../context.ts";

export const FLOW_COOKIE = "sb_upstream_flow";
/**
 * Sent only to the callback (and nowhere else in the admin), at the path the browser sees it under: the
 * public URL's own path first, when Switchboard is served below one.
 */
function flowCookiePath(deps: AppDeps): string {
  const prefix = new URL(deps.config.server.public_url).pathname.replace(/\/+$/, "");
  return `${prefix}${UPSTREAM_CALLBACK_PATH.slice(0, UPSTREAM_CALLBACK_PATH.lastIndexOf("/") + 1)}`;
}
/** As long as a flow lives (the authorizer keeps a flow 10 minutes). */
const FLOW_COOKIE_MAX_AGE_S = 600;
const BINDING_LABEL = "upstream-flow-binding:";

function bindingHash(deps: AppDeps, value: string): string {
  return hmacToken(deps.keys.tokenHmac, BINDING_LABEL, value);
}

/** A fresh binding: the cookie's random value, and its HMAC (what the flow stores). */
export function newFlowBinding(deps: AppDeps): { value: string; hash: string } {
  const value = randomBytes(32).toString("base64url");
  return { value, hash: bindingHash(deps, value) };
}

/**
 * Sets the binding cookie, once the flow is stored. SameSite=Lax so it comes back on the authorization
 * server's top-level redirect; HttpOnly; Secure behind https. A second flow started in the same browser
 * replaces the cookie: only the latest can finish.
 */
export function setFlowCookie(c: Context<AppEnv>, deps: AppDeps, value: string): void {
  setCookie(c, FLOW_COOKIE, value, {
    path: flowCookiePath(deps),
    httpOnly: true,
    sameSite: "Lax",
    secure: deps.config.server.public_url.startsWith("https:"),
    maxAge: FLOW_COOKIE_MAX_AGE_S,
  });
}

/** The HMAC of the binding cookie the browser presented, or null without one (or an implausible one). */
export function flowCookieHash(c: Context<AppEnv>, deps: AppDeps): string | null {
  const value = getCookie(c, FLOW_COOKIE);
  return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? bindingHash(deps, value) : null;
}

/** Clears the binding cookie: a flow is finished (or refused) once. */
export function clearFlowCookie(c: Context<AppEnv>, deps: AppDeps): void {
  deleteCookie(c, FLOW_COOKIE, { path: flowCookiePath(deps), secure: deps.config.server.public_url.startsWith("https:") });
}
