// The usage recorder and audit log as the server and the CLI get them: the server flushes the queue
// when it stops; [monitoring] enabled = false records nothing; the CLI's deps write at once.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { buildHostDeps } from "../../src/compose.ts";
import { openDatabase } from "../../src/db/client.ts";
import { startTestServer, testConfig } from "../support/app.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { usageRecord } from "../support/usage.ts";

const tempDir = useTempDirs("switchboard-monitoring-");

function countIn(path: string, table: string): number {
  const sqlite = new Database(path, { readonly: true });
  try {
    return (sqlite.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    sqlite.close();
  }
}

describe("monitoring wiring", () => {
  test("the server's graceful stop writes the usage records still queued", async () => {
    const dir = tempDir();
    // On SQLite whatever the run: the rows are counted in the file after the server has stopped.
    const t = await startTestServer({ dir, overrides: { database: {}, monitoring: { flush_interval: "1m", flush_rows: 100_000 } } });
    const { deps } = t.server;
    deps.usage.record(usageRecord({ name: "queued_at_stop" }));
    deps.audit.record({ at: new Date(), face: "admin", actor: { userId: null, credentialKind: "config", credentialId: null }, action: "CONFIG_APPLY", targetId: null, address: null, change: {}, outcome: "ok" });
    expect(deps.usageRecorder.counters).toMatchObject({ queued: 1, written: 0 });
    const path = deps.config.database.path;
    await t.server.stop();
    expect(countIn(path, "usage_events")).toBe(1);
    expect(countIn(path, "audit_events")).toBe(1);
  });

  test("with [monitoring] enabled = false the server records no usage", async () => {
    const dir = tempDir();
    const t = await startTestServer({ dir, overrides: { database: {}, monitoring: { enabled: false } } });
    t.server.deps.usage.record(usageRecord());
    const path = t.server.deps.config.database.path;
    await t.server.stop();
    expect(countIn(path, "usage_events")).toBe(0);
  });

  test("the CLI's deps write a usage record at once (a command's run is short)", () => {
    const dir = tempDir();
    const config = testConfig(dir);
    const handle = openDatabase({ path: config.database.path, busyTimeoutMs: 1_000 });
    try {
      buildHostDeps(config, handle).usage.record(usageRecord({ face: "cli" }));
      expect(countIn(config.database.path, "usage_events")).toBe(1);
    } finally {
      handle.close();
    }
  });
});
