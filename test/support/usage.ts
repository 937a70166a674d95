// Usage records for monitoring tests: a plausible tools/call with any field overridden.
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";

export type RecordOverrides = Partial<Omit<UsageRecord, "target" | "actor" | "client">> & {
  target?: Partial<UsageRecord["target"]>;
  actor?: Partial<UsageRecord["actor"]>;
  client?: Partial<UsageRecord["client"]>;
};

export function usageRecord(overrides: RecordOverrides = {}): UsageRecord {
  const { target, actor, client, ...rest } = overrides;
  return {
    at: new Date("2026-11-01T12:00:00Z"),
    durationMs: 12,
    face: "mcp",
    method: "tools/call",
    name: "search",
    upstreamName: "search",
    connectionId: "conn_a",
    outcome: "ok",
    errorCode: null,
    errorMessage: null,
    sessionId: "sess_1",
    address: "10.0.0.1",
    requestBytes: 100,
    responseBytes: 200,
    payload: null,
    ...rest,
    target: { kind: "connection", id: "conn_a", slug: "a", ...target },
    actor: { userId: "user_a", credentialKind: "api_key", credentialId: "key_a", ...actor },
    client: { name: "claude", version: "1.0", ...client },
  };
}
