// One key's (or OAuth grant's) activity: use over time, tools, clients and addresses seen, and flags
// for what looks unusual (a new address or client on an established key, an error rate that jumps).
import type { Database } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import { sqliteFor, type UsageFilter } from "./filter.ts";
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
  const sqlite = await sqliteFor(db, "a key's activity");
  const use = sqlite.query("SELECT MIN(at) AS first, MAX(at) AS last FROM usage_events WHERE credential_id = ?").get(credentialId) as { first: number | null; last: number | null };
  const calls = series.reduce((a, p) => a + p.calls, 0);
  const errors = series.reduce((a, p) => a + p.errors, 0);
  const clients = seenInSqlite(sqlite, filter, "client").map((c) => {
    const [name, version] = JSON.parse(c.id) as [string | null, string | null];
    return { name, version, firstSeen: c.firstSeen, lastSeen: c.lastSeen, calls: c.calls };
  });
  const addresses = seenInSqlite(sqlite, filter, "address").map((a) => ({ address: a.id, firstSeen: a.firstSeen, lastSeen: a.lastSeen, calls: a.calls }));
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
function seenInSqlite(sqlite: Database, filter: UsageFilter & { credentialId: string }, dim: "client" | "address"): { id: string; firstSeen: Date; lastSeen: Date; calls: number }[] {
  const from = filter.from.getTime();
  const rows = sqlite
    .query(
      "SELECT dim_id AS id, MIN(bucket) AS first, MAX(bucket) AS last, SUM(calls) AS calls FROM usage_totals " +
        "WHERE grain = 'h' AND scope = 'credential' AND scope_id = ? AND dim = ? AND bucket >= ? AND bucket <= ? GROUP BY dim_id ORDER BY calls DESC, id LIMIT 50",
    )
    .all(filter.credentialId, dim, from - (from % HOUR), filter.to.getTime()) as { id: string; first: number; last: number; calls: number }[];
  return rows.map((r) => ({ id: r.id, firstSeen: new Date(Math.max(r.first, from)), lastSeen: new Date(r.last), calls: r.calls }));
}

/** Whether a key used `value` (an address or a client name) before `before`: hour roll-ups for whole hours, rows for the rest. */
function usedBeforeSqlite(sqlite: Database, credentialId: string, dim: "address" | "client", column: string, value: string, before: number): boolean {
  const hourStart = before - (before % HOUR);
  const rolled =
    dim === "address"
      ? sqlite.query("SELECT 1 FROM usage_totals WHERE grain = 'h' AND scope = 'credential' AND scope_id = ? AND dim = 'address' AND dim_id = ? AND bucket < ? LIMIT 1").get(credentialId, value, hourStart)
      : // A client is kept as JSON [name, version]: any version of this name counts.
        sqlite.query("SELECT 1 FROM usage_totals WHERE grain = 'h' AND scope = 'credential' AND scope_id = ? AND dim = 'client' AND substr(dim_id, 1, length(?)) = ? AND bucket < ? LIMIT 1").get(credentialId, clientPrefix(value), clientPrefix(value), hourStart);
  if (rolled) return true;
  return sqlite.query(`SELECT 1 FROM usage_events WHERE credential_id = ? AND at >= ? AND at < ? AND ${column} = ? LIMIT 1`).get(credentialId, hourStart, before, value) !== null;
}

/** The start of the JSON [name, version] of every version of a client name. */
function clientPrefix(name: string): string {
  return `${JSON.stringify([name]).slice(0, -1)},`;
}

/** The flags of an established key (first used more than 24 h before `now`). */
async function activityFlags(db: Db, credentialId: string, now: Date): Promise<ActivityFlag[]> {
  const last = await countUsage(db, { from: new Date(now.getTime() - DAY), to: now, credentialId });
  const before = await countUsage(db, { from: new Date(now.getTime() - DAY - 7 * DAY), to: new Date(now.getTime() - DAY - 1), credentialId });
  const sqlite = await sqliteFor(db, "a key's activity flags");
  const dayAgo = now.getTime() - DAY;
  const flags: ActivityFlag[] = [];
  // What the last 24 h used (the key's rows of one day, by index) that it never used before (within retention).
  const recent = sqlite
    .query("SELECT DISTINCT address, client_name AS client FROM usage_events WHERE credential_id = ? AND at >= ? AND at <= ?")
    .all(credentialId, dayAgo, now.getTime()) as { address: string | null; client: string | null }[];
  const addresses = [...new Set(recent.map((r) => r.address).filter((a): a is string => a !== null))];
  const clients = [...new Set(recent.map((r) => r.client).filter((c): c is string => c !== null))];
  for (const a of addresses.filter((a) => !usedBeforeSqlite(sqlite, credentialId, "address", "address", a, dayAgo)).slice(0, 10)) {
    flags.push({ kind: "new_address", message: `First used from ${a} in the last 24 hours.` });
  }
  for (const c of clients.filter((c) => !usedBeforeSqlite(sqlite, credentialId, "client", "client_name", c, dayAgo)).slice(0, 10)) {
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
