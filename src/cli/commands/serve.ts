// `switchboard serve`: runs the gateway until SIGINT or SIGTERM.
import { batchedLines, createLogger } from "../../logger.ts";
import { startServer, StartupError } from "../../server.ts";
import { parseFlags } from "../args.ts";
import type { Command } from "../io.ts";
import { CONFIG_FLAG, CONFIG_HELP, EXIT_CONFIG, loadConfigOrReport } from "../shared.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the gateway (the default command)",
  help: `Usage: switchboard serve [--config FILE]

Starts the HTTP server: admin at /admin, health at /healthz. With no users yet, prints a
one-time setup link for the first admin. Stops gracefully on SIGINT or SIGTERM.

Options:
${CONFIG_HELP}
  -h, --help          show this help`,
  async run(args, io) {
    const { values } = parseFlags(args, CONFIG_FLAG);
    const config = loadConfigOrReport(values.config, io);
    if (!config) return EXIT_CONFIG;
    const lines = batchedLines((text) => io.stderr(text));
    // Whatever way the process ends, the lines logged last are written.
    process.once("exit", lines.flush);
    const logger = createLogger({ level: config.server.log_level, write: lines.write });
    let server;
    try {
      server = await startServer(config, logger);
    } catch (err) {
      if (!(err instanceof StartupError)) throw err;
      lines.flush();
      io.stderr(`error: ${err.message}\n`);
      return 1;
    }
    const running = server;
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        logger.info("shutting down", { signal });
        void running.stop().then(() => {
          lines.flush();
          resolve();
        });
      };
      process.once("SIGINT", () => shutdown("SIGINT"));
      process.once("SIGTERM", () => shutdown("SIGTERM"));
    });
    return 0;
  },
};
