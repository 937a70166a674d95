// Monitoring operations: the usage log (list, one row), its figures (totals, series, top-N, errors)
// and one credential's activity. Members see only their own rows, whatever filter they pass: another
// user's row reads as missing, and another user's key or grant has no activity to show them.
import { z } from "zod";
import { getApiKey } from "../domain/access/api-keys.ts";
import { credentialActivity, getUsage, listUsage, usageStats } from "../domain/monitoring/usage.ts";
import { getGrant } from "../domain/oauth/authorizations.ts";
import { AppError } from "../errors.ts";
import {
  FilterFields,
  maySeeRow,
  RangeFields,
  seriesOut,
  StatsShape,
  TopShapeOf,
  UsageDetailShape,
  UsageRowShape,
  usageDetailOut,
  usageFilterOf,
  usageRowOut,
  windowOf,
} from "./monitoring-shapes.ts";
import { defineOperation, type OperationContext } from "./registry.ts";
import { Timestamp } from "./shapes.ts";

/** The most rows one page of the log holds. */
export const LOG_PAGE_MAX = 500;
const MEMBER_AUDIENCE = "everyone (members: own calls)";

export const monitoringLogsList = defineOperation({
  name: "MONITORING_LOGS_LIST",
  title: "List recorded calls",
  description:
    "List recorded calls newest first: MCP requests to connections and agents and management operations, each with time, duration, " +
    "target, method, tool/resource/prompt name, outcome and error, caller (user, key or OAuth grant), client and address. Filter by " +
    'range ("1h", "24h", "7d", "30d") or from/to, agent_id, connection_id, credential_id, user_id, name, outcome, face; page with ' +
    "cursor (next_cursor of the previous page) and limit (at most 500). Members see only their own calls. Arguments and results " +
    "are not listed: MONITORING_LOG_GET returns them when stored.",
  input: z.object({
    ...FilterFields,
    cursor: z.string().min(1).max(200).optional().describe("next_cursor of the previous page"),
    limit: z.coerce.number().int().min(1).max(LOG_PAGE_MAX).default(50).describe("Rows per page, 1-500 (default 50)"),
  }),
  output: z.object({ rows: z.array(UsageRowShape), next_cursor: z.string().nullable().describe("Pass as cursor for the next page; null on the last") }),
  forMembers: true,
  audience: MEMBER_AUDIENCE,
  readOnly: true,
  rest: { method: "GET", path: "/monitoring/logs" },
  async handler(ctx, input) {
    const page = await listUsage(ctx.deps.db, usageFilterOf(ctx, input), { cursor: input.cursor ?? null, limit: input.limit });
    return { rows: page.rows.map(usageRowOut), next_cursor: page.nextCursor };
  },
});

export const monitoringLogGet = defineOperation({
  name: "MONITORING_LOG_GET",
  title: "Get a recorded call",
  description:
    "Get one recorded call by id, with its stored arguments and result when its connection or agent opted in to storing them " +
    "(capped and with secrets redacted). Members may read only their own calls.",
  input: z.object({ id: z.string().min(1).max(100).describe("The row's id, from MONITORING_LOGS_LIST") }),
  output: UsageDetailShape,
  forMembers: true,
  audience: MEMBER_AUDIENCE,
  readOnly: true,
  rest: { method: "GET", path: "/monitoring/logs/:id" },
  async handler(ctx, input) {
    const row = await getUsage(ctx.deps.db, input.id);
    // Someone else's row reads as missing to a member, so ids are not probed.
    if (!row || !maySeeRow(ctx, row)) throw new AppError("USAGE_NOT_FOUND");
    return usageDetailOut(row);
  },
});

export const monitoringStats = defineOperation({
  name: "MONITORING_STATS",
  title: "Usage figures",
  description:
    "Figures over a window, with the same filters as MONITORING_LOGS_LIST: totals (calls, errors, error rate, latency p50/p95/p99 " +
    "in ms), a series of equal buckets (buckets, default 60), the top tools, agents, connections, credentials and users (top, " +
    "default 10), and errors by outcome and code. Latency percentiles are approximate (a log-scale histogram). Members: their own calls.",
  input: z.object({
    ...FilterFields,
    buckets: z.coerce.number().int().min(1).max(500).default(60).describe("How many buckets the series has, 1-500 (default 60)"),
    top: z.coerce.number().int().min(1).max(100).default(10).describe("How many entries each top list has, 1-100 (default 10)"),
  }),
  output: z.object(StatsShape),
  forMembers: true,
  audience: MEMBER_AUDIENCE,
  readOnly: true,
  rest: { method: "GET", path: "/monitoring/stats" },
  async handler(ctx, input) {
    const filter = usageFilterOf(ctx, input);
    const stats = await usageStats(ctx.deps.db, filter, { buckets: input.buckets, top: input.top });
    const t = stats.totals;
    return {
      from: filter.from.toISOString(),
      to: filter.to.toISOString(),
      totals: { calls: t.calls, errors: t.errors, error_rate: t.errorRate, p50_ms: t.p50, p95_ms: t.p95, p99_ms: t.p99 },
      series: seriesOut(stats.series),
      top: stats.top,
      errors: stats.errors,
    };
  },
});

/**
 * The owner of a key or grant id, or null when there is none. A deleted key's rows stay in the log, so
 * an admin may still ask for its activity; a member only for a credential that exists and is theirs.
 */
async function credentialOwner(ctx: OperationContext, id: string): Promise<string | null> {
  if (id.startsWith("key_")) return (await getApiKey(ctx.deps.db, id, ctx.now))?.ownerId ?? null;
  return (await getGrant(ctx.deps.db, id, ctx.now))?.userId ?? null;
}

export const monitoringKeyActivity = defineOperation({
  name: "MONITORING_KEY_ACTIVITY",
  title: "A key's activity",
  description:
    "The activity of one API key (key_<uuid>) or authorized app (grant_<uuid>) over a window: first and last use, calls, errors and " +
    "error rate, calls over time, tools used, client names and addresses seen, and flags for unusual activity (a new address, a new " +
    "client, an error rate that jumps). Members: their own keys and apps only.",
  input: z.object({
    credential_id: FilterFields.credential_id.unwrap().describe("The key's or grant's id"),
    ...RangeFields,
  }),
  output: z.object({
    credential_id: z.string(),
    from: Timestamp,
    to: Timestamp,
    first_use: Timestamp.nullable(),
    last_use: Timestamp.nullable(),
    calls: z.number().int(),
    errors: z.number().int(),
    error_rate: z.number(),
    series: StatsShape.series,
    tools: TopShapeOf,
    clients: z.array(z.object({ name: z.string().nullable(), version: z.string().nullable(), first_seen: Timestamp, last_seen: Timestamp, calls: z.number().int() })),
    addresses: z.array(z.object({ address: z.string(), first_seen: Timestamp, last_seen: Timestamp, calls: z.number().int() })),
    flags: z.array(z.object({ kind: z.enum(["new_address", "new_client", "error_rate_jump"]), message: z.string() })),
  }),
  forMembers: true,
  audience: "everyone (members: own keys and apps)",
  readOnly: true,
  rest: { method: "GET", path: "/monitoring/keys/:credential_id/activity" },
  async handler(ctx, input) {
    const id = input.credential_id;
    if (ctx.caller.user.role !== "admin" && (await credentialOwner(ctx, id)) !== ctx.caller.user.id) {
      throw new AppError(id.startsWith("key_") ? "API_KEY_NOT_FOUND" : "OAUTH_GRANT_NOT_FOUND");
    }
    const window = windowOf(input, ctx.now);
    const a = await credentialActivity(ctx.deps.db, id, window, ctx.now);
    return {
      credential_id: a.credentialId,
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      first_use: a.firstUse?.toISOString() ?? null,
      last_use: a.lastUse?.toISOString() ?? null,
      calls: a.calls,
      errors: a.errors,
      error_rate: a.errorRate,
      series: seriesOut(a.series),
      tools: a.tools,
      clients: a.clients.map((c) => ({ name: c.name, version: c.version, first_seen: c.firstSeen.toISOString(), last_seen: c.lastSeen.toISOString(), calls: c.calls })),
      addresses: a.addresses.map((x) => ({ address: x.address, first_seen: x.firstSeen.toISOString(), last_seen: x.lastSeen.toISOString(), calls: x.calls })),
      flags: a.flags,
    };
  },
});
