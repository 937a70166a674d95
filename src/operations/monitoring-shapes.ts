// The monitoring operations' shared pieces: the filter fields every query takes (a named range or ISO
// from/to), their translation to the domain's UsageFilter, and the public shape of a usage row.
import { z } from "zod";
import { storedKeyText } from "../domain/monitoring/recorder.ts";
import { FACES, OUTCOMES, RANGE_NAMES, RANGES, type Outcome } from "../domain/monitoring/types.ts";
import type { UsageFilter, UsageRow } from "../domain/monitoring/usage.ts";
import { AppError } from "../errors.ts";
import type { OperationContext } from "./registry.ts";
import { Timestamp, TimestampInput } from "./shapes.ts";

/** The widest window one query may span: a year and a day (more than any default retention keeps). */
const MAX_SPAN_MS = 366 * 86_400_000;

/** A time window: a named range back from now, or from/to (either may be left out). */
export const RangeFields = {
  range: z.enum(RANGE_NAMES).optional().describe('A window ending now: "1h", "24h" (the default), "7d" or "30d"; ignored when from is given'),
  from: TimestampInput.optional().describe("Start of the window (ISO 8601); overrides range"),
  to: TimestampInput.optional().describe("End of the window (ISO 8601); defaults to now"),
};

const Id = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-f-]{36}$`), { error: `expected ${what} (${prefix}_<uuid>)` });

/** The filters of the log, the stats and the export, besides the window. */
export const FilterFields = {
  ...RangeFields,
  agent_id: Id("agent", "an agent's id").optional().describe("Only calls to this agent (agent_<uuid>)"),
  connection_id: Id("conn", "a connection's id").optional().describe("Only calls served by this connection (conn_<uuid>), directly or through an agent"),
  credential_id: z.string().regex(/^(key|grant)_[0-9a-f-]{36}$/, { error: "expected an API key's or authorized app's id (key_<uuid> or grant_<uuid>)" }).optional().describe("Only calls made with this API key or OAuth grant"),
  user_id: Id("user", "a user's id").optional().describe("Admins: only this user's calls (members always see only their own)"),
  name: z.string().min(1).max(512).optional().describe("Only calls of this tool, resource URI, prompt or operation name (as exposed)"),
  outcome: z.enum(OUTCOMES as [Outcome, ...Outcome[]]).optional().describe('Only this outcome: "ok", "tool_error", "error", "refused" or "timeout"'),
  face: z.enum(FACES).optional().describe('Only calls through this face: "mcp", "api", "admin", "cli" or "config"'),
};

const FilterObject = z.object(FilterFields);
export type FilterInput = z.output<typeof FilterObject>;

/** The window the input names: from/to when given, else the named range (24h by default) ending now. */
export function windowOf(input: Pick<FilterInput, "range" | "from" | "to">, now: Date): { from: Date; to: Date } {
  const to = input.to !== undefined ? new Date(input.to) : now;
  const from = input.from !== undefined ? new Date(input.from) : new Date(to.getTime() - RANGES[input.range ?? "24h"]);
  if (from.getTime() >= to.getTime()) throw new AppError("VALIDATION_FAILED", "from must be before to.", { fields: { from: "expected a time before to" } });
  if (to.getTime() - from.getTime() > MAX_SPAN_MS) throw new AppError("VALIDATION_FAILED", "The window is too wide.", { fields: { from: "expected a window of at most 366 days" } });
  return { from, to };
}

/**
 * The domain filter for this caller. A member's filter is always themselves, whatever user_id they
 * pass: the rows of other users (their calls, arguments, addresses) are not theirs to see.
 */
export function usageFilterOf(ctx: OperationContext, input: FilterInput): UsageFilter {
  const userId = ctx.caller.user.role === "admin" ? input.user_id : ctx.caller.user.id;
  return {
    ...windowOf(input, ctx.now),
    agentId: input.agent_id,
    connectionId: input.connection_id,
    credentialId: input.credential_id,
    userId,
    // As the recorder stores it: a name over 256 bytes is kept cut, with a hash of the whole.
    name: input.name === undefined ? undefined : storedKeyText(input.name),
    outcome: input.outcome,
    face: input.face,
  };
}

/** Whether this caller may see a row: admins every row, members only their own. */
export function maySeeRow(ctx: OperationContext, row: Pick<UsageRow, "actor">): boolean {
  return ctx.caller.user.role === "admin" || row.actor.userId === ctx.caller.user.id;
}

export const UsageRowShape = z.object({
  id: z.string(),
  at: Timestamp,
  duration_ms: z.number(),
  face: z.enum(FACES),
  target: z.object({ kind: z.enum(["connection", "agent", "self"]), id: z.string().nullable(), slug: z.string().nullable() }),
  method: z.string().describe('The JSON-RPC method ("tools/call", …) or "operation"'),
  name: z.string().nullable().describe("The tool, resource URI, prompt or operation as the caller named it"),
  upstream_name: z.string().nullable().describe("The same as the upstream names it (an agent's alias resolved)"),
  connection_id: z.string().nullable(),
  outcome: z.enum(OUTCOMES as [Outcome, ...Outcome[]]),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  actor: z.object({ user_id: z.string().nullable(), credential_kind: z.enum(["api_key", "oauth", "session", "host", "config"]), credential_id: z.string().nullable() }),
  session_id: z.string().nullable(),
  client: z.object({ name: z.string().nullable(), version: z.string().nullable() }),
  address: z.string().nullable(),
  request_bytes: z.number().int(),
  response_bytes: z.number().int(),
  has_payload: z.boolean().describe("Whether arguments and results were stored (MONITORING_LOG_GET returns them)"),
});

export const UsageDetailShape = UsageRowShape.extend({
  payload: z.object({ arguments: z.unknown().optional(), result: z.unknown().optional(), truncated: z.boolean().optional() }).nullable(),
});

/** A row as the log lists it: ISO times, snake_case, and no payload (only the detail carries it). */
export function usageRowOut(row: UsageRow): z.input<typeof UsageRowShape> {
  return {
    id: row.id,
    at: row.at.toISOString(),
    duration_ms: row.durationMs,
    face: row.face,
    target: { kind: row.target.kind, id: row.target.id, slug: row.target.slug },
    method: row.method,
    name: row.name,
    upstream_name: row.upstreamName,
    connection_id: row.connectionId,
    outcome: row.outcome,
    error_code: row.errorCode,
    error_message: row.errorMessage,
    actor: { user_id: row.actor.userId, credential_kind: row.actor.credentialKind, credential_id: row.actor.credentialId },
    session_id: row.sessionId,
    client: { name: row.client.name, version: row.client.version },
    address: row.address,
    request_bytes: row.requestBytes,
    response_bytes: row.responseBytes,
    has_payload: row.payload !== null,
  };
}

/** A row with its stored arguments and result. */
export function usageDetailOut(row: UsageRow): z.input<typeof UsageDetailShape> {
  return { ...usageRowOut(row), payload: row.payload };
}

const TopShape = z.array(z.object({ id: z.string(), calls: z.number().int(), errors: z.number().int() }));
const Millis = z.number().nullable();
export const SeriesShape = z.array(z.object({ start: Timestamp, calls: z.number().int(), errors: z.number().int(), p50_ms: Millis, p95_ms: Millis, p99_ms: Millis }));
export const StatsShape = {
  from: Timestamp,
  to: Timestamp,
  totals: z.object({ calls: z.number().int(), errors: z.number().int(), error_rate: z.number().describe("errors / calls, 0 when no calls"), p50_ms: Millis, p95_ms: Millis, p99_ms: Millis }),
  series: SeriesShape.describe("Equal buckets from from to to, oldest first"),
  top: z.object({ tools: TopShape, agents: TopShape, connections: TopShape, credentials: TopShape, users: TopShape }),
  errors: z.array(z.object({ outcome: z.enum(OUTCOMES as [Outcome, ...Outcome[]]), code: z.string().nullable(), count: z.number().int() })),
};
export const TopShapeOf = TopShape;

type Series = { start: Date; calls: number; errors: number; p50: number | null; p95: number | null; p99: number | null }[];

export function seriesOut(series: Series): z.input<typeof SeriesShape> {
  return series.map((b) => ({ start: b.start.toISOString(), calls: b.calls, errors: b.errors, p50_ms: b.p50, p95_ms: b.p95, p99_ms: b.p99 }));
}
