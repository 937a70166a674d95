// Usage rows for tests: a full UsageRecord with overrides, written at once (no queue), and its id read back.
import type { Db } from "../../src/db/client.ts";
import { ImmediateUsageSink } from "../../src/domain/monitoring/recorder.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { listUsage } from "../../src/domain/monitoring/usage.ts";

/** A usage record of a tools/call by `userId`'s key, a minute ago unless `at` says otherwise. */
export function usageRecord(userId: string, overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    at: new Date(Date.now() - 60_000),
    durationMs: 12,
    face: "mcp",
    target: { kind: "connection", id: "conn_00000000-0000-4000-8000-000000000001", slug: "github" },
    method: "tools/call",
    name: "search",
    upstreamName: "search",
    connectionId: "conn_00000000-0000-4000-8000-000000000001",
    outcome: "ok",
    errorCode: null,
    errorMessage: null,
    actor: { userId, credentialKind: "api_key", credentialId: null },
    sessionId: null,
    client: { name: "test-client", version: "1.0" },
    address: "127.0.0.1",
    requestBytes: 100,
    responseBytes: 200,
    payload: null,
    ...overrides,
  };
}

/** Writes a record now and returns its row id. */
export async function insertUsage(db: Db, record: UsageRecord): Promise<string> {
  const sink = new ImmediateUsageSink(db);
  sink.record(record);
  // On PostgreSQL the sink writes asynchronously.
  await sink.settled();
  const row = (await listUsage(db, { from: new Date(record.at.getTime() - 1), to: new Date(record.at.getTime() + 1) }, { limit: 500 })).rows.find(
    (r) => r.actor.userId === record.actor.userId && r.name === record.name && r.at.getTime() === record.at.getTime(),
  );
  if (!row) throw new Error("the usage row was not written");
  return row.id;
}
