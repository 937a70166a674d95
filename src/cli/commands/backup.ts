// `switchboard backup FILE`: a consistent copy of the database, safe while the server runs.
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { Database } from "bun:sqlite";
import { parseFlags } from "../args.ts";
import { UsageError, type Command } from "../io.ts";
import { CONFIG_FLAG, CONFIG_HELP, EXIT_CONFIG, loadConfigOrReport } from "../shared.ts";

export const backupCommand: Command = {
  name: "backup",
  summary: "Write a consistent copy of the database to FILE",
  help: `Usage: switchboard backup FILE [--config FILE]

Writes a consistent, compacted copy of the database to FILE (which must not exist yet) using
SQLite's VACUUM INTO. Safe while the server runs: the copy is one read transaction, and the
server keeps serving. Restore by stopping Switchboard and putting the file at database.path.
The server secret is not in the database: back up <data dir>/secret (or your configured secret)
too, or encrypted connection secrets cannot be read after a restore.

Options:
${CONFIG_HELP}
  -h, --help          show this help`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, CONFIG_FLAG, 1);
    const target = positionals[0];
    if (!target) throw new UsageError("FILE is required");
    const config = loadConfigOrReport(values.config, io);
    if (!config) return EXIT_CONFIG;
    const path = resolve(io.cwd, target);
    if (existsSync(path)) {
      io.stderr(`error: ${path} already exists; choose a new file name\n`);
      return 1;
    }
    if (!existsSync(config.database.path)) {
      io.stderr(`error: no database at ${config.database.path}\n`);
      return 1;
    }
    // Raw bun:sqlite, not a drizzle handle: named so, as the store rules test tells the two apart.
    const sqlite = new Database(config.database.path, { readonly: true });
    try {
      sqlite.run(`PRAGMA busy_timeout = ${config.database.busy_timeout}`);
      sqlite.run("VACUUM INTO ?", [path]);
    } catch (err) {
      io.stderr(`error: backup failed: ${(err as Error).message}\n`);
      return 1;
    } finally {
      sqlite.close();
    }
    io.stdout(`wrote ${path} (${statSync(path).size} bytes)\n`);
    return 0;
  },
};
