// Small helpers for the admin's HTML forms and htmx-aware redirects.
import type { Context } from "hono";

/** A form body as plain strings (files and repeated fields are ignored). */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === "string") out[key] = value;
  return out;
}

/** Every value of a repeated form field (checkbox groups), as strings. */
export async function readFormLists(c: Context): Promise<Record<string, string[]>> {
  const body = await c.req.parseBody({ all: true });
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

/** A post-sign-in destination that stays inside the admin (no open redirect to another site). */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith("/admin") || next.startsWith("//") || next.includes("\\")) return "/admin";
  return next;
}
