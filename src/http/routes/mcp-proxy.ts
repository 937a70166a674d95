// /mcp/:connectionId (or its slug): one connection proxied whole over Streamable HTTP; /mcp/agent/:agent
// an agent. The credential must grant something on the target (or on "*"); what it grants is then
// decided per list and per call by the session. An OAuth access token works only on the endpoint it
// was issued for: anywhere else it is no token at all (401 invalid_token), whatever exists there.
import { Hono, type Context } from "hono";
import type { AddressOf } from "../../gateway/serving.ts";
import { mayReachAgent, mayReachConnection } from "../../domain/access/permissions.ts";
import { AppError } from "../../errors.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { requireAudience, requireBearer } from "../middleware/bearer.ts";
import { clientIp } from "../client-ip.ts";

export function mcpProxyRoutes(deps: AppDeps, options: { oauth: boolean }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const bearer = requireBearer(deps, { oauth: options.oauth });
  // With several replicas, a session held by another one is forwarded there before anything else: the
  // owner authenticates the credential itself (keys and tokens are in the shared database).
  const cluster = deps.cluster;
  if (cluster) {
    app.use("*", async (c, next) => {
      const admission = await cluster.admit(c.req.raw, {
        holds: (id) => deps.gateway.holds?.(id) ?? false,
        client: () => clientIp(c, deps.config.server.trusted_proxies),
      });
      if ("response" in admission) return admission.response;
      c.set("forwardedClient", admission.forwardedClient);
      await next();
    });
  }
  // /mcp/agent/:agent (id or slug): the agent as one MCP server over its connections.
  app.all("/agent/:agent", bearer, async (c) => {
    const caller = c.get("caller");
    const agent = await deps.gateway.agent(c.req.param("agent"));
    requireAudience(caller, agent?.id);
    const reachable = agent
      ? mayReachAgent(caller.permissions, agent.id, agent.connections.map((s) => s.connectionId))
      : mayReachAgent(caller.permissions, c.req.param("agent"), []);
    const address = addressOf(c, deps);
    if (!reachable) {
      // Recorded as refused (a 401 never is: a stranger's requests are not usage).
      await deps.gateway.refused(c.req.raw, { kind: "agent", id: agent?.id ?? null, slug: agent?.slug ?? null }, caller, address, "This key may not use this agent.");
      throw new AppError("FORBIDDEN", "This key may not use this agent.");
    }
    if (!agent || !agent.enabled) throw new AppError("NOT_FOUND", agent ? "This agent is disabled." : "No such agent.");
    return deps.gateway.handleAgent(c.req.raw, agent, { ...caller, key: caller.key! }, address);
  });

  app.all("/:connection", bearer, async (c) => {
    const caller = c.get("caller");
    const runtime = await deps.gateway.runtime(c.req.param("connection"));
    requireAudience(caller, runtime?.spec.id);
    // Without any grant on it, an existing connection and a missing one look the same: 403.
    const address = addressOf(c, deps);
    if (!mayReachConnection(caller.permissions, runtime?.spec.id ?? c.req.param("connection"))) {
      await deps.gateway.refused(c.req.raw, { kind: "connection", id: runtime?.spec.id ?? null, slug: runtime?.spec.slug ?? null }, caller, address, "This key may not use this connection.");
      throw new AppError("FORBIDDEN", "This key may not use this connection.");
    }
    if (!runtime) throw new AppError("NOT_FOUND", "No such connection.");
    return deps.gateway.handle(c.req.raw, runtime, { ...caller, key: caller.key! }, address);
  });
  return app;
}

/** The client's address, read only if a usage record asks for it (and then once). */
function addressOf(c: Context<AppEnv>, deps: AppDeps): AddressOf {
  let address: string | null | undefined;
  // A request another replica forwarded (its signature checked) names the client that replica saw.
  return () => (address ??= c.get("forwardedClient") ?? clientIp(c, deps.config.server.trusted_proxies));
}
