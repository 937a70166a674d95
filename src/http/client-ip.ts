// The client's IP address as the socket reports it (no proxy headers are trusted).
import type { Context } from "hono";
import type { AppEnv } from "./context.ts";

export function clientIp(c: Context<AppEnv>): string {
  return c.env?.requestIP?.(c.req.raw)?.address ?? "unknown";
}
