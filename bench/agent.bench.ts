// What an agent adds: tools/call and tools/list through /mcp/agent/<slug> over 3 connections, against
// the same through /mcp/<connection>, interleaved in one run, with the gateway in its own process.
// The three stdio upstreams offer 113 tools each (339 in all); the agent's tools/list must come from
// the discovery cache, so the upstreams' CPU time during the agent's lists is printed too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percentile } from "./lib.ts";
import { RawSession } from "./mcp-client.ts";
import { childrenOf, cpuMs, freePort, ProcessSet, waitFor } from "./processes.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const FIXTURE = join(ROOT, "test/fixtures/upstream-server.ts");
const EXTRA_TOOLS = 100;
const ROUNDS = 8;
const PER_ROUND = { call: 300, list: 60 };

const dir = mkdtempSync(join(tmpdir(), "sb-bench-agent-"));
const procs = new ProcessSet();

function cli(args: string[], configFile: string, stdin?: string): string {
  const result = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), ...args, "--config", configFile], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`switchboard ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

async function timed(session: RawSession, method: string, params: unknown, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await session.request(method, params);
    out.push(performance.now() - t0);
  }
  return out;
}

const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const p99 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 99);

try {
  const port = await freePort();
  const configFile = join(dir, "switchboard.toml");
  mkdirSync(join(dir, "data"));
  const connections = ["alpha", "beta", "gamma"]
    .map((slug) => `[[connections]]\nslug = "${slug}"\ncommand = ${JSON.stringify(BUN)}\nargs = [${JSON.stringify(FIXTURE)}]\nenv = { FIXTURE_NAME = "${slug}", EXTRA_TOOLS = "${EXTRA_TOOLS}" }\n`)
    .join("");
  writeFileSync(
    configFile,
    `[server]\nlisten = "127.0.0.1:${port}"\n[database]\npath = "data/db.sqlite"\n${connections}` +
      `[[agents]]\nslug = "trio"\nprefix_tools = true\ntools = { alpha = "*", beta = "*", gamma = "*" }\n`,
  );
  cli(["user", "create", "--email", "bench@example.com", "--role", "admin", "--password-stdin"], configFile, "bench-password-123\n");
  const token = cli(["key", "create", "--name", "bench", "--owner", "bench@example.com", "--permissions", '{"*":["*"]}'], configFile);
  const gateway = procs.start("switchboard", [BUN, join(ROOT, "src/main.ts"), "serve", "--config", configFile], { logFile: join(dir, "log") });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, "switchboard", 15_000);
  const headers = { authorization: `Bearer ${token}` };
  const viaConnection = new RawSession(`${base}/mcp/alpha`, headers);
  const viaAgent = new RawSession(`${base}/mcp/agent/trio`, headers);
  await viaConnection.initialize();
  await viaAgent.initialize();
  // Wait until the agent lists every upstream's tools (discovery at start).
  await waitFor(async () => ((await viaAgent.request("tools/list")) as { tools: unknown[] }).tools.length >= 3 * (EXTRA_TOOLS + 13), "agent discovery", 30_000);
  const agentTools = ((await viaAgent.request("tools/list")) as { tools: unknown[] }).tools.length;

  const echo = { name: "echo", arguments: { text: "bench" } };
  const agentEcho = { name: "alpha__echo", arguments: { text: "bench" } };
  await timed(viaConnection, "tools/call", echo, 200);
  await timed(viaAgent, "tools/call", agentEcho, 200);
  const calls = { connection: [] as number[], agent: [] as number[] };
  const lists = { connection: [] as number[], agent: [] as number[] };
  const upstreams = childrenOf(gateway.pid);
  let upstreamCpuDuringAgentLists = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (["connection", "agent"] as const) : (["agent", "connection"] as const);
    for (const side of order) {
      const session = side === "agent" ? viaAgent : viaConnection;
      calls[side].push(...(await timed(session, "tools/call", side === "agent" ? agentEcho : echo, PER_ROUND.call)));
      const before = cpuMs(upstreams);
      lists[side].push(...(await timed(session, "tools/list", {}, PER_ROUND.list)));
      if (side === "agent") upstreamCpuDuringAgentLists += cpuMs(upstreams) - before;
    }
  }
  console.log(`agent "trio" over 3 stdio connections exposing ${agentTools} tools (prefix_tools); gateway in its own process; concurrency 1`);
  console.log(`${ROUNDS} interleaved rounds: ${PER_ROUND.call} tools/call and ${PER_ROUND.list} tools/list per side per round`);
  const line = (label: string, xs: number[]) => `  ${label.padEnd(34)} p50 ${p50(xs).toFixed(3)} ms  p99 ${p99(xs).toFixed(3)} ms  (n=${xs.length})`;
  console.log(line("tools/call via /mcp/alpha", calls.connection));
  console.log(line("tools/call via /mcp/agent/trio", calls.agent));
  console.log(line("tools/list via /mcp/alpha (113)", lists.connection));
  console.log(line(`tools/list via agent (${agentTools})`, lists.agent));
  const added = p50(calls.agent) - p50(calls.connection);
  console.log(`  agent adds to tools/call p50: ${(added * 1000).toFixed(0)} µs (target ≤ 500 µs: ${added <= 0.5 ? "met" : "NOT met"})`);
  console.log(`  upstream CPU during the agent's ${lists.agent.length} lists: ${upstreamCpuDuringAgentLists} ms (served from the discovery cache when ~0)`);
} finally {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
