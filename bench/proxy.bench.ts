// The proxy path: `tools/call echo` on the fixture upstream called directly and through
// /mcp/<connection id> (an HTTP upstream) with usage recording on (the default) and off, and the same
// stdio server behind Switchboard, supergateway and mcp-proxy, all interleaved in one run with one raw client; the peak RSS of every server; then
// what 1,000 idle sessions cost the gateway, and whether 10,000 abandoned ones leave anything behind.
// Every server runs in its own process, started here from a temporary directory and stopped here.
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configConnectionId } from "../src/domain/connections/config.ts";
import { percentile } from "./lib.ts";
import { callEcho, McpHttpError, RawSession } from "./mcp-client.ts";
import { childrenOf, cpuMs, descendantsOf, firstLine, freePort, mib, ProcessSet, statusKb, waitFor } from "./processes.ts";

const ROOT = join(import.meta.dir, "..");
const FIXTURE = join(ROOT, "test/fixtures/upstream-server.ts");
const BUN = process.execPath;
const NODE = Bun.which("node");

// Call counts, per target: at c=1, ROUNDS batches of C1_BATCH calls; at c=16, ROUNDS of C16_BATCH.
const ROUNDS = 10;
const C1_BATCH = 200;
const C16_BATCH = 800;
const WARMUP = 300;
const IDLE_SESSIONS = 1_000;
const ABANDONED_SESSIONS = 10_000;
const SESSION_IDLE_TIMEOUT_S = 10;
/** RSS an idle gateway may keep above where it started after 10,000 sessions come and go (allocator and JIT slack). */
const RSS_GROWTH_TOLERANCE_KB = 20 * 1024;

const procs = new ProcessSet();
const dir = mkdtempSync(join(tmpdir(), "sb-bench-proxy-"));
const verdicts: { target: string; value: string; met: boolean }[] = [];
let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  void procs.stopAll(1000).finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
});

type Gateway = { pid: number; url: string; token: string; http: string; stdio: string; dbPath: string };
/** One way of reaching the echo tool, and the processes that serve it (for CPU accounting). */
type Target = { key: string; label: string; url: string; headers: Record<string, string>; proxy: number | null; upstream: () => number[] };
/** Latency (ms), throughput, and the CPU spent per call (µs) by the client, the proxy and the upstream. */
type Stats = { n: number; p50: number; p99: number; perSecond: number; cpu: { client: number; proxy: number; upstream: number }; rounds: number[] };

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

function cli(args: string[], configFile: string, stdin?: string): string {
  const result = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), ...args, "--config", configFile], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`switchboard ${args[0]} ${args[1]} failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

/** A gateway in its own process with an HTTP and a shared stdio connection to the fixture, and an admin key. */
async function startGateway(name: string, upstreamUrl: string, gateway: Record<string, string | number> = {}, monitoring: Record<string, boolean> = {}): Promise<Gateway> {
  const home = join(dir, name);
  mkdirSync(home);
  const port = await freePort();
  const configFile = join(home, "switchboard.toml");
  const settings = Object.entries(gateway).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const recording = Object.entries(monitoring).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  writeFileSync(
    configFile,
    `[server]\nlisten = "127.0.0.1:${port}"\n[database]\npath = "db.sqlite"\n[gateway]\n${settings}\n[monitoring]\n${recording}\n` +
      `[[connections]]\nslug = "echo-http"\nurl = ${JSON.stringify(upstreamUrl)}\n` +
      `[[connections]]\nslug = "echo-stdio"\ncommand = ${JSON.stringify(BUN)}\nargs = [${JSON.stringify(FIXTURE)}]\nisolation = "shared"\n`,
  );
  cli(["user", "create", "--email", "bench@example.com", "--role", "admin", "--password-stdin"], configFile, "bench-password-123\n");
  const token = cli(["key", "create", "--name", "bench", "--owner", "bench@example.com", "--permissions", '{"*":["*"]}'], configFile);
  const started = procs.start(`switchboard ${name}`, [BUN, join(ROOT, "src/main.ts"), "serve", "--config", configFile], { logFile: join(home, "log") });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, `switchboard ${name}`, 15_000);
  return { pid: started.pid, url, token, http: `${url}/mcp/${configConnectionId("echo-http")}`, stdio: `${url}/mcp/${configConnectionId("echo-stdio")}`, dbPath: join(home, "db.sqlite") };
}

/** Waits until an MCP session can be opened at `url` (and closes it again). */
async function waitForMcp(label: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  await waitFor(
    async () => {
      const session = new RawSession(url, headers);
      await session.initialize();
      await callEcho(session, "ready");
      await session.close();
      return true;
    },
    label,
    20_000,
  );
}

async function openSessions(target: Target, count: number): Promise<RawSession[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const session = new RawSession(target.url, target.headers);
    await session.initialize();
    return session;
  }));
}

/** `total` echo calls spread over the sessions, one closed-loop worker per session. */
async function batch(sessions: RawSession[], total: number): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(sessions.map(async (session) => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      await callEcho(session, "hello, upstream");
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsedMs: performance.now() - started };
}

/** Alternating rounds over every target (the order rotates each round), then each target's figures. */
async function measure(targets: Target[], sessions: Map<string, RawSession[]>, concurrency: number, perBatch: number): Promise<Map<string, Stats>> {
  const all = new Map(targets.map((t) => [t.key, { latencies: [] as number[], elapsedMs: 0, client: 0, proxy: 0, upstream: 0, rounds: [] as number[] }]));
  for (const t of targets) await batch(sessions.get(t.key)!.slice(0, concurrency), WARMUP);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length]!;
      Bun.gc(true); // the client's garbage from one target is not collected on another's clock
      const upstream = target.upstream();
      const before = { client: process.cpuUsage(), proxy: target.proxy ? cpuMs([target.proxy]) : 0, upstream: cpuMs(upstream) };
      const result = await batch(sessions.get(target.key)!.slice(0, concurrency), perBatch);
      const client = process.cpuUsage(before.client);
      const acc = all.get(target.key)!;
      acc.latencies.push(...result.latencies);
      acc.elapsedMs += result.elapsedMs;
      acc.rounds.push(perBatch / (result.elapsedMs / 1000));
      acc.client += (client.user + client.system) / 1000;
      acc.proxy += target.proxy ? cpuMs([target.proxy]) - before.proxy : 0;
      acc.upstream += cpuMs(upstream) - before.upstream;
    }
  }
  return new Map([...all].map(([key, acc]) => {
    const sorted = acc.latencies.sort((a, b) => a - b);
    const perCall = (ms: number) => (ms * 1000) / sorted.length;
    const cpu = { client: perCall(acc.client), proxy: perCall(acc.proxy), upstream: perCall(acc.upstream) };
    return [key, { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), perSecond: sorted.length / (acc.elapsedMs / 1000), cpu, rounds: acc.rounds }];
  }));
}

function row(label: string, s: Stats): string {
  const cpu = (us: number) => us.toFixed(0).padStart(4);
  return `  ${label.padEnd(30)} ${s.perSecond.toFixed(0).padStart(6)} calls/s  p50 ${s.p50.toFixed(3).padStart(6)} ms  p99 ${s.p99.toFixed(3).padStart(7)} ms   CPU/call µs: client ${cpu(s.cpu.client)}, proxy ${cpu(s.cpu.proxy)}, upstream ${cpu(s.cpu.upstream)}`;
}

function verdict(target: string, value: string, met: boolean): string {
  verdicts.push({ target, value, met });
  return `${value}  (target ${target}: ${met ? "met" : "NOT met"})`;
}

/** Peak RSS of a server and, separately, of the processes under it. */
function peakRss(label: string, pid: number): string {
  const under = descendantsOf(pid);
  const underKb = under.reduce((sum, p) => sum + (statusKb(p, "VmHWM") ?? 0), 0);
  return `  ${label.padEnd(34)} ${mib(statusKb(pid, "VmHWM"))}   processes under it: ${under.length}, peak RSS summed ${mib(underKb)}`;
}

/** supergateway and mcp-proxy, each wrapping the fixture over stdio and serving Streamable HTTP at /mcp. */
async function startPeers(): Promise<{ supergateway: Target; mcpProxy: Target }> {
  if (!NODE) throw new Error("node is not on PATH (supergateway and mcp-proxy run on it)");
  const sgPort = await freePort();
  const mpPort = await freePort();
  // Without --stateful supergateway has no sessions and starts a stdio process for every request.
  const sg = procs.start("supergateway", [NODE, join(ROOT, "node_modules/supergateway/dist/index.js"), "--stdio", `${BUN} ${FIXTURE}`, "--outputTransport", "streamableHttp", "--stateful", "--port", String(sgPort), "--logLevel", "none"], { logFile: join(dir, "supergateway.log") });
  const mp = procs.start("mcp-proxy", [NODE, join(ROOT, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"), "--port", String(mpPort), "--host", "127.0.0.1", "--", BUN, FIXTURE], { logFile: join(dir, "mcp-proxy.log") });
  const nodeVersion = (await Bun.$`${NODE} --version`.text()).trim();
  console.log(`  supergateway ${packageVersion("supergateway")} on node ${nodeVersion}: --outputTransport streamableHttp --stateful --logLevel none (sessions need --stateful; it runs one stdio process per session)`);
  console.log(`  mcp-proxy ${packageVersion("mcp-proxy")} on node ${nodeVersion}: --host 127.0.0.1, otherwise defaults (one stdio process shared by every session)`);
  return {
    supergateway: { key: "supergateway", label: "supergateway → stdio", url: `http://127.0.0.1:${sgPort}/mcp`, headers: {}, proxy: sg.pid, upstream: () => descendantsOf(sg.pid) },
    mcpProxy: { key: "mcp-proxy", label: "mcp-proxy → stdio", url: `http://127.0.0.1:${mpPort}/mcp`, headers: {}, proxy: mp.pid, upstream: () => descendantsOf(mp.pid) },
  };
}

function printRatios(c1: Map<string, Stats>, c16: Map<string, Stats>): void {
  console.log("ratios:");
  const added = c1.get("gw-http")!.p50 - c1.get("direct")!.p50;
  console.log(`  gateway p50 − direct p50, c=1         ${verdict("≤ 1 ms added at c=1", `${added.toFixed(3)} ms`, added <= 1)}`);
  const share = c16.get("gw-http")!.perSecond / c16.get("direct")!.perSecond;
  console.log(`  gateway / direct throughput, c=16     ${verdict("≥ 0.5 of direct at c=16", share.toFixed(2), share >= 0.5)}`);
  // Both gateways are alike but for [monitoring] enabled: one row per call, batched by the UsageRecorder into its database.
  const recorded = c16.get("gw-http")!.perSecond / c16.get("gw-http-norec")!.perSecond;
  console.log(`  recording on / off throughput, c=16   ${verdict("≥ 0.95 with usage recording on at c=16", recorded.toFixed(3), recorded >= 0.95)}`);
  // The two run next to each other in every round: per-round ratios show how much of the gap is the machine's noise.
  const on = c16.get("gw-http")!, off = c16.get("gw-http-norec")!;
  const paired = on.rounds.map((r, i) => r / off.rounds[i]!).sort((a, b) => a - b);
  console.log(`    (per-round on/off ratios at c=16: median ${percentile(paired, 50).toFixed(3)}, from ${paired[0]!.toFixed(3)} to ${paired[paired.length - 1]!.toFixed(3)}; gateway CPU per call on ${on.cpu.proxy.toFixed(0)} µs, off ${off.cpu.proxy.toFixed(0)} µs)`);
  // Every process shares the same two cores, so at c=16 throughput follows the CPU a call costs in all of them.
  const total = (x: Stats) => x.cpu.client + x.cpu.proxy + x.cpu.upstream;
  const d = c16.get("direct")!, g = c16.get("gw-http")!;
  console.log(`    (CPU per call at c=16: direct ${total(d).toFixed(0)} µs in client + upstream; through the gateway ${total(g).toFixed(0)} µs, ${g.cpu.proxy.toFixed(0)} of them in the gateway: a CPU-bound ratio of about ${(total(d) / total(g)).toFixed(2)})`);
  for (const peer of ["supergateway", "mcp-proxy"]) {
    for (const [c, stats] of [[1, c1], [16, c16]] as const) {
      const ratio = stats.get("gw-stdio")!.perSecond / stats.get(peer)!.perSecond;
      console.log(`  Switchboard stdio / ${peer.padEnd(12)} c=${String(c).padEnd(2)} ${verdict(`> 1 against ${peer} at c=${c}`, ratio.toFixed(2), ratio > 1)}`);
    }
  }
}

async function throughput(fixture: { url: string; pid: number }, gateway: Gateway, unrecorded: Gateway): Promise<void> {
  console.log(`\n## 1-3. tools/call echo, one MCP session per worker (initialized before timing), every target interleaved`);
  console.log(`  Switchboard: bun ${Bun.version}, one process serving both connections, log_level info to a file, every call recorded (monitoring on, its default); a second one alike but with [monitoring] enabled = false; direct upstream: test/fixtures/upstream-server.ts --http (bun)`);
  const peers = await startPeers();
  const auth = { authorization: `Bearer ${gateway.token}` };
  const targets: Target[] = [
    { key: "direct", label: "HTTP upstream, direct", url: fixture.url, headers: {}, proxy: null, upstream: () => [fixture.pid] },
    { key: "gw-http", label: "Switchboard → HTTP upstream", url: gateway.http, headers: auth, proxy: gateway.pid, upstream: () => [fixture.pid] },
    { key: "gw-http-norec", label: "… with recording off", url: unrecorded.http, headers: { authorization: `Bearer ${unrecorded.token}` }, proxy: unrecorded.pid, upstream: () => [fixture.pid] },
    { key: "gw-stdio", label: "Switchboard → stdio (shared)", url: gateway.stdio, headers: auth, proxy: gateway.pid, upstream: () => descendantsOf(gateway.pid) },
    peers.supergateway,
    peers.mcpProxy,
  ];
  for (const t of targets) await waitForMcp(t.label, t.url, t.headers);
  const sessions = new Map<string, RawSession[]>();
  for (const t of targets) sessions.set(t.key, await openSessions(t, 16));
  const results = new Map<number, Map<string, Stats>>();
  for (const [concurrency, perBatch] of [[1, C1_BATCH], [16, C16_BATCH]] as const) {
    const stats = await measure(targets, sessions, concurrency, perBatch);
    results.set(concurrency, stats);
    console.log(`concurrency ${concurrency}: ${ROUNDS} rounds of ${perBatch} calls per target (${ROUNDS * perBatch} timed calls each, after ${WARMUP} warm-up calls); CPU/call from /proc, all rounds`);
    for (const t of targets) console.log(row(t.label, stats.get(t.key)!));
  }
  // Read while every session is still open (supergateway's per-session processes are still there).
  console.log("peak RSS (VmHWM) of each server process, and of the processes under it (its stdio servers):");
  console.log(peakRss("HTTP upstream (direct)", fixture.pid));
  console.log(peakRss("Switchboard", gateway.pid));
  console.log(peakRss("Switchboard, recording off", unrecorded.pid));
  console.log(peakRss("supergateway", peers.supergateway.proxy!));
  console.log(peakRss("mcp-proxy", peers.mcpProxy.proxy!));
  printRatios(results.get(1)!, results.get(16)!);
  // The ratio means something only if the calls were really written: count the rows (after a flush interval).
  await Bun.sleep(1000);
  const calls = (gw: Gateway) => {
    const db = new Database(gw.dbPath, { readonly: true });
    try {
      return (db.query("select count(*) as n from usage_events where method = 'tools/call' and target_id = ?").get(configConnectionId("echo-http")) as { n: number }).n;
    } finally {
      db.close();
    }
  };
  console.log(`  tools/call rows of the HTTP connection in each database: recording on ${calls(gateway)}, off ${calls(unrecorded)} (calls made: ${WARMUP + ROUNDS * C1_BATCH + WARMUP + ROUNDS * C16_BATCH}, and one readiness probe)`);
  for (const list of sessions.values()) await Promise.all(list.map((s) => s.close()));
}

type Reading = { rssKb: number; children: number; waitedMs: number; ok: boolean };

/** Polls the gateway every 500 ms until `done` holds for its child count and VmRSS, or the deadline passes. */
async function poll(pid: number, timeoutMs: number, done: (rssKb: number, children: number, history: number[]) => boolean): Promise<Reading> {
  const started = Date.now();
  const history: number[] = [];
  for (;;) {
    const rssKb = statusKb(pid, "VmRSS") ?? NaN;
    const children = childrenOf(pid).length;
    history.push(rssKb);
    const ok = done(rssKb, children, history);
    if (ok || Date.now() - started > timeoutMs) return { rssKb, children, waitedMs: Date.now() - started, ok };
    await Bun.sleep(500);
  }
}

/** A quiet gateway: `children` children and VmRSS within 1 MiB for 5 s. */
function quiet(pid: number, children: number): Promise<Reading> {
  return poll(pid, 30_000, (_rss, n, history) => {
    const last = history.slice(-10);
    return n === children && last.length === 10 && Math.max(...last) - Math.min(...last) < 1024;
  });
}

/** Opens `count` sessions, 16 at a time, over the given endpoints in turn; `then` decides their fate. */
async function churn(gateway: Gateway, count: number, then: "abandon" | "delete" | "keep"): Promise<{ kept: RawSession[]; failures: Map<string, number> }> {
  const kept: RawSession[] = [];
  const failures = new Map<string, number>();
  const endpoints = then === "keep" ? [gateway.http] : [gateway.http, gateway.stdio];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++;
      const session = new RawSession(endpoints[i % endpoints.length]!, { authorization: `Bearer ${gateway.token}` });
      try {
        await session.initialize({ initialized: then !== "abandon" });
        if (then === "delete") await session.close();
        else kept.push(session);
      } catch (err) {
        const why = err instanceof McpHttpError ? `HTTP ${err.status}` : String(err).slice(0, 80);
        failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    }
  }));
  return { kept, failures };
}

function failureText(failures: Map<string, number>): string {
  return failures.size === 0 ? "none failed" : `FAILED: ${[...failures].map(([why, n]) => `${n} × ${why}`).join(", ")}`;
}

/** What 1,000 open, idle sessions add to an idle gateway's RSS; returns the idle gateway's RSS. */
async function idleSessionCost(gateway: Gateway): Promise<number> {
  // Warm-up: the first sessions pay for code paths compiled and caches filled once.
  await churn(gateway, 200, "delete");
  const idle = await quiet(gateway.pid, 1);
  const t0 = performance.now();
  const open = await churn(gateway, IDLE_SESSIONS, "keep");
  const openMs = performance.now() - t0;
  await Bun.sleep(500);
  const withSessions = statusKb(gateway.pid, "VmRSS")!;
  const alive = (await Promise.all(open.kept.map((s) => s.alive()))).filter(Boolean).length;
  const delta = withSessions - idle.rssKb;
  console.log(`${IDLE_SESSIONS} idle sessions on the HTTP connection (initialize + initialized, no GET stream), opened in ${openMs.toFixed(0)} ms, ${failureText(open.failures)}; ${alive} still open after the reading`);
  console.log(`  VmRSS idle ${mib(idle.rssKb)}, with the sessions ${mib(withSessions)}: +${(delta / 1024).toFixed(1)} MiB, ${(delta / IDLE_SESSIONS).toFixed(1)} KiB per session`);
  console.log(`  ${verdict(`< 100 MB for ${IDLE_SESSIONS} idle sessions`, `+${((delta * 1024) / 1e6).toFixed(1)} MB`, delta * 1024 < 100e6 && alive === IDLE_SESSIONS)}`);
  await Promise.all(open.kept.map((s) => s.close()));
  return idle.rssKb;
}

/** 10,000 sessions abandoned (or deleted): are the gateway's children and RSS back where they were? */
async function sessionChurn(gateway: Gateway, fate: "abandon" | "delete", idleKb: number): Promise<void> {
  const before = await quiet(gateway.pid, 1);
  const t1 = performance.now();
  const run = await churn(gateway, ABANDONED_SESSIONS, fate);
  const runMs = performance.now() - t1;
  const peak = statusKb(gateway.pid, "VmRSS")!;
  const what = fate === "abandon" ? "opened (initialize only) and abandoned" : "opened (initialize + initialized) and closed with DELETE";
  console.log(`${ABANDONED_SESSIONS} sessions ${what}, half on each connection, in ${runMs.toFixed(0)} ms, ${failureText(run.failures)}`);
  const t2 = Date.now();
  let reaped = "";
  if (fate === "abandon") {
    // The reaper runs every idle/4; after idle + two of its passes every session is past due.
    await Bun.sleep(SESSION_IDLE_TIMEOUT_S * 1500);
    const probes = run.kept.slice(-10);
    const gone = (await Promise.all(probes.map((s) => s.alive()))).filter((a) => !a).length;
    reaped = `; the last ${probes.length} opened answer 404: ${gone}/${probes.length}`;
  }
  // The memory of closed sessions returns when the gateway's GC next runs, which an idle process
  // does on its own timer: wait until RSS is back within tolerance and steady for 3 s, up to a deadline.
  // Compared with the idle gateway before any of these sessions: a reading taken since may still
  // hold garbage of earlier sessions that the GC has not collected yet, which would flatter the result.
  const baseline = Math.min(idleKb, before.rssKb);
  const after = await poll(gateway.pid, 60_000, (rss, n, history) => {
    const last = history.slice(-6);
    return n === before.children && rss - baseline <= RSS_GROWTH_TOLERANCE_KB && last.length === 6 && Math.max(...last) - Math.min(...last) < 1024;
  });
  const growth = after.rssKb - baseline;
  const waited = ((Date.now() - t2) / 1000).toFixed(1);
  console.log(`  VmRSS: idle gateway ${mib(baseline)}, just before ${mib(before.rssKb)}, right after ${mib(peak)}, then ${mib(after.rssKb)} (${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(1)} MiB on the idle gateway) ${after.ok ? `${waited} s after the last session` : `still, ${waited} s after the last session (deadline)`}${reaped}`);
  console.log(`  child processes of the gateway: before ${before.children}, after ${after.children}`);
  const done = fate === "abandon" ? "abandoned" : "deleted";
  console.log(`  ${verdict(`no process growth after ${ABANDONED_SESSIONS} sessions ${done}`, `${after.children} vs ${before.children}`, after.children === before.children)}`);
  console.log(`  ${verdict(`no memory growth after ${ABANDONED_SESSIONS} sessions ${done} (≤ ${RSS_GROWTH_TOLERANCE_KB / 1024} MiB within 60 s)`, `${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(1)} MiB`, growth <= RSS_GROWTH_TOLERANCE_KB && run.failures.size === 0)}`);
}

async function sessionCosts(fixtureUrl: string): Promise<void> {
  const gateway = await startGateway("sessions", fixtureUrl, { session_idle_timeout: `${SESSION_IDLE_TIMEOUT_S}s` });
  console.log(`\n## 4. Sessions (a fresh gateway, session_idle_timeout = "${SESSION_IDLE_TIMEOUT_S}s", max_sessions at its default)`);
  const idleKb = await idleSessionCost(gateway);
  await sessionChurn(gateway, "abandon", idleKb);
  await sessionChurn(gateway, "delete", idleKb);
}

let exitCode = 0;
try {
  const fixture = procs.start("HTTP upstream", [BUN, FIXTURE, "--http", "--port", "0"], { logFile: join(dir, "fixture.log"), stdout: "pipe" });
  const fixtureUrl = (await firstLine(fixture.child.stdout!, (l) => l.startsWith("listening "), 10_000)).slice("listening ".length).trim();
  const gateway = await startGateway("throughput", fixtureUrl);
  const unrecorded = await startGateway("unrecorded", fixtureUrl, {}, { enabled: false });
  await throughput({ url: fixtureUrl, pid: fixture.pid }, gateway, unrecorded);
  // Only the fixture stays up for section 4 (its new gateway uses it); the rest would only add noise.
  await Promise.all(procs.pids().filter((pid) => pid !== fixture.pid).map((pid) => procs.stop(procs.find(pid)!)));
  await sessionCosts(fixtureUrl);
  console.log("\n## Summary");
  for (const v of verdicts) console.log(`  ${v.met ? "met    " : "NOT met"}  ${v.target}: ${v.value}`);
} catch (err) {
  if (interrupted) await new Promise(() => {}); // the SIGINT handler cleans up and exits
  console.error("proxy bench failed:", err);
  console.error(`(server logs in ${dir})`);
  exitCode = 1;
} finally {
  await procs.stopAll();
  if (exitCode === 0) rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
