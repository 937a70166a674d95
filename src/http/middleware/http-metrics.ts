// Counts HTTP requests by the route pattern that answered and the status, for /metrics. The label is
// the pattern ("/api/v1/connections/:id"), never the raw path: a path is the client's text, and each
// distinct label value is a series a Prometheus server keeps.
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../context.ts";

/** Requests counted since start by route pattern and status. */
export class HttpRequestCounter {
  private readonly counts = new Map<string, { route: string; status: number; count: number }>();

  add(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { route, status, count: 1 });
  }

  series(): { route: string; status: number; count: number }[] {
    return [...this.counts.values()].map((e) => ({ ...e }));
  }
}

/**
 * Counts each request once it is answered (errors included: the boundary has rendered them by then).
 * The route is the pattern of the handler that answered; no handler at all is "unmatched".
 */
export function countRequests(counter: HttpRequestCounter): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      await next();
    } finally {
      const answered = matchedRoutes(c)[c.req.routeIndex];
      // The last to run was a root catch-all (the middleware before any route): nothing served the path.
      const route = answered && answered.path !== "*" && answered.path !== "/*" ? answered.path : "unmatched";
      counter.add(route, c.res.status);
    }
  };
}
