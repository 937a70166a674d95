// Reading usage_events rows back into UsageRecord shapes.
import type { Face, Outcome, UsageRecord } from "./types.ts";

export type UsageRow = UsageRecord & { id: string };

/** A usage_events row as SQLite returns it. */
export type EventRow = {
  id: number; at: number; duration_ms: number; face: string; target_kind: string; target_id: string | null; target_slug: string | null;
  method: string; name: string | null; upstream_name: string | null; connection_id: string | null; outcome: string;
  error_code: string | null; error_message: string | null; user_id: string | null; credential_kind: string; credential_id: string | null;
  session_id: string | null; client_name: string | null; client_version: string | null; address: string | null;
  request_bytes: number; response_bytes: number; payload: string | null;
};

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
    durationMs: r.duration_ms,
    face: r.face as Face,
    target: { kind: r.target_kind as UsageRecord["target"]["kind"], id: r.target_id, slug: r.target_slug },
    method: r.method,
    name: r.name,
    upstreamName: r.upstream_name,
    connectionId: r.connection_id,
    outcome: r.outcome as Outcome,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    actor: { userId: r.user_id, credentialKind: r.credential_kind as UsageRecord["actor"]["credentialKind"], credentialId: r.credential_id },
    sessionId: r.session_id,
    client: { name: r.client_name, version: r.client_version },
    address: r.address,
    requestBytes: r.request_bytes,
    responseBytes: r.response_bytes,
    payload: parsePayload(r.payload),
  };
}
