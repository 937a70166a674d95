// DNS-rebinding protection for the MCP endpoints (MCP spec, Streamable HTTP "Security Warning"):
// the Host must be this gateway's public host or a loopback name, and a browser's Origin, when
// sent, must be the public origin or a loopback origin. Anything else is refused before any work.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.ts";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function hostname(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
}

export function dnsRebindingProtection(options: { publicUrl: string }): MiddlewareHandler {
  // The config is final when the app is built (port 0 is resolved before): parsed once.
  const publicUrl = new URL(options.publicUrl);
  return async (c, next) => {
    const host = c.req.header("host");
    if (host !== undefined && host !== publicUrl.host && !LOOPBACK.has(hostname(host).toLowerCase())) {
      throw new AppError("FORBIDDEN", "This host name is not served here.");
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== publicUrl.origin) {
      let allowed = false;
      try {
        allowed = LOOPBACK.has(new URL(origin).hostname) || LOOPBACK.has(`[${new URL(origin).hostname}]`);
      } catch {
        allowed = false;
      }
      if (!allowed) throw new AppError("FORBIDDEN", "Cross-origin requests are not allowed.");
    }
    await next();
  };
}
