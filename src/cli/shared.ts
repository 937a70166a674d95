// Pieces several commands share: loading the config with its problems reported, opening the database.
import { ConfigError, loadConfig, type Config } from "../config/load.ts";
import { DatabaseError, openStore, type DbHandle } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { CliIo } from "./io.ts";

/** Exit code for a config that cannot be used. */
export const EXIT_CONFIG = 2;

/** Loads the config, or prints one line per problem and returns null. */
export function loadConfigOrReport(flag: string | undefined, io: CliIo): Config | null {
  try {
    return loadConfig({ flag, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`invalid configuration:\n${err.problems.map((line) => `  ${line}`).join("\n")}\n`);
    return null;
  }
}

/**
 * Opens the configured database, runs `work` on it and closes it. A refusal from the domain (bad
 * input, not found) is printed as one line with exit code 1; anything else is a bug and propagates.
 */
export async function withDatabase(config: Config, io: CliIo, work: (handle: DbHandle) => Promise<number>): Promise<number> {
  const handle = await openDatabaseOrReport(config, io);
  if (!handle) return 1;
  try {
    return await work(handle);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      io.stderr(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await handle.close();
  }
}

/** Opens the configured database (PostgreSQL when database.url is set), or prints why not and returns null. */
export async function openDatabaseOrReport(config: Config, io: CliIo): Promise<DbHandle | null> {
  try {
    return await openStore(config);
  } catch (err) {
    if (!(err instanceof DatabaseError)) throw err;
    io.stderr(`error: ${err.message}\n`);
    return null;
  }
}

export const CONFIG_FLAG = { config: { type: "string", short: "c" } } as const;
export const CONFIG_HELP = "  -c, --config FILE   config file (default: $SWITCHBOARD_CONFIG, else ./switchboard.toml, else built-in defaults)";
