// Users: creation and validation, sign-in checks, the last-admin rule, first-admin setup and password resets.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { AppError } from "../../src/errors.ts";
import { createSession, findSession } from "../../src/domain/access/sessions.ts";
import {
  authenticate,
  countUsers,
  createFirstAdmin,
  createUser,
  deleteUser,
  getUser,
  listUsers,
  PASSWORD_COST,
  resetPassword,
  setRole,
} from "../../src/domain/access/users.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf, thrownBy } from "../support/errors.ts";
import { TEST_PASSWORD_COST } from "../support/users.ts";

const openDb = useTestDatabase();
const PASSWORD = "correct horse battery";
const hmacKey = randomBytes(32);

describe("createUser", () => {
  test("stores the email lower-cased, an argon2id hash and never the password", async () => {
    const { db, sqlite } = openDb();
    const user = await createUser(db, { email: "Alice@Example.COM", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(user).toMatchObject({ email: "alice@example.com", role: "admin" });
    expect(user.id).toMatch(/^user_[0-9a-f-]{36}$/);
    const row = sqlite.query("SELECT * FROM users").get() as Record<string, unknown>;
    expect(row.email).toBe("alice@example.com");
    expect(String(row.password_hash)).toStartWith("$argon2id$");
    expect(Object.values(row).map(String)).not.toContain(PASSWORD);
  });

  test("a taken email, in any case, is USER_EXISTS and adds nobody", async () => {
    const { db } = openDb();
    await createUser(db, { email: "bob@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const err = await rejectionOf(createUser(db, { email: "BOB@example.com", role: "admin", password: "another password" }, new Date(), TEST_PASSWORD_COST));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "USER_EXISTS", status: 409 });
    expect(await countUsers(db)).toBe(1);
  });

  test.each([
    ["a bad email", { email: "not-an-email", role: "member", password: PASSWORD }, { email: "expected an email address" }],
    ["a short password", { email: "c@example.com", role: "member", password: "short" }, { password: "expected at least 10 characters" }],
    ["an unknown role", { email: "c@example.com", role: "owner", password: PASSWORD }, { role: 'expected "admin" or "member"' }],
    [
      "several bad fields",
      { email: "nope", role: "member", password: "short" },
      { email: "expected an email address", password: "expected at least 10 characters" },
    ],
  ])("%s is VALIDATION_FAILED naming each field, and adds nobody", async (_what, input, fields) => {
    const { db } = openDb();
    const err = await rejectionOf(createUser(db, input, new Date(), TEST_PASSWORD_COST));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    expect((err as AppError).fields).toEqual(fields);
    expect(await countUsers(db)).toBe(0);
  });
});

describe("authenticate", () => {
  test("the right password returns the user, whatever the email's case and spacing", async () => {
    const { db } = openDb();
    const created = await createUser(db, { email: "dana@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await authenticate(db, "dana@example.com", PASSWORD, TEST_PASSWORD_COST)).toEqual(created);
    expect((await authenticate(db, "  DANA@example.com ", PASSWORD, TEST_PASSWORD_COST))?.id).toBe(created.id);
  });

  test("a wrong password and an unknown email both give null", async () => {
    const { db } = openDb();
    await createUser(db, { email: "dana@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await authenticate(db, "dana@example.com", PASSWORD + "!", TEST_PASSWORD_COST)).toBeNull();
    expect(await authenticate(db, "dana@example.com", "", TEST_PASSWORD_COST)).toBeNull();
    expect(await authenticate(db, "nobody@example.com", PASSWORD, TEST_PASSWORD_COST)).toBeNull();
  });
});

describe("the last admin", () => {
  test("cannot be demoted or removed", async () => {
    const { db } = openDb();
    const admin = await createUser(db, { email: "admin@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    await createUser(db, { email: "member@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await rejectionOf(setRole(db, admin.id, "member"))).toMatchObject({ code: "LAST_ADMIN", status: 409 });
    expect(await rejectionOf(deleteUser(db, admin.id))).toMatchObject({ code: "LAST_ADMIN" });
    expect((await getUser(db, admin.id))?.role).toBe("admin");
  });

  test("one of two admins may go, then the other is the last", async () => {
    const { db } = openDb();
    const first = await createUser(db, { email: "a1@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const second = await createUser(db, { email: "a2@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect((await setRole(db, first.id, "member")).role).toBe("member");
    expect((await getUser(db, first.id))?.role).toBe("member");
    expect(await rejectionOf(setRole(db, second.id, "member"))).toMatchObject({ code: "LAST_ADMIN" });
    expect((await setRole(db, first.id, "admin")).role).toBe("admin");
    await deleteUser(db, second.id);
    expect((await listUsers(db)).map((u) => u.email)).toEqual(["a1@example.com"]);
  });

  test("members can be removed, and removing a user ends their sessions", async () => {
    const { db, sqlite } = openDb();
    await createUser(db, { email: "admin@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const member = await createUser(db, { email: "member@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const { token } = await createSession(db, { hmacKey, userId: member.id, ttlMs: 60_000 });
    await deleteUser(db, member.id);
    expect(await getUser(db, member.id)).toBeNull();
    expect(await findSession(db, { hmacKey, token })).toBeNull();
    expect(sqlite.query("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });
  });

  test("an unknown user is USER_NOT_FOUND and a bad role VALIDATION_FAILED", async () => {
    const { db } = openDb();
    const admin = await createUser(db, { email: "admin@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await rejectionOf(setRole(db, "user_missing", "member"))).toMatchObject({ code: "USER_NOT_FOUND" });
    expect(await rejectionOf(deleteUser(db, "user_missing"))).toMatchObject({ code: "USER_NOT_FOUND" });
    expect(await rejectionOf(setRole(db, admin.id, "root"))).toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("createFirstAdmin", () => {
  test("creates an admin while there are no users", async () => {
    const { db } = openDb();
    const admin = await createFirstAdmin(db, { email: "First@Example.com", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(admin).toMatchObject({ email: "first@example.com", role: "admin" });
    expect(await authenticate(db, "first@example.com", PASSWORD, TEST_PASSWORD_COST)).not.toBeNull();
  });

  test("refuses with SETUP_DONE once any user exists", async () => {
    const { db } = openDb();
    await createFirstAdmin(db, { email: "first@example.com", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await rejectionOf(createFirstAdmin(db, { email: "second@example.com", password: PASSWORD }, new Date(), TEST_PASSWORD_COST))).toMatchObject({
      code: "SETUP_DONE",
      status: 410,
    });
    expect(await countUsers(db)).toBe(1);
  });

  test("refuses when the only user is a member made from the CLI", async () => {
    const { db } = openDb();
    await createUser(db, { email: "member@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(await rejectionOf(createFirstAdmin(db, { email: "x@example.com", password: PASSWORD }, new Date(), TEST_PASSWORD_COST))).toMatchObject({ code: "SETUP_DONE" });
    expect(await countUsers(db)).toBe(1);
  });

  test("validates its input like createUser", async () => {
    const { db } = openDb();
    const err = await rejectionOf(createFirstAdmin(db, { email: "x@example.com", password: "short" }, new Date(), TEST_PASSWORD_COST));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED", fields: { password: "expected at least 10 characters" } });
    expect(await countUsers(db)).toBe(0);
  });
});

describe("resetPassword", () => {
  test("sets the new password and ends every session of that user only", async () => {
    const { db } = openDb();
    const erin = await createUser(db, { email: "erin@example.com", role: "admin", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const frank = await createUser(db, { email: "frank@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const erinTokens = await Promise.all([1, 2].map(async () => (await createSession(db, { hmacKey, userId: erin.id, ttlMs: 60_000 })).token));
    const frankToken = (await createSession(db, { hmacKey, userId: frank.id, ttlMs: 60_000 })).token;

    await resetPassword(db, "ERIN@example.com", "a brand new password", new Date(), TEST_PASSWORD_COST);

    for (const token of erinTokens) expect(await findSession(db, { hmacKey, token })).toBeNull();
    expect((await findSession(db, { hmacKey, token: frankToken }))?.user.id).toBe(frank.id);
    expect(await authenticate(db, "erin@example.com", PASSWORD, TEST_PASSWORD_COST)).toBeNull();
    expect((await authenticate(db, "erin@example.com", "a brand new password", TEST_PASSWORD_COST))?.id).toBe(erin.id);
  });

  test("an unknown email is USER_NOT_FOUND", async () => {
    const { db } = openDb();
    expect(await rejectionOf(resetPassword(db, "ghost@example.com", "a brand new password", new Date(), TEST_PASSWORD_COST))).toMatchObject({ code: "USER_NOT_FOUND" });
  });

  test("a too-short password is refused and changes nothing", async () => {
    const { db } = openDb();
    const user = await createUser(db, { email: "gus@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    const { token } = await createSession(db, { hmacKey, userId: user.id, ttlMs: 60_000 });
    expect(await rejectionOf(resetPassword(db, "gus@example.com", "short", new Date(), TEST_PASSWORD_COST))).toMatchObject({
      code: "VALIDATION_FAILED",
      fields: { password: "expected at least 10 characters" },
    });
    expect(await findSession(db, { hmacKey, token })).not.toBeNull();
    expect(await authenticate(db, "gus@example.com", PASSWORD, TEST_PASSWORD_COST)).not.toBeNull();
  });
});

describe("the password hash's cost", () => {
  /** The `m=…,t=…,p=…` parameters encoded in the stored hash of the only user. */
  function storedParameters(sqlite: { query: (sql: string) => { get: () => unknown } }): string {
    const hash = String((sqlite.query("SELECT password_hash FROM users").get() as { password_hash: string }).password_hash);
    return hash.split("$")[3]!;
  }

  // Every other test hashes at TEST_PASSWORD_COST; this pins what production stores, so a change to
  // the defaults (or to Bun's) cannot weaken stored hashes unnoticed.
  test("with nothing injected, createUser, createFirstAdmin and resetPassword hash at the production cost: argon2id, 64 MiB, 2 passes", async () => {
    expect(PASSWORD_COST).toEqual({ memoryCost: 65536, timeCost: 2 });
    const { db, sqlite } = openDb();
    await createFirstAdmin(db, { email: "first@example.com", password: PASSWORD });
    expect(String((sqlite.query("SELECT password_hash FROM users").get() as { password_hash: string }).password_hash)).toStartWith("$argon2id$v=19$m=65536,t=2,p=1$");
    await resetPassword(db, "first@example.com", "a brand new password");
    expect(storedParameters(sqlite)).toBe("m=65536,t=2,p=1");
    const other = openDb();
    await createUser(other.db, { email: "plain@example.com", role: "member", password: PASSWORD });
    expect(storedParameters(other.sqlite)).toBe("m=65536,t=2,p=1");
    expect((await authenticate(other.db, "plain@example.com", PASSWORD))?.email).toBe("plain@example.com");
    expect(await authenticate(other.db, "nobody@example.com", PASSWORD)).toBeNull();
  });

  test("an injected cost is the one stored, and such a hash still signs in (and only with its password)", async () => {
    const { db, sqlite } = openDb();
    await createUser(db, { email: "cheap@example.com", role: "member", password: PASSWORD }, new Date(), TEST_PASSWORD_COST);
    expect(storedParameters(sqlite)).toBe(`m=${TEST_PASSWORD_COST.memoryCost},t=${TEST_PASSWORD_COST.timeCost},p=1`);
    expect((await authenticate(db, "cheap@example.com", PASSWORD, TEST_PASSWORD_COST))?.email).toBe("cheap@example.com");
    expect(await authenticate(db, "cheap@example.com", PASSWORD + "!", TEST_PASSWORD_COST)).toBeNull();
  });
});
