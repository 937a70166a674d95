// The audit log: one row per change through any face, written at once, listed newest first, pruned by its own retention.
import { and, gte, lt, lte } from "drizzle-orm";
import type { Database } from "bun:sqlite";
import type { Db } from "../../db/client.ts";
import { outsideTransactions, sqliteOf, tables, type Tables } from "../../db/store.ts";
import { silentLogger, type Logger } from "../../logger.ts";
import { exactMatches, newestFirst, type Where } from "./filter.ts";
import { storableText } from "../../db/portable.ts";
import type { AuditRecord, AuditSink, Face } from "./types.ts";

export type AuditFilter = { from?: Date; to?: Date; userId?: string; credentialId?: string; action?: string; targetId?: string; face?: Face };
export type AuditRow = AuditRecord & { id: string };

type AuditEventRow = Tables["auditEvents"]["$inferSelect"];

/** Most bytes of a change's JSON kept; a larger one is stored as its size only (it was refused or cut anyway). */
export const MAX_CHANGE_BYTES = 16 * 1024;

/**
 * The AuditSink: each record is inserted at once (a change is not done until it is on record). A write
 * that fails (a full disk, a locked database) is logged loudly and never fails the change itself,
 * whichever face made it (an operation, a sign-in, a consent).
 */
export class AuditLog implements AuditSink {
  /** The writes not finished yet (on PostgreSQL, or on SQLite while another request's transaction is open). */
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly logger: Logger = silentLogger) {}

  record(entry: AuditRecord): void {
    // PostgreSQL's text refuses U+0000: an id or address carrying one must not cost the row.
    const record: AuditRecord = { ...entry, action: storableText(entry.action), targetId: storableText(entry.targetId), address: storableText(entry.address) };
    try {
      const sqlite = sqliteOf(this.db);
      // On SQLite with no transaction open the row is written before record() returns, as it always
      // was; otherwise it is written as soon as the connection is free (or by PostgreSQL's pool).
      if (sqlite && !sqlite.inTransaction) insertAuditSqlite(sqlite, record);
      else this.pending = this.pending.then(() => this.insertLater(record));
    } catch (err) {
      this.logger.error("audit row not written", { action: record.action, error: err });
    }
  }

  /** Resolves when every row recorded so far is written (or its failure logged); it never rejects. */
  settled(): Promise<void> {
    return this.pending;
  }

  private async insertLater(record: AuditRecord): Promise<void> {
    try {
      const sqlite = sqliteOf(this.db);
      if (sqlite) {
        await outsideTransactions(this.db);
        insertAuditSqlite(sqlite, record);
        return;
      }
      const { auditEvents } = tables(this.db);
      await this.db.insert(auditEvents).values({
        at: record.at.getTime(), face: record.face, userId: record.actor.userId, credentialKind: record.actor.credentialKind,
        credentialId: record.actor.credentialId, action: record.action, targetId: record.targetId, address: record.address,
        change: changeText(record.change), outcome: record.outcome,
      });
    } catch (err) {
      this.logger.error("audit row not written", { action: record.action, error: err });
    }
  }
}

/** The audit insert on SQLite's connection, synchronous (the caller makes sure no other request's transaction is open). */
function insertAuditSqlite(sqlite: Database, record: AuditRecord): void {
  sqlite.run(
    "INSERT INTO audit_events (at, face, user_id, credential_kind, credential_id, action, target_id, address, change, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [
      record.at.getTime(), record.face, record.actor.userId, record.actor.credentialKind, record.actor.credentialId, record.action,
      record.targetId, record.address, changeText(record.change), record.outcome,
    ],
  );
}

/**
 * A change as stored: its JSON, or only its size past MAX_CHANGE_BYTES (a refused input is stored as
 * it came: a key with no right to change anything must not be able to park a megabyte for a year).
 */
function changeText(change: unknown): string | null {
  if (change === undefined) return null;
  const text = JSON.stringify(change);
  const bytes = Buffer.byteLength(text);
  return bytes <= MAX_CHANGE_BYTES ? text : JSON.stringify({ truncated: true, bytes });
}

function auditWhere(t: Tables["auditEvents"], filter: AuditFilter): Where {
  return and(
    filter.from ? gte(t.at, filter.from.getTime()) : undefined,
    filter.to ? lte(t.at, filter.to.getTime()) : undefined,
    exactMatches(filter, [["userId", t.userId], ["credentialId", t.credentialId], ["action", t.action], ["targetId", t.targetId], ["face", t.face]]),
  );
}

function toAuditRow(r: AuditEventRow): AuditRow {
  let change: unknown = null;
  try {
    change = r.change === null ? null : JSON.parse(r.change);
  } catch {
    change = null;
  }
  return {
    id: String(r.id),
    at: new Date(r.at),
    face: r.face as Face,
    actor: { userId: r.userId, credentialKind: r.credentialKind as AuditRecord["actor"]["credentialKind"], credentialId: r.credentialId },
    action: r.action,
    targetId: r.targetId,
    address: r.address,
    change,
    outcome: r.outcome as AuditRecord["outcome"],
  };
}

/** One page of the audit log, newest first by (at, id), with the same cursor scheme as the usage log. */
export function listAudit(db: Db, filter: AuditFilter, page: { cursor?: string | null; limit: number }): Promise<{ rows: AuditRow[]; nextCursor: string | null }> {
  const { auditEvents } = tables(db);
  return newestFirst(db, auditEvents, auditWhere(auditEvents, filter), page, toAuditRow);
}

/** Deletes audit rows older than the retention; returns how many. */
export async function pruneAudit(db: Db, options: { retentionMs: number; now?: Date }): Promise<number> {
  const cutoff = (options.now ?? new Date()).getTime() - options.retentionMs;
  const { auditEvents } = tables(db);
  const deleted = await db.delete(auditEvents).where(lt(auditEvents.at, cutoff)).returning({ id: auditEvents.id });
  return deleted.length;
}
