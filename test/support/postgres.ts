// A PostgreSQL for tests: SWITCHBOARD_TEST_POSTGRES_URL when set, else a private cluster started once
// per test process (initdb into a temp dir, loopback port, fsync off) and stopped at exit; each test
// gets a fresh database cloned from a template migrated once, dropped afterwards.
import { afterEach, beforeAll } from "bun:test";
import { SQL } from "bun";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPostgres, type DbHandle } from "../../src/db/client.ts";
import { PG_MIGRATIONS } from "../../src/db/migrations-pg.ts";

const GIVEN_URL = process.env.SWITCHBOARD_TEST_POSTGRES_URL;

/** The directory of initdb and pg_ctl: Debian's /usr/lib/postgresql/<newest>/bin, else none. */
function findBinaries(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

const BIN_DIR = GIVEN_URL ? null : findBinaries();

/** Whether the PostgreSQL tests can run here (a URL given, or the server binaries installed). */
export const havePostgres = Boolean(GIVEN_URL || BIN_DIR);
export const POSTGRES_MISSING =
  "PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb); install it with `apt-get install postgresql` (Debian/Ubuntu), or set SWITCHBOARD_TEST_POSTGRES_URL to a server where the URL's user may create databases.";

/** Run before a file's PostgreSQL tests: a warning when they are skipped, a failing test on CI. */
export function reportMissingPostgres(what: string, failingTest: (name: string, fn: () => void) => void): void {
  if (havePostgres) return;
  // On CI a missing server must fail, not pass by skipping.
  if (process.env.CI) failingTest("PostgreSQL is available for the PostgreSQL tests", () => {
    throw new Error(POSTGRES_MISSING);
  });
  else console.warn(`skipping ${what}: ${POSTGRES_MISSING}`);
}

/** A database per test: unique across test processes sharing one server (SWITCHBOARD_TEST_POSTGRES_URL). */
let counter = 0;
const RUN = `${process.pid}_${Date.now().toString(36)}`;

/** The server: a connection to its maintenance database, URLs of its databases, our migrated template. */
type Server = { admin: SQL; urlOf: (database: string) => string; template: string };
let server: Promise<Server> | null = null;

/** The server, started (or reached) once per process; the template database migrated once. */
function theServer(): Promise<Server> {
  server ??= (async () => {
    const base = GIVEN_URL ?? startCluster();
    const urlOf = (database: string): string => {
      const url = new URL(base);
      url.pathname = `/${database}`;
      return url.toString();
    };
    const admin = new SQL({ url: urlOf("postgres"), max: 2 });
    // The template is named by the migrations it holds, so a shared server keeps one per schema, reused
    // by later runs; opening it migrates it if new (a concurrent run waits on the migration lock).
    const template = `switchboard_template_${Bun.hash(PG_MIGRATIONS.map((m) => m.sql).join("\n")).toString(36)}`;
    const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE "${template}"`).catch((err: Error) => {
      if (!/already exists/.test(err.message)) throw err;
    });
    const migrated = await openPostgres({ url: urlOf(template), poolSize: 1 });
    await migrated.close();
    return { admin, urlOf, template };
  })();
  return server;
}

/** Runs a command (as the postgres user when we are root: the server refuses to run as root). */
function run(command: string[], asPostgres: boolean): void {
  const argv = asPostgres ? ["runuser", "-u", "postgres", "--", ...command] : command;
  const child = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${child.exitCode}):\n${child.stdout.toString()}${child.stderr.toString()}`);
}

/** initdb and pg_ctl start a throwaway cluster on a free loopback port; it is stopped and removed at exit. */
function startCluster(): string {
  const bin = BIN_DIR!;
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "switchboard-pg-"));
  if (asRoot) {
    const uid = Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim());
    const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  run([join(bin, "initdb"), "-D", data, "-U", "switchboard", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], asRoot);
  const port = freePort();
  const options = [
    `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir}`,
    // A test server: durability is not the point, speed is.
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
  ].join(" ");
  try {
    run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"], asRoot);
  } catch (err) {
    const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8") : "(no server log)";
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
  }
  stopWithThisProcess(asRoot ? ["runuser", "-u", "postgres", "--", join(bin, "pg_ctl")] : [join(bin, "pg_ctl")], data, dir);
  return `postgres://switchboard@127.0.0.1:${port}/postgres`;
}

/** The watchdog's end of the pipe: held for the life of this process (were it collected, the pipe would close). */
let lifeline: Bun.Subprocess<"pipe", "ignore", "ignore"> | null = null;

/**
 * Stops the cluster and removes its directory when this process ends, however it ends: a shell
 * waits on a pipe from us, and its read returns when we exit, even killed (bun test fires no "exit"
 * event, and pg_ctl's server is not our child).
 */
function stopWithThisProcess(pgCtl: string[], data: string, dir: string): void {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const stop = [...pgCtl, "-D", data, "-m", "immediate", "stop"].map(quote).join(" ");
  lifeline = Bun.spawn(["sh", "-c", `cat >/dev/null; ${stop} >/dev/null 2>&1; rm -rf ${quote(dir)}`], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  lifeline.unref();
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/**
 * Registers cleanup in the calling test file and returns makers of fresh databases: `open()` a
 * migrated one (cloned from the template) as a store handle, `emptyUrl()` the URL of an empty one.
 */
export function usePostgres(): { open: (options?: { poolSize?: number }) => Promise<DbHandle>; emptyUrl: () => Promise<string> } {
  const databases: string[] = [];
  const handles: DbHandle[] = [];
  // Starting a cluster takes seconds on a busy machine: not the first test's time to spend.
  if (havePostgres) beforeAll(() => theServer(), { timeout: 120_000 });
  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close();
    if (databases.length === 0) return;
    const { admin } = await theServer();
    for (const name of databases.splice(0)) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
  const create = async (options: { migrated: boolean }): Promise<string> => {
    const { admin, urlOf, template } = await theServer();
    const name = `switchboard_test_${RUN}_${++counter}`;
    databases.push(name);
    // Cloning the migrated template is a file copy: much faster than migrating each database.
    await admin.unsafe(`CREATE DATABASE "${name}"${options.migrated ? ` TEMPLATE "${template}"` : ""}`);
    return urlOf(name);
  };
  return {
    open: async (options = {}) => {
      const handle = await openPostgres({ url: await create({ migrated: true }), poolSize: options.poolSize ?? 4 });
      handles.push(handle);
      return handle;
    },
    emptyUrl: () => create({ migrated: false }),
  };
}

/** Whether this run's test builders put their data in PostgreSQL (SWITCHBOARD_TEST_DATABASE=postgres) rather than SQLite files. */
export const TEST_ON_POSTGRES = process.env.SWITCHBOARD_TEST_DATABASE === "postgres";

/**
 * A fresh migrated database (cloned from the template) outside any test hook, for builders that own
 * their cleanup (createTestApp's close, startTestServer's cleanup): its URL, and how to drop it.
 */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { admin, urlOf, template } = await theServer();
  const name = `switchboard_test_${RUN}_${++counter}`;
  await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  return { url: urlOf(name), drop: async () => void (await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) };
}

/**
 * Starts (or reaches) the server before the calling file's tests, so the first test does not spend its
 * time on initdb. Registered once per process by the first file that asks: later files find it running.
 */
export function warmPostgres(): void {
  if (havePostgres) beforeAll(async () => void (await theServer()), { timeout: 120_000 });
}
