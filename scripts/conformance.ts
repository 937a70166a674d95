// `bun run conformance`: the official MCP conformance suite (server scenarios, --suite all) against
// the conformance fixture and server-everything, directly and through Switchboard's /mcp/:connectionId,
// and each through an agent (/mcp/agent/:agentId) over that connection.
// Exits non-zero if a fixture scenario fails, or if server-everything's verdicts through the gateway
// differ from its verdicts direct, or an agent's from its connection's (same verdict, same failing
// checks). `--direct-only` skips the gateway (fixture and forwarder only).
import { BlockedError, startGateway } from "./conformance/gateway.ts";
import { findRewordings, findViolations, formatProblems, formatTable, type Comparison, type TargetResult } from "./conformance/report.ts";
import { listAuthScenarios } from "./conformance/auth-scenarios.ts";
import { runSuite } from "./conformance/run-suite.ts";
import { agentTarget, Cleanup, forward, gatewayTarget, startEverythingHttp, startFixtureHttp, STDIO_EVERYTHING, STDIO_FIXTURE } from "./conformance/targets.ts";

const HELP = `Usage: bun scripts/conformance.ts [--direct-only]

Runs \`conformance server --suite all\` against:
  fixture           test/fixtures/conformance-server.ts over HTTP, directly
  fixture+fwd       the same through the auth forwarder (checks the forwarder is transparent)
  everything        @modelcontextprotocol/server-everything (streamableHttp), directly
  fixture/gw-http   Switchboard /mcp/<id> for an http connection to the fixture
  fixture/gw-stdio  Switchboard /mcp/<id> for a stdio connection running the fixture
  everything/gw     Switchboard /mcp/<id> for a stdio connection running server-everything
  fixture/agent     Switchboard /mcp/agent/<id> for an agent whose only connection is fixture/gw-stdio's
  everything/agent  Switchboard /mcp/agent/<id> for an agent over everything/gw's connection (all its
                    tools, resources and prompts): its verdicts must equal everything/gw's

--direct-only  runs only the first three (no Switchboard needed)`;

// DNS-rebinding protection belongs to the HTTP endpoint the client talks to: through the gateway
// that is Switchboard's, not the upstream's, so the gateway must pass it whatever the upstream does.
// An agent adds no exemption of its own: it answers what it does not have (an unknown tool or prompt)
// as the SDK's McpServer does, so every other scenario must agree with its connection.
const FRONT_END: Record<string, string> = { "dns-rebinding-protection": "Host/Origin checks are the gateway's own" };
/** The server-everything targets served by the gateway: each must pass the FRONT_END scenarios. */
const GATEWAY_EVERYTHING = ["everything/gw", "everything/agent"];

type Plan = { name: string; url: () => Promise<string> };
type Run = { results: TargetResult[]; blocked: string[]; gatewayLog: () => string[]; authScenarios: { server: string[]; client: string[] } };

// server-everything lacks the test_* fixtures, so its failures are expected; only agreement counts.
const MUST_PASS = ["fixture", "fixture+fwd", "fixture/gw-http", "fixture/gw-stdio", "fixture/agent"];
const COMPARISONS: Comparison[] = [
  { a: "fixture", b: "fixture+fwd", exempt: {} },
  { a: "everything", b: "everything/gw", exempt: FRONT_END },
  { a: "everything/gw", b: "everything/agent", exempt: FRONT_END },
  { a: "fixture/gw-stdio", b: "fixture/agent", exempt: {} },
];

/** Starts what each target needs (lazily, in order) and runs the suite against it. */
async function runTargets(options: { directOnly: boolean; cleanup: Cleanup }): Promise<Run> {
  const { cleanup } = options;
  const run: Run = { results: [], blocked: [], gatewayLog: () => [], authScenarios: await listAuthScenarios() };
  const fixtureUrl = await startFixtureHttp(cleanup);
  const plans: Plan[] = [
    { name: "fixture", url: async () => fixtureUrl },
    { name: "fixture+fwd", url: async () => `${forward(cleanup, new URL(fixtureUrl).origin, "unused")}/mcp` },
    { name: "everything", url: () => startEverythingHttp(cleanup) },
  ];
  if (!options.directOnly) {
    const gateway = await startGateway();
    cleanup.add(gateway.stop);
    run.gatewayLog = gateway.log;
    const front = forward(cleanup, gateway.url, gateway.mcpToken);
    // One stdio fixture connection serves both its own target and the agent's, so the two differ
    // only by the agent layer (registered on first use, whichever target runs first).
    let stdioFixture: Promise<string> | undefined;
    const stdioFixtureId = () => (stdioFixture ??= gateway.register({ slug: "conformance-stdio", transport: "stdio", ...STDIO_FIXTURE }));
    // Likewise server-everything: its agent is compared with its connection.
    let everything: Promise<string> | undefined;
    const everythingId = () => (everything ??= gateway.register({ slug: "everything", transport: "stdio", ...STDIO_EVERYTHING }));
    plans.push(
      { name: "fixture/gw-http", url: () => gatewayTarget(gateway, front, { slug: "conformance-http", transport: "http", url: fixtureUrl }) },
      { name: "fixture/gw-stdio", url: async () => gatewayTarget(gateway, front, { id: await stdioFixtureId() }) },
      { name: "everything/gw", url: async () => gatewayTarget(gateway, front, { id: await everythingId() }) },
      { name: "fixture/agent", url: async () => agentTarget(gateway, front, { slug: "conformance-agent", connectionId: await stdioFixtureId() }) },
      { name: "everything/agent", url: async () => agentTarget(gateway, front, { slug: "everything-agent", connectionId: await everythingId() }) },
    );
  }
  for (const plan of plans) {
    let url: string;
    try {
      url = await plan.url();
    } catch (err) {
      if (!(err instanceof BlockedError)) throw err;
      run.blocked.push(`${plan.name}: ${err.message}`);
      continue;
    }
    const started = performance.now();
    process.stdout.write(`${plan.name}: running the suite against ${url} … `);
    const { verdicts } = await runSuite(url);
    console.log(`${verdicts.size} scenarios in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    run.results.push({ name: plan.name, verdicts });
  }
  return run;
}

/** Prints the table and what falls short; returns the exit code. */
function judge(run: Run): number {
  console.log(`\n${formatTable(run.results)}\n`);
  const problems = formatProblems(run.results, MUST_PASS);
  if (problems) console.log(`Problems behind the fixture's non-PASS cells:\n${problems}\n`);
  const violations = findViolations({ targets: run.results, mustPass: MUST_PASS, comparisons: COMPARISONS });
  for (const [scenario, reason] of Object.entries(FRONT_END)) {
    for (const target of GATEWAY_EVERYTHING) {
      const verdict = run.results.find((t) => t.name === target)?.verdicts.get(scenario);
      if (verdict?.status === "FAIL") violations.push(`${target}: ${scenario} failed (${reason})`);
      else if (verdict) console.log(`Not compared: ${scenario} on ${target} (${reason}); it passes.`);
    }
  }
  const rewordings = findRewordings({ targets: run.results, comparisons: COMPARISONS });
  if (rewordings.length > 0) console.log(`Same checks failed in other words (not a violation):\n${rewordings.map((r) => `  ${r}`).join("\n")}\n`);
  if (run.blocked.length > 0) console.log(`Blocked:\n${run.blocked.map((b) => `  ${b}`).join("\n")}\n`);
  if (violations.length > 0) {
    console.log(`Violations:\n${violations.map((v) => `  ${v}`).join("\n")}\n`);
    const log = run.gatewayLog();
    if (log.length > 0) console.log(`Gateway log (last 40 lines):\n${log.slice(-40).join("\n")}\n`);
  }
  // `--suite all` runs every server scenario, authorization ones included when the suite has them.
  if (run.authScenarios.server.length > 0) console.log(`Authorization scenarios run (server side): ${run.authScenarios.server.join(", ")}`);
  else {
    console.log(
      `Authorization: this suite version has no server-side authorization scenario (its ${run.authScenarios.client.length} auth/* scenarios test OAuth clients). ` +
        "Switchboard's authorization server is tested by test/integration/oauth-*.test.ts and, with real clients, test/browser/oauth-clients.test.ts.",
    );
  }
  const ok = violations.length === 0 && run.blocked.length === 0;
  console.log(ok ? "Conformance: OK" : "Conformance: FAILED");
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  const cleanup = new Cleanup();
  process.on("SIGINT", () => void cleanup.run().then(() => process.exit(130)));
  try {
    return judge(await runTargets({ directOnly: args.includes("--direct-only"), cleanup }));
  } finally {
    await cleanup.run();
  }
}

process.exit(await main());
