// The import graph of src/ and views/ follows the layers (cli → server → http → views → operations →
// gateway → domain → config/db/security): no import goes back up, and no two files import each other
// in a cycle. A contract therefore lives in the lowest layer that needs it (docs/architecture.md).
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

type Layer = { name: string; rank: number; owns: (file: string) => boolean };

/**
 * The pure rules and contracts of the domain: zod schemas, shapes and decisions with no state, that
 * import only libraries, the shared modules and each other. They sit below config because the config
 * schema validates connections and agents with exactly the rules the API uses (one definition), and
 * below db because the database schema types its JSON columns with them.
 */
const DOMAIN_RULES = new Set([
  "src/domain/text.ts",
  "src/domain/connections/spec.ts",
  "src/domain/connections/rules.ts",
  "src/domain/connections/addresses.ts",
  "src/domain/agents/tools.ts",
  "src/domain/agents/rules.ts",
]);

const under = (folder: string) => (file: string): boolean => file.startsWith(folder);

/** Bottom to top; a file may import its own layer and any lower one. The first layer that owns a file wins. */
const LAYERS: Layer[] = [
  // Used by every layer; they import nothing of Switchboard's.
  { name: "shared", rank: 0, owns: (f) => ["src/errors.ts", "src/logger.ts", "src/version.ts", "src/types.d.ts"].includes(f) },
  { name: "domain rules", rank: 1, owns: (f) => DOMAIN_RULES.has(f) },
  // Config is read once and passed down to every layer, so it sits at the bottom with db and security.
  { name: "config", rank: 2, owns: under("src/config/") },
  { name: "db", rank: 2, owns: under("src/db/") },
  { name: "security", rank: 2, owns: under("src/security/") },
  { name: "domain", rank: 3, owns: under("src/domain/") },
  { name: "gateway", rank: 4, owns: under("src/gateway/") },
  { name: "operations", rank: 5, owns: under("src/operations/") },
  { name: "views", rank: 6, owns: under("views/") },
  { name: "http", rank: 7, owns: under("src/http/") },
  { name: "server", rank: 8, owns: (f) => f === "src/server.ts" || f === "src/compose.ts" },
  { name: "cli", rank: 9, owns: (f) => f.startsWith("src/cli/") || f === "src/main.ts" },
];

function layerOf(file: string): Layer | null {
  return LAYERS.find((l) => l.owns(file)) ?? null;
}

/** One import of one file; `typeOnly` for `import type`, `export type` and inline `import("…")` types. */
type Edge = { from: string; to: string; typeOnly: boolean };

// Statements at the start of a line: `import … from "x"`, `export … from "x"`, `import "x"`; and
// `import("x")` anywhere (lazy imports and inline type references). Type-only imports count: they are
// still an arrow from one layer to another in the design, even though they vanish at runtime.
const STATEMENT = /^[ \t]*(import|export)(\s+type)?\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm;
const BARE = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^[ \t]*\/\/.*$/gm, "");
}

/** The relative imports of a source text, as written. */
export function importsOf(text: string): { spec: string; typeOnly: boolean }[] {
  const code = stripComments(text);
  const found: { spec: string; typeOnly: boolean }[] = [];
  for (const m of code.matchAll(STATEMENT)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of code.matchAll(BARE)) found.push({ spec: m[1]!, typeOnly: false });
  for (const m of code.matchAll(DYNAMIC)) found.push({ spec: m[1]!, typeOnly: true });
  return found.filter((i) => i.spec.startsWith("."));
}

function resolveImport(from: string, spec: string): string | null {
  const base = resolve(ROOT, dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(ROOT, candidate);
  }
  return null;
}

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const folder of ["src", "views"]) {
    for (const f of new Glob("**/*.{ts,tsx}").scanSync(resolve(ROOT, folder))) files.push(`${folder}/${f}`);
  }
  return files.sort();
}

function graph(): { files: string[]; edges: Edge[]; unresolved: string[] } {
  const files = sourceFiles();
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const seen = new Map<string, boolean>();
    for (const { spec, typeOnly } of importsOf(readFileSync(resolve(ROOT, file), "utf8"))) {
      const to = resolveImport(file, spec);
      if (to === null) {
        unresolved.push(`${file} → ${spec}`);
        continue;
      }
      // Data files (SQL migrations, assets, package.json) are leaves, not modules of a layer.
      if (!/\.tsx?$/.test(to)) continue;
      seen.set(to, (seen.get(to) ?? true) && typeOnly);
    }
    for (const [to, typeOnly] of seen) edges.push({ from: file, to, typeOnly });
  }
  return { files, edges, unresolved };
}

const show = (e: Edge): string => `${e.from} → ${e.to}${e.typeOnly ? " (type only)" : ""}`;

/** Imports from a lower layer to a higher one, as readable lines. */
export function upwardImports(edges: Edge[], layer: (file: string) => Layer | null): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const from = layer(e.from);
    const to = layer(e.to);
    if (from && to && to.rank > from.rank) out.push(`${show(e)}: ${from.name} may not import ${to.name}`);
  }
  return out;
}

/**
 * Every cycle between files: one line per knot (strongly connected component), a path that returns to
 * its start, followed by the other files of the knot when there are more.
 */
export function cycles(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components, iterative so a deep graph cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; i: number }[] = [{ node: start, i: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = next.get(frame.node) ?? [];
      if (frame.i < targets.length) {
        const to = targets[frame.i++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = (next.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  return components.map((component) => {
    // A shortest way back to the first file, through the component, to print one concrete cycle.
    const inside = new Set(component);
    const first = [...component].sort()[0]!;
    const previous = new Map<string, string>();
    const queue = [first];
    let closing: string | null = null;
    while (queue.length > 0 && closing === null) {
      const node = queue.shift()!;
      for (const to of next.get(node) ?? []) {
        if (!inside.has(to)) continue;
        if (to === first) {
          closing = node;
          break;
        }
        if (!previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    const path = [first];
    for (let node = closing!; node !== first; node = previous.get(node)!) path.splice(1, 0, node);
    const cycle = [...path, first].join(" → ");
    // Other files tangled in the same knot are named too, so one fix does not hide the next cycle.
    const others = component.filter((f) => !path.includes(f)).sort();
    return others.length === 0 ? cycle : `${cycle} (tangled with ${others.join(", ")})`;
  });
}

describe("the import graph", () => {
  const { files, edges, unresolved } = graph();

  test("it reads the tree: many files, many imports, every relative import resolves", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
    expect(unresolved).toEqual([]);
  });

  test("every file of src/ and views/ belongs to a layer", () => {
    expect(files.filter((f) => layerOf(f) === null)).toEqual([]);
  });

  test("no import goes from a lower layer to a higher one (type-only imports included)", () => {
    const upward = upwardImports(edges, layerOf);
    if (upward.length > 0) console.error(`Imports that go up a layer:\n  ${upward.join("\n  ")}`);
    expect(upward).toEqual([]);
  });

  test("no cycle between files (type-only imports included)", () => {
    const found = cycles(edges);
    if (found.length > 0) console.error(`Import cycles:\n  ${found.join("\n  ")}`);
    expect(found).toEqual([]);
  });
});

describe("the checker itself", () => {
  test("reads import, export and inline type imports, and ignores packages and comments", () => {
    const text = [
      `import { a } from "./a.ts";`,
      `import type { B } from "../b.ts";`,
      `export { c } from "./c.ts";`,
      `export type { D } from "./d.ts";`,
      `import {\n  e,\n  f,\n} from "./ef.ts";`,
      `import "./side.ts";`,
      `const lazy = await import("./lazy.ts");`,
      `type G = import("./g.ts").G;`,
      `import { z } from "zod";`,
      `// import { old } from "./commented.ts";`,
      `/* import { old } from "./block.ts"; */`,
    ].join("\n");
    expect(importsOf(text).sort((x, y) => x.spec.localeCompare(y.spec))).toEqual([
      { spec: "../b.ts", typeOnly: true },
      { spec: "./a.ts", typeOnly: false },
      { spec: "./c.ts", typeOnly: false },
      { spec: "./d.ts", typeOnly: true },
      { spec: "./ef.ts", typeOnly: false },
      { spec: "./g.ts", typeOnly: true },
      { spec: "./lazy.ts", typeOnly: true },
      { spec: "./side.ts", typeOnly: false },
    ]);
  });

  test("an import from the gateway up to operations is reported, one down is not", () => {
    const edges: Edge[] = [
      { from: "src/gateway/gateway.ts", to: "src/operations/registry.ts", typeOnly: true },
      { from: "src/operations/registry.ts", to: "src/gateway/types.ts", typeOnly: false },
      { from: "src/db/schema.ts", to: "src/domain/agents/tools.ts", typeOnly: true },
      { from: "src/config/schema.ts", to: "src/domain/connections/connections.ts", typeOnly: false },
    ];
    expect(upwardImports(edges, layerOf)).toEqual([
      "src/gateway/gateway.ts → src/operations/registry.ts (type only): gateway may not import operations",
      "src/config/schema.ts → src/domain/connections/connections.ts: config may not import domain",
    ]);
  });

  test("a cycle is reported as a path, within a layer and across layers; a diamond is not a cycle", () => {
    const edge = (from: string, to: string): Edge => ({ from, to, typeOnly: false });
    const edges = [
      edge("g/a.ts", "g/b.ts"),
      edge("g/b.ts", "g/a.ts"),
      edge("x/1.ts", "x/2.ts"),
      edge("x/2.ts", "x/3.ts"),
      edge("x/3.ts", "x/1.ts"),
      edge("d/top.ts", "d/left.ts"),
      edge("d/top.ts", "d/right.ts"),
      edge("d/left.ts", "d/bottom.ts"),
      edge("d/right.ts", "d/bottom.ts"),
      edge("s/self.ts", "s/self.ts"),
    ];
    expect(cycles(edges).sort()).toEqual(["g/a.ts → g/b.ts → g/a.ts", "s/self.ts → s/self.ts", "x/1.ts → x/2.ts → x/3.ts → x/1.ts"]);
  });
});
