// Scale-out (issue 15): throughput of MCP tools/call on a fast HTTP fixture upstream with 1 replica on
// SQLite, 1 replica on PostgreSQL, 2 replicas on PostgreSQL behind the round-robin proxy (half the
// requests forwarded to the session's replica) and behind the sticky proxy (no hop), at c=16 and c=64
// with keep-alive clients, interleaved in one run on this machine. Every replica is its own process
// (`bun src/main.ts serve --config …`), and so is each proxy; PostgreSQL is a throwaway cluster
// started here (or SWITCHBOARD_BENCH_POSTGRES_URL, a server where the user may create databases).
import { SQL } from "bun";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { configConnectionId } from "../src/domain/connections/config.ts";
import { percentile } from "./lib.ts";
import { callEcho, RawSession } from "./mcp-client.ts";
import { firstLine, freePort, ProcessSet, waitFor } from "./processes.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const FIXTURE = join(ROOT, "test/fixtures/upstream-server.ts");
const PROXY = join(ROOT, "test/support/round-robin.ts");
const SECRET = "scale-out-bench-secret-0123456789-abcdefgh";
const CONCURRENCY = [16, 64];
const ROUNDS = 4;
const PER_ROUND = 1_000;
const WARMUP = 300;

const procs = new ProcessSet();
const dir = mkdtempSync(join(tmpdir(), "sb-bench-scale-"));
/** Stops the PostgreSQL cluster started here (and removes its directory), once started. */
const postgres: { stop: (() => void) | null } = { stop: null };
process.once("SIGINT", () => {
  void procs.stopAll(1000).finally(() => {
    postgres.stop?.();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
});

function cli(args: string[], configFile: string, stdin?: string): string {
  const result = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), ...args, "--config", configFile], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`switchboard ${args.slice(0, 2).join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

function run(command: string[], asPostgres: boolean): void {
  const argv = asPostgres ? ["runuser", "-u", "postgres", "--", ...command] : command;
  const child = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`${command.join(" ")} failed: ${child.stdout.toString()}${child.stderr.toString()}`);
}

/**
 * A PostgreSQL server: the one SWITCHBOARD_BENCH_POSTGRES_URL names, else a cluster made here with
 * Debian's binaries (default durability settings: fsync and synchronous_commit on, as in production),
 * stopped at the end. Null when there is neither.
 */
async function startPostgres(): Promise<string | null> {
  const given = process.env.SWITCHBOARD_BENCH_POSTGRES_URL;
  if (given) return given;
  const root = "/usr/lib/postgresql";
  const version = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  if (!version) return null;
  const bin = join(root, version, "bin");
  const asRoot = process.getuid?.() === 0;
  // Its own directory: the benchmark's is private to this user, and the server runs as postgres.
  const home = mkdtempSync(join(tmpdir(), "sb-bench-pg-"));
  if (asRoot) {
    const id = (flag: string): number => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
    chownSync(home, id("-u"), id("-g"));
  }
  const data = join(home, "data");
  run([join(bin, "initdb"), "-D", data, "-U", "switchboard", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], asRoot);
  const port = await freePort();
  run([join(bin, "pg_ctl"), "-D", data, "-l", join(home, "server.log"), "-o", `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${home} -c max_connections=200`, "-w", "-t", "60", "start"], asRoot);
  postgres.stop = () => {
    postgres.stop = null;
    try {
      run([join(bin, "pg_ctl"), "-D", data, "-m", "fast", "stop"], asRoot);
    } catch (err) {
      console.error((err as Error).message);
    }
    rmSync(home, { recursive: true, force: true });
  };
  return `postgres://switchboard@127.0.0.1:${port}/postgres`;
}

/** A fresh database on the server at `base`. */
async function createDatabase(base: string, name: string): Promise<string> {
  const admin = new SQL({ url: base, max: 1 });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}"`);
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

type Replica = { url: string; configFile: string };

/** A replica's config file: its port, its database (SQLite in its dir, or `databaseUrl`), the fixture as an HTTP connection. */
async function writeReplica(name: string, fixtureUrl: string, databaseUrl: string | null): Promise<Replica> {
  const home = join(dir, name);
  mkdirSync(home);
  const port = await freePort();
  const configFile = join(home, "switchboard.toml");
  const database = databaseUrl ? `url = ${JSON.stringify(databaseUrl)}\npool_size = 10` : `path = "db.sqlite"`;
  writeFileSync(
    configFile,
    `[server]\nlisten = "127.0.0.1:${port}"\n[database]\n${database}\n[security]\nsecret = ${JSON.stringify(SECRET)}\n` +
      `[[connections]]\nslug = "echo"\nurl = ${JSON.stringify(fixtureUrl)}\n`,
  );
  return { url: `http://127.0.0.1:${port}`, configFile };
}

/** An admin and a key for everything, made with the CLI on the replica's database. */
function makeKey(replica: Replica): string {
  cli(["user", "create", "--email", "bench@example.com", "--role", "admin", "--password-stdin"], replica.configFile, "bench-password-123\n");
  return cli(["key", "create", "--name", "bench", "--owner", "bench@example.com", "--permissions", '{"*":["*"]}'], replica.configFile);
}

async function serve(name: string, replica: Replica): Promise<void> {
  procs.start(`switchboard ${name}`, [BUN, join(ROOT, "src/main.ts"), "serve", "--config", replica.configFile], { logFile: join(dir, `${name}.log`) });
  await waitFor(async () => (await fetch(`${replica.url}/healthz`)).ok, `switchboard ${name}`, 30_000);
}

async function startProxy(name: string, backends: string[], sticky: boolean): Promise<string> {
  const started = procs.start(name, [BUN, PROXY, ...(sticky ? ["--sticky"] : []), ...backends], { logFile: join(dir, `${name}.log`), stdout: "pipe" });
  return (await firstLine(started.child.stdout!, (l) => l.startsWith("listening on "), 10_000)).slice("listening on ".length).trim();
}

type Target = { key: string; label: string; url: string; token: string };
type Figures = { latencies: number[]; elapsedMs: number; calls: number };

/** `total` echo calls, one closed-loop worker per session (each session its own keep-alive client). */
async function batch(sessions: RawSession[], total: number, into: Figures): Promise<void> {
  let next = 0;
  const started = performance.now();
  await Promise.all(sessions.map(async (session) => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      await callEcho(session, "hello, upstream");
      into.latencies.push(performance.now() - t0);
    }
  }));
  into.elapsedMs += performance.now() - started;
  into.calls += total;
}

async function main(): Promise<void> {
  const fixture = procs.start("HTTP upstream", [BUN, FIXTURE, "--http", "--port", "0"], { logFile: join(dir, "fixture.log"), stdout: "pipe" });
  const fixtureUrl = (await firstLine(fixture.child.stdout!, (l) => l.startsWith("listening "), 10_000)).slice("listening ".length).trim();
  const endpoint = `/mcp/${configConnectionId("echo")}`;

  const targets: Target[] = [];
  const sqlite = await writeReplica("sqlite", fixtureUrl, null);
  const sqliteToken = makeKey(sqlite);
  await serve("sqlite", sqlite);
  targets.push({ key: "sqlite1", label: "1 replica, SQLite", url: `${sqlite.url}${endpoint}`, token: sqliteToken });

  const pg = await startPostgres();
  if (!pg) {
    console.log("  PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb) and SWITCHBOARD_BENCH_POSTGRES_URL is unset: only the SQLite figures follow.");
  } else {
    const single = await writeReplica("pg1", fixtureUrl, await createDatabase(pg, `switchboard_bench_single_${process.pid}`));
    const singleToken = makeKey(single);
    await serve("pg1", single);
    targets.push({ key: "pg1", label: "1 replica, PostgreSQL", url: `${single.url}${endpoint}`, token: singleToken });

    // Two replicas on one database: the first migrates it, the second finds it migrated.
    const shared = await createDatabase(pg, `switchboard_bench_shared_${process.pid}`);
    const a = await writeReplica("pg2-a", fixtureUrl, shared);
    const pairToken = makeKey(a);
    await serve("pg2-a", a);
    const b = await writeReplica("pg2-b", fixtureUrl, shared);
    await serve("pg2-b", b);
    const roundRobin = await startProxy("round-robin proxy", [a.url, b.url], false);
    const sticky = await startProxy("sticky proxy", [a.url, b.url], true);
    targets.push({ key: "pg2-rr", label: "2 replicas, PostgreSQL, round robin", url: `${roundRobin}${endpoint}`, token: pairToken });
    targets.push({ key: "pg2-sticky", label: "2 replicas, PostgreSQL, sticky", url: `${sticky}${endpoint}`, token: pairToken });
  }

  const cores = cpus().length;
  console.log(`  tools/call echo on an HTTP fixture upstream (test/fixtures/upstream-server.ts --http); bun ${Bun.version}; ${cores} cores; load average ${loadavg()[0]!.toFixed(1)} at the start (anything else running skews every row)`);
  console.log(`  ${ROUNDS} interleaved rounds of ${PER_ROUND} calls per target and concurrency (after ${WARMUP} warm-up calls), one session per client`);
  console.log("  every replica, each proxy, the upstream, PostgreSQL and this client share the machine's cores");
  if (cores <= 2) console.log(`  NOTE: ${cores} cores: two replicas cannot double anything here (the client, the proxy, PostgreSQL and the upstream compete for the same cores); the figures show the cost of the extra hop and engine, not the gain of a second machine`);

  const results = new Map<string, Figures>();
  for (const c of CONCURRENCY) {
    const sessions = new Map<string, RawSession[]>();
    for (const target of targets) {
      const opened = await Promise.all(Array.from({ length: c }, async () => {
        const session = new RawSession(target.url, { authorization: `Bearer ${target.token}` });
        await session.initialize();
        return session;
      }));
      sessions.set(target.key, opened);
      await batch(opened, WARMUP, { latencies: [], elapsedMs: 0, calls: 0 });
    }
    for (let round = 0; round < ROUNDS; round++) {
      // The order rotates each round, so no target always runs first (or right after a given one).
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const target of order) {
        const key = `${target.key}@${c}`;
        const figures = results.get(key) ?? { latencies: [], elapsedMs: 0, calls: 0 };
        results.set(key, figures);
        await batch(sessions.get(target.key)!, PER_ROUND, figures);
      }
    }
    for (const opened of sessions.values()) await Promise.all(opened.map((s) => s.close()));
  }

  console.log("");
  console.log(`  ${"setup".padEnd(38)} ${"c".padStart(3)} ${"calls/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"× SQLite".padStart(9)}`);
  for (const c of CONCURRENCY) {
    const base = results.get(`sqlite1@${c}`)!;
    const baseRate = base.calls / (base.elapsedMs / 1000);
    for (const target of targets) {
      const figures = results.get(`${target.key}@${c}`)!;
      const sorted = [...figures.latencies].sort((x, y) => x - y);
      const rate = figures.calls / (figures.elapsedMs / 1000);
      console.log(
        `  ${target.label.padEnd(38)} ${String(c).padStart(3)} ${rate.toFixed(0).padStart(8)} ${percentile(sorted, 50).toFixed(2).padStart(8)} ${percentile(sorted, 99).toFixed(2).padStart(8)} ${(rate / baseRate).toFixed(2).padStart(9)}`,
      );
    }
  }
}

try {
  await main();
} finally {
  await procs.stopAll();
  postgres.stop?.();
  rmSync(dir, { recursive: true, force: true });
}
