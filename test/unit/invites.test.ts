// Invites and password changes in the domain: the token stored only as an HMAC, one invite per email,
// expiry, revocation, single use under concurrency, and a changed password ending every session.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { acceptInvite, createInvite, findInvite, INVITE_TOKEN_PREFIX, INVITE_TTL_MS, listInvites, revokeInvite } from "../../src/domain/access/invites.ts";
import { createSession, findSession } from "../../src/domain/access/sessions.ts";
import { authenticate, changePassword, countUsers, createUser, verifyPassword } from "../../src/domain/access/users.ts";
import { AppError } from "../../src/errors.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf, thrownBy } from "../support/errors.ts";
import { TEST_PASSWORD_COST } from "../support/users.ts";

const openDb = useTestDatabase();
const hmacKey = randomBytes(32);
const PASSWORD = "correct horse battery";
const T0 = new Date("2026-11-01T12:00:00Z");
const DAY = 24 * 60 * 60 * 1000;

async function invite(db: ReturnType<typeof openDb>["db"], email = "new@example.com", role = "member", now = T0) {
  return await createInvite(db, hmacKey, { email, role }, { invitedBy: null, now });
}

function accept(db: ReturnType<typeof openDb>["db"], token: string, password = PASSWORD, now = T0) {
  return acceptInvite(db, hmacKey, { token, password }, now, TEST_PASSWORD_COST);
}

describe("createInvite", () => {
  test("returns a token in the shared format; only its HMAC is stored, and the email lower-cased", async () => {
    const { db, sqlite } = openDb();
    const { invite: made, token } = await invite(db, "New@Example.COM", "admin");
    expect(token).toMatch(new RegExp(`^${INVITE_TOKEN_PREFIX}[0-9A-Za-z]{49}$`));
    expect(made).toMatchObject({ email: "new@example.com", role: "admin", invitedBy: null });
    expect(made.id).toMatch(/^invite_[0-9a-f-]{36}$/);
    expect(made.expiresAt.getTime() - T0.getTime()).toBe(INVITE_TTL_MS);
    expect(INVITE_TTL_MS).toBe(7 * DAY);
    const rows = JSON.stringify(sqlite.query("SELECT * FROM user_invites").all());
    expect(rows).not.toContain(token);
    expect(rows).not.toContain(token.slice(INVITE_TOKEN_PREFIX.length, INVITE_TOKEN_PREFIX.length + 20));
    expect((await findInvite(db, hmacKey, token, T0))?.id).toBe(made.id);
  });

  test("an email that already has a user is USER_EXISTS, in any case, and stores nothing", async () => {
    const { db, sqlite } = openDb();
    await createUser(db, { email: "taken@example.com", role: "member", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    expect(await rejectionOf(invite(db, "TAKEN@example.com"))).toMatchObject({ code: "USER_EXISTS", status: 409 });
    expect(sqlite.query("SELECT count(*) AS n FROM user_invites").get()).toEqual({ n: 0 });
  });

  test("bad fields are VALIDATION_FAILED naming each", async () => {
    const { db } = openDb();
    const err = await rejectionOf(createInvite(db, hmacKey, { email: "nope", role: "owner" }, { invitedBy: null }));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(Object.keys((err as AppError).fields ?? {}).sort()).toEqual(["email", "role"]);
  });

  test("a second invite for the same email replaces the first: only the newest link works", async () => {
    const { db } = openDb();
    const first = await invite(db, "same@example.com", "member");
    const second = await invite(db, "Same@example.com", "admin");
    expect(await findInvite(db, hmacKey, first.token, T0)).toBeNull();
    expect(await findInvite(db, hmacKey, second.token, T0)).toMatchObject({ email: "same@example.com", role: "admin" });
    expect((await listInvites(db, T0)).map((i) => i.id)).toEqual([second.invite.id]);
  });

  test("names the inviter while they exist, and none once they are removed", async () => {
    const { db, sqlite } = openDb();
    const admin = await createUser(db, { email: "admin@example.com", role: "admin", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    const { invite: made } = await createInvite(db, hmacKey, { email: "x@example.com", role: "member" }, { invitedBy: admin.id, now: T0 });
    expect(made.invitedBy).toEqual({ id: admin.id, email: admin.email });
    sqlite.run("DELETE FROM users WHERE id = ?", [admin.id]);
    expect((await listInvites(db, T0))[0]?.invitedBy).toBeNull();
  });
});

describe("findInvite and listInvites", () => {
  test("an expired invite is neither found nor listed, and is pruned by the next invite", async () => {
    const { db, sqlite } = openDb();
    const { token } = await invite(db, "old@example.com", "member", new Date(T0.getTime() - 8 * DAY));
    expect(await findInvite(db, hmacKey, token, T0)).toBeNull();
    expect(await listInvites(db, T0)).toEqual([]);
    // Still found a moment before it expires.
    expect(await findInvite(db, hmacKey, token, new Date(T0.getTime() - DAY - 1))).not.toBeNull();
    await invite(db, "other@example.com");
    expect(sqlite.query("SELECT email FROM user_invites").all()).toEqual([{ email: "other@example.com" }]);
  });

  test("malformed, mistyped, unknown and other-key tokens are all null", async () => {
    const { db } = openDb();
    const { token } = await invite(db);
    const flipped = token.slice(0, -8) + (token.at(-8) === "a" ? "b" : "a") + token.slice(-7);
    for (const bad of ["", "sb_invite_", token.slice(0, -1), flipped, token.replace(INVITE_TOKEN_PREFIX, "mcp_key_"), `${token}x`]) {
      expect(await findInvite(db, hmacKey, bad, T0)).toBeNull();
    }
    expect(await findInvite(db, randomBytes(32), token, T0)).toBeNull();
  });
});

describe("revokeInvite", () => {
  test("the link stops working; an unknown id is INVITE_NOT_FOUND", async () => {
    const { db } = openDb();
    const { invite: made, token } = await invite(db);
    expect(await revokeInvite(db, made.id)).toEqual({ id: made.id, email: "new@example.com" });
    expect(await findInvite(db, hmacKey, token, T0)).toBeNull();
    expect(await rejectionOf(revokeInvite(db, made.id))).toMatchObject({ code: "INVITE_NOT_FOUND", status: 404 });
  });
});

describe("acceptInvite", () => {
  test("creates the user with the invite's email and role and their own password, and spends the link", async () => {
    const { db } = openDb();
    const { token } = await invite(db, "joiner@example.com", "admin");
    const user = await accept(db, token);
    expect(user).toMatchObject({ email: "joiner@example.com", role: "admin" });
    expect((await authenticate(db, "joiner@example.com", PASSWORD, TEST_PASSWORD_COST))?.id).toBe(user.id);
    expect(await listInvites(db, T0)).toEqual([]);
    expect(await rejectionOf(accept(db, token))).toMatchObject({ code: "INVITE_INVALID", status: 404 });
    expect(await countUsers(db)).toBe(1);
  });

  test("two acceptances at once create one user; the other finds the link spent", async () => {
    const { db } = openDb();
    const { token } = await invite(db, "race@example.com");
    const results = await Promise.allSettled([accept(db, token, "first password here"), accept(db, token, "second password here")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: "INVITE_INVALID" });
    expect(await countUsers(db)).toBe(1);
  });

  test("a short password is VALIDATION_FAILED and the link still works", async () => {
    const { db } = openDb();
    const { token } = await invite(db);
    const err = await rejectionOf(accept(db, token, "short"));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED", fields: { password: "expected at least 10 characters" } });
    expect(await findInvite(db, hmacKey, token, T0)).not.toBeNull();
    expect(await countUsers(db)).toBe(0);
  });

  test("expired, revoked and unknown links are INVITE_INVALID alike", async () => {
    const { db } = openDb();
    const expired = (await invite(db, "a@example.com", "member", new Date(T0.getTime() - 8 * DAY))).token;
    const revoked = await invite(db, "b@example.com");
    await revokeInvite(db, revoked.invite.id);
    const unknown = (await createInvite(openDb().db, hmacKey, { email: "c@example.com", role: "member" }, { invitedBy: null, now: T0 })).token;
    for (const token of [expired, revoked.token, unknown, "garbage"]) {
      expect(await rejectionOf(accept(db, token))).toMatchObject({ code: "INVITE_INVALID" });
    }
    expect(await countUsers(db)).toBe(0);
  });

  test("an email that got a user since the invite is USER_EXISTS and spends nothing", async () => {
    const { db } = openDb();
    const { token } = await invite(db, "late@example.com");
    await createUser(db, { email: "late@example.com", role: "member", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    expect(await rejectionOf(accept(db, token))).toMatchObject({ code: "USER_EXISTS" });
    expect(await findInvite(db, hmacKey, token, T0)).not.toBeNull();
  });
});

describe("changePassword and verifyPassword", () => {
  test("the new password works, the old does not, and every session of the user (only theirs) ends", async () => {
    const { db } = openDb();
    const user = await createUser(db, { email: "me@example.com", role: "member", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    const other = await createUser(db, { email: "other@example.com", role: "member", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    const mine = await Promise.all([1, 2].map(async () => (await createSession(db, { hmacKey, userId: user.id, ttlMs: DAY })).token));
    const theirs = (await createSession(db, { hmacKey, userId: other.id, ttlMs: DAY })).token;
    expect(await verifyPassword(db, user.id, PASSWORD, TEST_PASSWORD_COST)).toBe(true);
    await changePassword(db, user.id, "a brand new password", new Date(), TEST_PASSWORD_COST);
    expect(await verifyPassword(db, user.id, PASSWORD, TEST_PASSWORD_COST)).toBe(false);
    expect(await verifyPassword(db, user.id, "a brand new password", TEST_PASSWORD_COST)).toBe(true);
    for (const token of mine) expect(await findSession(db, { hmacKey, token })).toBeNull();
    expect(await findSession(db, { hmacKey, token: theirs })).not.toBeNull();
  });

  test("a short new password is refused naming the field, and nothing changes", async () => {
    const { db } = openDb();
    const user = await createUser(db, { email: "me@example.com", role: "member", password: PASSWORD }, T0, TEST_PASSWORD_COST);
    const session = (await createSession(db, { hmacKey, userId: user.id, ttlMs: DAY })).token;
    const err = await rejectionOf(changePassword(db, user.id, "short", new Date(), TEST_PASSWORD_COST));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED", fields: { password: "expected at least 10 characters" } });
    expect(await verifyPassword(db, user.id, PASSWORD, TEST_PASSWORD_COST)).toBe(true);
    expect(await findSession(db, { hmacKey, token: session })).not.toBeNull();
  });

  test("an unknown user's password never verifies", async () => {
    const { db } = openDb();
    expect(await verifyPassword(db, "user_00000000-0000-4000-8000-000000000000", PASSWORD, TEST_PASSWORD_COST)).toBe(false);
  });
});
