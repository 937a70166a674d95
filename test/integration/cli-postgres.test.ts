// The command line on PostgreSQL (database.url): `serve` fails fast, with the database's own message and
// exit code 1, when PostgreSQL cannot be reached or holds a newer schema; `user create` writes there; and
// a server on PostgreSQL needs no writable data dir, where one on SQLite does.
import { afterEach, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { openStore, StartupError } from "../../src/compose.ts";
import { openPostgres } from "../../src/db/client.ts";
import { PG_MIGRATIONS } from "../../src/db/migrations-pg.ts";
import { findUserByEmail } from "../../src/domain/access/users.ts";
import { silentLogger } from "../../src/logger.ts";
import { testConfig, TEST_SECRET } from "../support/app.ts";
import { freshPostgresDatabase, havePostgres, reportMissingPostgres, warmPostgres } from "../support/postgres.ts";
import { useTempDirs } from "../support/temp-dir.ts";

const tempDir = useTempDirs("switchboard-cli-pg-");
const PASSWORD = "a long enough password";

reportMissingPostgres("the CLI's PostgreSQL tests", test);
warmPostgres();

const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const drop of drops.splice(0)) await drop();
});

/** A fresh migrated database's URL, dropped after the test. */
async function database(): Promise<string> {
  const made = await freshPostgresDatabase();
  drops.push(made.drop);
  return made.url;
}

/** A directory with a switchboard.toml naming `url` as the database. */
function workspace(url: string): { cwd: string; config: string } {
  const cwd = tempDir();
  const config = join(cwd, "switchboard.toml");
  writeFileSync(config, `[server]\nlisten = "127.0.0.1:0"\n\n[database]\nurl = "${url}"\n\n[security]\nsecret = "${TEST_SECRET}"\n`);
  return { cwd, config };
}

/** Runs the CLI in-process with captured output. */
async function cli(args: string[], cwd: string, stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), readStdin: async () => stdin, env: {}, cwd };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

describe.skipIf(!havePostgres)("serve on PostgreSQL fails fast", () => {
  test("an unreachable server: exit 1, naming host:port/database and never the password", async () => {
    const port = closedPort();
    const { cwd, config } = workspace(`postgres://switchboard:hunter2-secret@127.0.0.1:${port}/nowhere`);
    const run = await cli(["serve", "--config", config], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: cannot reach PostgreSQL at 127.0.0.1:${port}/nowhere`);
    expect(run.stderr).not.toContain("hunter2");
    expect(run.stdout).not.toContain("/admin/setup");
  });

  test("a schema written by a newer Switchboard: exit 1, saying to upgrade", async () => {
    const url = await database();
    const client = new SQL({ url, max: 1 });
    try {
      await client`update switchboard_schema set version = ${PG_MIGRATIONS.length + 1}`;
    } finally {
      await client.close();
    }
    const { cwd, config } = workspace(url);
    const run = await cli(["serve", "--config", config], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: the database was written by a newer Switchboard (schema version ${PG_MIGRATIONS.length + 1}, this build knows ${PG_MIGRATIONS.length})`);
    expect(run.stdout).not.toContain("/admin/setup");
  });
});

describe.skipIf(!havePostgres)("the CLI and the store on PostgreSQL", () => {
  test("user create writes the user into PostgreSQL", async () => {
    const url = await database();
    const { cwd, config } = workspace(url);
    const run = await cli(["user", "create", "--email", "pg@example.com", "--role", "admin", "--password-stdin", "--config", config], cwd, PASSWORD);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const handle = await openPostgres({ url, poolSize: 1 });
    try {
      expect((await findUserByEmail(handle.db, "pg@example.com"))?.role).toBe("admin");
    } finally {
      await handle.close();
    }
  });

  test("the store opens on PostgreSQL where no data dir can exist (nothing is written there); SQLite refuses it", async () => {
    // A data dir under a plain file can be neither created nor written, by root either.
    const file = join(tempDir(), "not-a-dir");
    writeFileSync(file, "");
    const path = join(file, "data", "switchboard.db");
    await expect(openStore(testConfig(tempDir(), { database: { path } }), silentLogger)).rejects.toBeInstanceOf(StartupError);
    const store = await openStore(testConfig(tempDir(), { database: { path, url: await database(), pool_size: 2 } }), silentLogger);
    try {
      expect(store.handle.dialect).toBe("postgres");
      expect(store.secretSource).toBe("set in the config");
    } finally {
      await store.handle.close();
    }
  });
});
