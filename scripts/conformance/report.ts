// The conformance report: a scenario × target table of verdicts, the problems behind every
// non-PASS cell, and the rules that decide the exit code.
import type { Verdict } from "./run-suite.ts";

export type TargetResult = { name: string; verdicts: Map<string, Verdict> };
/** Two targets that must agree per scenario, except on `exempt` scenarios (with the reason). */
export type Comparison = { a: string; b: string; exempt: Record<string, string> };

const MISSING: Verdict = { status: "FAIL", passed: 0, failed: 1, warnings: 0, problems: ["not run"] };

function scenariosOf(targets: TargetResult[]): string[] {
  const seen = new Set<string>();
  for (const t of targets) for (const s of t.verdicts.keys()) seen.add(s);
  return [...seen];
}

/** The table, one row per scenario, one column per target. */
export function formatTable(targets: TargetResult[]): string {
  const scenarios = scenariosOf(targets);
  const first = Math.max("scenario".length, ...scenarios.map((s) => s.length));
  const widths = targets.map((t) => Math.max(t.name.length, 4));
  const row = (cells: string[]) => [cells[0]!.padEnd(first), ...cells.slice(1).map((c, i) => c.padEnd(widths[i]!))].join("  ").trimEnd();
  const lines = [row(["scenario", ...targets.map((t) => t.name)]), row(["-".repeat(first), ...widths.map((w) => "-".repeat(w))])];
  for (const s of scenarios) lines.push(row([s, ...targets.map((t) => (t.verdicts.get(s) ?? MISSING).status)]));
  const totals = targets.map((t) => {
    const all = [...t.verdicts.values()];
    return `${all.filter((v) => v.status !== "FAIL").length}/${all.length}`;
  });
  lines.push(row(["not FAIL", ...totals]));
  return lines.join("\n");
}

/** The failed and warned checks behind each non-PASS cell of the named targets. */
export function formatProblems(targets: TargetResult[], names: string[]): string {
  const lines: string[] = [];
  for (const t of targets.filter((target) => names.includes(target.name))) {
    for (const [scenario, v] of t.verdicts) {
      if (v.status === "PASS") continue;
      lines.push(`${t.name} / ${scenario}: ${v.status}`);
      for (const p of v.problems) lines.push(`    ${p}`);
    }
  }
  return lines.join("\n");
}

/**
 * The checks behind a verdict that did not pass, as "STATUS check-id": two targets agree only when the
 * same checks fail or warn, not merely as many. Their words are left out (they may name a port or a session).
 */
export function checkIdsOf(v: Verdict): string[] {
  return [...new Set(v.problems.map((p) => (p.includes(":") ? p.slice(0, p.indexOf(":")) : p)))].sort();
}

/** Scenarios where two compared targets fail the same checks in other words (shown, not a violation). */
export function findRewordings(options: { targets: TargetResult[]; comparisons: Comparison[] }): string[] {
  const byName = new Map(options.targets.map((t) => [t.name, t]));
  const notes: string[] = [];
  for (const { a, b, exempt } of options.comparisons) {
    const ta = byName.get(a);
    const tb = byName.get(b);
    if (!ta || !tb) continue;
    for (const [s, va] of ta.verdicts) {
      const vb = tb.verdicts.get(s);
      if (s in exempt || !vb || va.status !== vb.status) continue;
      const wordsA = [...va.problems].sort().join("; ");
      const wordsB = [...vb.problems].sort().join("; ");
      if (wordsA !== wordsB && checkIdsOf(va).join() === checkIdsOf(vb).join()) notes.push(`${s}: ${a}: ${wordsA}\n    ${b}: ${wordsB}`);
    }
  }
  return notes;
}

/** Every way the run falls short: a fixture target with a failed scenario, or two targets that disagree. */
export function findViolations(options: { targets: TargetResult[]; mustPass: string[]; comparisons: Comparison[] }): string[] {
  const byName = new Map(options.targets.map((t) => [t.name, t]));
  const scenarios = scenariosOf(options.targets);
  const violations: string[] = [];
  for (const name of options.mustPass) {
    const target = byName.get(name);
    if (!target) continue;
    for (const s of scenarios) {
      if ((target.verdicts.get(s) ?? MISSING).status === "FAIL") violations.push(`${name}: ${s} failed`);
    }
  }
  for (const { a, b, exempt } of options.comparisons) {
    const ta = byName.get(a);
    const tb = byName.get(b);
    if (!ta || !tb) continue;
    for (const s of scenarios) {
      if (s in exempt) continue;
      const va = ta.verdicts.get(s) ?? MISSING;
      const vb = tb.verdicts.get(s) ?? MISSING;
      const why = (v: Verdict) => (v.problems.length > 0 ? ` (${v.problems.join("; ")})` : "");
      if (va.status !== vb.status) violations.push(`${s}: ${a} says ${va.status}${why(va)}, ${b} says ${vb.status}${why(vb)}`);
      else if (checkIdsOf(va).join() !== checkIdsOf(vb).join()) violations.push(`${s}: ${a} and ${b} both say ${va.status}, through other checks: ${a}${why(va)}, ${b}${why(vb)}`);
    }
  }
  return violations;
}
