// The fixture upstream as one bundled file: a stdio fixture is spawned for most gateway tests, and a
// bundle starts about 40 ms sooner than the source (no module resolution, no transpiling of the SDK
// and zod at every start). Same code, built once and cached by the content it was built from, inside the
// checkout's node_modules/.cache (not a shared temp dir, where another user could plant a file by that name).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

/** The bundle of `source` (a fixture script), built now unless a bundle of the same inputs exists. */
export async function bundledFixture(source: string): Promise<string> {
  // Keyed by everything the bundle is made of: the script, the runtime, and the SDK and zod it inlines.
  const hash = createHash("sha256");
  hash.update(readFileSync(source)).update(Bun.version);
  for (const pkg of ["@modelcontextprotocol/sdk", "zod"]) hash.update(readFileSync(join(ROOT, "node_modules", pkg, "package.json")));
  const dir = join(ROOT, "node_modules", ".cache", "switchboard-fixture-bundles");
  const name = source.split("/").pop()!.replace(/\.ts$/, "");
  const out = join(dir, `${name}.${hash.digest("hex").slice(0, 16)}.js`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const built = await Bun.build({ entrypoints: [source], target: "bun" });
  if (!built.success) throw new Error(`bundling ${source} failed: ${built.logs.join("\n")}`);
  // Written aside and renamed: another test run building the same bundle never sees half a file.
  const partial = `${out}.${process.pid}.partial`;
  await Bun.write(partial, built.outputs[0]!);
  renameSync(partial, out);
  return out;
}
