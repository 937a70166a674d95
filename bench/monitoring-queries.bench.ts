// The dashboard's queries at 10 million usage rows: generates a 30-day table (and its roll-ups) in a
// temp database, then times usageStats over 1h, 24h, 7d and 30d (with and without an agent or key
// filter), listUsage's first and a deep page, and credentialActivity — medians, against 100 ms.
// `ROWS=1000000 bun run bench monitoring` for a quicker run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client.ts";
import { eventValues } from "../src/domain/monitoring/recorder.ts";
import { HISTOGRAM_COLUMNS, LATENCY_EDGES } from "../src/domain/monitoring/histogram.ts";
import { credentialActivity, listUsage, usageStats, type UsageFilter } from "../src/domain/monitoring/usage.ts";
import { OUTCOMES, type UsageRecord } from "../src/domain/monitoring/types.ts";

const ROWS = Number(process.env.ROWS ?? 10_000_000);
const TARGET_MS = 100;
const RUNS = 7;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-11-30T00:00:00Z");
const SPAN = 30 * DAY;

const dir = mkdtempSync(join(tmpdir(), "sb-bench-monitoring-"));
const handle = openDatabase({ path: join(dir, "db.sqlite"), busyTimeoutMs: 5_000 });
const { sqlite, db } = handle;

// A gateway of some size: 5 connections and 3 agents, 20 tools, 40 keys of 15 users, 2 addresses and a
// client per key; 92% ok. Seeded, so every run builds the same table.
let seed = 7;
// mulberry32: every draw uses all the bits (an LCG's low bits repeat, and some keys would never appear).
const rand = (n: number): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) % n);
};
function recordAt(at: number): UsageRecord {
  const key = rand(40);
  const agent = rand(3) === 0;
  const connection = rand(5);
  const roll = rand(100);
  const outcome = roll < 92 ? "ok" : OUTCOMES[1 + (roll % 4)]!;
  // Log-uniform-ish latency: 1 ms to ~30 s.
  const durationMs = Math.floor(Math.exp((rand(1000) / 1000) * Math.log(30_000)));
  return {
    at: new Date(at), durationMs, face: "mcp",
    target: agent ? { kind: "agent", id: `agent_${rand(3)}`, slug: "agent" } : { kind: "connection", id: `conn_${connection}`, slug: "conn" },
    method: "tools/call", name: `tool_${rand(20)}`, upstreamName: null, connectionId: `conn_${connection}`, outcome,
    errorCode: outcome === "error" ? "-32603" : null, errorMessage: outcome === "ok" ? null : "failed",
    actor: { userId: `user_${key % 15}`, credentialKind: "api_key", credentialId: `key_${key}` },
    sessionId: `sess_${rand(500)}`, client: { name: `client_${key % 3}`, version: "1.0" }, address: `10.0.${key}.${rand(2)}`,
    requestBytes: 200, responseBytes: 1000, payload: null,
  };
}

// Generation: rows inserted with the indexes dropped (built once at the end, far faster than 10 M
// incremental updates), in one transaction with the journal off; roll-ups computed from the rows with
// the same keys and histogram edges as the recorder writes them.
const started = performance.now();
const indexes = sqlite.query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('usage_events', 'usage_rollups', 'usage_totals') AND sql IS NOT NULL").all() as { name: string; sql: string }[];
sqlite.run("PRAGMA journal_mode = OFF");
sqlite.run("PRAGMA synchronous = OFF");
for (const i of indexes) sqlite.run(`DROP INDEX ${i.name}`);
const columns = "at, duration_ms, face, target_kind, target_id, target_slug, method, name, upstream_name, connection_id, outcome, error_code, error_message, user_id, credential_kind, credential_id, session_id, client_name, client_version, address, request_bytes, response_bytes, payload";
const insert = sqlite.prepare(`INSERT INTO usage_events (${columns}) VALUES (${columns.split(",").map(() => "?").join(", ")})`);
sqlite.transaction(() => {
  for (let i = 0; i < ROWS; i++) insert.run(...eventValues(recordAt(NOW - SPAN + Math.floor((i * SPAN) / ROWS))));
})();
const inserted = performance.now();
const bucketCase = `CASE ${LATENCY_EDGES.slice(0, -1).map((edge, i) => `WHEN duration_ms <= ${edge} THEN ${i}`).join(" ")} ELSE ${LATENCY_EDGES.length - 1} END`;
const HIST = HISTOGRAM_COLUMNS.join(", ");
const HIST_FROM_ROWS = HISTOGRAM_COLUMNS.map((_, i) => `SUM((${bucketCase}) = ${i})`).join(", ");
const HIST_SUMS = HISTOGRAM_COLUMNS.map((h) => `SUM(${h})`).join(", ");
const ROLLUP_KEY = "target_id, connection_id, name, credential_id, user_id, outcome, error_code, face, target_kind";
// Combination roll-ups: per minute from the rows, per hour from the minutes.
sqlite.run(
  `INSERT INTO usage_rollups (grain, bucket, ${ROLLUP_KEY}, calls, errors, duration_sum, ${HIST}) ` +
    `SELECT 'm', at - (at % 60000), COALESCE(target_id, ''), COALESCE(connection_id, ''), COALESCE(name, ''), COALESCE(credential_id, ''), COALESCE(user_id, ''), outcome, COALESCE(error_code, ''), face, target_kind, ` +
    `COUNT(*), SUM(outcome != 'ok'), SUM(duration_ms), ${HIST_FROM_ROWS} FROM usage_events GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11`,
);
sqlite.run(
  `INSERT INTO usage_rollups (grain, bucket, ${ROLLUP_KEY}, calls, errors, duration_sum, ${HIST}) ` +
    `SELECT 'h', bucket - (bucket % ${HOUR}), ${ROLLUP_KEY}, SUM(calls), SUM(errors), SUM(duration_sum), ${HIST_SUMS} FROM usage_rollups WHERE grain = 'm' GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11`,
);
// Per-dimension roll-ups, as the recorder's scopesOf and dimensionsOf: all calls and agents per minute
// (per hour from those minutes), credentials, users, connections and names per hour from the rows.
const AGENT = "CASE WHEN target_kind = 'agent' THEN target_id END";
const dims: [string, string][] = [["''", "''"], ["'name'", "name"], ["'agent'", AGENT], ["'connection'", "connection_id"], ["'credential'", "credential_id"], ["'user'", "user_id"]];
const credentialDims: [string, string][] = [...dims, ["'client'", "CASE WHEN client_name IS NOT NULL OR client_version IS NOT NULL THEN json_array(client_name, client_version) END"], ["'address'", "address"]];
const totals = (grain: string, ms: number, scope: string, scopeId: string, dim: string, dimId: string): string => {
  const outcome = dim === "''" ? "outcome, COALESCE(error_code, '')" : "'', ''";
  return (
    `INSERT INTO usage_totals (grain, scope, scope_id, dim, bucket, dim_id, outcome, error_code, calls, errors, duration_sum, ${HIST}) ` +
    `SELECT '${grain}', ${scope}, ${scopeId}, ${dim}, at - (at % ${ms}), ${dimId}, ${outcome}, COUNT(*), SUM(outcome != 'ok'), SUM(duration_ms), ${HIST_FROM_ROWS} ` +
    `FROM usage_events WHERE (${scopeId}) IS NOT NULL AND (${dimId}) IS NOT NULL GROUP BY 3, 5, 6, 7, 8`
  );
};
for (const [dim, dimId] of dims) {
  sqlite.run(totals("m", 60_000, "''", "''", dim, dimId));
  sqlite.run(totals("m", 60_000, "'agent'", AGENT, dim, dimId));
}
sqlite.run(
  `INSERT INTO usage_totals (grain, scope, scope_id, dim, bucket, dim_id, outcome, error_code, calls, errors, duration_sum, ${HIST}) ` +
    `SELECT 'h', scope, scope_id, dim, bucket - (bucket % ${HOUR}), dim_id, outcome, error_code, SUM(calls), SUM(errors), SUM(duration_sum), ${HIST_SUMS} FROM usage_totals WHERE grain = 'm' GROUP BY 2, 3, 4, 5, 6, 7, 8`,
);
for (const [dim, dimId] of credentialDims) sqlite.run(totals("h", HOUR, "'credential'", "credential_id", dim, dimId));
for (const [scope, scopeId] of [["'user'", "user_id"], ["'connection'", "connection_id"], ["'name'", "name"]] as const) {
  for (const [dim, dimId] of dims) sqlite.run(totals("h", HOUR, scope, scopeId, dim, dimId));
}
const rolled = performance.now();
for (const i of indexes) sqlite.run(i.sql);
sqlite.run("ANALYZE");
const generated = performance.now();
const rollups = (sqlite.query("SELECT 'rollups ' || grain AS grain, COUNT(*) AS n FROM usage_rollups GROUP BY grain UNION ALL SELECT 'totals ' || grain, COUNT(*) FROM usage_totals GROUP BY grain").all() as { grain: string; n: number }[]).map((r) => `${r.grain}: ${r.n.toLocaleString("en")}`).join(", ");
console.log(
  `generated ${ROWS.toLocaleString("en")} rows over 30 days in ${((generated - started) / 1000).toFixed(1)} s ` +
    `(insert ${((inserted - started) / 1000).toFixed(1)} s, roll-ups ${((rolled - inserted) / 1000).toFixed(1)} s, indexes + ANALYZE ${((generated - rolled) / 1000).toFixed(1)} s); roll-up rows ${rollups}`,
);

async function median(fn: () => unknown): Promise<number> {
  await fn(); // warm-up (statement compile, page cache)
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const range = (ms: number, extra: Partial<UsageFilter> = {}): UsageFilter => ({ from: new Date(NOW - ms), to: new Date(NOW), ...extra });
const deepCursor = await (async () => {
  let cursor: string | null = null;
  for (let i = 0; i < 20; i++) cursor = (await listUsage(db, range(SPAN), { cursor, limit: 500 })).nextCursor;
  return cursor;
})();

const cases: [string, () => unknown][] = [];
for (const [label, ms] of [["1h", HOUR], ["24h", DAY], ["7d", 7 * DAY], ["30d", SPAN]] as const) {
  cases.push([`usageStats ${label}`, () => usageStats(db, range(ms), { buckets: 60, top: 10 })]);
  cases.push([`usageStats ${label} agent`, () => usageStats(db, range(ms, { agentId: "agent_1" }), { buckets: 60, top: 10 })]);
  cases.push([`usageStats ${label} key`, () => usageStats(db, range(ms, { credentialId: "key_7" }), { buckets: 60, top: 10 })]);
}
cases.push(["usageStats 30d user", () => usageStats(db, range(SPAN, { userId: "user_3" }), { buckets: 60, top: 10 })]);
cases.push(["usageStats 30d connection", () => usageStats(db, range(SPAN, { connectionId: "conn_2" }), { buckets: 60, top: 10 })]);
cases.push(["usageStats 30d tool", () => usageStats(db, range(SPAN, { name: "tool_3" }), { buckets: 60, top: 10 })]);
// Filters usage_totals does not serve read the combination roll-ups by index (reported, not held to the target).
const fallback: [string, () => unknown][] = [
  ["usageStats 24h user (combinations)", () => usageStats(db, range(DAY, { userId: "user_3" }), { buckets: 60, top: 10 })],
  ["usageStats 24h tool (combinations)", () => usageStats(db, range(DAY, { name: "tool_3" }), { buckets: 60, top: 10 })],
  ["usageStats 7d outcome=error (combinations)", () => usageStats(db, range(7 * DAY, { outcome: "error" }), { buckets: 60, top: 10 })],
  ["usageStats 30d agent+key (combinations)", () => usageStats(db, range(SPAN, { agentId: "agent_1", credentialId: "key_7" }), { buckets: 60, top: 10 })],
];
cases.push(["listUsage first page (50)", () => listUsage(db, range(SPAN), { limit: 50 })]);
cases.push(["listUsage page after 10,000 rows", () => listUsage(db, range(SPAN), { cursor: deepCursor, limit: 50 })]);
cases.push(["listUsage key filter, first page", () => listUsage(db, range(SPAN, { credentialId: "key_7" }), { limit: 50 })]);
cases.push(["listUsage outcome=timeout, first page", () => listUsage(db, range(SPAN, { outcome: "timeout" }), { limit: 50 })]);
cases.push(["credentialActivity 7d", () => credentialActivity(db, "key_7", { from: new Date(NOW - 7 * DAY), to: new Date(NOW) }, new Date(NOW))]);
cases.push(["credentialActivity 30d", () => credentialActivity(db, "key_7", { from: new Date(NOW - SPAN), to: new Date(NOW) }, new Date(NOW))]);

let missed = 0;
for (const [label, fn] of cases) {
  const ms = await median(fn);
  if (ms > TARGET_MS) missed++;
  console.log(`${label.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms ${ms <= TARGET_MS ? "ok" : `OVER the ${TARGET_MS} ms target`}`);
}
for (const [label, fn] of fallback) console.log(`${label.padEnd(40)} ${(await median(fn)).toFixed(1).padStart(8)} ms (fallback)`);
console.log(missed === 0 ? `every query under ${TARGET_MS} ms at ${ROWS.toLocaleString("en")} rows` : `${missed} queries over ${TARGET_MS} ms`);
handle.close();
rmSync(dir, { recursive: true, force: true });
process.exit(missed === 0 ? 0 : 1);
