// Starting and stopping the gateway: config → secret → database → HTTP server, and graceful shutdown.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config/load.ts";
import { openDatabase, type Db, type DbHandle } from "./db/client.ts";
import { createKeyVerifier, LastUsedRecorder } from "./domain/access/api-keys.ts";
import { createChangeProbe } from "./db/change-probe.ts";
import { syncConfigAgents } from "./domain/agents/config.ts";
import { agentSpecLookup } from "./domain/agents/agents.ts";
import { syncConfigConnections } from "./domain/connections/config.ts";
import { listConnectionSummaries } from "./domain/connections/connections.ts";
import { resourceExistsIn } from "./domain/resources.ts";
import type { AgentControl, GatewayControl } from "./gateway/types.ts";
import { connectionStore, specLookup } from "./operations/connections.ts";
import { Gateway } from "./gateway/gateway.ts";
import { AddressPolicy } from "./gateway/upstream/address-policy.ts";
import { LoginThrottle } from "./domain/access/login-throttle.ts";
import { CATALOG } from "./operations/index.ts";
import { purgeExpiredSessions } from "./domain/access/sessions.ts";
import { SetupGate } from "./domain/access/setup.ts";
import { countUsers } from "./domain/access/users.ts";
import { createApp } from "./http/app.ts";
import type { AppDeps } from "./http/context.ts";
import type { Logger } from "./logger.ts";
import { deriveKeys } from "./security/keys.ts";
import { loadOrCreateSecret, SECRET_FILE } from "./security/secret.ts";

/** A start-up failure with a message for the operator (exit code 1). */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}

export type RunningServer = {
  url: string;
  port: number;
  deps: AppDeps;
  /** Stops accepting, waits for in-flight requests (up to shutdown_timeout), then closes the database. */
  stop: () => Promise<void>;
};

/** Opens the data dir and database and builds the app's dependencies (no listening socket). */
export function prepare(config: Config, logger: Logger, options: { gateway?: GatewayControl; agents?: AgentControl } = {}): { deps: AppDeps; handle: DbHandle } {
  let handle: DbHandle;
  try {
    handle = openDatabase({ path: config.database.path, busyTimeoutMs: config.database.busy_timeout });
    accessSync(config.dataDir, constants.W_OK);
  } catch (err) {
    throw new StartupError((err as Error).message, { cause: err });
  }
  let secret: string;
  try {
    secret = loadOrCreateSecret({ configured: config.security.secret, dataDir: config.dataDir });
  } catch (err) {
    handle.close();
    throw new StartupError((err as Error).message, { cause: err });
  }
  const keys = deriveKeys(secret);
  try {
    applyDeclared(config, logger, handle.db, keys);
  } catch (err) {
    handle.close();
    throw err;
  }
  const proxy = new Gateway({
    sessionIdleMs: config.gateway.session_idle_timeout,
    maxSessions: config.gateway.max_sessions,
    stderrLines: config.gateway.stderr_lines,
    maxBodyBytes: config.server.max_body_size,
    logger,
    lookup: specLookup({ db: handle.db, keys, config }),
    lookupAgent: agentSpecLookup({ db: handle.db }),
    addressPolicy: new AddressPolicy(config.gateway),
    maxConcurrentTests: config.gateway.max_concurrent_tests,
  });
  const deps: AppDeps = {
    config,
    db: handle.db,
    sqlite: handle.sqlite,
    keys,
    secretSource: config.security.secret ? "set in the config" : `generated into ${join(config.dataDir, SECRET_FILE)}`,
    logger,
    setup: new SetupGate(),
    throttle: new LoginThrottle({
      windowMs: config.security.login_window,
      maxPerAccount: config.security.login_max_per_account,
      maxPerIp: config.security.login_max_per_ip,
    }),
    startedAt: new Date(),
    catalog: CATALOG,
    resourceExists: resourceExistsIn(handle.db),
    gateway: options.gateway ?? proxy,
    agents: options.agents ?? proxy,
    proxy,
    verifyKey: createKeyVerifier(handle.db, keys.tokenHmac, createChangeProbe(handle.sqlite, config.database.path)),
    lastUsed: new LastUsedRecorder(handle.db),
  };
  return { deps, handle };
}

/**
 * The file is the truth for the connections and agents it declares: written (or removed) before
 * anything serves, connections first (agents select them by slug).
 */
function applyDeclared(config: Config, logger: Logger, db: Db, keys: ReturnType<typeof deriveKeys>): void {
  let synced: ReturnType<typeof syncConfigConnections>;
  try {
    synced = syncConfigConnections(connectionStore({ db, keys, config }), config.connections);
  } catch (err) {
    throw new StartupError(`cannot apply the connections of the config: ${(err as Error).message}`, { cause: err });
  }
  for (const slug of synced.adopted) logger.warn("connection made in the admin is now declared in the config, which takes it over", { slug });
  if (synced.changed.length + synced.removed.length > 0) {
    logger.info("connections from the config applied", { changed: synced.changed.map((c) => c.slug), removed: synced.removed, keys_changed: synced.keysChanged });
  }
  let agents: ReturnType<typeof syncConfigAgents>;
  try {
    agents = syncConfigAgents(db, config.agents);
  } catch (err) {
    throw new StartupError(`cannot apply the agents of the config: ${(err as Error).message}`, { cause: err });
  }
  for (const slug of agents.adopted) logger.warn("agent made in the admin is now declared in the config, which takes it over", { slug });
  if (agents.changed.length + agents.removed.length > 0) {
    logger.info("agents from the config applied", { changed: agents.changed.map((a) => a.slug), removed: agents.removed, keys_changed: agents.keysChanged });
  }
}

/** Starts serving and returns once the socket listens (synchronously: Bun.serve binds before it returns). */
export function startServer(
  config: Config,
  logger: Logger,
  options: { announceSetupUrl?: (url: string) => void } = {},
): RunningServer {
  const { deps, handle } = prepare(config, logger);
  const app = createApp(deps);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: config.server.host,
      port: config.server.port,
      maxRequestBodySize: config.server.max_body_size,
      // SSE streams stay open between events; the MCP transport sends a keep-alive every 15 s.
      idleTimeout: 120,
      fetch: (req, srv) => app.fetch(req, srv),
    });
  } catch (err) {
    handle.close();
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "EADDRINUSE" ? "the port is already in use" : (err as Error).message;
    throw new StartupError(`cannot listen on ${config.server.listen}: ${reason}`, { cause: err });
  }
  const port = server.port ?? config.server.port;
  const url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${port}`;
  const publicUrlGiven = (config.input.server as { public_url?: string } | undefined)?.public_url !== undefined;
  if (config.server.port === 0 && !publicUrlGiven) {
    // With port 0 the OS picks the port; derived links must point at the one it picked.
    config.server.public_url = url;
  }

  deps.proxy.discoverAll(listConnectionSummaries(deps.db).map((c) => c.id));

  const sweep = setInterval(() => purgeExpiredSessions(deps.db), 10 * 60_000);
  sweep.unref();

  logger.info("listening", { url, public_url: config.server.public_url, database: config.database.path });
  if (countUsers(deps.db) === 0) {
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
      await deps.proxy.close();
      deps.lastUsed.stop();
      handle.close();
      logger.info("stopped");
    })();
    return stopping;
  };
  return { url, port, deps, stop };
}
