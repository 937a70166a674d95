// One structured log line per request: method, path (never the query string, which may hold a token), status, duration.
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../logger.ts";
import { rawPathOf } from "./path-guard.ts";

// An invite link's path is its one-time token, a credential: logged as "/admin/invite/…".
const INVITE_TOKEN = /^(\/admin\/invite\/)[^/]+/;

export function requestLog(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    logger.info("request", {
      method: c.req.method,
      // As sent, percent-encoded: a refused path's control or bidi characters never reach the log decoded.
      path: rawPathOf(c.req.url).replace(INVITE_TOKEN, "$1…"),
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    });
  };
}
