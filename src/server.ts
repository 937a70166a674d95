// Starting and stopping the gateway: the store (config → secret → database), the listening socket,
// then the gateway and the app over the final config (composition in compose.ts), and graceful shutdown.
import type { Hono } from "hono";
import { buildAppDeps, buildCluster, buildGateway, buildUsage, openStore, StartupError, type BuildOptions } from "./compose.ts";
import { withPublicUrl, type Config } from "./config/load.ts";
import { describePostgresUrl } from "./db/client.ts";
import { listConnectionSummaries } from "./domain/connections/connections.ts";
import { purgeExpiredSessions } from "./domain/access/sessions.ts";
import { pruneOAuth } from "./domain/oauth/authorizations.ts";
import { upstreamOAuthStore } from "./domain/connections/upstream-oauth.ts";
import { connectionStore } from "./operations/connections.ts";
import { pruneAudit } from "./domain/monitoring/audit.ts";
import { pruneUsage } from "./domain/monitoring/usage.ts";
import { countUsers } from "./domain/access/users.ts";
import { createApp } from "./http/app.ts";
import type { AppDeps, AppEnv } from "./http/context.ts";
import type { Logger } from "./logger.ts";

export { StartupError };

export type RunningServer = {
  url: string;
  port: number;
  deps: AppDeps;
  /** Stops accepting, waits for in-flight requests (up to shutdown_timeout), then closes the database. */
  stop: () => Promise<void>;
};

/** Starts serving and resolves once the socket listens (the store opened and the config's connections and agents applied first). */
export async function startServer(
  config: Config,
  logger: Logger,
  options: { announceSetupUrl?: (url: string) => void } & BuildOptions = {},
): Promise<RunningServer> {
  const store = await openStore(config, logger);
  const { handle } = store;
  // The socket is bound first: with port 0 the OS picks the port, and the config the app is built
  // over must already name it.
  let app: Hono<AppEnv> | null = null;
  let server: BunServer;
  try {
    server = listen(config, () => app);
  } catch (err) {
    await handle.close();
    throw err;
  }
  const port = server.port ?? config.server.port;
  const url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${port}`;
  const final = withListeningUrl(config, url);
  let gateway: ReturnType<typeof buildGateway>;
  let deps: AppDeps;
  try {
    // One usage pipeline for the gateway and the app: /metrics counts what the gateway records, and
    // shutdown flushes it.
    const usage = buildUsage(final, logger, store.handle.db);
    const cluster = buildCluster(final, logger, store, url);
    gateway = buildGateway(final, logger, store, usage.sink, cluster);
    deps = buildAppDeps(final, logger, store, gateway, { passwordCost: options.passwordCost, allowLoopbackClientMetadataForTests: options.allowLoopbackClientMetadataForTests, usage, cluster });
    app = createApp(deps);
  } catch (err) {
    server.stop(true);
    await handle.close();
    throw err;
  }

  // Registered (and heartbeating) in the background: what needs the row (a session's record, a lookup) waits for it.
  deps.cluster?.start().catch((err: unknown) => logger.error("cannot register this replica", { error: (err as Error).message }));
  await gateway.discoverAll((await listConnectionSummaries(deps.db)).map((c) => c.id));

  const sweep = setInterval(() => sweepExpired(deps), 10 * 60_000);
  sweep.unref();

  logger.info("listening", { url, public_url: final.server.public_url, database: final.database.url ? describePostgresUrl(final.database.url) : final.database.path });
  if ((await countUsers(deps.db)) === 0) {
    const token = deps.setup.open();
    const setupUrl = `${deps.config.server.public_url}/admin/setup?token=${token}`;
    // Printed on stdout (not in the JSON log) so that log shippers do not keep a working credential.
    const announce = options.announceSetupUrl ?? ((link: string) => process.stdout.write(`\nNo users yet. Create the first admin here (the link works once):\n\n  ${link}\n\n`));
    announce(setupUrl);
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(sweep);
      const drained = server.stop(false);
      const timedOut = await Promise.race([
        drained.then(() => false),
        Bun.sleep(config.server.shutdown_timeout).then(() => true),
      ]);
      if (timedOut) {
        logger.warn("shutdown timeout reached; closing remaining connections");
        await server.stop(true);
      }
      await gateway.close();
      // Deregistered: the other replicas answer 404 for its sessions at once, rather than after dead_after.
      await deps.cluster?.stop().catch((err: unknown) => logger.warn("cannot deregister this replica", { error: (err as Error).message }));
      // After the socket stopped and the sessions closed: every call that was answered is written.
      await deps.usageRecorder.stop();
      // Audit rows written a moment after their change (PostgreSQL) are on record before the database closes.
      await deps.audit.settled?.();
      await deps.lastUsed.stop();
      await deps.oauth.grantLastUsed.stop();
      await handle.close();
      logger.info("stopped");
    })();
    return stopping;
  };
  return { url, port, deps, stop };
}

type BunServer = ReturnType<typeof Bun.serve>;

/**
 * The 10-minute sweep. Never rejects: a rejection in a timer would be unhandled, and Bun exits on one, so
 * a replica that lost the database for a moment would die instead of answering 503. Each step's failure
 * is logged and the next step still runs; the next sweep tries again.
 */
async function sweepExpired(deps: AppDeps): Promise<void> {
  try {
    await purgeExpiredSessions(deps.db);
  } catch (err) {
    deps.logger.warn("cannot purge expired sessions", { error: (err as Error).message });
  }
  try {
    // Expired codes and tokens, dead grants and stale unused registrations (they would only pile up).
    await pruneOAuth(deps.db);
  } catch (err) {
    deps.logger.warn("cannot prune OAuth rows", { error: (err as Error).message });
  }
  try {
    // Upstream authorizations started and never finished (their callback never came).
    await upstreamOAuthStore(connectionStore(deps)).pruneFlows();
  } catch (err) {
    deps.logger.warn("cannot prune upstream OAuth flows", { error: (err as Error).message });
  }
  try {
    await deps.throttle.prune(); // the sign-in attempts that left the window
  } catch (err) {
    deps.logger.warn("cannot prune sign-in attempts", { error: (err as Error).message });
  }
  await pruneMonitoring(deps); // never rejects: a failure is logged
}

/** Usage rows past retention or max_rows and audit rows past audit_retention; a failure is logged, never fatal. */
async function pruneMonitoring(deps: AppDeps): Promise<void> {
  const { monitoring } = deps.config;
  try {
    const usage = await pruneUsage(deps.db, { retentionMs: monitoring.retention, maxRows: monitoring.max_rows });
    const audit = await pruneAudit(deps.db, { retentionMs: monitoring.audit_retention });
    if (usage + audit > 0) deps.logger.info("monitoring pruned", { usage_rows: usage, audit_rows: audit });
  } catch (err) {
    deps.logger.warn("cannot prune monitoring rows", { error: (err as Error).message });
  }
}

/**
 * Binds the listening socket, or throws a StartupError an operator can act on. Requests go to the app
 * `appOf` returns; it is built in the same synchronous start-up, before any request can be read, so
 * the 503 is only what a request would get should that ever not hold.
 */
function listen(config: Config, appOf: () => Hono<AppEnv> | null): BunServer {
  try {
    return Bun.serve({
      hostname: config.server.host,
      port: config.server.port,
      maxRequestBodySize: config.server.max_body_size,
      // SSE streams stay open between events; the MCP transport sends a keep-alive every 15 s.
      idleTimeout: 120,
      fetch: (req, srv) => appOf()?.fetch(req, srv) ?? new Response("starting", { status: 503, headers: { "retry-after": "1" } }),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "EADDRINUSE" ? "the port is already in use" : (err as Error).message;
    throw new StartupError(`cannot listen on ${config.server.listen}: ${reason}`, { cause: err });
  }
}

/**
 * The config the app runs on. With port 0 and no public_url, derived links (the 401 challenge, OAuth
 * metadata, the admin's snippets, the trusted origin) must name the port the OS picked: a frozen copy
 * with it, the config itself never being changed.
 */
function withListeningUrl(config: Config, url: string): Config {
  const publicUrlGiven = (config.input.server as { public_url?: string } | undefined)?.public_url !== undefined;
  return config.server.port === 0 && !publicUrlGiven ? withPublicUrl(config, url) : config;
}
