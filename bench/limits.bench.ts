// `bun run bench limits`: what a hostile upstream can cost the gateway. 1. Memory: a ~1 GiB answer
// (generated on the fly by test/fixtures/oversized-upstream.ts) with Content-Length, chunked, and as an
// event-stream line that never ends, through a gateway with the default gateway.max_response_size; the
// gateway's peak RSS above its idle RSS for each. 2. CPU: the gateway's CPU time over a few seconds
// while a stdio server floods stderr, against the same gateway with a quiet server, in the same run.
// Every server runs in its own process, started here from a temporary directory and stopped here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configConnectionId } from "../src/domain/connections/config.ts";
import { RawSession } from "./mcp-client.ts";
import { cpuMs, firstLine, freePort, mib, ProcessSet, statusKb, waitFor } from "./processes.ts";

const ROOT = join(import.meta.dir, "..");
const HOSTILE = join(ROOT, "test/fixtures/oversized-upstream.ts");
const DETACHING = join(ROOT, "test/fixtures/detaching-server.ts");
const BUN = process.execPath;
const ANSWER_BYTES = 1024 ** 3;
const FLOOD_SECONDS = 4;

const procs = new ProcessSet();
const dir = mkdtempSync(join(tmpdir(), "sb-bench-limits-"));

function cli(args: string[], configFile: string, stdin?: string): string {
  const result = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), ...args, "--config", configFile], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`switchboard ${args[0]} ${args[1]} failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

/** A gateway in its own process over the connections given as TOML tables, with an admin key. */
async function startGateway(name: string, connections: string): Promise<{ pid: number; url: string; token: string }> {
  const home = join(dir, name);
  mkdirSync(home);
  const port = await freePort();
  const configFile = join(home, "switchboard.toml");
  writeFileSync(configFile, `[server]\nlisten = "127.0.0.1:${port}"\n[database]\npath = "db.sqlite"\n${connections}`);
  cli(["user", "create", "--email", "bench@example.com", "--role", "admin", "--password-stdin"], configFile, "bench-password-123\n");
  const token = cli(["key", "create", "--name", "bench", "--owner", "bench@example.com", "--permissions", '{"*":["*"]}'], configFile);
  const started = procs.start(`switchboard ${name}`, [BUN, join(ROOT, "src/main.ts"), "serve", "--config", configFile], { logFile: join(home, "log") });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, `switchboard ${name}`, 15_000);
  return { pid: started.pid, url, token };
}

/** Runs `work` while sampling the process's RSS every 10 ms; the highest sample (kB). */
async function peakRss(pid: number, work: () => Promise<unknown>): Promise<number> {
  let peak = statusKb(pid, "VmRSS") ?? 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, statusKb(pid, "VmRSS") ?? 0);
      await Bun.sleep(10);
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await sampler;
  }
  return peak;
}

async function memory(): Promise<void> {
  const upstream = procs.start("hostile upstream", [BUN, HOSTILE], { logFile: join(dir, "hostile.log"), stdout: "pipe" });
  const upstreamUrl = (await firstLine(upstream.child.stdout!, (l) => l.startsWith("listening "), 10_000)).slice("listening ".length).trim();
  const gateway = await startGateway("memory", `[[connections]]\nslug = "hostile"\nurl = ${JSON.stringify(upstreamUrl)}\n`);
  const session = new RawSession(`${gateway.url}/mcp/${configConnectionId("hostile")}`, { authorization: `Bearer ${gateway.token}` });
  await session.initialize();
  for (let i = 0; i < 50; i++) await session.request("tools/call", { name: "echo", arguments: { text: "warm" } });
  await Bun.sleep(500);
  const idle = statusKb(gateway.pid, "VmRSS") ?? 0;
  console.log(`\n## 1. A ${ANSWER_BYTES / 1024 ** 3} GiB answer, gateway.max_response_size at its default (32 MiB)`);
  console.log(`gateway idle RSS ${mib(idle)}`);
  // Three rounds: what one refused answer costs, and that refused answers do not add up.
  for (let round = 1; round <= 3; round++) {
    for (const tool of ["json-length", "json-chunked", "json-close", "sse-event", "sse-line"]) {
      let outcome = "";
      const started = performance.now();
      const peak = await peakRss(gateway.pid, async () => {
        try {
          await session.request("tools/call", { name: tool, arguments: { bytes: ANSWER_BYTES } });
          outcome = "answered (limit NOT enforced)";
        } catch (err) {
          outcome = (err as Error).message.slice(0, 120);
        }
      });
      const ms = performance.now() - started;
      const echo = (await session.request("tools/call", { name: "echo", arguments: { text: "after" } })) as { content?: { text?: string }[] };
      console.log(
        `round ${round} ${tool.padEnd(13)} peak RSS ${mib(peak)} (+${mib(peak - idle).trim()} over idle) in ${ms.toFixed(0).padStart(5)} ms; next call ${echo.content?.[0]?.text === "after" ? "ok" : "FAILED"}; ${outcome}`,
      );
    }
  }
  await Bun.sleep(1000);
  console.log(`gateway RSS after every round ${mib(statusKb(gateway.pid, "VmRSS"))}, high-water mark ${mib(statusKb(gateway.pid, "VmHWM"))}`);
  await session.close();
}

async function stderrFlood(): Promise<void> {
  console.log(`\n## 2. Gateway CPU over ${FLOOD_SECONDS} s with a stdio server idle, or flooding stderr`);
  for (const flood of [false, true]) {
    const name = flood ? "flood" : "quiet";
    const env = flood ? ` env = { FLOOD_STDERR = "1" }\n` : "";
    const gateway = await startGateway(name, `[[connections]]\nslug = "${name}"\ncommand = ${JSON.stringify(BUN)}\nargs = [${JSON.stringify(DETACHING)}]\n${env}`);
    const session = new RawSession(`${gateway.url}/mcp/${configConnectionId(name)}`, { authorization: `Bearer ${gateway.token}` });
    await session.initialize();
    await session.request("tools/call", { name: "echo", arguments: {} });
    await Bun.sleep(500); // past start-up and discovery
    const before = cpuMs([gateway.pid]);
    await Bun.sleep(FLOOD_SECONDS * 1000);
    const used = cpuMs([gateway.pid]) - before;
    const ok = (await session.request("tools/call", { name: "echo", arguments: {} })) as { content?: { text?: string }[] };
    console.log(`${name.padEnd(6)} gateway CPU ${String(used).padStart(6)} ms in ${FLOOD_SECONDS} s (${((used / (FLOOD_SECONDS * 1000)) * 100).toFixed(1)}% of a core); server still answers: ${ok.content?.[0]?.text === "echo"}`);
    await session.close();
    await procs.stop(procs.find(gateway.pid)!);
  }
}

let exitCode = 0;
try {
  const only = process.env.LIMITS_ONLY;
  if (only !== "cpu") await memory();
  if (only !== "memory") await stderrFlood();
} catch (err) {
  console.error("limits bench failed:", err);
  console.error(`(server logs in ${dir})`);
  exitCode = 1;
} finally {
  await procs.stopAll();
  if (exitCode === 0) rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
