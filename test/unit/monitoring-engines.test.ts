// The monitoring reads on both engines: the same usage rows, written through the recorder's writer,
// give the same log pages, rows, stats, series, key activity and pruning on SQLite and PostgreSQL; and
// PostgreSQL's indexes serve the filtered listings (no sequential scan of usage_events).
import { describe, expect, test } from "bun:test";
import { desc, sql, type SQLWrapper } from "drizzle-orm";
import type { Db } from "../../src/db/client.ts";
import { sqliteOf, tables } from "../../src/db/store.ts";
import { UsageWriter, writeUsage } from "../../src/domain/monitoring/recorder.ts";
import { eventsWhere } from "../../src/domain/monitoring/filter.ts";
import { countUsage, usageSeries } from "../../src/domain/monitoring/stats.ts";
import { credentialActivity, getUsage, listUsage, pruneUsage, usageStats, type UsageFilter } from "../../src/domain/monitoring/usage.ts";
import { listAudit, AuditLog, pruneAudit } from "../../src/domain/monitoring/audit.ts";
import { OUTCOMES, type UsageRecord } from "../../src/domain/monitoring/types.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { usageRecord } from "../support/usage.ts";

const openSqlite = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("the monitoring engine comparison", test);

const NOW = Date.parse("2026-11-20T12:00:00Z");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A deterministic mix over the 9 days before NOW (seeded LCG), with clients, addresses and errors; key_0 is new to an address and a client in the last day. */
function mixedRecords(count: number): UsageRecord[] {
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    // The high bits: an LCG's low bits cycle with a short period.
    return Math.floor((seed / 2 ** 31) * n);
  };
  const records: UsageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = NOW - 9 * DAY + Math.floor((i * 9 * DAY) / count);
    const recent = at > NOW - DAY;
    const outcome = next(10) < (recent ? 2 : 9) ? "ok" : OUTCOMES[1 + next(4)]!;
    const agent = next(3) === 0;
    records.push(
      usageRecord({
        at: new Date(at),
        durationMs: [0, 1, 3, 8, 15, 40, 90, 150, 400, 800, 1500, 4000, 9000, 20_000, 50_000, 90_000][next(16)]! + next(3),
        target: agent ? { kind: "agent", id: `agent_${next(2)}`, slug: "ag" } : { kind: "connection", id: `conn_${next(3)}`, slug: "c" },
        connectionId: `conn_${next(3)}`,
        name: `tool_${next(5)}`,
        outcome,
        errorCode: outcome === "error" ? String(-32000 - next(2)) : null,
        errorMessage: outcome === "ok" ? null : "it failed: é ✓",
        actor: { userId: `user_${next(3)}`, credentialId: `key_${next(4)}` },
        face: next(10) === 0 ? "api" : "mcp",
        client: { name: recent && next(4) === 0 ? "Néw client" : `client_${next(2)}`, version: `1.${next(3)}` },
        address: recent && next(5) === 0 ? "192.0.2.77" : `10.0.0.${next(3)}`,
        requestBytes: 100 + next(1000),
        responseBytes: 5_000_000_000 + next(1000),
      }),
    );
  }
  return records;
}

/** Writes `records` the way the server does on each engine (SQLite's prepared statements, drizzle on PostgreSQL), as one batch. */
async function write(db: Db, records: UsageRecord[]): Promise<void> {
  const sqlite = sqliteOf(db);
  await writeUsage(db, () => new UsageWriter(sqlite!), records);
}

/** Every page of a listing, in order. */
async function allPages(db: Db, filter: UsageFilter, limit: number): Promise<unknown[]> {
  const rows: unknown[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof listUsage>> = await listUsage(db, filter, { cursor, limit });
    rows.push(...page.rows);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

const FILTERS: Record<string, Partial<UsageFilter>> = {
  all: {},
  agent: { agentId: "agent_1" },
  credential: { credentialId: "key_2" },
  user: { userId: "user_0" },
  connection: { connectionId: "conn_1" },
  name: { name: "tool_3" },
  outcome: { outcome: "error" },
  face: { face: "api" },
  combination: { credentialId: "key_1", name: "tool_0" },
};

/** Everything the monitoring reads answer for the same rows, as plain data. */
async function readings(db: Db): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const ranges = { day: { from: new Date(NOW - DAY + 7 * MINUTE + 123), to: new Date(NOW) }, week: { from: new Date(NOW - 8 * DAY + 5 * HOUR + 17), to: new Date(NOW - 30 * MINUTE) } };
  for (const [rangeName, range] of Object.entries(ranges)) {
    for (const [filterName, extra] of Object.entries(FILTERS)) {
      const filter = { ...range, ...extra };
      out[`stats ${rangeName} ${filterName}`] = await usageStats(db, filter, { buckets: 37, top: 4 });
      out[`count ${rangeName} ${filterName}`] = await countUsage(db, filter);
    }
    out[`series ${rangeName}`] = await usageSeries(db, { ...range }, 1000);
  }
  out.pages = await allPages(db, { from: new Date(NOW - 3 * DAY), to: new Date(NOW), credentialId: "key_3" }, 37);
  out.page = await listUsage(db, { from: new Date(0), to: new Date(NOW), outcome: "timeout", face: "mcp" }, { limit: 5 });
  const [first] = (await listUsage(db, { from: new Date(0), to: new Date(NOW) }, { limit: 1 })).rows;
  out.one = await getUsage(db, first!.id);
  for (const key of ["key_0", "key_1", "key_9"]) out[`activity ${key}`] = await credentialActivity(db, key, { from: new Date(NOW - 7 * DAY), to: new Date(NOW) }, new Date(NOW));
  return out;
}

describe.skipIf(!havePostgres)("the monitoring reads on SQLite and PostgreSQL", () => {
  test("the same usage rows give the same listings, rows, stats, series, counts and key activity", async () => {
    const records = mixedRecords(4000);
    const lite = openSqlite();
    const post = await pg.open();
    await write(lite.db, records);
    await write(post.db, records);
    const onSqlite = await readings(lite.db);
    const onPostgres = await readings(post.db);
    for (const key of Object.keys(onSqlite)) expect({ [key]: onPostgres[key] }).toEqual({ [key]: onSqlite[key] });
    // And the answers are about something: rows were read, errors counted, flags raised.
    const stats = onPostgres["stats week all"] as Awaited<ReturnType<typeof usageStats>>;
    expect(stats.totals.calls).toBeGreaterThan(2500);
    expect(stats.errors.length).toBeGreaterThan(3);
    expect((onPostgres.pages as unknown[]).length).toBeGreaterThan(100);
    const activity = onPostgres["activity key_0"] as Awaited<ReturnType<typeof credentialActivity>>;
    expect(activity.flags.map((f) => f.kind).sort()).toEqual(["error_rate_jump", "new_address", "new_client"]);
    expect(typeof (onPostgres.one as { responseBytes: unknown }).responseBytes).toBe("number");
  }, 120_000);

  test("pruning deletes the same rows and roll-ups on both, in chunks past 5000", async () => {
    const records = mixedRecords(7000);
    const counts = async (db: Db): Promise<unknown> => {
      const { usageEvents, usageRollups, usageTotals } = tables(db);
      const n = async (t: typeof usageEvents | typeof usageRollups | typeof usageTotals): Promise<number> => (await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(t as typeof usageEvents))[0]!.n;
      return { events: await n(usageEvents), rollups: await n(usageRollups), totals: await n(usageTotals) };
    };
    const pruned = async (db: Db): Promise<unknown> => {
      await write(db, records);
      const byAge = await pruneUsage(db, { retentionMs: 2 * DAY, maxRows: 1_000_000, now: new Date(NOW) });
      const afterAge = await counts(db);
      const byCount = await pruneUsage(db, { retentionMs: 30 * DAY, maxRows: 1000, now: new Date(NOW) });
      return { byAge, afterAge, byCount, after: await counts(db), stats: await usageStats(db, { from: new Date(NOW - 9 * DAY), to: new Date(NOW) }, { buckets: 9, top: 3 }) };
    };
    const onSqlite = await pruned(openSqlite().db);
    const onPostgres = await pruned((await pg.open()).db);
    expect(onPostgres).toEqual(onSqlite);
    // More than a chunk of rows went by age (7 of the 9 days of 7000 rows are past a 2-day retention).
    expect((onPostgres as { byAge: number }).byAge).toBeGreaterThan(5000);
    expect((onPostgres as { after: { events: number } }).after.events).toBe(1000);
  }, 120_000);

  test("the audit log lists, filters, pages and prunes the same on both", async () => {
    const run = async (db: Db): Promise<unknown> => {
      const log = new AuditLog(db);
      for (let i = 0; i < 30; i++) {
        log.record({
          at: new Date(NOW - i * HOUR), face: i % 3 === 0 ? "api" : "admin", actor: { userId: `user_${i % 2}`, credentialKind: "session", credentialId: `s_${i % 4}` },
          action: i % 5 === 0 ? "KEY_CREATE" : "CONNECTION_UPDATE", targetId: `t_${i % 3}`, address: "10.0.0.1", change: { i, text: "é ✓" }, outcome: "ok",
        });
      }
      await log.settled();
      const pages: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof listAudit>> = await listAudit(db, { userId: "user_1", to: new Date(NOW - 2 * HOUR) }, { cursor, limit: 4 });
        pages.push(page.rows);
        cursor = page.nextCursor;
      } while (cursor);
      const filtered = await listAudit(db, { action: "KEY_CREATE", face: "api", from: new Date(NOW - 20 * HOUR) }, { limit: 50 });
      const prunedCount = await pruneAudit(db, { retentionMs: 10 * HOUR, now: new Date(NOW) });
      return { pages, filtered, prunedCount, left: (await listAudit(db, {}, { limit: 100 })).rows.length };
    };
    const onSqlite = await run(openSqlite().db);
    const onPostgres = await run((await pg.open()).db);
    expect(onPostgres).toEqual(onSqlite);
    expect((onPostgres as { left: number }).left).toBe(11);
  });
});

describe.skipIf(!havePostgres)("PostgreSQL's indexes", () => {
  test("serve the log's filtered listings at 100k rows: no sequential scan of usage_events", async () => {
    const { db } = await pg.open();
    const execute = (db as unknown as { execute: (query: SQLWrapper) => Promise<Record<string, string>[]> }).execute.bind(db);
    const T = 1_790_000_000_000;
    // 100k rows over ~70 days, generated by the server (the recorder would take minutes here).
    await execute(sql.raw(`INSERT INTO usage_events (at, duration_ms, face, target_kind, target_id, method, name, connection_id, outcome, user_id, credential_kind, credential_id, address, request_bytes, response_bytes)
      SELECT ${T} + g::bigint * 60000, g % 500, CASE WHEN g % 10 = 0 THEN 'api' ELSE 'mcp' END, CASE WHEN g % 3 = 0 THEN 'agent' ELSE 'connection' END, 'tgt_' || (g % 7),
        'tools/call', 'tool_' || (g % 50), 'conn_' || (g % 5), CASE WHEN g % 20 = 0 THEN 'error' ELSE 'ok' END, 'user_' || (g % 30), 'api_key', 'key_' || (g % 200), '10.0.0.1', 100, 200
      FROM generate_series(1, 100000) g`));
    await execute(sql`ANALYZE usage_events`);
    const { usageEvents: t } = tables(db);
    const whole = { from: new Date(T), to: new Date(T + 100_000 * MINUTE) };
    const hour = { from: new Date(T + 50_000 * MINUTE), to: new Date(T + 50_060 * MINUTE) };
    const filters: Partial<UsageFilter>[] = [{}, { agentId: "tgt_1" }, { connectionId: "conn_1" }, { credentialId: "key_5" }, { userId: "user_3" }, { name: "tool_4" }, { outcome: "error" }, { face: "api" }];
    for (const range of [whole, hour]) {
      for (const extra of filters) {
        const listing = db.select().from(t).where(eventsWhere(t, { ...range, ...extra })).orderBy(desc(t.at), desc(t.id)).limit(51);
        const plan = [...(await execute(sql`EXPLAIN ${listing}`))].map((r) => r["QUERY PLAN"]).join("\n");
        expect({ extra, plan }).toEqual({ extra, plan: expect.not.stringContaining("Seq Scan") });
      }
    }
  }, 60_000);
});

describe.skipIf(!havePostgres)("what a hostile peer names", () => {
  test("a NUL in a tool name, an error message or a client's name costs no call on either engine, nor an audit row", async () => {
    const hostile = usageRecord({
      at: new Date(NOW),
      name: "evil\u0000tool",
      outcome: "error",
      errorCode: "-32603",
      errorMessage: "upstream said \u0000 then more",
      client: { name: "client\u0000", version: "1" },
    });
    const plain = usageRecord({ at: new Date(NOW + 1), name: "plain" });
    for (const db of [openSqlite().db, (await pg.open()).db]) {
      const writer = sqliteOf(db) ? new UsageWriter(sqliteOf(db)!) : undefined;
      await writeUsage(db, () => writer!, [hostile, plain]);
      const names = (await db.select({ name: tables(db).usageEvents.name, error: tables(db).usageEvents.errorMessage }).from(tables(db).usageEvents)).map((r) => `${r.name}|${r.error}`).sort();
      expect(names).toEqual(["evil\uFFFDtool|upstream said \uFFFD then more", "plain|null"]);
      const audit = new AuditLog(db);
      audit.record({ at: new Date(NOW), face: "mcp", actor: { userId: null, credentialKind: "config", credentialId: null }, action: "X", targetId: "t\u0000", address: null, change: { s: "\u0000" }, outcome: "ok" });
      await audit.settled();
      const [row] = await db.select().from(tables(db).auditEvents);
      expect(row?.targetId).toBe("t\uFFFD");
    }
  });
});
