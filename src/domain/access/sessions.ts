// Server-side admin sessions: a random token in the cookie, only its HMAC in the database.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { sessions, users } from "../../db/schema.ts";
import type { User } from "./users.ts";

export type Session = { id: string; userId: string; expiresAt: Date };

function hashToken(hmacKey: Buffer, token: string): string {
  return createHmac("sha256", hmacKey).update(`session:${token}`).digest("base64url");
}

/** Starts a session for the user; returns the token to put in the cookie (never stored in clear). */
export function createSession(db: Db, options: { hmacKey: Buffer; userId: string; ttlMs: number; now?: Date }): { token: string; session: Session } {
  const now = options.now ?? new Date();
  const token = randomBytes(32).toString("base64url");
  const session = { id: `sess_${randomUUID()}`, userId: options.userId, expiresAt: new Date(now.getTime() + options.ttlMs) };
  db.insert(sessions).values({ ...session, tokenHash: hashToken(options.hmacKey, token), createdAt: now }).run();
  return { token, session };
}

/** The live session and its user for a cookie token, or null if unknown or expired (an expired one is deleted). */
export function findSession(db: Db, options: { hmacKey: Buffer; token: string; now?: Date }): { session: Session; user: User } | null {
  const now = options.now ?? new Date();
  const row = db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.tokenHash, hashToken(options.hmacKey, options.token)))
    .get();
  if (!row) return null;
  if (row.session.expiresAt.getTime() <= now.getTime()) {
    db.delete(sessions).where(eq(sessions.id, row.session.id)).run();
    return null;
  }
  const { id, userId, expiresAt } = row.session;
  const { id: uid, email, role, createdAt } = row.user;
  return { session: { id, userId, expiresAt }, user: { id: uid, email, role, createdAt } };
}

/** Ends the session with this token, if any. */
export function deleteSession(db: Db, options: { hmacKey: Buffer; token: string }): void {
  db.delete(sessions).where(eq(sessions.tokenHash, hashToken(options.hmacKey, options.token))).run();
}

/** Deletes every expired session; returns how many went. */
export function purgeExpiredSessions(db: Db, now = new Date()): number {
  return db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id }).all().length;
}
