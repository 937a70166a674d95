// Starting and stopping the gateway: config → secret → database (composition in compose.ts) → HTTP
// server, and graceful shutdown.
import { compose, StartupError } from "./compose.ts";
import type { Config } from "./config/load.ts";
import { listConnectionSummaries } from "./domain/connections/connections.ts";
import { purgeExpiredSessions } from "./domain/access/sessions.ts";
import { countUsers } from "./domain/access/users.ts";
import { createApp } from "./http/app.ts";
import type { AppDeps } from "./http/context.ts";
import type { Logger } from "./logger.ts";

export { StartupError };

export type RunningServer = {
  url: string;
  port: number;
  deps: AppDeps;
  /** Stops accepting, waits for in-flight requests (up to shutdown_timeout), then closes the database. */
  stop: () => Promise<void>;
};

/** Starts serving and returns once the socket listens (synchronously: Bun.serve binds before it returns). */
export function startServer(
  config: Config,
  logger: Logger,
  options: { announceSetupUrl?: (url: string) => void } = {},
): RunningServer {
  const { deps, handle } = compose(config, logger);
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

  deps.gateway.discoverAll(listConnectionSummaries(deps.db).map((c) => c.id));

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
      await deps.gateway.close();
      deps.lastUsed.stop();
      handle.close();
      logger.info("stopped");
    })();
    return stopping;
  };
  return { url, port, deps, stop };
}
