// A batch's roll-ups are summed in memory before they are written (one upsert per key, not two per
// record): the roll-up table must come out exactly as writing the records one by one makes it.
import { expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { UsageWriter } from "../../src/domain/monitoring/recorder.ts";
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
