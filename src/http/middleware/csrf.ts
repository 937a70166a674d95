// Cross-site request forgery defence for the cookie-authenticated admin.
// A state-changing request is refused when the browser says it is cross-site (Sec-Fetch-Site) or,
// for browsers that do not send that header, when its Origin is neither this host nor public_url.
// Requests with neither header do not come from a browser, so they carry no ambient cookie risk.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function crossOriginProtection(options: { publicUrl: string }): MiddlewareHandler {
  // The config is final when the app is built (port 0 is resolved before): parsed once.
  const trusted = new URL(options.publicUrl).origin;
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined) {
      if (site === "same-origin" || site === "none") return next();
      throw new AppError("CSRF_REJECTED");
    }
    const origin = c.req.header("origin");
    if (origin === undefined) return next();
    const host = c.req.header("host");
    if (origin === trusted || (host !== undefined && safeHost(origin) === host)) return next();
    throw new AppError("CSRF_REJECTED");
  };
}

function safeHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}
