// A key's activity: its use, tools, clients and addresses, and the flags for a new address, a new
// client or an error rate that jumps — raised only on a key used before the last 24 hours.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Db } from "../../src/db/client.ts";
import { sqliteOf } from "../../src/db/store.ts";
import { UsageWriter, writeUsage } from "../../src/domain/monitoring/recorder.ts";
import { credentialActivity } from "../../src/domain/monitoring/usage.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { usageRecord, type RecordOverrides } from "../support/usage.ts";

const openDb = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("credentialActivity on PostgreSQL", test);
// A fresh PostgreSQL database and the recorder's drizzle writes take seconds on a busy machine.
setDefaultTimeout(30_000);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-11-20T12:00:00Z");

/** `count` calls of key_a, spread over [fromAgo, toAgo) before NOW. */
function calls(count: number, fromAgo: number, toAgo: number, overrides: RecordOverrides = {}): UsageRecord[] {
  return Array.from({ length: count }, (_, i) =>
    usageRecord({ at: new Date(NOW - fromAgo + Math.floor(((fromAgo - toAgo) * i) / count)), ...overrides, actor: { credentialId: "key_a", ...overrides.actor } }),
  );
}

/** Each engine, and how to open a fresh database on it. */
const ENGINES: [string, () => Promise<Db>, boolean][] = [
  ["SQLite", async () => openDb().db, true],
  ["PostgreSQL", async () => (await pg.open()).db, havePostgres],
];

for (const [engine, open, available] of ENGINES) {
  describe.skipIf(!available)(`credentialActivity (${engine})`, () => {
    /** The activity of key_a after `records` are written (through the engine's own usage writer). */
    async function activity(records: UsageRecord[], range = { from: new Date(NOW - 7 * DAY), to: new Date(NOW) }, now = NOW): ReturnType<typeof credentialActivity> {
      const db = await open();
      await writeUsage(db, () => new UsageWriter(sqliteOf(db)!), records);
      return credentialActivity(db, "key_a", range, new Date(now));
    }

    test("first and last use, calls, errors, tools, clients and addresses of the key only", async () => {
      const a = await activity([
        ...calls(6, 3 * DAY, 2 * DAY, { name: "search", address: "10.0.0.1" }),
        ...calls(2, 2 * HOUR, HOUR, { name: "fetch", outcome: "tool_error", address: "10.0.0.2", client: { name: "cursor", version: "2" } }),
        ...calls(5, 2 * DAY, DAY, { name: "other", actor: { credentialId: "key_b" }, address: "192.168.9.9" }),
      ]);
      expect(a.calls).toBe(8);
      expect(a.errors).toBe(2);
      expect(a.errorRate).toBe(0.25);
      expect(a.firstUse!.getTime()).toBe(NOW - 3 * DAY);
      expect(a.tools.map((t) => [t.id, t.calls])).toEqual([["search", 6], ["fetch", 2]]);
      expect(a.addresses.map((x) => [x.address, x.calls])).toEqual([["10.0.0.1", 6], ["10.0.0.2", 2]]);
      expect(a.clients.map((c) => [c.name, c.version, c.calls])).toEqual([["claude", "1.0", 6], ["cursor", "2", 2]]);
      expect(a.series.reduce((s, p) => s + p.calls, 0)).toBe(8);
    });

    test("an established key used from a new address and by a new client is flagged", async () => {
      const a = await activity([...calls(20, 5 * DAY, 2 * DAY), ...calls(3, 3 * HOUR, HOUR, { address: "203.0.113.7", client: { name: "unknown-bot" } })]);
      expect(a.flags.map((f) => f.kind).sort()).toEqual(["new_address", "new_client"]);
      expect(a.flags.find((f) => f.kind === "new_address")!.message).toContain("203.0.113.7");
    });

    test("nothing is flagged for the address and client it always used, or on a key first used in the last 24 h", async () => {
      expect((await activity([...calls(20, 5 * DAY, 2 * DAY), ...calls(5, 3 * HOUR, HOUR)])).flags).toEqual([]);
      expect((await activity(calls(5, 20 * HOUR, HOUR, { address: "203.0.113.7", outcome: "error" }))).flags).toEqual([]);
    });

    test("an error rate over 3× the previous week's, with at least 10 calls in the last 24 h, is flagged", async () => {
      const week = [...calls(90, 6 * DAY, 2 * DAY), ...calls(10, 6 * DAY, 2 * DAY, { outcome: "error" })]; // 10%
      const jump = [...calls(6, 20 * HOUR, HOUR), ...calls(6, 20 * HOUR, HOUR, { outcome: "error" })]; // 50% of 12
      expect((await activity([...week, ...jump])).flags.map((f) => f.kind)).toEqual(["error_rate_jump"]);
      // 2.5×: under the factor.
      const mild = [...calls(15, 20 * HOUR, HOUR), ...calls(5, 20 * HOUR, HOUR, { outcome: "error" })]; // 25%
      expect((await activity([...week, ...mild])).flags).toEqual([]);
      // Too few calls to judge.
      const few = [...calls(4, 20 * HOUR, HOUR), ...calls(5, 20 * HOUR, HOUR, { outcome: "error" })];
      expect((await activity([...week, ...few])).flags).toEqual([]);
    });

    test("what was used in the hour just before the last 24 h is not new (rows, not only hour roll-ups, are checked)", async () => {
      // Judged at 12:40: the 24 h mark (12:40 yesterday) falls inside the 12:00 hour bucket. The address
      // was used at 12:20 yesterday (NOW is 12:00, so 20 min after it), before the mark but in that bucket.
      const at = NOW + 40 * 60_000;
      const a = await activity(
        [
          ...calls(5, 30 * HOUR, 29 * HOUR),
          ...calls(1, DAY - 20 * 60_000, DAY - 21 * 60_000, { address: "198.51.100.4", client: { name: "cursor", version: "1" } }),
          ...calls(3, HOUR, 0, { address: "198.51.100.4", client: { name: "cursor", version: "2" } }),
        ],
        { from: new Date(at - 7 * DAY), to: new Date(at) },
        at,
      );
      expect(a.flags).toEqual([]);
    });

    test("a new version of a known client is not a new client; a name differing only in case is", async () => {
      const known = calls(10, 5 * DAY, 2 * DAY, { client: { name: "claude", version: "1.0" } });
      expect((await activity([...known, ...calls(2, 2 * HOUR, HOUR, { client: { name: "claude", version: "9.9" } })])).flags).toEqual([]);
      const other = await activity([...known, ...calls(2, 2 * HOUR, HOUR, { client: { name: "Claude", version: "1.0" } })]);
      expect(other.flags.map((f) => f.kind)).toEqual(["new_client"]);
    });

    test("a key never used has no activity and no flags", async () => {
      const a = await activity([]);
      expect(a).toMatchObject({ firstUse: null, lastUse: null, calls: 0, errors: 0, errorRate: 0, tools: [], clients: [], addresses: [], flags: [] });
    });
  });
}
