// CONNECTION_TEST is bounded: a burst of tests of one stdio connection spawns one process (they share
// the run), a burst over many connections spawns at most gateway.max_concurrent_tests and the rest are
// refused with 503 BUSY and Retry-After (a tool error on /mcp/self), and a test never takes a
// connection past its max_processes. Spawns are counted by the fixture's wrapper, which logs its pid.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../../src/errors.ts";
import { createTestApp } from "../support/app.ts";
import { rejectionOf } from "../support/errors.ts";
import { FIXTURE, GatewayHarness, stdioSpec } from "../support/gateway-harness.ts";
import { apiRequest, callTool, mintKey } from "../support/key-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { insertUser } from "../support/users.ts";

setDefaultTimeout(60_000);

const tempDir = useTempDirs("switchboard-test-bounds-");
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The fixture over stdio behind a shell that appends its pid to `log`: one line per spawn. */
const SPAWN_LOGGING = ["-c", 'echo $$ >> "$SB_SPAWN_LOG"; exec "$0" "$1"', process.execPath, FIXTURE];

function spawnLog(): { path: string; count: () => number } {
  const path = join(tempDir(), "spawns.log");
  writeFileSync(path, "");
  return { path, count: () => readFileSync(path, "utf8").split("\n").filter(Boolean).length };
}

test("24 concurrent tests of one stdio connection share one run: one process, 24 equal answers", async () => {
  const log = spawnLog();
  const spec = stdioSpec({ command: "/bin/sh", args: SPAWN_LOGGING, env: { SB_SPAWN_LOG: log.path } });
  const h = new GatewayHarness([spec]);
  cleanups.push(() => h.close());
  const results = await Promise.all(Array.from({ length: 24 }, () => h.gateway.test(spec)));
  expect(results.every((r) => r.ok && r.server?.name === "fixture" && r.tools === results[0]!.tools)).toBe(true);
  expect(log.count()).toBe(1);
  // Once it is over, a new test runs again (nothing is cached past the run).
  await h.gateway.test(spec);
  expect(log.count()).toBe(2);
});

test("a test never takes a connection past its max_processes", async () => {
  const log = spawnLog();
  const spec = stdioSpec({ command: "/bin/sh", args: SPAWN_LOGGING, env: { SB_SPAWN_LOG: log.path }, isolation: "session", maxProcesses: 1 });
  const h = new GatewayHarness([spec]);
  cleanups.push(() => h.close());
  await h.connect(spec.id); // its one process
  expect(log.count()).toBe(1);
  const err = await rejectionOf(h.gateway.test(spec));
  expect(err).toBeInstanceOf(AppError);
  expect(err).toMatchObject({ code: "BUSY", status: 503, message: expect.stringContaining("maximum of 1 processes") });
  expect(log.count()).toBe(1);
});

describe("a member's burst over many connections", () => {
  test("at most gateway.max_concurrent_tests processes; the rest get 503 BUSY with Retry-After, never 502 or 500", async () => {
    const log = spawnLog();
    const t = await createTestApp({ overrides: { gateway: { max_concurrent_tests: 4 } } });
    cleanups.push(async () => {
      await t.deps.gateway.close();
      t.close();
    });
    const admin = await insertUser(t.deps, "admin");
    const member = await insertUser(t.deps, "member");
    const adminKey = (await mintKey(t.deps, admin, { self: ["*"] })).token;
    const memberKey = (await mintKey(t.deps, member, { self: ["*"] })).token;
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      // Disabled: the gateway does not start them on its own, so every spawn logged is a test's.
      const res = await apiRequest(t.app, "POST", "/connections", {
        token: adminKey,
        json: { slug: `s${i}`, transport: "stdio", command: "/bin/sh", args: SPAWN_LOGGING, env: { SB_SPAWN_LOG: log.path }, enabled: false },
      });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const answers = await Promise.all(ids.map((id) => apiRequest(t.app, "POST", "/connections/test", { token: memberKey, json: { id } })));
    const statuses = answers.map((r) => r.status);
    const passed = statuses.filter((s) => s === 200).length;
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(passed).toBeGreaterThanOrEqual(1);
    expect(passed).toBeLessThanOrEqual(4);
    const busy = answers.find((r) => r.status === 503)!;
    expect(busy.headers.get("retry-after")).toBe("2");
    expect(await busy.json()).toMatchObject({ error: { code: "BUSY", message: expect.stringContaining("gateway.max_concurrent_tests") } });
    expect(log.count()).toBe(passed);

    // The capacity is back once they are over; over /mcp/self a refusal is a tool error naming BUSY.
    const again = await apiRequest(t.app, "POST", "/connections/test", { token: memberKey, json: { id: ids[23] } });
    expect(((await again.json()) as { ok: boolean }).ok).toBe(true);
    const overMcp = await Promise.all(ids.slice(0, 12).map((id) => callTool(t.app, memberKey, "CONNECTION_TEST", { id })));
    const refused = overMcp.filter((a) => a.result?.isError);
    expect(refused.length).toBeGreaterThanOrEqual(8);
    for (const answer of refused) expect(answer.result?.content?.[0]?.text).toStartWith("BUSY: ");
    expect(log.count()).toBe(passed + 1 + (12 - refused.length));
  });
});
