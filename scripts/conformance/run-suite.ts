// Runs the official conformance suite (`conformance server --suite all`) against one URL and reads
// each scenario's checks.json into a verdict: FAIL if any check failed, WARN if any warned, else PASS.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CONFORMANCE_CLI = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/conformance/dist/index.js");
// A scenario's own client calls time out after 60 s; a whole run far beyond this means a hang.
const SUITE_TIMEOUT_MS = 10 * 60_000;

export type Status = "PASS" | "WARN" | "FAIL";
export type Verdict = { status: Status; passed: number; failed: number; warnings: number; problems: string[] };
export type SuiteResult = { verdicts: Map<string, Verdict>; log: string };

type Check = { id: string; status: string; errorMessage?: string };

function verdictOf(checks: Check[]): Verdict {
  const count = (status: string) => checks.filter((c) => c.status === status).length;
  const failed = count("FAILURE");
  const warnings = count("WARNING");
  const problems = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING").map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? ""}`.trim());
  return { status: failed > 0 ? "FAIL" : warnings > 0 ? "WARN" : "PASS", passed: count("SUCCESS"), failed, warnings, problems };
}

/** The CLI names each result directory `server-<scenario>-<ISO timestamp with : and . as ->`. */
function scenarioOfDir(dir: string): string | null {
  return /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir)?.[1] ?? null;
}

/** Runs every server scenario against `url`; a scenario that left no result (crash, timeout) is a FAIL. */
export async function runSuite(url: string): Promise<SuiteResult> {
  const outDir = mkdtempSync(join(tmpdir(), "switchboard-conformance-"));
  try {
    const child = Bun.spawn([process.execPath, CONFORMANCE_CLI, "server", "--url", url, "--suite", "all", "-o", outDir], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => child.kill("SIGKILL"), SUITE_TIMEOUT_MS);
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    clearTimeout(timer);
    const log = stdout + stderr;
    // The scenario list comes from what the CLI announced, so one that died before writing its
    // checks still shows up (as a failure) instead of silently vanishing from the comparison.
    const announced = [...log.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]!);
    const written = new Map<string, Verdict>();
    for (const dir of readdirSync(outDir)) {
      const scenario = scenarioOfDir(dir);
      if (scenario === null) continue;
      const checks = JSON.parse(readFileSync(join(outDir, dir, "checks.json"), "utf8")) as Check[];
      written.set(scenario, verdictOf(checks));
    }
    // In the suite's own order; a scenario announced but without checks.json is a FAIL.
    const verdicts = new Map<string, Verdict>();
    for (const scenario of [...announced, ...written.keys()]) {
      if (verdicts.has(scenario)) continue;
      verdicts.set(scenario, written.get(scenario) ?? { status: "FAIL", passed: 0, failed: 1, warnings: 0, problems: ["no result: the scenario crashed or the run timed out"] });
    }
    if (verdicts.size === 0) throw new Error(`the conformance CLI ran no scenario against ${url}:\n${log}`);
    return { verdicts, log };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
