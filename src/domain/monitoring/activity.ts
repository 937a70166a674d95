// One key's (or OAuth grant's) activity: use over time, tools, clients and addresses seen, and flags
// for what looks unusual (a new address or client on an established key, an error rate that jumps).
import { and, asc, desc, eq, gte, lt, lte, max, min, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { tables } from "../../db/store.ts";
import { settled, type UsageFilter } from "./filter.ts";
import { countUsage, topNames, usageSeries, type SeriesPoint, type TopEntry } from "./stats.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type ActivityFlag = { kind: "new_address" | "new_client" | "error_rate_jump"; message: string };

export type CredentialActivity = {
  credentialId: string;
  firstUse: Date | null;
  lastUse: Date | null;
  calls: number;
  errors: number;
  errorRate: number;
  series: SeriesPoint[];
  tools: TopEntry[];
  clients: { name: string | null; version: string | null; firstSeen: Date; lastSeen: Date; calls: number }[];
  addresses: { address: string; firstSeen: Date; lastSeen: Date; calls: number }[];
  flags: ActivityFlag[];
};

/** An error rate this many times the previous week's, over at least MIN_CALLS calls in a day, is flagged. */
const JUMP_FACTOR = 3;
const MIN_CALLS = 10;

/**
 * The activity of a credential over [from, to] (series of 48 points, top 20 tools), and flags judged at
 * `now`: an address or client name first seen in the last 24 h on a key first used before that, and
 * an error rate in the last 24 h over 3× the previous 7 days' with at least 10 calls.
 */
export async function credentialActivity(db: Db, credentialId: string, range: { from: Date; to: Date }, now: Date = new Date()): Promise<CredentialActivity> {
  const filter: UsageFilter & { credentialId: string } = { from: range.from, to: range.to, credentialId };
  const { series } = await usageSeries(db, filter, 48);
  const tools = await topNames(db, filter, 20);
  const { usageEvents } = tables(db);
  await settled(db);
  const [use = { first: null, last: null }] = await db
    .select({ first: min(usageEvents.at).mapWith(Number), last: max(usageEvents.at).mapWith(Number) })
    .from(usageEvents)
    .where(eq(usageEvents.credentialId, credentialId));
  const calls = series.reduce((a, p) => a + p.calls, 0);
  const errors = series.reduce((a, p) => a + p.errors, 0);
  const clients = (await seenIn(db, filter, "client")).map((c) => {
    const [name, version] = JSON.parse(c.id) as [string | null, string | null];
    return { name, version, firstSeen: c.firstSeen, lastSeen: c.lastSeen, calls: c.calls };
  });
  const addresses = (await seenIn(db, filter, "address")).map((a) => ({ address: a.id, firstSeen: a.firstSeen, lastSeen: a.lastSeen, calls: a.calls }));
  return {
    credentialId,
    firstUse: use.first === null ? null : new Date(use.first),
    lastUse: use.last === null ? null : new Date(use.last),
    calls,
    errors,
    errorRate: calls === 0 ? 0 : errors / calls,
    series,
    tools,
    clients,
    addresses,
    flags: use.first !== null && use.first < now.getTime() - DAY ? await activityFlags(db, credentialId, now) : [],
  };
}

/**
 * A key's clients or addresses over a range, from its hour roll-ups (the hours that overlap the range):
 * first and last seen to the hour, the busiest 50.
 */
async function seenIn(db: Db, filter: UsageFilter & { credentialId: string }, dim: "client" | "address"): Promise<{ id: string; firstSeen: Date; lastSeen: Date; calls: number }[]> {
  const { usageTotals: t } = tables(db);
  const from = filter.from.getTime();
  const calls = sql<number>`sum(${t.calls})`.mapWith(Number);
  await settled(db);
  const rows = await db
    .select({ id: t.dimId, first: sql<number>`min(${t.bucket})`.mapWith(Number), last: sql<number>`max(${t.bucket})`.mapWith(Number), calls })
    .from(t)
    .where(and(eq(t.grain, "h"), eq(t.scope, "credential"), eq(t.scopeId, filter.credentialId), eq(t.dim, dim), gte(t.bucket, from - (from % HOUR)), lte(t.bucket, filter.to.getTime())))
    .groupBy(t.dimId)
    .orderBy(desc(calls), asc(t.dimId))
    .limit(50);
  return rows.map((r) => ({ id: r.id, firstSeen: new Date(Math.max(r.first, from)), lastSeen: new Date(r.last), calls: r.calls }));
}

/** Whether a key used `value` (an address or a client name) before `before`: hour roll-ups for whole hours, rows for the rest. */
async function usedBefore(db: Db, credentialId: string, dim: "address" | "client", value: string, before: number): Promise<boolean> {
  const { usageTotals: t, usageEvents: e } = tables(db);
  const hourStart = before - (before % HOUR);
  // A client is kept as JSON [name, version]: any version of this name counts. The prefix's length is
  // in characters (code points), as substr counts them in both engines.
  const prefix = clientPrefix(value);
  const matches = dim === "address" ? eq(t.dimId, value) : sql`substr(${t.dimId}, 1, ${sql.raw(String([...prefix].length))}) = ${prefix}`;
  await settled(db);
  const [rolled] = await db
    .select({ one: sql<number>`1` })
    .from(t)
    .where(and(eq(t.grain, "h"), eq(t.scope, "credential"), eq(t.scopeId, credentialId), eq(t.dim, dim), matches, lt(t.bucket, hourStart)))
    .limit(1);
  if (rolled) return true;
  const column = dim === "address" ? e.address : e.clientName;
  const [row] = await db
    .select({ one: sql<number>`1` })
    .from(e)
    .where(and(eq(e.credentialId, credentialId), gte(e.at, hourStart), lt(e.at, before), eq(column, value)))
    .limit(1);
  return row !== undefined;
}

/** The start of the JSON [name, version] of every version of a client name. */
function clientPrefix(name: string): string {
  return `${JSON.stringify([name]).slice(0, -1)},`;
}

/** The flags of an established key (first used more than 24 h before `now`). */
async function activityFlags(db: Db, credentialId: string, now: Date): Promise<ActivityFlag[]> {
  const last = await countUsage(db, { from: new Date(now.getTime() - DAY), to: now, credentialId });
  const before = await countUsage(db, { from: new Date(now.getTime() - DAY - 7 * DAY), to: new Date(now.getTime() - DAY - 1), credentialId });
  const { usageEvents: e } = tables(db);
  const dayAgo = now.getTime() - DAY;
  const flags: ActivityFlag[] = [];
  // What the last 24 h used (the key's rows of one day, by index) that it never used before (within retention).
  await settled(db);
  const recent = await db
    .selectDistinct({ address: e.address, client: e.clientName })
    .from(e)
    .where(and(eq(e.credentialId, credentialId), gte(e.at, dayAgo), lte(e.at, now.getTime())));
  const addresses = [...new Set(recent.map((r) => r.address).filter((a): a is string => a !== null))];
  const clients = [...new Set(recent.map((r) => r.client).filter((c): c is string => c !== null))];
  const newAddresses: string[] = [];
  for (const a of addresses) if (newAddresses.length < 10 && !(await usedBefore(db, credentialId, "address", a, dayAgo))) newAddresses.push(a);
  for (const a of newAddresses) {
    flags.push({ kind: "new_address", message: `First used from ${a} in the last 24 hours.` });
  }
  const newClients: string[] = [];
  for (const c of clients) if (newClients.length < 10 && !(await usedBefore(db, credentialId, "client", c, dayAgo))) newClients.push(c);
  for (const c of newClients) {
    flags.push({ kind: "new_client", message: `First used by the client "${c}" in the last 24 hours.` });
  }
  const lastRate = last.calls === 0 ? 0 : last.errors / last.calls;
  const beforeRate = before.calls === 0 ? 0 : before.errors / before.calls;
  if (last.calls >= MIN_CALLS && before.calls > 0 && lastRate > 0 && lastRate > JUMP_FACTOR * beforeRate) {
    const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;
    flags.push({ kind: "error_rate_jump", message: `Error rate ${pct(lastRate)} in the last 24 hours, against ${pct(beforeRate)} over the 7 days before.` });
  }
  return flags;
}
