// An upstream's life outside any one call: a connection whose processes are per session stays idle
// when nobody uses it (no spawn loop), an SSE or HTTP upstream that restarted (or cut an idle stream)
// is initialised anew on the next call, every tool still listed, without a backoff in between.
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { EVERYTHING_STDIO, startEverything, type Everything } from "../support/everything.ts";
import { GatewayHarness, httpSpec, stdioSpec, textOf, waitUntil } from "../support/gateway-harness.ts";

let h: GatewayHarness | undefined;
const servers: Everything[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/** Pids of this process's children running server-everything, as /proc shows them now. */
function everythingChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("server-everything")) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test('an idle isolation = "session" connection spawns nothing, and its clients get no list_changed storm', { timeout: 20_000 }, async () => {
  const spec = stdioSpec({ ...EVERYTHING_STDIO, isolation: "session", maxProcesses: 4 });
  h = new GatewayHarness([spec]);
  await h.gateway.refresh(spec.id);
  expect(h.gateway.discovery(spec.id).tools.length).toBeGreaterThan(10);
  let changes = 0;
  const client = await h.connect(spec.id, { setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changes++) });
  await client.callTool({ name: "echo", arguments: { message: "hi" } });
  const own = new Set(everythingChildren());
  const seen = new Set<number>();
  // A bounded watch for spawns that must not happen: before, a process was spawned about every half
  // second, forever, so 1.2 s (two such spawns at least) is enough to see the loop if it came back.
  const end = Date.now() + 1200;
  while (Date.now() < end) {
    for (const pid of everythingChildren()) if (!own.has(pid)) seen.add(pid);
    await Bun.sleep(100);
  }
  expect([...seen]).toEqual([]);
  expect(changes).toBeLessThanOrEqual(2);
  expect(own.size).toBe(1); // the client's own process; discovery's was stopped after reading
});

for (const transport of ["streamableHttp", "sse"] as const) {
  test(`a restarted ${transport} upstream is initialised anew on the next call: every tool listed, no backoff`, { timeout: 30_000 }, async () => {
    const first = await startEverything(transport);
    servers.push(first);
    const spec = httpSpec(first.url, transport === "sse" ? { transport: "sse" } : {});
    h = new GatewayHarness([spec]);
    const client = await h.connect(spec.id, { capabilities: { sampling: {} } });
    const before = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(before).toContain("trigger-sampling-request");
    await h.gateway.refresh(spec.id);
    const discovered = h.gateway.discovery(spec.id).tools.length;

    // The upstream restarts on the same port: every upstream session it had is gone.
    await first.stop();
    servers.splice(0);
    servers.push(await startEverything(transport, { port: first.port }));

    // The very first request after the restart works: the lost session is made anew, not failed and backed off.
    const after = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(after).toEqual(before);
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "again" } }))).toContain("again");
    await waitUntil(async () => (await h!.runtime(spec.id)).getStatus().state === "connected", "the connection to show connected", 5000);
    expect((await h.gateway.refresh(spec.id)).tools.length).toBe(discovered);
  });
}
