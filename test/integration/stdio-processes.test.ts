// Nothing a stdio server starts outlives its connection: a child that left the server's process group
// (setsid) and a double-forked daemon are killed when the connection is deleted, changed, or the
// gateway stops. And a server flooding stderr is drained without the ring holding more than its lines.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { GatewayHarness, isAlive, stdioSpec, textOf, waitUntil } from "../support/gateway-harness.ts";

setDefaultTimeout(30_000);

const DETACHING = join(import.meta.dir, "../fixtures/detaching-server.ts");

let harness: GatewayHarness | null = null;
const strays: number[] = [];
afterEach(async () => {
  await harness?.close();
  harness = null;
  // Whatever a failing test left running is not left to the next one.
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});

type Pids = { child: number; bare: number; daemon: number };

async function detached(h: GatewayHarness, id: string): Promise<Pids> {
  const client = await h.connect(id);
  const pids = JSON.parse(textOf(await client.callTool({ name: "detach", arguments: {} }))) as Pids;
  strays.push(pids.child, pids.bare, pids.daemon);
  expect([isAlive(pids.child), isAlive(pids.bare)]).toEqual([true, true]);
  expect(await waitUntil(() => isAlive(pids.daemon), "the daemon to start", 5000)).toBe(true);
  return pids;
}

describe("what a stdio server starts", () => {
  test("deleting the connection kills its setsid'd children (one with an empty environment) and its double-forked daemon", async () => {
    const spec = stdioSpec({ command: process.execPath, args: [DETACHING] });
    harness = new GatewayHarness([spec]);
    const { child, bare, daemon } = await detached(harness, spec.id);
    await harness.remove(spec.id);
    await waitUntil(() => !isAlive(child) && !isAlive(bare) && !isAlive(daemon), "the detached processes to be gone", 10_000);
  });

  test("stopping the gateway kills them too", async () => {
    const spec = stdioSpec({ command: process.execPath, args: [DETACHING] });
    harness = new GatewayHarness([spec]);
    const { child, bare, daemon } = await detached(harness, spec.id);
    await harness.close();
    harness = null;
    await waitUntil(() => !isAlive(child) && !isAlive(bare) && !isAlive(daemon), "the detached processes to be gone", 10_000);
  });

  test("only the connection's own processes: another connection's detached child lives on", async () => {
    const doomed = stdioSpec({ command: process.execPath, args: [DETACHING] });
    const other = stdioSpec({ command: process.execPath, args: [DETACHING] });
    harness = new GatewayHarness([doomed, other]);
    const gone = await detached(harness, doomed.id);
    const kept = await detached(harness, other.id);
    await harness.remove(doomed.id);
    await waitUntil(() => !isAlive(gone.child) && !isAlive(gone.bare) && !isAlive(gone.daemon), "the removed connection's processes to be gone", 10_000);
    expect([isAlive(kept.child), isAlive(kept.bare), isAlive(kept.daemon)]).toEqual([true, true, true]);
  });
});

describe("a stdio server flooding stderr", () => {
  test("is drained (it keeps answering), the ring keeps its last lines and says how much it dropped", async () => {
    const spec = stdioSpec({ command: process.execPath, args: [DETACHING], env: { FLOOD_STDERR: "1" } });
    harness = new GatewayHarness([spec]);
    const client = await harness.connect(spec.id);
    const h = harness;
    const notice = await waitUntil(() => h.gateway.stderr(spec.id).find((l) => /^\[switchboard\] \d+ bytes of stderr dropped$/.test(l)), "the drop notice", 10_000);
    expect(Number(notice.split(" ")[1])).toBeGreaterThan(0);
    // Not blocked on a full pipe: the server still answers, call after call.
    for (let i = 0; i < 5; i++) expect(textOf(await client.callTool({ name: "echo", arguments: {} }))).toBe("echo");
    const shown = h.gateway.stderr(spec.id);
    expect(shown.length).toBeLessThanOrEqual(100 + 1);
    expect(shown.some((l) => /^flood \d+ flood/.test(l))).toBe(true);
    // Still drained, at a bounded pace: the flood goes on, its latest blocks keep showing up.
    const latestLine = () => Math.max(-1, ...h.gateway.stderr(spec.id).map((l) => Number(/^flood (\d+) /.exec(l)?.[1] ?? -1)));
    const seen = latestLine();
    expect(seen).toBeGreaterThan(0);
    await waitUntil(() => latestLine() > seen, "later lines of the flood", 10_000);
  });
});
