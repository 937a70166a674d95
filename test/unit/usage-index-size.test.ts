// What a client may name cannot cost other callers' usage: a 512-character tool name (or a long client
// name) is bounded in every index key, the same way on SQLite and PostgreSQL; and a record PostgreSQL
// still refuses costs only itself, logged with the driver's reason and none of the rows' values.
import { describe, expect, test } from "bun:test";
import type { Db } from "../../src/db/client.ts";
import { sqliteOf, tables } from "../../src/db/store.ts";
import { KEY_TEXT_BYTES, keyText, UsageRecorder, UsageWriter, writeUsage } from "../../src/domain/monitoring/recorder.ts";
import { listUsage, usageStats } from "../../src/domain/monitoring/usage.ts";
import { MAX_NAME_LENGTH } from "../../src/gateway/usage-capture.ts";
import { createLogger } from "../../src/logger.ts";
import { usageFilterOf } from "../../src/operations/monitoring-shapes.ts";
import type { OperationContext } from "../../src/operations/registry.ts";
import { useTestDatabase } from "../support/db.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { usageRecord } from "../support/usage.ts";

const openSqlite = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("the usage index size tests", test);

const NOW = Date.parse("2026-11-20T12:00:00Z");

/** 512 incompressible BMP characters (3 UTF-8 bytes each) after `prefix`: what a caller may send as params.name. */
function hostileName(prefix = ""): string {
  let seed = 12345;
  let out = prefix;
  while (out.length < MAX_NAME_LENGTH) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    out += String.fromCharCode(0x4e00 + (seed % 20000));
  }
  return out;
}

async function write(db: Db, records: Parameters<typeof writeUsage>[2]): Promise<Awaited<ReturnType<typeof writeUsage>>> {
  const sqlite = sqliteOf(db);
  return writeUsage(db, () => new UsageWriter(sqlite!), records);
}

describe("keyText", () => {
  test("keeps what fits, cuts on a character boundary with a hash of the whole, and changes nothing cut twice", () => {
    expect(keyText("search")).toBe("search");
    expect(keyText(null)).toBeNull();
    const long = hostileName();
    const cut = keyText(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(KEY_TEXT_BYTES);
    expect(cut).toMatch(/…[0-9a-f]{10}$/);
    expect(long.startsWith(cut.slice(0, cut.indexOf("…")))).toBe(true);
    expect(keyText(cut)).toBe(cut);
    // The same first 256 bytes, a different end: two names still.
    expect(keyText(`${long.slice(0, 400)}a`)).not.toBe(keyText(`${long.slice(0, 400)}b`));
  });
});

test("a filter given the whole long name finds the calls stored under its cut form", async () => {
  const { db } = openSqlite();
  const name = hostileName();
  await write(db, [usageRecord({ at: new Date(NOW), name }), usageRecord({ at: new Date(NOW), name: hostileName("z") })]);
  const ctx = { caller: { user: { role: "admin", id: "user_admin" } }, now: new Date(NOW + 60_000) } as unknown as OperationContext;
  const filter = usageFilterOf(ctx, { name, range: "1h" });
  const rows = (await listUsage(db, filter, { limit: 10 })).rows;
  expect(rows.map((r) => r.name)).toEqual([keyText(name)]);
});

test.skipIf(!havePostgres)("a 512-character tool name costs no other caller's usage row on PostgreSQL", async () => {
  const { db } = await pg.open();
  const hostile = usageRecord({ at: new Date(), name: hostileName(), outcome: "error", errorCode: "-32602" });
  const plain = usageRecord({ at: new Date(), name: "plain", actor: { credentialId: "key_victim" } });
  await write(db, [hostile, plain]);
  const names = (await db.select({ name: tables(db).usageEvents.name }).from(tables(db).usageEvents)).map((r) => r.name);
  expect(names).toContain("plain");
  expect(names).toContain(keyText(hostile.name));
});

test.skipIf(!havePostgres)("long names and clients are stored and counted the same on both engines, and stay distinct", async () => {
  // A client name of control characters is six bytes each in the JSON its roll-up keeps.
  const client = { name: "\u0001".repeat(200), version: "\u0002".repeat(100) };
  const records = [
    usageRecord({ at: new Date(NOW), name: hostileName("a"), client }),
    usageRecord({ at: new Date(NOW + 1), name: hostileName("b"), client }),
    usageRecord({ at: new Date(NOW + 2), name: hostileName("a"), outcome: "error", errorCode: "-1".repeat(400) }),
  ];
  const seen: unknown[] = [];
  for (const db of [openSqlite().db, (await pg.open()).db]) {
    expect(await write(db, records)).toEqual({ skipped: 0, refused: 0, reason: null });
    const range = { from: new Date(NOW - 60_000), to: new Date(NOW + 60_000) };
    const stats = await usageStats(db, range, { buckets: 2, top: 5 });
    // Filtering by the name the ranking shows finds that name's rows.
    const first = stats.top.tools.find((t) => t.calls === 2)!;
    const rows = (await listUsage(db, { ...range, name: first.id }, { limit: 10 })).rows.map((r) => ({ name: r.name, client: r.client }));
    seen.push({ tools: stats.top.tools, errors: stats.errors, rows });
  }
  expect(seen[0]).toEqual(seen[1]);
  const { tools, rows } = seen[0] as { tools: { id: string; calls: number }[]; rows: { name: string }[] };
  expect(tools.map((t) => t.calls).sort()).toEqual([1, 2]);
  expect(tools.every((t) => Buffer.byteLength(t.id) <= KEY_TEXT_BYTES)).toBe(true);
  expect(rows).toHaveLength(2);
}, 30_000);

test.skipIf(!havePostgres)("a record PostgreSQL refuses costs only itself, and the log names the reason, not the rows", async () => {
  const { db } = await pg.open();
  const lines: string[] = [];
  const recorder = new UsageRecorder(db, { enabled: true, queueSize: 100, flushIntervalMs: 3_600_000, flushRows: 100, logger: createLogger({ level: "debug", write: (l) => lines.push(l) }) });
  // Out of range for a bigint column: what no cap on text can make storable.
  recorder.record(usageRecord({ at: new Date(NOW), name: "bad", requestBytes: 2 ** 70 }));
  for (let i = 0; i < 3; i++) recorder.record(usageRecord({ at: new Date(NOW + i), name: `good_${i}`, address: "203.0.113.9", client: { name: "Secret Client" } }));
  await recorder.stop();
  const { usageEvents, usageTotals } = tables(db);
  const names = (await db.select({ name: usageEvents.name }).from(usageEvents)).map((r) => r.name).sort();
  expect(names).toEqual(["good_0", "good_1", "good_2"]);
  // The roll-ups count the written records only (each record's roll-ups are written with it).
  const all = await db.select({ calls: usageTotals.calls, dim: usageTotals.dim, scope: usageTotals.scope, grain: usageTotals.grain }).from(usageTotals);
  expect(all.filter((r) => r.scope === "" && r.dim === "" && r.grain === "h").reduce((a, r) => a + r.calls, 0)).toBe(3);
  expect(recorder.counters).toMatchObject({ written: 3, lost: 1 });
  const log = lines.join("\n");
  expect(log).toContain("bigint out of range");
  expect(log).not.toContain("203.0.113.9");
  expect(log).not.toContain("Secret Client");
}, 30_000);
