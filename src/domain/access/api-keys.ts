// API keys: their tokens (the shared format of token-format.ts), storage as an HMAC, creation,
// rotation, revocation and verification.
// Tokens are 256 random bits, so a keyed hash suffices (no slow hash): lookups cost microseconds,
// and no per-request argon2 hands an attacker a CPU lever.
import { randomUUID, timingSafeEqual } from "node:crypto";
import { and, desc, eq, sql } from "drizzle-orm";
import { probedCache, sqlChangeProbe, type ChangeProbe } from "../../db/change-probe.ts";
import type { Db } from "../../db/client.ts";
import type { apiKeys } from "../../db/schema.ts";
import { outsideTransactions, sqliteOf, tables, transaction } from "../../db/store.ts";
import { AppError } from "../../errors.ts";
import type { Permissions } from "./permissions.ts";
import { generateToken as generateTokenOf, hmacToken, isWellFormedToken as isWellFormedTokenOf } from "./token-format.ts";
import type { User } from "./users.ts";

export const TOKEN_PREFIX = "mcp_key_";
const HASH_LABEL = "api-key:";
const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 6;

export type ApiKey = {
  id: string;
  name: string;
  ownerId: string;
  ownerEmail: string;
  prefix: string;
  permissions: Permissions;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  /** While a rotated-out token still works: when it stops. */
  previousTokenExpiresAt: Date | null;
};

/**
 * What a verified token resolves to. `expiresAt` is when the presented token stops working: the key's
 * expiry, or sooner for a rotated-out token in its grace period (what the key rule bounds new keys by).
 */
export type VerifiedKey = { keyId: string; permissions: Permissions; expiresAt: Date | null; owner: User };

/** A new API key token (the shared format, token-format.ts, with the "mcp_key_" prefix). */
export function generateToken(): string {
  return generateTokenOf(TOKEN_PREFIX);
}

/** True when `token` is an API key token with the right shape and checksum; says nothing about whether it exists. */
export function isWellFormedToken(token: string): boolean {
  return isWellFormedTokenOf(TOKEN_PREFIX, token);
}

/** The stored HMAC of an API key token. */
export function hashToken(hmacKey: Buffer, token: string): string {
  return hmacToken(hmacKey, HASH_LABEL, token);
}

function selection(db: Db) {
  const { apiKeys, users } = tables(db);
  return { key: apiKeys, ownerEmail: users.email };
}

function toApiKey(row: { key: typeof apiKeys.$inferSelect; ownerEmail: string }, now: Date): ApiKey {
  const k = row.key;
  const previousLive = k.previousExpiresAt !== null && k.previousExpiresAt.getTime() > now.getTime();
  return {
    id: k.id,
    name: k.name,
    ownerId: k.ownerId,
    ownerEmail: row.ownerEmail,
    prefix: k.prefix,
    permissions: k.permissions,
    createdAt: k.createdAt,
    updatedAt: k.updatedAt,
    lastUsedAt: k.lastUsedAt,
    expiresAt: k.expiresAt,
    previousTokenExpiresAt: previousLive ? k.previousExpiresAt : null,
  };
}

/** Stores a new key and returns it with its token; the token is never retrievable again. */
export async function createApiKey(
  db: Db,
  options: { hmacKey: Buffer; name: string; ownerId: string; permissions: Permissions; expiresAt: Date | null; now?: Date },
): Promise<{ key: ApiKey; token: string }> {
  const { apiKeys } = tables(db);
  const now = options.now ?? new Date();
  const token = generateToken();
  const id = `key_${randomUUID()}`;
  await db.insert(apiKeys)
    .values({
      id,
      name: options.name,
      ownerId: options.ownerId,
      tokenHash: hashToken(options.hmacKey, token),
      prefix: token.slice(0, DISPLAY_PREFIX_LENGTH),
      permissions: options.permissions,
      createdAt: now,
      updatedAt: now,
      expiresAt: options.expiresAt,
    });
  return { key: (await getApiKey(db, id, now))!, token };
}

/** One key with its owner's email, or null. */
export async function getApiKey(db: Db, id: string, now = new Date()): Promise<ApiKey | null> {
  const { apiKeys, users } = tables(db);
  const [row] = await db.select(selection(db)).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.ownerId)).where(eq(apiKeys.id, id));
  return row ? toApiKey(row, now) : null;
}

/** Keys, newest first; only `ownerId`'s when given. */
export async function listApiKeys(db: Db, options: { ownerId?: string; now?: Date } = {}): Promise<ApiKey[]> {
  const { apiKeys, users } = tables(db);
  const now = options.now ?? new Date();
  const query = db.select(selection(db)).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.ownerId));
  const rows = await (options.ownerId ? query.where(eq(apiKeys.ownerId, options.ownerId)) : query).orderBy(desc(apiKeys.createdAt));
  return rows.map((row) => toApiKey(row, now));
}

/** Changes name, permissions or expiry (null clears the expiry). */
export async function updateApiKey(
  db: Db,
  id: string,
  changes: { name?: string; permissions?: Permissions; expiresAt?: Date | null },
  now = new Date(),
): Promise<ApiKey> {
  const { apiKeys } = tables(db);
  const set: Partial<typeof apiKeys.$inferInsert> = { updatedAt: now };
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.permissions !== undefined) set.permissions = changes.permissions;
  if (changes.expiresAt !== undefined) set.expiresAt = changes.expiresAt;
  const updated = await db.update(apiKeys).set(set).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
  if (updated.length === 0) throw new AppError("API_KEY_NOT_FOUND");
  return (await getApiKey(db, id, now))!;
}

/** How many times a rotation re-reads the key when another rotation changed it in between. */
const ROTATE_ATTEMPTS = 5;

/**
 * Issues a new token for the key (same permissions). The old token stops at once, or keeps
 * working for `graceMs` so deployments can switch over.
 */
export async function rotateApiKey(
  db: Db,
  options: { hmacKey: Buffer; id: string; graceMs: number; now?: Date },
): Promise<{ key: ApiKey; token: string }> {
  const now = options.now ?? new Date();
  const token = generateToken();
  // The write only applies to the token read: two rotations at once (two replicas on PostgreSQL, where
  // the read takes no lock) would otherwise both keep the same old token in grace, and the token the
  // first one returned would work nowhere. The one that loses reads again, so they end as in some serial order.
  for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
    const rotated = await transaction(db, async (tx) => {
      const { apiKeys } = tables(tx);
      const [current] = await tx.select({ tokenHash: apiKeys.tokenHash }).from(apiKeys).where(eq(apiKeys.id, options.id));
      if (!current) throw new AppError("API_KEY_NOT_FOUND");
      const written = await tx.update(apiKeys)
        .set({
          tokenHash: hashToken(options.hmacKey, token),
          prefix: token.slice(0, DISPLAY_PREFIX_LENGTH),
          previousTokenHash: options.graceMs > 0 ? current.tokenHash : null,
          previousExpiresAt: options.graceMs > 0 ? new Date(now.getTime() + options.graceMs) : null,
          updatedAt: now,
        })
        .where(and(eq(apiKeys.id, options.id), eq(apiKeys.tokenHash, current.tokenHash)))
        .returning({ id: apiKeys.id });
      return written.length > 0;
    });
    if (rotated) return { key: (await getApiKey(db, options.id, now))!, token };
  }
  // Only when rotations of this one key keep landing in between: the caller may simply try again.
  throw new AppError("BUSY", "The key is being rotated by another request; try again.");
}

/** Revokes a key: deletes it, so its token (and any rotated-out one) stops on the very next request. */
export async function deleteApiKey(db: Db, id: string): Promise<void> {
  const { apiKeys } = tables(db);
  const deleted = await db.delete(apiKeys).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
  if (deleted.length === 0) throw new AppError("API_KEY_NOT_FOUND");
}

type CachedKey = { keyId: string; permissions: Permissions; expiresAt: number | null; graceEndsAt: number | null; owner: User };

/**
 * A verifier bound to one database. A verified key is cached in memory by token hash, and the cache
 * is dropped whenever anything was written to the database since the last check: by this process
 * or by another one, such as `switchboard key revoke`: `probe` tells (see src/db/change-probe.ts).
 * So a check costs one HMAC and a look at the probe, and a revocation still applies on the very next request.
 */
export function createKeyVerifier(
  db: Db,
  hmacKey: Buffer,
  probe: ChangeProbe = sqlChangeProbe(sqliteOf(db)!),
): (token: string, now?: Date) => Promise<VerifiedKey | null> {
  const { apiKeys, users } = tables(db);
  const columns = {
    id: apiKeys.id,
    tokenHash: apiKeys.tokenHash,
    previousTokenHash: apiKeys.previousTokenHash,
    previousExpiresAt: apiKeys.previousExpiresAt,
    permissions: apiKeys.permissions,
    expiresAt: apiKeys.expiresAt,
    ownerId: users.id,
    ownerEmail: users.email,
    ownerRole: users.role,
    ownerCreatedAt: users.createdAt,
  };
  // Two single-index lookups: the current token, else a rotated-out one still in its grace period.
  // (One query with OR makes SQLite merge two index scans, several times slower.) Prepared once:
  // drizzle runs a prepared statement on either engine through `execute`.
  const byCurrent = db.select(columns).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.ownerId))
    .where(eq(apiKeys.tokenHash, sql.placeholder("hash"))).prepare();
  const byPrevious = db.select(columns).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.ownerId))
    .where(eq(apiKeys.previousTokenHash, sql.placeholder("hash"))).prepare();
  // The same HMAC as hashToken, with the key schedule done once rather than per request.
  const keyed = new Bun.CryptoHasher("sha256", hmacKey);

  const load = async (hash: string): Promise<CachedKey | null> => {
    // What is cached must be committed: on SQLite, wait out another request's open transaction first.
    await outsideTransactions(db);
    const [current] = await byCurrent.execute({ hash });
    const row = current ?? (await byPrevious.execute({ hash }))[0];
    if (!row) return null;
    // The index found the row by hash; compare again in constant time before trusting it.
    const stored = current ? row.tokenHash : row.previousTokenHash;
    if (stored === null || !timingSafeEqual(Buffer.from(stored), Buffer.from(hash))) return null;
    return {
      keyId: row.id,
      permissions: row.permissions,
      expiresAt: row.expiresAt?.getTime() ?? null,
      graceEndsAt: current ? null : (row.previousExpiresAt?.getTime() ?? 0),
      owner: { id: row.ownerId, email: row.ownerEmail, role: row.ownerRole, createdAt: row.ownerCreatedAt },
    };
  };

  const lookup = probedCache(probe, load);

  return async (token, now = new Date()) => {
    // Malformed or mistyped tokens are refused before any lookup.
    if (!isWellFormedToken(token)) return null;
    const key = await lookup(keyed.copy().update(`${HASH_LABEL}${token}`).digest("base64url"));
    if (key === null) return null;
    const t = now.getTime();
    if (key.expiresAt !== null && key.expiresAt <= t) return null;
    if (key.graceEndsAt !== null && key.graceEndsAt <= t) return null;
    const ends = key.graceEndsAt === null ? key.expiresAt : Math.min(key.graceEndsAt, key.expiresAt ?? Infinity);
    return { keyId: key.keyId, permissions: key.permissions, expiresAt: ends === null ? null : new Date(ends), owner: key.owner };
  };
}

/**
 * Writes one record's last-used time inside the recorder's batch transaction. A record deleted in
 * the meantime is simply not found (an UPDATE of no row), so it never breaks the batch.
 */
export type LastUsedWriter = (tx: Db, id: string, at: Date) => Promise<void>;

/** The API keys' writer: `api_keys.last_used_at`. */
export const writeKeyLastUsed: LastUsedWriter = async (tx, id, at) => {
  const { apiKeys } = tables(tx);
  await tx.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
};

/**
 * Writes last-used times in batches off the request path (one write per record per flush): API keys'
 * by default, or any other record's through `write` (OAuth grants: authorizations.ts).
 */
export class LastUsedRecorder {
  private readonly pending = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly db: Db, private readonly flushEveryMs = 5000, private readonly write: LastUsedWriter = writeKeyLastUsed) {}

  record(id: string, at = Date.now()): void {
    this.pending.set(id, at);
    if (this.timer === null) {
      // A failed batch is lost (last-used times are a hint, never a reason to stop the server); the
      // next batch tries again with whatever was recorded since.
      this.timer = setInterval(() => this.flush().catch(() => {}), this.flushEveryMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending now, in one transaction (also called at shutdown). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    await transaction(this.db, async (tx) => {
      for (const [id, at] of batch) await this.write(tx, id, new Date(at));
    });
  }

  /** Stops the timer and writes what is pending (graceful shutdown); close the database after it resolves. */
  stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    return this.flush();
  }
}
