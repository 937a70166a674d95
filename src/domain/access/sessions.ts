// Server-side admin sessions: a random token in the cookie, only its HMAC in the database.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { tables } from "../../db/store.ts";
import type { User } from "./users.ts";

export type Session = { id: string; userId: string; expiresAt: Date };

function hashToken(hmacKey: Buffer, token: string): string {
  return createHmac("sha256", hmacKey).update(`session:${token}`).digest("base64url");
}

/** Starts a session for the user; returns the token to put in the cookie (never stored in clear). */
export async function createSession(
  db: Db,
  options: { hmacKey: Buffer; userId: string; ttlMs: number; now?: Date },
): Promise<{ token: string; session: Session }> {
  const { sessions } = tables(db);
  const now = options.now ?? new Date();
  const token = randomBytes(32).toString("base64url");
  const session = { id: `sess_${randomUUID()}`, userId: options.userId, expiresAt: new Date(now.getTime() + options.ttlMs) };
  await db.insert(sessions).values({ ...session, tokenHash: hashToken(options.hmacKey, token), createdAt: now });
  return { token, session };
}

/** The live session and its user for a cookie token, or null if unknown or expired (an expired one is deleted). */
export async function findSession(
  db: Db,
  options: { hmacKey: Buffer; token: string; now?: Date },
): Promise<{ session: Session; user: User } | null> {
  const { sessions, users } = tables(db);
  const now = options.now ?? new Date();
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.tokenHash, hashToken(options.hmacKey, options.token)));
  if (!row) return null;
  if (row.session.expiresAt.getTime() <= now.getTime()) {
    await db.delete(sessions).where(eq(sessions.id, row.session.id));
    return null;
  }
  const { id, userId, expiresAt } = row.session;
  const { id: uid, email, role, createdAt } = row.user;
  return { session: { id, userId, expiresAt }, user: { id: uid, email, role, createdAt } };
}

/** Ends the session with this token, if any. */
export async function deleteSession(db: Db, options: { hmacKey: Buffer; token: string }): Promise<void> {
  const { sessions } = tables(db);
  await db.delete(sessions).where(eq(sessions.tokenHash, hashToken(options.hmacKey, options.token)));
}

/** Deletes every expired session; returns how many went. */
export async function purgeExpiredSessions(db: Db, now = new Date()): Promise<number> {
  const { sessions } = tables(db);
  const gone = await db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id });
  return gone.length;
}
