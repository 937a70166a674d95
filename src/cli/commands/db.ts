// `switchboard db copy`: moves an installation from its SQLite file to PostgreSQL, verified before it commits.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../../config/load.ts";
import { DatabaseError, describePostgresUrl } from "../../db/client.ts";
import { CopyError, copySqliteToPostgres, type CopyReport } from "../../db/copy.ts";
import { SECRET_FILE } from "../../security/secret.ts";
import { parseFlags } from "../args.ts";
import { UsageError, type CliIo, type Command } from "../io.ts";
import { CONFIG_FLAG, EXIT_CONFIG, loadConfigOrReport } from "../shared.ts";

const COPY_FLAGS = {
  ...CONFIG_FLAG,
  from: { type: "string" },
  to: { type: "string" },
  replace: { type: "boolean" },
  "migrate-source": { type: "boolean" },
} as const;

export const dbCommand: Command = {
  name: "db",
  summary: "Copy the SQLite database into PostgreSQL (db copy)",
  help: `Usage: switchboard db copy --from sqlite:PATH --to postgres://USER:PASSWORD@HOST:5432/DATABASE
       switchboard db copy --config FILE [--to URL]

Copies every table of a Switchboard SQLite database into a PostgreSQL database, to move an
installation to several replicas. The target is migrated to this version's schema, then the rows
are copied in one PostgreSQL transaction and verified before it commits: the row count of each
table, and a checksum of every row read back from PostgreSQL against the same over SQLite. Any
difference rolls the whole copy back (the target is left as it was) and exits 1 naming the table.

Stop the server first: what it writes after the copy starts is not copied. The tables of running
replicas (replicas, mcp_sessions, replica_connections) are not copied. Connection secrets are
copied still encrypted: every replica on PostgreSQL must use the server secret the SQLite
installation used (its security.secret, or the one generated into <data dir>/${SECRET_FILE}).

Options:
      --from sqlite:PATH  the SQLite database (default with --config: its database.path)
      --to URL            the PostgreSQL database, e.g. --to "$DATABASE_URL"
                          (default with --config: its database.url)
      --replace           delete the rows the target already holds (in the same transaction);
                          without it, a target that holds rows is refused
      --migrate-source    migrate a source written by an older version in place first (it is
                          written to: back it up with "switchboard backup"); without it, refused
  -c, --config FILE       config file (default: none; $SWITCHBOARD_CONFIG and ./switchboard.toml
                          are not read by this command)
  -h, --help              show this help

Exit codes: 0 copied and verified; 1 refused, unreachable or not verified (nothing committed);
2 bad usage or configuration.`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== "copy") throw new UsageError(sub === undefined ? "a subcommand is required: copy" : `unknown subcommand ${JSON.stringify(sub)} (known: copy)`);
    const { values } = parseFlags(rest, COPY_FLAGS);
    let config: Config | null = null;
    if (values.config !== undefined) {
      config = loadConfigOrReport(values.config, io);
      if (!config) return EXIT_CONFIG;
    }
    const sourcePath = sourcePathOf(values.from, config, io.cwd);
    const targetUrl = values.to ?? config?.database.url;
    if (!targetUrl) throw new UsageError("--to postgres://… is required (or a --config whose database.url is set)");
    if (!/^postgres(ql)?:\/\//.test(targetUrl)) throw new UsageError(`--to must be a postgres:// URL, not ${JSON.stringify(targetUrl.split(":")[0] + ":…")}`);
    let report: CopyReport;
    try {
      report = await copySqliteToPostgres({
        sourcePath,
        targetUrl,
        replace: values.replace ?? false,
        migrateSource: values["migrate-source"] ?? false,
        busyTimeoutMs: config?.database.busy_timeout,
      });
    } catch (err) {
      if (!(err instanceof CopyError) && !(err instanceof DatabaseError)) throw err;
      io.stderr(`error: ${err.message}\n`);
      return 1;
    }
    io.stdout(formatReport(report, sourcePath, describePostgresUrl(targetUrl)));
    io.stdout(`${secretReminder(config, sourcePath)}\n`);
    return 0;
  },
};

/** The SQLite file: `--from sqlite:PATH` (relative to the working directory), else the config's. */
function sourcePathOf(from: string | undefined, config: Config | null, cwd: string): string {
  if (from === undefined) {
    if (config) return config.database.path;
    throw new UsageError("--from sqlite:PATH is required (or --config, to copy its database.path)");
  }
  if (!from.startsWith("sqlite:") || from.length === "sqlite:".length) throw new UsageError(`--from must be sqlite:PATH, e.g. sqlite:./data/switchboard.db`);
  return resolve(cwd, from.slice("sqlite:".length));
}

/** The counts table, and the word "verified". */
function formatReport(report: CopyReport, sourcePath: string, target: string): string {
  const width = Math.max(...report.tables.map((t) => t.table.length), "table".length);
  const lines = [`copied sqlite:${sourcePath} to postgres ${target}`];
  if (report.migratedSource > 0) lines.push(`(the source was migrated first: ${report.migratedSource} migration(s))`);
  lines.push(`${"table".padEnd(width)}  ${"sqlite".padStart(9)}  ${"postgres".padStart(9)}`);
  for (const t of report.tables) {
    if (t.source === null) lines.push(`${t.table.padEnd(width)}  ${"(per-replica state, not copied)"}`);
    else lines.push(`${t.table.padEnd(width)}  ${String(t.source).padStart(9)}  ${String(t.target).padStart(9)}`);
  }
  const copied = report.tables.filter((t) => t.source !== null);
  const rows = copied.reduce((sum, t) => sum + (t.source ?? 0), 0);
  lines.push(`verified: ${rows} rows in ${copied.length} tables, row counts and read-back checksums equal`);
  return lines.join("\n") + "\n";
}

/** Where the secret the new replicas need is: keys, cookies and sealed connection secrets derive from it. */
function secretReminder(config: Config | null, sourcePath: string): string {
  const intro = "reminder: every replica on PostgreSQL must use the server secret this SQLite installation used,";
  if (config?.security.secret) return `${intro} the security.secret of ${config.source ?? "its configuration"}.`;
  const file = join(config?.dataDir ?? dirname(sourcePath), SECRET_FILE);
  if (existsSync(file)) return `${intro} the one generated into ${file}: set security.secret to its contents (e.g. "\${SWITCHBOARD_SECRET}").`;
  return `${intro} its security.secret (or the <data dir>/${SECRET_FILE} it generated); otherwise keys, sessions and connection secrets stop working.`;
}
