// Reading usage_events rows back into UsageRecord shapes.
import type { Tables } from "../../db/store.ts";
import type { Face, Outcome, UsageRecord } from "./types.ts";

export type UsageRow = UsageRecord & { id: string };

/** A usage_events row as drizzle reads it (either engine). */
export type EventRow = Tables["usageEvents"]["$inferSelect"];

function parsePayload(text: string | null): UsageRecord["payload"] {
  if (text === null) return null;
  try {
    return JSON.parse(text) as UsageRecord["payload"];
  } catch {
    return null;
  }
}

export function toUsageRow(r: EventRow): UsageRow {
  return {
    id: String(r.id),
    at: new Date(r.at),
    durationMs: r.durationMs,
    face: r.face as Face,
    target: { kind: r.targetKind as UsageRecord["target"]["kind"], id: r.targetId, slug: r.targetSlug },
    method: r.method,
    name: r.name,
    upstreamName: r.upstreamName,
    connectionId: r.connectionId,
    outcome: r.outcome as Outcome,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    actor: { userId: r.userId, credentialKind: r.credentialKind as UsageRecord["actor"]["credentialKind"], credentialId: r.credentialId },
    sessionId: r.sessionId,
    client: { name: r.clientName, version: r.clientVersion },
    address: r.address,
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    payload: parsePayload(r.payload),
  };
}
