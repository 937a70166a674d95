// The usage recorder: batches written in one transaction in order, off the request path; a full queue
// drops and counts; stop() flushes; disabled records nothing; a failed write is lost, counted, logged once.
import { describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { UsageRecorder, ImmediateUsageSink } from "../../src/domain/monitoring/recorder.ts";
import { transaction } from "../../src/db/store.ts";
import { createLogger } from "../../src/logger.ts";
import { useTestDatabase } from "../support/db.ts";
import { usageRecord } from "../support/usage.ts";

const openDb = useTestDatabase();
const HOUR = 3_600_000;

function names(sqlite: Database): string[] {
  return (sqlite.query("SELECT name FROM usage_events ORDER BY id").all() as { name: string }[]).map((r) => r.name);
}

/**
 * Opens a transaction on `db` in its own async context and holds it open; `rollBack` ends it with a
 * throw, so whatever ran inside it is undone. What another request writes meanwhile must not be in it.
 */
async function heldTransaction(db: ReturnType<typeof openDb>["db"]): Promise<{ rollBack: () => Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const done = transaction(db, async () => {
    opened();
    await held;
    throw new Error("rolled back");
  }).catch(() => {});
  await open;
  return {
    rollBack: async () => {
      release();
      await done;
    },
  };
}

/** Counts the transactions the recorder opens on this connection. */
function countTransactions(sqlite: Database): { count: number } {
  const seen = { count: 0 };
  const original = sqlite.transaction.bind(sqlite);
  sqlite.transaction = ((fn: (...args: unknown[]) => unknown) => {
    seen.count++;
    return original(fn);
  }) as Database["transaction"];
  return seen;
}

function recorder(db: ReturnType<typeof openDb>["db"], options: Partial<ConstructorParameters<typeof UsageRecorder>[1]> = {}): UsageRecorder {
  const r = new UsageRecorder(db, { enabled: true, queueSize: 1000, flushIntervalMs: HOUR, flushRows: 1000, ...options });
  return r;
}

describe("UsageRecorder", () => {
  test("record() writes nothing itself; flush() writes the queue in one transaction, in the order recorded, with its roll-ups", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db);
    const transactions = countTransactions(sqlite);
    for (let i = 0; i < 7; i++) r.record(usageRecord({ name: `tool_${i}` }));
    expect(names(sqlite)).toEqual([]);
    expect(r.counters).toMatchObject({ recorded: 7, written: 0, queued: 7, dropped: 0 });
    await r.flush();
    expect(transactions.count).toBe(1);
    expect(names(sqlite)).toEqual(["tool_0", "tool_1", "tool_2", "tool_3", "tool_4", "tool_5", "tool_6"]);
    expect(r.counters).toMatchObject({ recorded: 7, written: 7, queued: 0 });
    // Each record adds to one minute and one hour roll-up.
    const rollups = sqlite.query("SELECT grain, SUM(calls) AS calls FROM usage_rollups GROUP BY grain ORDER BY grain").all();
    expect(rollups).toEqual([{ grain: "h", calls: 7 }, { grain: "m", calls: 7 }]);
    await r.stop();
  });

  test("the flush_rows-th record schedules a write in a later task, not inside record()", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db, { flushRows: 3 });
    for (let i = 0; i < 3; i++) r.record(usageRecord({ name: `t${i}` }));
    expect(names(sqlite)).toEqual([]);
    while (r.counters.written < 3) await Bun.sleep(1);
    expect(names(sqlite)).toEqual(["t0", "t1", "t2"]);
    await r.stop();
  });

  test("the timer writes what is queued", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db, { flushIntervalMs: 5 });
    r.record(usageRecord());
    while (r.counters.written === 0) await Bun.sleep(5);
    expect(names(sqlite)).toEqual(["search"]);
    await r.stop();
  });

  test("a full queue drops new records and counts them, without writing", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db, { queueSize: 3 });
    const transactions = countTransactions(sqlite);
    for (let i = 0; i < 5; i++) r.record(usageRecord({ name: `t${i}` }));
    expect(transactions.count).toBe(0);
    expect(r.counters).toMatchObject({ recorded: 3, dropped: 2, queued: 3, written: 0 });
    await r.flush();
    expect(names(sqlite)).toEqual(["t0", "t1", "t2"]);
    // Room again after a flush.
    r.record(usageRecord({ name: "t5" }));
    expect(r.counters).toMatchObject({ recorded: 4, dropped: 2, queued: 1 });
    await r.stop();
  });

  test("stop() writes what is queued and refuses records after it", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db);
    r.record(usageRecord({ name: "before" }));
    await r.stop();
    expect(names(sqlite)).toEqual(["before"]);
    r.record(usageRecord({ name: "after" }));
    await r.flush();
    expect(names(sqlite)).toEqual(["before"]);
    expect(r.counters.recorded).toBe(1);
  });

  test("disabled, it records nothing", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db, { enabled: false });
    r.record(usageRecord());
    await r.stop();
    expect(names(sqlite)).toEqual([]);
    expect(r.counters).toEqual({ recorded: 0, written: 0, dropped: 0, queued: 0, lost: 0 });
  });

  test("a failed write loses that batch, counts it, logs once per failing spell, and never throws", async () => {
    const { db, sqlite } = openDb();
    const lines: string[] = [];
    const r = recorder(db, { logger: createLogger({ level: "info", write: (line) => lines.push(line) }) });
    r.record(usageRecord({ name: "written" }));
    await r.flush();
    sqlite.run("ALTER TABLE usage_events RENAME TO usage_events_away");
    r.record(usageRecord({ name: "lost1" }));
    await expect(r.flush()).resolves.toBeUndefined();
    r.record(usageRecord({ name: "lost2" }));
    r.record(usageRecord({ name: "lost3" }));
    await expect(r.flush()).resolves.toBeUndefined();
    expect(r.counters).toMatchObject({ written: 1, lost: 3, queued: 0 });
    expect(lines.filter((l) => l.includes("cannot write usage records"))).toHaveLength(1);
    sqlite.run("ALTER TABLE usage_events_away RENAME TO usage_events");
    r.record(usageRecord({ name: "again" }));
    await r.flush();
    expect(names(sqlite)).toEqual(["written", "again"]);
    // No half-written batch: the failed ones left no roll-ups either.
    expect((sqlite.query("SELECT SUM(calls) AS n FROM usage_rollups WHERE grain = 'm'").get() as { n: number }).n).toBe(2);
    await r.stop();
  });

  test("a malformed record is skipped and counted as lost; the rest of its batch is written", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    r.record(usageRecord({ name: "good1" }));
    r.record(usageRecord({ name: "bad_date", at: new Date(Number.NaN) }));
    r.record(usageRecord({ name: "bad_payload", payload: { arguments: cyclic } }));
    r.record(usageRecord({ name: "good2" }));
    await expect(r.flush()).resolves.toBeUndefined();
    expect(names(sqlite)).toEqual(["good1", "good2"]);
    expect(r.counters).toMatchObject({ written: 2, lost: 2 });
    await r.stop();
  });
});

describe("writes while another request's transaction is open", () => {
  test("a flush waits for it to end rather than joining it, so its rollback does not take the batch", async () => {
    const { db, sqlite } = openDb();
    const r = recorder(db);
    r.record(usageRecord({ name: "kept" }));
    const other = await heldTransaction(db);
    const flushed = r.flush();
    await Bun.sleep(0);
    await other.rollBack();
    await flushed;
    expect(names(sqlite)).toEqual(["kept"]);
    expect(r.counters).toMatchObject({ written: 1, lost: 0 });
    await r.stop();
  });

  test("the CLI's sink writes once it has ended; with none open it writes before record() returns", async () => {
    const { db, sqlite } = openDb();
    const sink = new ImmediateUsageSink(db);
    const other = await heldTransaction(db);
    sink.record(usageRecord({ name: "later" }));
    await other.rollBack();
    await sink.settled();
    expect(names(sqlite)).toEqual(["later"]);
    sink.record(usageRecord({ name: "now" }));
    expect(names(sqlite)).toEqual(["later", "now"]);
  });
});

describe("ImmediateUsageSink (the CLI's)", () => {
  test("writes each record at once and swallows a failure", () => {
    const { db, sqlite } = openDb();
    const sink = new ImmediateUsageSink(db);
    sink.record(usageRecord({ name: "now" }));
    expect(names(sqlite)).toEqual(["now"]);
    sqlite.run("DROP TABLE usage_rollups");
    expect(() => sink.record(usageRecord({ name: "lost" }))).not.toThrow();
    expect(names(sqlite)).toEqual(["now"]);
  });
});
