// Admin sessions: reads the signed session cookie, loads the user, and guards admin-only routes.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { findSession } from "../../domain/access/sessions.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { databaseUnreachable } from "./bearer.ts";

export const SESSION_COOKIE = "sb_session";

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure when public_url is https. */
export async function setSessionCookie(c: Context<AppEnv>, deps: AppDeps, token: string): Promise<void> {
  await setSignedCookie(c, SESSION_COOKIE, token, deps.keys.cookie, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: deps.config.server.public_url.startsWith("https:"),
    maxAge: Math.floor(deps.config.security.session_ttl / 1000),
  });
}

export function clearSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}

/** The session token from a correctly signed cookie, or null (a forged cookie reads as none). */
export async function readSessionToken(c: Context<AppEnv>, deps: AppDeps): Promise<string | null> {
  const value = await getSignedCookie(c, deps.keys.cookie, SESSION_COOKIE);
  return typeof value === "string" && value.length > 0 ? value : null;
}

/** Requires a signed-in user; a browser without one is sent to the sign-in page. */
export function requireSession(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = await readSessionToken(c, deps);
    const found = token
      ? await findSession(deps.db, { hmacKey: deps.keys.tokenHmac, token }).catch((err: unknown) => {
          throw databaseUnreachable(deps, err);
        })
      : null;
    if (!found || !token) {
      if (token) clearSessionCookie(c);
      const next_ = c.req.method === "GET" ? c.req.path : "/admin";
      // A correctly signed cookie whose session is gone (signed out elsewhere, expired, removed): the
      // sign-in page says the session ended rather than greeting the user as if they had never signed in.
      const target = `/admin/login?${token ? "session=ended&" : ""}next=${encodeURIComponent(next_)}`;
      if (c.req.header("hx-request")) {
        c.header("HX-Redirect", target);
        return c.body(null, 401);
      }
      return c.redirect(target, 303);
    }
    c.set("user", found.user);
    c.set("sessionToken", token);
    await next();
  };
}
