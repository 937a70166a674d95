// A batch's roll-ups are summed in memory before they are written (one upsert per key, not two per
// record): the roll-up table must come out exactly as writing the records one by one makes it.
import { expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { usageBatch, UsageWriter, writeUsageBatchPortable } from "../../src/domain/monitoring/recorder.ts";
import { useTestDatabase } from "../support/db.ts";
import { usageRecord } from "../support/usage.ts";

const openDb = useTestDatabase();

function rollups(sqlite: Database): unknown[] {
  return sqlite.query("SELECT * FROM usage_rollups ORDER BY grain, bucket, target_id, name, outcome, credential_id, error_code").all().map((row) => {
    const { id: _id, ...rest } = row as Record<string, unknown>;
    return rest;
  });
}

test("a batch written at once gives the same roll-ups (calls, errors, durations, histogram) as its records one by one", () => {
  const base = Date.UTC(2026, 10, 1, 11, 59, 30);
  const records = Array.from({ length: 300 }, (_, i) =>
    usageRecord({
      // Across a minute and an hour boundary, two tools, three outcomes, two keys.
      at: new Date(base + i * 400),
      name: i % 3 === 0 ? "search" : "fetch",
      outcome: i % 7 === 0 ? "error" : i % 11 === 0 ? "refused" : "ok",
      errorCode: i % 7 === 0 ? "-32000" : null,
      durationMs: (i * 37) % 5000,
      actor: { credentialId: i % 2 === 0 ? "key_a" : "key_b" },
    }),
  );
  const batched = openDb();
  new UsageWriter(batched.sqlite).write(records);
  const single = openDb();
  const one = new UsageWriter(single.sqlite);
  single.sqlite.transaction(() => {
    for (const r of records) one.write([r]);
  })();
  const expected = rollups(single.sqlite);
  expect(expected.length).toBeGreaterThan(4);
  expect(rollups(batched.sqlite)).toEqual(expected);
  // And a second batch adds to the first.
  new UsageWriter(batched.sqlite).write(records);
  single.sqlite.transaction(() => {
    for (const r of records) one.write([r]);
  })();
  expect(rollups(batched.sqlite)).toEqual(rollups(single.sqlite));
});

/** Every row of the usage tables, in a fixed order, without the rowid-based ids. */
function allUsage(sqlite: Database): { events: unknown[]; rollups: unknown[]; totals: unknown[] } {
  const strip = (rows: unknown[]): unknown[] =>
    rows.map((row) => {
      const { id: _id, ...rest } = row as Record<string, unknown>;
      return rest;
    });
  return {
    events: strip(sqlite.query("SELECT * FROM usage_events ORDER BY id").all()),
    rollups: rollups(sqlite),
    totals: sqlite.query("SELECT * FROM usage_totals ORDER BY grain, scope, scope_id, dim, bucket, dim_id, outcome, error_code").all(),
  };
}

test("the portable writer (drizzle's multi-row inserts and ON CONFLICT upserts, PostgreSQL's) writes what the prepared statements write", async () => {
  const base = Date.UTC(2026, 10, 1, 11, 59, 30);
  // More than one 1000-row statement of events and of roll-ups, so the chunking is crossed.
  const records = Array.from({ length: 2500 }, (_, i) =>
    usageRecord({
      at: new Date(base + i * 1500),
      name: `tool_${i % 40}`,
      outcome: i % 7 === 0 ? "error" : "ok",
      errorCode: i % 7 === 0 ? "-32000" : null,
      durationMs: (i * 37) % 70_000,
      actor: { credentialId: `key_${i % 5}`, userId: `user_${i % 3}` },
      address: `203.0.113.${i % 9}`,
      payload: i % 4 === 0 ? { arguments: { n: i } } : null,
    }),
  );
  const prepared = openDb();
  new UsageWriter(prepared.sqlite).write(records);
  new UsageWriter(prepared.sqlite).write(records.slice(0, 700));
  const portable = openDb();
  await writeUsageBatchPortable(portable.db, usageBatch(records));
  // A second batch adds to the roll-ups the first wrote (the ON CONFLICT branch).
  await writeUsageBatchPortable(portable.db, usageBatch(records.slice(0, 700)));
  const expected = allUsage(prepared.sqlite);
  expect(expected.events).toHaveLength(3200);
  expect(expected.rollups.length).toBeGreaterThan(1000);
  expect(allUsage(portable.sqlite)).toEqual(expected);
});
