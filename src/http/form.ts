// Small helpers for the admin's HTML forms and htmx-aware redirects.
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import { UPSTREAM_CALLBACK_PATH } from "../domain/connections/oauth-types.ts";

/**
 * The parsed form body. A malformed one (a multipart body without its boundary, say) is the
 * client's mistake: 400, not the 500 the parser's TypeError would become.
 */
async function parseFormBody(c: Context, options: { all: boolean }): Promise<Record<string, unknown>> {
  try {
    return await c.req.parseBody(options);
  } catch (err) {
    throw new AppError("BAD_REQUEST", "The form body is not valid.", { cause: err });
  }
}

/** A form body as plain strings (files and repeated fields are ignored). */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await parseFormBody(c, { all: false });
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === "string") out[key] = value;
  return out;
}

/** Every value of a repeated form field (checkbox groups), as strings. */
export async function readFormLists(c: Context): Promise<Record<string, string[]>> {
  const body = await parseFormBody(c, { all: true });
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(body)) {
    out[key] = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
  }
  return out;
}

/** True for requests made by htmx (which then expect a fragment, not a page). */
export function isHtmx(c: Context): boolean {
  return c.req.header("hx-request") === "true";
}

/** After a successful POST: a 303 for plain browsers, HX-Redirect for htmx (a full page load). */
export function redirectAfterPost(c: Context, location: string): Response {
  if (isHtmx(c)) {
    c.header("HX-Redirect", location);
    return c.body(null, 200);
  }
  return c.redirect(location, 303);
}

/**
 * A post-sign-in destination that stays inside the admin, the OAuth authorization request that sent
 * the browser to sign in, or an upstream's OAuth callback (no open redirect to another site). Control characters are refused too: a
 * CR/LF cannot go into a Location header and would turn sign-in into a 500.
 */
export function safeNext(next: string | undefined): string {
  if (!next || next.startsWith("//") || next.includes("\\") || /[\u0000-\u001f\u007f]/.test(next)) return "/admin";
  if (!next.startsWith("/admin") && !next.startsWith("/oauth/authorize?") && !next.startsWith(`${UPSTREAM_CALLBACK_PATH}?`)) return "/admin";
  return next;
}
