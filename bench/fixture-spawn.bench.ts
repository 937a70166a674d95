// What the test fixture upstream costs to start: spawned from its source against spawned from the
// bundle the tests use (test/support/fixture-bundle.ts), until it answers an initialize over stdio.
// Interleaved rounds in the same run, so both see the same machine.
import { join } from "node:path";
import { bundledFixture } from "../test/support/fixture-bundle.ts";

const SOURCE = join(import.meta.dir, "../test/fixtures/upstream-server.ts");
const BUNDLE = await bundledFixture(SOURCE);
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } }) + "\n";

/** Milliseconds from spawn to the first line of the initialize answer. */
async function startOnce(script: string): Promise<number> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, script], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
  child.stdin.write(INIT);
  await child.stdin.flush();
  const reader = child.stdout.getReader();
  await reader.read();
  const took = performance.now() - started;
  child.kill();
  await child.exited;
  return took;
}

const times: Record<string, number[]> = { source: [], bundle: [] };
for (let round = 0; round < 15; round++) {
  times.source!.push(await startOnce(SOURCE));
  times.bundle!.push(await startOnce(BUNDLE));
}
console.log("fixture upstream, spawn to initialize answer (median of 15 interleaved starts)");
for (const [name, list] of Object.entries(times)) {
  const sorted = list.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(8)} p50 ${sorted[7]!.toFixed(1)} ms  min ${sorted[0]!.toFixed(1)} ms  max ${sorted[14]!.toFixed(1)} ms`);
}
