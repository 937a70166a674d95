// Usage queries: the log's filters and cursor paging, one row, stats from roll-ups agreeing with the
// raw rows, pruning by retention and row count.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { lt, sql } from "drizzle-orm";
import type { Db } from "../../src/db/client.ts";
import { sqliteOf, tables, type Tables } from "../../src/db/store.ts";
import { UsageWriter, writeUsage } from "../../src/domain/monitoring/recorder.ts";
import { getUsage, listUsage, pruneUsage, usageStats, type UsageFilter } from "../../src/domain/monitoring/usage.ts";
import { bucketBounds, exactQuantile, latencyBucket } from "../../src/domain/monitoring/histogram.ts";
import { OUTCOMES, type UsageRecord } from "../../src/domain/monitoring/types.ts";
import { AppError } from "../../src/errors.ts";
import { rejectionOf } from "../support/errors.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { usageRecord } from "../support/usage.ts";

const openDb = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("the usage queries on PostgreSQL", test);
// A fresh PostgreSQL database and the recorder's drizzle writes take seconds on a busy machine.
setDefaultTimeout(30_000);
const T0 = Date.parse("2026-11-01T00:00:00Z");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A deterministic mix of records over `spanMs` from T0 (seeded LCG: the same rows every run). */
function mixedRecords(count: number, spanMs: number): UsageRecord[] {
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const records: UsageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const agent = next(3) === 0;
    const outcome = next(10) < 7 ? "ok" : OUTCOMES[1 + next(4)]!;
    records.push(
      usageRecord({
        at: new Date(T0 + Math.floor((i * spanMs) / count)),
        durationMs: [0, 1, 3, 8, 15, 40, 90, 150, 400, 800, 1500, 4000, 9000, 20_000, 50_000, 90_000][next(16)]! + next(3),
        target: agent ? { kind: "agent", id: `agent_${next(2)}`, slug: "ag" } : { kind: "connection", id: `conn_${next(3)}`, slug: "c" },
        connectionId: `conn_${next(3)}`,
        name: `tool_${next(5)}`,
        outcome,
        errorCode: outcome === "error" ? String(-32000 - next(2)) : null,
        actor: { userId: `user_${next(3)}`, credentialId: `key_${next(4)}` },
        face: next(10) === 0 ? "api" : "mcp",
      }),
    );
  }
  return records;
}

/** Writes through the engine's own usage writer (SQLite's prepared statements, drizzle on PostgreSQL). */
async function write(handle: { db: Db }, records: UsageRecord[]): Promise<void> {
  await writeUsage(handle.db, () => new UsageWriter(sqliteOf(handle.db)!), records);
}

/** Each engine, and how to open a fresh database on it. */
const ENGINES: [string, () => Promise<{ db: Db }>, boolean][] = [
  ["SQLite", async () => openDb(), true],
  ["PostgreSQL", () => pg.open(), havePostgres],
];

function range(fromMs: number, toMs: number, extra: Partial<UsageFilter> = {}): UsageFilter {
  return { from: new Date(fromMs), to: new Date(toMs), ...extra };
}

/** What a filter selects from the records themselves: the truth the queries are checked against. */
function matching(records: UsageRecord[], f: UsageFilter): UsageRecord[] {
  return records.filter(
    (r) =>
      r.at >= f.from && r.at <= f.to &&
      (f.agentId === undefined || (r.target.kind === "agent" && r.target.id === f.agentId)) &&
      (f.connectionId === undefined || r.connectionId === f.connectionId) &&
      (f.credentialId === undefined || r.actor.credentialId === f.credentialId) &&
      (f.userId === undefined || r.actor.userId === f.userId) &&
      (f.name === undefined || r.name === f.name) &&
      (f.outcome === undefined || r.outcome === f.outcome) &&
      (f.face === undefined || r.face === f.face),
  );
}

const FILTERS: Partial<UsageFilter>[] = [
  {},
  { agentId: "agent_1" },
  { connectionId: "conn_2" },
  { credentialId: "key_3" },
  { userId: "user_0" },
  { name: "tool_4" },
  { outcome: "tool_error" },
  { face: "api" },
  { agentId: "agent_0", credentialId: "key_1", outcome: "ok" },
];

for (const [engine, open, available] of ENGINES) {
  describe.skipIf(!available)(`listUsage and getUsage (${engine})`, () => {
    test("each filter returns exactly the matching rows, newest first, every field read back", async () => {
      const handle = await open();
      const records = mixedRecords(400, 2 * HOUR);
      await write(handle, records);
      for (const extra of FILTERS) {
        const f = range(T0 + 10 * MINUTE, T0 + 90 * MINUTE, extra);
        const { rows, nextCursor } = await listUsage(handle.db, f, { limit: 500 });
        const expected = matching(records, f);
        expect(nextCursor).toBeNull();
        expect(rows.length).toBe(expected.length);
        expect(rows.map((r) => r.at.getTime())).toEqual(expected.map((r) => r.at.getTime()).reverse());
        expect(rows.every((r) => matching([r], f).length === 1)).toBe(true);
      }
      const first = (await listUsage(handle.db, range(T0, T0 + 2 * HOUR), { limit: 1 })).rows[0]!;
      const { id, ...rest } = first;
      expect(rest).toEqual(records[records.length - 1]!);
      expect(await getUsage(handle.db, id)).toEqual(first);
    });

    test("getUsage: an unknown or malformed id is null", async () => {
      const handle = await open();
      await write(handle, [usageRecord()]);
      expect(await getUsage(handle.db, "999")).toBeNull();
      expect(await getUsage(handle.db, "1 OR 1=1")).toBeNull();
      expect(await getUsage(handle.db, "-1")).toBeNull();
    });

    test("paging by cursor shows every row once, none skipped, while newer rows are written between pages", async () => {
      const handle = await open();
      // Several rows share a timestamp, so the cursor must break ties by id.
      const records = Array.from({ length: 95 }, (_, i) => usageRecord({ at: new Date(T0 + Math.floor(i / 4) * 1000), name: `n${i}` }));
      await write(handle, records);
      const f = range(T0, T0 + HOUR);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await listUsage(handle.db, f, { cursor, limit: 10 });
        seen.push(...page.rows.map((r) => r.name!));
        cursor = page.nextCursor;
        // A newer row arrives while the reader pages; it belongs before the first page, never inside.
        await write(handle, [usageRecord({ at: new Date(T0 + 30 * MINUTE + pages), name: `late${pages}` })]);
        pages++;
      } while (cursor !== null);
      expect(seen).toHaveLength(95);
      expect(new Set(seen).size).toBe(95);
      expect(seen).toEqual(records.map((r) => r.name!).reverse());
      expect(pages).toBe(10);
    });

    test("a cursor this server did not give is VALIDATION_FAILED, not a 500", async () => {
      const handle = await open();
      for (const cursor of ["abc", "1.2.3", "'; DROP TABLE usage_events; --", "-1.5"]) {
        const err = await rejectionOf(listUsage(handle.db, range(T0, T0 + HOUR), { cursor, limit: 10 }));
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe("VALIDATION_FAILED");
      }
    });

    test("limit is clamped to 1..500", async () => {
      const handle = await open();
      await write(handle, mixedRecords(600, HOUR));
      expect((await listUsage(handle.db, range(T0, T0 + HOUR), { limit: 10_000 })).rows).toHaveLength(500);
      expect((await listUsage(handle.db, range(T0, T0 + HOUR), { limit: 0 })).rows).toHaveLength(1);
    });
  });

  describe.skipIf(!available)(`usageStats (from roll-ups) (${engine})`, () => {
    test("totals, top-N and the error breakdown agree with the raw rows for every filter, minute and hour roll-ups", async () => {
      const handle = await open();
      const records = mixedRecords(2000, 3 * 24 * HOUR);
      await write(handle, records);
      // Whole hours, so the hour roll-ups' edges fall on the range's (edges count whole buckets).
      for (const [from, to] of [[T0 + 2 * HOUR, T0 + 5 * HOUR - 1], [T0, T0 + 3 * 24 * HOUR - 1]] as const) {
        for (const extra of FILTERS) {
          const f = range(from, to, extra);
          const raw = matching(records, f);
          const stats = await usageStats(handle.db, f, { buckets: 12, top: 10 });
          const errors = raw.filter((r) => r.outcome !== "ok").length;
          expect(stats.totals.calls).toBe(raw.length);
          expect(stats.totals.errors).toBe(errors);
          expect(stats.series.reduce((a, p) => a + p.calls, 0)).toBe(raw.length);
          const countBy = (key: (r: UsageRecord) => string | null): Map<string, number> => {
            const m = new Map<string, number>();
            for (const r of raw) {
              const k = key(r);
              if (k !== null) m.set(k, (m.get(k) ?? 0) + 1);
            }
            return m;
          };
          expect(new Map(stats.top.tools.map((t) => [t.id, t.calls]))).toEqual(countBy((r) => r.name));
          expect(new Map(stats.top.credentials.map((t) => [t.id, t.calls]))).toEqual(countBy((r) => r.actor.credentialId));
          expect(new Map(stats.top.agents.map((t) => [t.id, t.calls]))).toEqual(countBy((r) => (r.target.kind === "agent" ? r.target.id : null)));
          expect(new Map(stats.top.connections.map((t) => [t.id, t.calls]))).toEqual(countBy((r) => r.connectionId));
          expect(new Map(stats.top.users.map((t) => [t.id, t.calls]))).toEqual(countBy((r) => r.actor.userId));
          const breakdown = countBy((r) => (r.outcome === "ok" ? null : `${r.outcome}/${r.errorCode}`));
          expect(new Map(stats.errors.map((e) => [`${e.outcome}/${e.code}`, e.count]))).toEqual(breakdown);
          // Percentiles: within the latency bucket the exact one falls in.
          const sorted = raw.map((r) => Math.round(r.durationMs)).sort((a, b) => a - b);
          for (const [q, key] of [[0.5, "p50"], [0.95, "p95"], [0.99, "p99"]] as const) {
            const exact = exactQuantile(sorted, q);
            if (exact === null) {
              expect(stats.totals[key]).toBeNull();
              continue;
            }
            const [lower, upper] = bucketBounds(latencyBucket(exact));
            expect(stats.totals[key]!).toBeGreaterThanOrEqual(lower);
            expect(stats.totals[key]!).toBeLessThanOrEqual(Math.max(upper, lower));
          }
        }
      }
    });

    test("the series puts each call in its bucket and the top-N is cut and ordered", async () => {
      const handle = await open();
      const records = [
        usageRecord({ at: new Date(T0 + 1 * MINUTE), name: "a" }),
        usageRecord({ at: new Date(T0 + 2 * MINUTE), name: "a", outcome: "timeout" }),
        usageRecord({ at: new Date(T0 + 31 * MINUTE), name: "b" }),
        usageRecord({ at: new Date(T0 + 59 * MINUTE), name: "a" }),
        usageRecord({ at: new Date(T0 + 2 * HOUR), name: "c" }), // outside the range
      ];
      await write(handle, records);
      const stats = await usageStats(handle.db, range(T0, T0 + HOUR - 1), { buckets: 4, top: 1 });
      expect(stats.series.map((p) => [p.start.getTime() - T0, p.calls, p.errors])).toEqual([
        [0, 2, 1],
        [15 * MINUTE, 0, 0],
        [30 * MINUTE, 1, 0],
        [45 * MINUTE, 1, 0],
      ]);
      expect(stats.series[1]!.p50).toBeNull();
      expect(stats.top.tools).toEqual([{ id: "a", calls: 3, errors: 1 }]);
      expect(stats.totals).toMatchObject({ calls: 4, errors: 1, errorRate: 0.25 });
      expect(stats.errors).toEqual([{ outcome: "timeout", code: null, count: 1 }]);
    });

    test("an empty range has zero totals and null percentiles", async () => {
      const handle = await open();
      const stats = await usageStats(handle.db, range(T0, T0 + HOUR), { buckets: 3, top: 5 });
      expect(stats.totals).toEqual({ calls: 0, errors: 0, errorRate: 0, p50: null, p95: null, p99: null });
      expect(stats.series).toHaveLength(3);
      expect(stats.top.tools).toEqual([]);
    });
  });

  describe.skipIf(!available)(`pruneUsage (${engine})`, () => {
    test("deletes rows and roll-ups past retention, then the oldest beyond max_rows, and keeps the rest", async () => {
      const handle = await open();
      const now = T0 + 10 * 24 * HOUR;
      const old = Array.from({ length: 30 }, (_, i) => usageRecord({ at: new Date(T0 + i * MINUTE), name: `old${i}` }));
      const recent = Array.from({ length: 20 }, (_, i) => usageRecord({ at: new Date(now - 2 * HOUR + i * MINUTE), name: `new${i}` }));
      await write(handle, [...old, ...recent]);
      const deleted = await pruneUsage(handle.db, { retentionMs: 7 * 24 * HOUR, maxRows: 15, now: new Date(now) });
      expect(deleted).toBe(35);
      const left = (await listUsage(handle.db, range(0, now), { limit: 500 })).rows.map((r) => r.name);
      expect(left).toEqual(recent.slice(5).map((r) => r.name).reverse());
      for (const table of [tables(handle.db).usageRollups, tables(handle.db).usageTotals] as Tables["usageRollups"][]) {
        const count = (where?: ReturnType<typeof lt>): Promise<{ n: number }[]> => handle.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(table).where(where);
        expect((await count(lt(table.bucket, now - 7 * 24 * HOUR)))[0]!.n).toBe(0);
        expect((await count())[0]!.n).toBeGreaterThan(0);
      }
      // Roll-ups of the retained period stay (the dashboard's counts do not depend on max_rows).
      expect((await usageStats(handle.db, range(now - 3 * HOUR, now), { buckets: 1, top: 1 })).totals.calls).toBe(20);
      expect(await pruneUsage(handle.db, { retentionMs: 7 * 24 * HOUR, maxRows: 15, now: new Date(now) })).toBe(0);
    });
  });
}
