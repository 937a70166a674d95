// One key's (or OAuth grant's) activity: use over time, tools, clients and addresses seen, and flags
// for what looks unusual (a new address or client on an established key, an error rate that jumps).
import type { Db } from "../../db/client.ts";
import type { UsageFilter } from "./filter.ts";
import { countUsage, topNames, usageSeries, type SeriesPoint, type TopEntry } from "./stats.ts";

const DAY = 24 * 3_600_000;

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
export function credentialActivity(db: Db, credentialId: string, range: { from: Date; to: Date }, now: Date = new Date()): CredentialActivity {
  const sqlite = db.$client;
  const filter: UsageFilter = { from: range.from, to: range.to, credentialId };
  const use = sqlite.query("SELECT MIN(at) AS first, MAX(at) AS last FROM usage_events WHERE credential_id = ?").get(credentialId) as { first: number | null; last: number | null };
  const { series } = usageSeries(db, filter, 48);
  const calls = series.reduce((a, p) => a + p.calls, 0);
  const errors = series.reduce((a, p) => a + p.errors, 0);
  const rangeParams = [credentialId, range.from.getTime(), range.to.getTime()];
  const clientRows = sqlite
    .query("SELECT client_name AS name, client_version AS version, MIN(at) AS first, MAX(at) AS last, COUNT(*) AS calls FROM usage_events WHERE credential_id = ? AND at >= ? AND at <= ? GROUP BY client_name, client_version ORDER BY calls DESC LIMIT 50")
    .all(...rangeParams) as { name: string | null; version: string | null; first: number; last: number; calls: number }[];
  const addressRows = sqlite
    .query("SELECT address, MIN(at) AS first, MAX(at) AS last, COUNT(*) AS calls FROM usage_events WHERE credential_id = ? AND at >= ? AND at <= ? AND address IS NOT NULL GROUP BY address ORDER BY calls DESC LIMIT 50")
    .all(...rangeParams) as { address: string; first: number; last: number; calls: number }[];
  return {
    credentialId,
    firstUse: use.first === null ? null : new Date(use.first),
    lastUse: use.last === null ? null : new Date(use.last),
    calls,
    errors,
    errorRate: calls === 0 ? 0 : errors / calls,
    series,
    tools: topNames(db, filter, 20),
    clients: clientRows.map((c) => ({ name: c.name, version: c.version, firstSeen: new Date(c.first), lastSeen: new Date(c.last), calls: c.calls })),
    addresses: addressRows.map((a) => ({ address: a.address, firstSeen: new Date(a.first), lastSeen: new Date(a.last), calls: a.calls })),
    flags: use.first !== null && use.first < now.getTime() - DAY ? activityFlags(db, credentialId, now) : [],
  };
}

/** The flags of an established key (first used more than 24 h before `now`). */
function activityFlags(db: Db, credentialId: string, now: Date): ActivityFlag[] {
  const sqlite = db.$client;
  const dayAgo = now.getTime() - DAY;
  const flags: ActivityFlag[] = [];
  // What was used in the last 24 h and never before on this key (within retention).
  const newAddresses = sqlite
    .query(
      "SELECT DISTINCT address FROM usage_events AS recent WHERE credential_id = ? AND at >= ? AND at <= ? AND address IS NOT NULL " +
        "AND NOT EXISTS (SELECT 1 FROM usage_events AS old WHERE old.credential_id = recent.credential_id AND old.address = recent.address AND old.at < ?) LIMIT 10",
    )
    .all(credentialId, dayAgo, now.getTime(), dayAgo) as { address: string }[];
  for (const a of newAddresses) flags.push({ kind: "new_address", message: `First used from ${a.address} in the last 24 hours.` });
  const newClients = sqlite
    .query(
      "SELECT DISTINCT client_name AS name FROM usage_events AS recent WHERE credential_id = ? AND at >= ? AND at <= ? AND client_name IS NOT NULL " +
        "AND NOT EXISTS (SELECT 1 FROM usage_events AS old WHERE old.credential_id = recent.credential_id AND old.client_name = recent.client_name AND old.at < ?) LIMIT 10",
    )
    .all(credentialId, dayAgo, now.getTime(), dayAgo) as { name: string }[];
  for (const c of newClients) flags.push({ kind: "new_client", message: `First used by the client "${c.name}" in the last 24 hours.` });
  const recent = countUsage(db, { from: new Date(dayAgo), to: now, credentialId });
  const before = countUsage(db, { from: new Date(dayAgo - 7 * DAY), to: new Date(dayAgo - 1), credentialId });
  const recentRate = recent.calls === 0 ? 0 : recent.errors / recent.calls;
  const beforeRate = before.calls === 0 ? 0 : before.errors / before.calls;
  if (recent.calls >= MIN_CALLS && before.calls > 0 && recentRate > 0 && recentRate > JUMP_FACTOR * beforeRate) {
    const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;
    flags.push({ kind: "error_rate_jump", message: `Error rate ${pct(recentRate)} in the last 24 hours, against ${pct(beforeRate)} over the 7 days before.` });
  }
  return flags;
}
