// The rules of `bun run conformance`: two compared targets agree only with the same verdict through
// the same failing checks; other words for the same checks are shown, never a violation.
import { describe, expect, test } from "bun:test";
import { checkIdsOf, findRewordings, findViolations, type TargetResult } from "../../scripts/conformance/report.ts";
import { listAuthScenarios, parseAuthScenarios } from "../../scripts/conformance/auth-scenarios.ts";
import type { Verdict } from "../../scripts/conformance/run-suite.ts";

function verdict(status: Verdict["status"], problems: string[] = []): Verdict {
  return { status, passed: 1, failed: problems.filter((p) => p.startsWith("FAILURE")).length, warnings: problems.filter((p) => p.startsWith("WARNING")).length, problems };
}

function target(name: string, verdicts: Record<string, Verdict>): TargetResult {
  return { name, verdicts: new Map(Object.entries(verdicts)) };
}

const comparisons = [{ a: "conn", b: "agent", exempt: { "dns-rebinding-protection": "the gateway's own" } }];

describe("conformance comparisons", () => {
  test("the checks behind a verdict, without their words", () => {
    expect(checkIdsOf(verdict("FAIL", ["FAILURE tools-call-error: Failed: MCP error -32602: Unknown tool: x", "WARNING retry: no retry field", "FAILURE tools-call-error: again"]))).toEqual([
      "FAILURE tools-call-error",
      "WARNING retry",
    ]);
    expect(checkIdsOf(verdict("PASS"))).toEqual([]);
  });

  test("a different verdict is a violation; an exempt scenario is not compared", () => {
    const targets = [
      target("conn", { "tools-call-error": verdict("PASS"), "dns-rebinding-protection": verdict("FAIL", ["FAILURE host: x"]) }),
      target("agent", { "tools-call-error": verdict("FAIL", ["FAILURE tools-call-error: Failed: Unknown tool"]), "dns-rebinding-protection": verdict("PASS") }),
    ];
    const violations = findViolations({ targets, mustPass: [], comparisons });
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("tools-call-error: conn says PASS");
    expect(violations.join()).not.toContain("dns-rebinding-protection");
  });

  test("the same verdict through other checks is a violation", () => {
    const targets = [
      target("conn", { "server-sse-polling": verdict("FAIL", ["FAILURE incoming-sse-event: Tool call failed"]) }),
      target("agent", { "server-sse-polling": verdict("FAIL", ["FAILURE server-sse-polling-error: Error: boom"]) }),
    ];
    expect(findViolations({ targets, mustPass: [], comparisons })).toEqual([expect.stringContaining("both say FAIL, through other checks")]);
  });

  test("the same checks in other words are shown, not a violation", () => {
    const targets = [
      target("conn", { "prompts-get-simple": verdict("FAIL", ["FAILURE prompts-get-simple: Failed: Prompt p not found"]) }),
      target("agent", { "prompts-get-simple": verdict("FAIL", ["FAILURE prompts-get-simple: Failed: Unknown prompt: p"]) }),
    ];
    expect(findViolations({ targets, mustPass: [], comparisons })).toEqual([]);
    expect(findRewordings({ targets, comparisons })).toEqual([expect.stringContaining("Unknown prompt: p")]);
    // Identical words: nothing to show.
    expect(findRewordings({ targets: [targets[0]!, { ...targets[0]!, name: "agent" }], comparisons })).toEqual([]);
  });
});

describe("the suite's authorization scenarios", () => {
  test("are told apart by side from `conformance list`", () => {
    const listing = "Server scenarios (test against a server):\n  - server-initialize [2025-11-25]\n  - auth/server-metadata [draft]\n\nClient scenarios (test against a client):\n  - initialize [2025-11-25]\n  - auth/basic-cimd [2025-11-25]\n  - auth/metadata-default [2025-11-25]\n";
    expect(parseAuthScenarios(listing)).toEqual({ server: ["auth/server-metadata"], client: ["auth/basic-cimd", "auth/metadata-default"] });
  });

  test("the installed suite is read the same way", async () => {
    const installed = await listAuthScenarios();
    expect(installed.client.length).toBeGreaterThan(0);
    expect(installed.client.every((name) => name.startsWith("auth/"))).toBe(true);
  });
});
