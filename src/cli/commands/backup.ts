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

With database.url (PostgreSQL) this command copies nothing: it prints the pg_dump command to run
instead (the URL's host, port, user and database; never its password) and exits with code 2.

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
    if (config.database.url) {
      io.stderr(postgresBackupAdvice(config.database.url, path));
      return EXIT_CONFIG;
    }
    if (existsSync(path)) {
      io.stderr(`error: ${path} already exists; choose a new file name\n`);
      return 1;
    }
    if (!existsSync(config.database.path)) {
      io.stderr(`error: no database at ${config.database.path}\n`);
      return 1;
    }
    const db = new Database(config.database.path, { readonly: true });
    try {
      db.run(`PRAGMA busy_timeout = ${config.database.busy_timeout}`);
      db.run("VACUUM INTO ?", [path]);
    } catch (err) {
      io.stderr(`error: backup failed: ${(err as Error).message}\n`);
      return 1;
    } finally {
      db.close();
    }
    io.stdout(`wrote ${path} (${statSync(path).size} bytes)\n`);
    return 0;
  },
};

/** A word the shell reads as itself: left bare when plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * What to run instead on PostgreSQL: pg_dump against the URL's server and database (its password left
 * to PGPASSWORD or ~/.pgpass, never printed), in the custom format pg_restore reads.
 */
export function postgresBackupAdvice(url: string, file: string): string {
  let flags: string[];
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
    flags = [
      // An IPv6 address comes bracketed in a URL, bare to pg_dump.
      `--host=${parsed.hostname.replace(/^\[(.*)\]$/, "$1")}`,
      `--port=${parsed.port || "5432"}`,
      ...(parsed.username ? [`--username=${decodeURIComponent(parsed.username)}`] : []),
      ...(database ? [`--dbname=${database}`] : []),
    ];
  } catch {
    flags = ["--dbname=<database>"];
  }
  const command = ["pg_dump", "--format=custom", ...flags, `--file=${file}`].map(shellWord).join(" ");
  return (
    "error: the database is PostgreSQL (database.url); switchboard backup copies only the SQLite file. Back it up with pg_dump:\n" +
    `  ${command}\n` +
    "(the password comes from PGPASSWORD or ~/.pgpass; restore with pg_restore into an empty database). " +
    "Back up the server secret (security.secret) too.\n"
  );
}
