// The audit log: written at once, listed newest first with each filter and cursor paging, pruned by its own retention.
import { describe, expect, test } from "bun:test";
import { AuditLog, listAudit, pruneAudit } from "../../src/domain/monitoring/audit.ts";
import type { AuditRecord } from "../../src/domain/monitoring/types.ts";
import { transaction } from "../../src/db/store.ts";
import { AppError } from "../../src/errors.ts";
import { rejectionOf } from "../support/errors.ts";
import { useTestDatabase } from "../support/db.ts";

const openDb = useTestDatabase();
const T0 = Date.parse("2026-11-01T00:00:00Z");
const DAY = 86_400_000;

function audit(i: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: new Date(T0 + i * 1000),
    face: "admin",
    actor: { userId: "user_a", credentialKind: "session", credentialId: null },
    action: "CONNECTION_UPDATE",
    targetId: "conn_1",
    address: "127.0.0.1",
    change: { title: "New", token: "••••" },
    outcome: "ok",
    ...overrides,
  };
}

describe("AuditLog and listAudit", () => {
  test("a row recorded while another request's transaction is open is written after it, not rolled back with it", async () => {
    const { db } = openDb();
    const log = new AuditLog(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const other = transaction(db, async () => {
      opened();
      await held;
      throw new Error("rolled back");
    }).catch(() => {});
    await open;
    log.record(audit(1, { action: "DURING" }));
    release();
    await other;
    await log.settled();
    expect((await listAudit(db, {}, { limit: 10 })).rows.map((r) => r.action)).toEqual(["DURING"]);
  });

  test("a record is readable at once, every field back", async () => {
    const { db } = openDb();
    new AuditLog(db).record(audit(1));
    const { rows } = await listAudit(db, {}, { limit: 10 });
    expect(rows).toHaveLength(1);
    const { id, ...rest } = rows[0]!;
    expect(id).toMatch(/^\d+$/);
    expect(rest).toEqual(audit(1));
  });

  test("each filter selects only its rows, newest first", async () => {
    const { db } = openDb();
    const log = new AuditLog(db);
    log.record(audit(1));
    log.record(audit(2, { actor: { userId: "user_b", credentialKind: "api_key", credentialId: "key_b" }, face: "api", action: "KEY_CREATE", targetId: "key_c" }));
    log.record(audit(3, { face: "cli", actor: { userId: null, credentialKind: "host", credentialId: null }, action: "USER_RESET_PASSWORD", targetId: "user_a" }));
    log.record(audit(4));
    const actions = async (filter: Parameters<typeof listAudit>[1]): Promise<string[]> => (await listAudit(db, filter, { limit: 10 })).rows.map((r) => `${r.action}@${r.at.getTime() - T0}`);
    expect(await actions({})).toEqual(["CONNECTION_UPDATE@4000", "USER_RESET_PASSWORD@3000", "KEY_CREATE@2000", "CONNECTION_UPDATE@1000"]);
    expect(await actions({ userId: "user_b" })).toEqual(["KEY_CREATE@2000"]);
    expect(await actions({ credentialId: "key_b" })).toEqual(["KEY_CREATE@2000"]);
    expect(await actions({ action: "USER_RESET_PASSWORD" })).toEqual(["USER_RESET_PASSWORD@3000"]);
    expect(await actions({ targetId: "conn_1" })).toEqual(["CONNECTION_UPDATE@4000", "CONNECTION_UPDATE@1000"]);
    expect(await actions({ face: "cli" })).toEqual(["USER_RESET_PASSWORD@3000"]);
    expect(await actions({ from: new Date(T0 + 2000), to: new Date(T0 + 3000) })).toEqual(["USER_RESET_PASSWORD@3000", "KEY_CREATE@2000"]);
  });

  test("cursor paging returns each row once; a forged cursor is VALIDATION_FAILED", async () => {
    const { db } = openDb();
    const log = new AuditLog(db);
    for (let i = 0; i < 23; i++) log.record(audit(Math.floor(i / 3), { targetId: `t${i}` }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await listAudit(db, {}, { cursor, limit: 5 });
      seen.push(...page.rows.map((r) => r.targetId!));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `t${22 - i}`));
    expect(((await rejectionOf(listAudit(db, {}, { cursor: "x", limit: 5 }))) as AppError).code).toBe("VALIDATION_FAILED");
  });

  test("pruneAudit deletes only rows past its retention", async () => {
    const { db } = openDb();
    const log = new AuditLog(db);
    log.record(audit(0));
    log.record(audit(0, { at: new Date(T0 + 300 * DAY), action: "KEEP" }));
    expect(await pruneAudit(db, { retentionMs: 100 * DAY, now: new Date(T0 + 301 * DAY) })).toBe(1);
    expect((await listAudit(db, {}, { limit: 10 })).rows.map((r) => r.action)).toEqual(["KEEP"]);
  });
});
