// Admin sessions: only a hash of the token is stored; expired sessions are refused and removed.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { createSession, deleteSession, findSession, purgeExpiredSessions } from "../../src/domain/access/sessions.ts";
import { getUser, type User } from "../../src/domain/access/users.ts";
import type { SqliteHandle as DbHandle } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { useTestDatabase } from "../support/db.ts";

const openDb = useTestDatabase();
const hmacKey = randomBytes(32);
const T0 = new Date("2030-01-01T00:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A database with one user (inserted directly: these tests need no password hash). */
async function withUser(): Promise<DbHandle & { user: User }> {
  const handle = openDb();
  await handle.db.insert(users).values({ id: "user_sam", email: "sam@example.com", role: "member", passwordHash: "unused", createdAt: T0, updatedAt: T0 });
  return { ...handle, user: (await getUser(handle.db, "user_sam"))! };
}

function sessionCount(handle: DbHandle): number {
  return (handle.sqlite.query("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
}

describe("createSession / findSession", () => {
  test("the token finds its session and user", async () => {
    const { db, user } = await withUser();
    const { token, session } = await createSession(db, { hmacKey, userId: user.id, ttlMs: 60_000, now: T0 });
    expect(session.id).toMatch(/^sess_/);
    expect(session.expiresAt).toEqual(at(60_000));
    expect(await findSession(db, { hmacKey, token, now: at(1_000) })).toEqual({ session, user });
  });

  test("the token is not stored in clear anywhere in the row", async () => {
    const handle = await withUser();
    const { token } = await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 60_000 });
    const rows = handle.sqlite.query("SELECT * FROM sessions").all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    for (const value of Object.values(rows[0]!)) expect(String(value)).not.toContain(token);
    expect(rows[0]!.token_hash).toEqual(expect.any(String));
  });

  test("each session gets its own random token", async () => {
    const { db, user } = await withUser();
    const tokens = new Set(await Promise.all(Array.from({ length: 10 }, async () => (await createSession(db, { hmacKey, userId: user.id, ttlMs: 60_000 })).token)));
    expect(tokens.size).toBe(10);
    for (const token of tokens) expect(Buffer.from(token, "base64url").length).toBe(32);
  });

  test("an unknown token, or the right token under another key, finds nothing", async () => {
    const { db, user } = await withUser();
    const { token } = await createSession(db, { hmacKey, userId: user.id, ttlMs: 60_000 });
    expect(await findSession(db, { hmacKey, token: token.slice(0, -1) + (token.endsWith("A") ? "B" : "A") })).toBeNull();
    expect(await findSession(db, { hmacKey, token: "" })).toBeNull();
    expect(await findSession(db, { hmacKey: randomBytes(32), token })).toBeNull();
  });

  test("an expired session is refused and deleted", async () => {
    const handle = await withUser();
    const { token } = await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 60_000, now: T0 });
    expect(await findSession(handle.db, { hmacKey, token, now: at(59_999) })).not.toBeNull();
    expect(await findSession(handle.db, { hmacKey, token, now: at(60_000) })).toBeNull();
    expect(sessionCount(handle)).toBe(0);
    // Gone for good: even a clock turned back does not bring it back.
    expect(await findSession(handle.db, { hmacKey, token, now: T0 })).toBeNull();
  });
});

describe("deleteSession", () => {
  test("ends the session with that token and no other", async () => {
    const handle = await withUser();
    const one = await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 60_000 });
    const two = await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 60_000 });
    await deleteSession(handle.db, { hmacKey, token: one.token });
    expect(await findSession(handle.db, { hmacKey, token: one.token })).toBeNull();
    expect((await findSession(handle.db, { hmacKey, token: two.token }))?.session.id).toBe(two.session.id);
    expect(sessionCount(handle)).toBe(1);
  });

  test("an unknown token is a no-op", async () => {
    const handle = await withUser();
    await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 60_000 });
    await deleteSession(handle.db, { hmacKey, token: "not-a-token" });
    expect(sessionCount(handle)).toBe(1);
  });
});

describe("purgeExpiredSessions", () => {
  test("deletes the expired sessions, counts them and keeps the live ones", async () => {
    const handle = await withUser();
    await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 1_000, now: T0 });
    await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 2_000, now: T0 });
    const live = await createSession(handle.db, { hmacKey, userId: handle.user.id, ttlMs: 10_000, now: T0 });
    expect(await purgeExpiredSessions(handle.db, at(5_000))).toBe(2);
    expect(sessionCount(handle)).toBe(1);
    expect((await findSession(handle.db, { hmacKey, token: live.token, now: at(5_000) }))?.session.id).toBe(live.session.id);
    expect(await purgeExpiredSessions(handle.db, at(5_000))).toBe(0);
  });
});
