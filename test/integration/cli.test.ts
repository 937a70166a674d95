// The `switchboard` command line: in-process through runCli with a fake io, and as the real
// executable (spawned) for exit codes, stdin, and a backup taken while a real server runs.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS, runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { openDatabase } from "../../src/db/client.ts";
import { authenticate, findUserByEmail } from "../../src/domain/access/users.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { waitForLine } from "../support/streams.ts";

const tempDir = useTempDirs("switchboard-cli-");
const MAIN = join(import.meta.dir, "../../src/main.ts");
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string }).version;
const SECRET = "cli-test-secret-0123456789-abcdefghijklmnop";
const PASSWORD = "a long enough password";

type Run = { code: number; stdout: string; stderr: string };

/** Runs the CLI in-process with captured output, the given stdin, cwd and environment. */
async function cli(args: string[], options: { cwd: string; stdin?: string; env?: Record<string, string> }): Promise<Run> {
  let stdout = "";
  let stderr = "";
  let stdinReads = 0;
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => {
      if (stdinReads++ > 0) throw new Error("stdin read twice");
      return options.stdin ?? "";
    },
    env: options.env ?? {},
    cwd: options.cwd,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** The environment for a spawned CLI, without any config a developer's shell may carry. */
function childEnv(): Record<string, string | undefined> {
  const { SWITCHBOARD_CONFIG: _c, SWITCHBOARD_SECRET: _s, ...env } = process.env;
  return env;
}

/** Runs the real executable to completion. */
async function spawnCli(args: string[], options: { cwd: string; stdin?: string }): Promise<Run> {
  const child = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: options.cwd,
    env: childEnv(),
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** A directory with a switchboard.toml whose database lives in ./data; returns the dir and paths. */
function workspace(extra = ""): { cwd: string; config: string; dbPath: string } {
  const cwd = tempDir();
  const config = join(cwd, "switchboard.toml");
  writeFileSync(config, `[database]\npath = "./data/sb.db"\n\n[security]\nsecret = "${SECRET}"\n${extra}`);
  return { cwd, config, dbPath: join(cwd, "data", "sb.db") };
}

/** Reads the users of a database file directly, and checks it is intact. */
function inspect(path: string): { emails: string[]; integrity: unknown } {
  const sqlite = new Database(path, { readonly: true });
  try {
    const emails = (sqlite.query("SELECT email FROM users ORDER BY email").all() as { email: string }[]).map((r) => r.email);
    return { emails, integrity: sqlite.query("PRAGMA integrity_check").all() };
  } finally {
    sqlite.close();
  }
}

describe("help and dispatch", () => {
  test("--help lists every command and exits 0", async () => {
    const run = await cli(["--help"], { cwd: tempDir() });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: switchboard [COMMAND]");
    for (const command of COMMANDS) expect(run.stdout).toContain(`  ${command.name}`);
    expect(run.stderr).toBe("");
  });

  test.each(COMMANDS.map((c) => c.name))("%s --help, -h and `help` print its usage and exit 0 without running it", async (name) => {
    const cwd = tempDir();
    const help = COMMANDS.find((c) => c.name === name)!.help;
    for (const args of [[name, "--help"], [name, "-h"], ["help", name]]) {
      const run = await cli(args, { cwd });
      expect(run).toEqual({ code: 0, stdout: help + "\n", stderr: "" });
    }
    expect(help).toContain(`switchboard ${name}`);
    // Nothing ran: no data dir, no config file.
    expect(existsSync(join(cwd, "data"))).toBe(false);
    expect(existsSync(join(cwd, "switchboard.toml"))).toBe(false);
  });

  test("user create --help and user reset-password --help exit 0", async () => {
    for (const action of ["create", "reset-password"]) {
      const run = await cli(["user", action, "--help"], { cwd: tempDir() });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`switchboard user ${action}`);
    }
  });

  test("an unknown command exits 2 and names it", async () => {
    const run = await cli(["frobnicate"], { cwd: tempDir() });
    expect(run.code).toBe(2);
    expect(run.stderr).toStartWith('error: unknown command "frobnicate"');
    expect(run.stdout).toBe("");
    expect((await cli(["help", "frobnicate"], { cwd: tempDir() })).code).toBe(2);
  });

  test("an unknown flag or action is a usage error (exit 2) pointing at the command's help", async () => {
    const flag = await cli(["check-config", "--bogus"], { cwd: tempDir() });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--bogus");
    expect(flag.stderr).toContain('Run "switchboard check-config --help" for usage.');
    const action = await cli(["user", "delete"], { cwd: tempDir() });
    expect(action.code).toBe(2);
    expect(action.stderr).toContain('unknown action "delete"');
  });

  test("version prints the version from package.json", async () => {
    const run = await cli(["version"], { cwd: tempDir() });
    expect(run).toEqual({ code: 0, stdout: `switchboard ${PACKAGE_VERSION} (bun ${Bun.version})\n`, stderr: "" });
    expect((await cli(["--version"], { cwd: tempDir() })).stdout).toBe(run.stdout);
  });
});

describe("init and check-config", () => {
  test("init writes a 0600 file with a secret that check-config accepts and masks", async () => {
    const cwd = tempDir();
    const init = await cli(["init"], { cwd });
    expect(init.code).toBe(0);
    const path = join(cwd, "switchboard.toml");
    expect(init.stdout).toBe(`wrote ${path}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const secret = (Bun.TOML.parse(readFileSync(path, "utf8")) as { security: { secret: string } }).security.secret;
    expect(secret.length).toBeGreaterThanOrEqual(32);

    const check = await cli(["check-config"], { cwd });
    expect(check.code).toBe(0);
    expect(check.stdout).toStartWith(`# source: ${path}\n`);
    expect(check.stdout).toContain('secret = "********"  # set in the config');
    expect(check.stdout).not.toContain(secret);
  });

  test("init refuses to overwrite without --force, and --force writes a new secret, still 0600", async () => {
    const cwd = tempDir();
    const path = join(cwd, "custom.toml");
    expect((await cli(["init", "--path", "custom.toml"], { cwd })).code).toBe(0);
    const original = readFileSync(path, "utf8");

    const again = await cli(["init", "--path", "custom.toml"], { cwd });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: ${path} already exists (use --force to overwrite)\n`);
    expect(readFileSync(path, "utf8")).toBe(original);

    // Even over a file someone made world-readable, the new secret must not stay readable to others.
    chmodSync(path, 0o644);
    expect((await cli(["init", "--path", "custom.toml", "--force"], { cwd })).code).toBe(0);
    expect(readFileSync(path, "utf8")).not.toBe(original);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("check-config with an unknown key exits 2 and names it", async () => {
    const { cwd, config } = workspace("\n[server]\nfoo = 1\n");
    const run = await cli(["check-config", "--config", config], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("invalid configuration:\n  server.foo: unknown key\n");
    expect(run.stdout).toBe("");
  });

  test("check-config refuses a duration past its maximum (a timer that would fire at once), exit 2 naming the key", async () => {
    const { cwd, config } = workspace('\n[gateway]\ncall_timeout = "30d"\nconnect_timeout = "10m"\n\n[[connections]]\nslug = "slow"\nurl = "https://slow.example/mcp"\nconnect_timeout = "25d"\n');
    const run = await cli(["check-config", "--config", config], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('  gateway.call_timeout: expected at most 24h, got "30d"\n');
    expect(run.stderr).toContain('  connections[0].connect_timeout: expected at most 10m, got "25d"\n');
    expect(run.stderr).not.toContain("gateway.connect_timeout");
    expect(run.stdout).toBe("");
  });

  test("check-config reports every problem, and never the secret", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "switchboard.toml"), '[server]\nlisten = "abc"\n[security]\nsecret = "too-short-secret"\n');
    const run = await cli(["check-config"], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('  server.listen: expected "host:port", got "abc"\n');
    expect(run.stderr).toContain("  security.secret: expected at least 32 characters, got a value (hidden)\n");
    expect(run.stderr).not.toContain("too-short-secret");
  });

  test("check-config reads ${VAR} from the environment and masks the result", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "sb.toml"), '[security]\nsecret = "${SB_SECRET}"\n');
    const unset = await cli(["check-config", "-c", "sb.toml"], { cwd });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain("security.secret: environment variable SB_SECRET is not set");
    const set = await cli(["check-config", "-c", "sb.toml"], { cwd, env: { SB_SECRET: SECRET } });
    expect(set.code).toBe(0);
    expect(set.stdout).not.toContain(SECRET);
    expect(set.stdout).toContain('secret = "********"');
  });

  test("check-config with SWITCHBOARD_CONFIG pointing nowhere exits 2 naming the file", async () => {
    const cwd = tempDir();
    const run = await cli(["check-config"], { cwd, env: { SWITCHBOARD_CONFIG: "gone.toml" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(cwd, "gone.toml")}: cannot read config file (no such file)`);
  });
});

describe("user", () => {
  test("create reads the password from stdin; a duplicate then exits 1", async () => {
    const { cwd, dbPath } = workspace();
    const create = await cli(["user", "create", "--email", "Admin@Example.com", "--role", "admin", "--password-stdin"], { cwd, stdin: PASSWORD + "\n" });
    expect(create.stderr).toBe("");
    expect(create.code).toBe(0);
    expect(create.stdout).toMatch(/^created admin admin@example\.com \(user_[0-9a-f-]+\)\n$/);

    const handle = openDatabase({ path: dbPath, busyTimeoutMs: 1_000 });
    try {
      // The trailing newline of the piped line is not part of the password.
      expect((await authenticate(handle.db, "admin@example.com", PASSWORD))?.role).toBe("admin");
    } finally {
      handle.close();
    }

    const duplicate = await cli(["user", "create", "-e", "admin@example.com", "-r", "member", "--password-stdin"], { cwd, stdin: PASSWORD });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe("error: A user with this email already exists.\n");
  });

  test("create without --password-stdin exits 2 before touching the database", async () => {
    const { cwd } = workspace();
    const run = await cli(["user", "create", "--email", "a@example.com", "--role", "admin"], { cwd, stdin: PASSWORD });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--password-stdin is required");
    expect(existsSync(join(cwd, "data"))).toBe(false);
  });

  test("create without --role or --email exits 2", async () => {
    const { cwd } = workspace();
    expect((await cli(["user", "create", "--email", "a@example.com", "--password-stdin"], { cwd, stdin: PASSWORD })).stderr).toContain("--role is required");
    expect((await cli(["user", "create", "--role", "admin", "--password-stdin"], { cwd, stdin: PASSWORD })).code).toBe(2);
  });

  test("create with a short password exits 1 saying what a password needs", async () => {
    const { cwd, dbPath } = workspace();
    const run = await cli(["user", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin"], { cwd, stdin: "short\n" });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("error: password: expected at least 10 characters\n");
    expect(inspect(dbPath).emails).toEqual([]);
  });

  test("reset-password sets the new password; an unknown email exits 1; a short one is explained", async () => {
    const { cwd, dbPath } = workspace();
    await cli(["user", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin"], { cwd, stdin: PASSWORD });

    const unknown = await cli(["user", "reset-password", "--email", "ghost@example.com", "--password-stdin"], { cwd, stdin: "another long password" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error: No such user.\n");

    const short = await cli(["user", "reset-password", "--email", "a@example.com", "--password-stdin"], { cwd, stdin: "short" });
    expect(short.code).toBe(1);
    expect(short.stderr).toBe("error: password: expected at least 10 characters\n");

    const reset = await cli(["user", "reset-password", "--email", "A@example.com", "--password-stdin"], { cwd, stdin: "another long password\n" });
    expect(reset.code).toBe(0);
    expect(reset.stdout).toBe("password reset for a@example.com; their sessions have ended\n");
    const handle = openDatabase({ path: dbPath, busyTimeoutMs: 1_000 });
    try {
      expect(await authenticate(handle.db, "a@example.com", PASSWORD)).toBeNull();
      expect(await authenticate(handle.db, "a@example.com", "another long password")).not.toBeNull();
    } finally {
      handle.close();
    }
  });
});

describe("backup", () => {
  test("writes an intact copy holding the users, which opens as a current database, and refuses an existing FILE", async () => {
    const { cwd } = workspace();
    await cli(["user", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin"], { cwd, stdin: PASSWORD });

    const run = await cli(["backup", "backup.db"], { cwd });
    const target = join(cwd, "backup.db");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^wrote ${target} \\(\\d+ bytes\\)\\n$`));
    expect(inspect(target)).toEqual({ emails: ["a@example.com"], integrity: [{ integrity_check: "ok" }] });

    // Restoring it means opening it: the schema version came along, so nothing is re-applied.
    const restored = openDatabase({ path: target, busyTimeoutMs: 1_000 });
    try {
      expect((await findUserByEmail(restored.db, "a@example.com"))?.role).toBe("admin");
    } finally {
      restored.close();
    }

    const before = readFileSync(target);
    const again = await cli(["backup", "backup.db"], { cwd });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: ${target} already exists; choose a new file name\n`);
    expect(readFileSync(target).equals(before)).toBe(true);
  });

  test("without FILE is a usage error, and without a database a failure", async () => {
    const { cwd, dbPath } = workspace();
    const usage = await cli(["backup"], { cwd });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("FILE is required");
    const missing = await cli(["backup", "out.db"], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: no database at ${dbPath}\n`);
    expect(existsSync(join(cwd, "out.db"))).toBe(false);
  });

  test("on PostgreSQL it copies nothing, exits 2 and gives the pg_dump command without the password", async () => {
    const { cwd } = workspace();
    writeFileSync(join(cwd, "switchboard.toml"), `[database]\nurl = "postgres://sb:s3cret%21@db.internal:6432/switchboard"\n\n[security]\nsecret = "${SECRET}"\n`);
    const run = await cli(["backup", "sb.dump"], { cwd });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`  pg_dump --format=custom --host=db.internal --port=6432 --username=sb --dbname=switchboard --file=${join(cwd, "sb.dump")}\n`);
    expect(run.stderr).not.toContain("s3cret");
    expect(existsSync(join(cwd, "sb.dump"))).toBe(false);
  });
});

// What only a real process shows: the exit code the shell gets, the real stdout, stderr, stdin and
// working directory, and a server that starts and stops on a signal. Everything else about the
// commands (each one's help, version, init, check-config) is tested in-process above.
describe("the real executable", () => {
  test("exit codes 0, 1 and 2 reach the shell; output goes to the real stdout and stderr; files land in its working directory", async () => {
    const cwd = tempDir();
    const help = await spawnCli(["--help"], { cwd });
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toContain("Usage: switchboard");
    const unknown = await spawnCli(["frobnicate"], { cwd });
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect((await spawnCli(["init"], { cwd })).code).toBe(0);
    expect(existsSync(join(cwd, "switchboard.toml"))).toBe(true);
    const again = await spawnCli(["init"], { cwd });
    expect(again.code).toBe(1);
    expect(again.stderr).not.toBe("");
  });

  test("user create reads a piped password; duplicate exits 1; no --password-stdin exits 2", async () => {
    const { cwd, dbPath } = workspace();
    const args = ["user", "create", "--email", "pipe@example.com", "--role", "member"];
    const created = await spawnCli([...args, "--password-stdin"], { cwd, stdin: PASSWORD + "\n" });
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect((await spawnCli([...args, "--password-stdin"], { cwd, stdin: PASSWORD })).code).toBe(1);
    expect((await spawnCli(args, { cwd, stdin: PASSWORD })).code).toBe(2);
    expect(inspect(dbPath).emails).toEqual(["pipe@example.com"]);
  });

  test("backup works while a real server is running, and the server keeps serving", async () => {
    const { cwd, config } = workspace('\n[server]\nlisten = "127.0.0.1:0"\n');
    expect((await cli(["user", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin"], { cwd, stdin: PASSWORD })).code).toBe(0);

    const server = Bun.spawn([process.execPath, MAIN, "serve", "--config", config], { cwd, env: childEnv(), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    try {
      const listening = await waitForLine(server.stderr, (line) => {
        try {
          return (JSON.parse(line) as { msg?: string }).msg === "listening";
        } catch {
          return false;
        }
      });
      const url = (JSON.parse(listening) as { url: string }).url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toEndWith(":0");
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      const backup = await spawnCli(["backup", "live.db", "--config", config], { cwd });
      expect(backup.stderr).toBe("");
      expect(backup.code).toBe(0);
      expect(inspect(join(cwd, "live.db"))).toEqual({ emails: ["a@example.com"], integrity: [{ integrity_check: "ok" }] });

      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      server.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      if (server.exitCode === null && server.signalCode === null) {
        server.kill("SIGKILL");
        await server.exited;
      }
    }
  });
});
