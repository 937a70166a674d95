// Cache-Control: no-store for answers that may carry a secret (a new API key token, the setup link's
// token): no browser, proxy or back-button cache may keep a copy.
import type { MiddlewareHandler } from "hono";

/** Marks every response that passes through as not to be stored. */
export function noStore(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    try {
      c.res.headers.set("Cache-Control", "no-store");
    } catch {
      // Some responses (e.g. ones passed through from fetch) have immutable headers: copy them.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set("Cache-Control", "no-store");
    }
  };
}
