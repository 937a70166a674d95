// API keys: the token format and checksum, storage as an HMAC, verification (unknown, revoked,
// expired), rotation with and without a grace period, and batched last-used times.
import { describe, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema.ts";
import { openDatabase, type Db } from "../../src/db/client.ts";
import {
  createApiKey,
  createKeyVerifier,
  deleteApiKey,
  generateToken,
  getApiKey,
  hashToken,
  isWellFormedToken,
  LastUsedRecorder,
  listApiKeys,
  rotateApiKey,
  TOKEN_PREFIX,
  updateApiKey,
} from "../../src/domain/access/api-keys.ts";
import { deleteUser, type Role, type User } from "../../src/domain/access/users.ts";
import { AppError } from "../../src/errors.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf, thrownBy } from "../support/errors.ts";

const openDb = useTestDatabase();
const hmacKey = randomBytes(32);
const TOKEN_PATTERN = /^mcp_key_[0-9A-Za-z]{43}[0-9A-Za-z]{6}$/;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const T0 = new Date("2030-01-01T00:00:00.000Z");
const HOUR = 3_600_000;

function addUser(db: Db, role: Role = "admin"): User {
  const user = { id: `user_${randomUUID()}`, email: `${randomUUID()}@example.com`, role, createdAt: T0 };
  db.insert(users).values({ ...user, passwordHash: "!", updatedAt: T0 }).run();
  return user;
}

function setup(): { db: Db; sqlite: ReturnType<typeof openDb>["sqlite"]; owner: User; verify: ReturnType<typeof createKeyVerifier> } {
  const { db, sqlite } = openDb();
  return { db, sqlite, owner: addUser(db), verify: createKeyVerifier(db, hmacKey) };
}

async function mint(db: Db, owner: User, options: { expiresAt?: Date | null; permissions?: Record<string, string[]>; now?: Date } = {}) {
  return await createApiKey(db, { hmacKey, name: "ci", ownerId: owner.id, permissions: options.permissions ?? { self: ["WHOAMI"] }, expiresAt: options.expiresAt ?? null, now: options.now ?? T0 });
}

/** `token` with the character at `index` replaced by a different base62 character. */
function changedAt(token: string, index: number): string {
  const current = token[index]!;
  const replacement = BASE62[(BASE62.indexOf(current) + 1) % BASE62.length]!;
  return token.slice(0, index) + replacement + token.slice(index + 1);
}

function codeOf(err: unknown): string | undefined {
  return err instanceof AppError ? err.code : undefined;
}

describe("token format", () => {
  test("mcp_key_ + 43 base62 characters + a 6-character checksum", () => {
    const token = generateToken();
    expect(token).toMatch(TOKEN_PATTERN);
    expect(token).toHaveLength(TOKEN_PREFIX.length + 43 + 6);
    expect(token.startsWith("mcp_key_")).toBe(true);
    expect(isWellFormedToken(token)).toBe(true);
  });

  test("every one-character change anywhere after the prefix is caught by the checksum", () => {
    const token = generateToken();
    for (let i = TOKEN_PREFIX.length; i < token.length; i++) {
      const typo = changedAt(token, i);
      expect(typo).toMatch(TOKEN_PATTERN);
      expect({ i, ok: isWellFormedToken(typo) }).toEqual({ i, ok: false });
    }
  });

  test("tokens are unique and their random parts do not repeat", () => {
    const tokens = Array.from({ length: 2000 }, generateToken);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(tokens.map((t) => t.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 16))).size).toBe(tokens.length);
    for (const t of tokens.slice(0, 50)) expect(isWellFormedToken(t)).toBe(true);
  });

  const malformed: [string, string][] = [
    ["empty", ""],
    ["the prefix alone", "mcp_key_"],
    ["a wrong prefix", `mcp_kez_${generateToken().slice(8)}`],
    ["an upper-case prefix", `MCP_KEY_${generateToken().slice(8)}`],
    ["one character short", generateToken().slice(0, -1)],
    ["one character long", `${generateToken()}0`],
    ["a non-base62 character", `${generateToken().slice(0, 20)}-${generateToken().slice(21)}`],
    ["surrounding whitespace", ` ${generateToken()} `],
  ];
  for (const [name, token] of malformed) {
    test(`rejects ${name}`, () => {
      expect(isWellFormedToken(token)).toBe(false);
    });
  }

  test("hashes depend on the server key and never contain the token", () => {
    const token = generateToken();
    expect(hashToken(hmacKey, token)).toBe(hashToken(hmacKey, token));
    expect(hashToken(randomBytes(32), token)).not.toBe(hashToken(hmacKey, token));
    expect(hashToken(hmacKey, token)).not.toContain(token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 12));
  });
});

describe("createApiKey", () => {
  test("stores an HMAC and a display prefix, never the token", async () => {
    const { db, sqlite, owner } = setup();
    const { key, token } = await mint(db, owner);
    expect(token).toMatch(TOKEN_PATTERN);
    expect(key.id).toMatch(/^key_[0-9a-f-]{36}$/);
    expect(key.prefix).toBe(token.slice(0, TOKEN_PREFIX.length + 6));
    expect(key).not.toHaveProperty("token");
    expect(key).not.toHaveProperty("tokenHash");
    const row = sqlite.query("SELECT * FROM api_keys WHERE id = ?").get(key.id) as Record<string, unknown>;
    expect(row.token_hash).toBe(hashToken(hmacKey, token));
    const secretPart = token.slice(key.prefix.length);
    for (const value of Object.values(row)) expect(String(value)).not.toContain(secretPart);
  });

  test("reads back with owner, permissions and timestamps", async () => {
    const { db, owner } = setup();
    const { key } = await mint(db, owner, { permissions: { self: ["*"] }, expiresAt: new Date(T0.getTime() + HOUR) });
    expect(await getApiKey(db, key.id, T0)).toEqual({
      id: key.id,
      name: "ci",
      ownerId: owner.id,
      ownerEmail: owner.email,
      prefix: key.prefix,
      permissions: { self: ["*"] },
      createdAt: T0,
      updatedAt: T0,
      lastUsedAt: null,
      expiresAt: new Date(T0.getTime() + HOUR),
      previousTokenExpiresAt: null,
    });
  });

  test("lists newest first, and only one owner's keys when asked", async () => {
    const { db, owner } = setup();
    const other = addUser(db, "member");
    const first = (await mint(db, owner, { now: T0 })).key;
    const second = (await mint(db, other, { now: new Date(T0.getTime() + 1000) })).key;
    expect((await listApiKeys(db)).map((k) => k.id)).toEqual([second.id, first.id]);
    expect((await listApiKeys(db, { ownerId: other.id })).map((k) => k.id)).toEqual([second.id]);
    expect(await listApiKeys(db, { ownerId: addUser(db).id })).toEqual([]);
  });
});

describe("verification", () => {
  test("a live token resolves to its key, permissions and owner", async () => {
    const { db, owner, verify } = setup();
    const { key, token } = await mint(db, owner, { permissions: { self: ["API_KEY_LIST"] } });
    expect(await verify(token, T0)).toEqual({ keyId: key.id, permissions: { self: ["API_KEY_LIST"] }, expiresAt: null, owner });
  });

  test("an unknown but well-formed token is null", async () => {
    const { db, owner, verify } = setup();
    await mint(db, owner);
    const unknown = generateToken();
    expect(isWellFormedToken(unknown)).toBe(true);
    expect(await verify(unknown, T0)).toBeNull();
  });

  test("a token with a typo is null, even though only its checksum is wrong", async () => {
    const { db, owner, verify } = setup();
    const { token } = await mint(db, owner);
    expect(await verify(changedAt(token, token.length - 1), T0)).toBeNull();
    expect(await verify(changedAt(token, 10), T0)).toBeNull();
    expect(await verify(token, T0)).not.toBeNull();
  });

  test("the same token under another server secret is null", async () => {
    const { db, owner } = setup();
    const { token } = await mint(db, owner);
    expect(await createKeyVerifier(db, randomBytes(32))(token, T0)).toBeNull();
  });

  test("a revoked key is null at once, and revoking twice is API_KEY_NOT_FOUND", async () => {
    const { db, owner, verify } = setup();
    const { key, token } = await mint(db, owner);
    const other = await mint(db, owner);
    await deleteApiKey(db, key.id);
    expect(await verify(token, T0)).toBeNull();
    expect(await getApiKey(db, key.id)).toBeNull();
    expect(await verify(other.token, T0)).not.toBeNull();
    expect(codeOf(await rejectionOf(deleteApiKey(db, key.id)))).toBe("API_KEY_NOT_FOUND");
  });

  test("an expired key is null from its expiry on, and valid until then", async () => {
    const { db, owner, verify } = setup();
    const expiresAt = new Date(T0.getTime() + HOUR);
    const { token } = await mint(db, owner, { expiresAt });
    expect(await verify(token, new Date(expiresAt.getTime() - 1))).not.toBeNull();
    expect(await verify(token, expiresAt)).toBeNull();
    expect(await verify(token, new Date(expiresAt.getTime() + 1))).toBeNull();
  });

  test("a key whose owner is removed is null", async () => {
    const { db, verify } = setup();
    addUser(db, "admin"); // the last admin cannot be removed
    const owner = addUser(db, "member");
    const { token } = await mint(db, owner);
    await deleteUser(db, owner.id);
    expect(await verify(token, T0)).toBeNull();
  });

  test("the owner's current role is what verification reports", async () => {
    const { db, verify } = setup();
    const owner = addUser(db, "admin");
    const { token } = await mint(db, owner);
    expect((await verify(token, T0))?.owner.role).toBe("admin");
    db.update(users).set({ role: "member" }).run();
    expect((await verify(token, T0))?.owner.role).toBe("member");
  });

  test("a revocation or demotion made through another connection applies to the very next check", async () => {
    // As `switchboard key revoke` does while a server runs: a second handle on the same file.
    const { db, sqlite, verify } = setup();
    const owner = addUser(db, "admin");
    addUser(db, "admin");
    const revoked = await mint(db, owner);
    const kept = await mint(db, owner);
    expect((await verify(revoked.token, T0))?.keyId).toBe(revoked.key.id);
    expect((await verify(kept.token, T0))?.owner.role).toBe("admin");
    const other = openDatabase({ path: sqlite.filename, busyTimeoutMs: 1_000 });
    try {
      await deleteApiKey(other.db, revoked.key.id);
      other.db.update(users).set({ role: "member" }).where(eq(users.id, owner.id)).run();
    } finally {
      other.close();
    }
    expect(await verify(revoked.token, T0)).toBeNull();
    expect((await verify(kept.token, T0))?.owner.role).toBe("member");
  });

  test("changes to a key apply to the next verification; the token stays the same", async () => {
    const { db, owner, verify } = setup();
    const { key, token } = await mint(db, owner);
    expect((await verify(token, T0))?.permissions).toEqual({ self: ["WHOAMI"] });
    const updated = await updateApiKey(db, key.id, { name: "renamed", permissions: { self: ["*"] }, expiresAt: new Date(T0.getTime() + 1000) }, T0);
    expect(updated).toMatchObject({ name: "renamed", permissions: { self: ["*"] }, prefix: key.prefix });
    expect((await verify(token, T0))?.permissions).toEqual({ self: ["*"] });
    expect(await verify(token, new Date(T0.getTime() + 1000))).toBeNull();
    expect(codeOf(await rejectionOf(updateApiKey(db, `key_${randomUUID()}`, { name: "x" })))).toBe("API_KEY_NOT_FOUND");
  });
});

describe("rotation", () => {
  test("without a grace period the old token stops at once and the new one works", async () => {
    const { db, owner, verify } = setup();
    const { key, token: old } = await mint(db, owner, { permissions: { self: ["API_KEY_LIST"] } });
    const rotated = await rotateApiKey(db, { hmacKey, id: key.id, graceMs: 0, now: T0 });
    expect(rotated.token).toMatch(TOKEN_PATTERN);
    expect(rotated.token).not.toBe(old);
    expect(await verify(old, T0)).toBeNull();
    expect(await verify(rotated.token, T0)).toEqual({ keyId: key.id, permissions: { self: ["API_KEY_LIST"] }, expiresAt: null, owner });
    expect(rotated.key).toMatchObject({ id: key.id, name: "ci", permissions: { self: ["API_KEY_LIST"] }, previousTokenExpiresAt: null });
    expect(rotated.key.prefix).toBe(rotated.token.slice(0, TOKEN_PREFIX.length + 6));
  });

  test("with a grace period the old token works until the grace ends, then stops", async () => {
    const { db, owner, verify } = setup();
    const { key, token: old } = await mint(db, owner);
    const rotated = await rotateApiKey(db, { hmacKey, id: key.id, graceMs: HOUR, now: T0 });
    const graceEnd = new Date(T0.getTime() + HOUR);
    expect(rotated.key.previousTokenExpiresAt).toEqual(graceEnd);
    expect((await verify(old, T0))?.keyId).toBe(key.id);
    expect((await verify(old, new Date(graceEnd.getTime() - 1)))?.keyId).toBe(key.id);
    expect(await verify(old, graceEnd)).toBeNull();
    expect(await verify(old, new Date(graceEnd.getTime() + HOUR))).toBeNull();
    // The new token is unaffected by the grace ending.
    expect((await verify(rotated.token, new Date(graceEnd.getTime() + HOUR)))?.keyId).toBe(key.id);
    // The record stops announcing the old token once its grace is over.
    expect((await getApiKey(db, key.id, T0))?.previousTokenExpiresAt).toEqual(graceEnd);
    expect((await getApiKey(db, key.id, graceEnd))?.previousTokenExpiresAt).toBeNull();
  });

  test("the grace period never outlives the key's own expiry", async () => {
    const { db, owner, verify } = setup();
    const expiresAt = new Date(T0.getTime() + 10 * 60_000);
    const { key, token: old } = await mint(db, owner, { expiresAt });
    await rotateApiKey(db, { hmacKey, id: key.id, graceMs: HOUR, now: T0 });
    expect(await verify(old, new Date(expiresAt.getTime() - 1))).not.toBeNull();
    expect(await verify(old, expiresAt)).toBeNull();
  });

  test("the verified expiry is when the presented token stops: the key's, or the grace end for a rotated-out token", async () => {
    const { db, owner, verify } = setup();
    const forever = await mint(db, owner);
    const rotated = await rotateApiKey(db, { hmacKey, id: forever.key.id, graceMs: HOUR, now: T0 });
    expect((await verify(rotated.token, T0))?.expiresAt).toBeNull();
    expect((await verify(forever.token, T0))?.expiresAt).toEqual(new Date(T0.getTime() + HOUR));
    const expiresAt = new Date(T0.getTime() + 10 * 60_000);
    const soon = await mint(db, owner, { expiresAt });
    await rotateApiKey(db, { hmacKey, id: soon.key.id, graceMs: HOUR, now: T0 });
    expect((await verify(soon.token, T0))?.expiresAt).toEqual(expiresAt);
  });

  test("rotating again retires the token still in grace", async () => {
    const { db, owner, verify } = setup();
    const { key, token: first } = await mint(db, owner);
    const second = (await rotateApiKey(db, { hmacKey, id: key.id, graceMs: HOUR, now: T0 })).token;
    const third = (await rotateApiKey(db, { hmacKey, id: key.id, graceMs: HOUR, now: T0 })).token;
    expect(await verify(first, T0)).toBeNull();
    expect((await verify(second, T0))?.keyId).toBe(key.id);
    expect((await verify(third, T0))?.keyId).toBe(key.id);
  });

  test("revoking a key also stops a rotated-out token still in grace", async () => {
    const { db, owner, verify } = setup();
    const { key, token: old } = await mint(db, owner);
    const rotated = await rotateApiKey(db, { hmacKey, id: key.id, graceMs: HOUR, now: T0 });
    await deleteApiKey(db, key.id);
    expect(await verify(old, T0)).toBeNull();
    expect(await verify(rotated.token, T0)).toBeNull();
  });

  test("rotating an unknown key is API_KEY_NOT_FOUND and changes nothing", async () => {
    const { db, owner, verify } = setup();
    const { token } = await mint(db, owner);
    expect(codeOf(await rejectionOf(rotateApiKey(db, { hmacKey, id: `key_${randomUUID()}`, graceMs: 0, now: T0 })))).toBe("API_KEY_NOT_FOUND");
    expect(await verify(token, T0)).not.toBeNull();
  });
});

describe("LastUsedRecorder", () => {
  test("writes nothing until flushed, then the latest time per key", async () => {
    const { db, owner } = setup();
    const a = (await mint(db, owner)).key;
    const b = (await mint(db, owner)).key;
    const recorder = new LastUsedRecorder(db, 60_000);
    recorder.record(a.id, T0.getTime());
    recorder.record(a.id, T0.getTime() + 5000);
    expect((await getApiKey(db, a.id))?.lastUsedAt).toBeNull();
    await recorder.flush();
    expect((await getApiKey(db, a.id))?.lastUsedAt).toEqual(new Date(T0.getTime() + 5000));
    expect((await getApiKey(db, b.id))?.lastUsedAt).toBeNull();
    await recorder.stop();
  });

  test("stop() writes what is pending", async () => {
    const { db, owner } = setup();
    const { key } = await mint(db, owner);
    const recorder = new LastUsedRecorder(db, 60_000);
    recorder.record(key.id, T0.getTime());
    await recorder.stop();
    expect((await getApiKey(db, key.id))?.lastUsedAt).toEqual(T0);
  });

  test("a key revoked before the flush does not break the batch", async () => {
    const { db, owner } = setup();
    const gone = (await mint(db, owner)).key;
    const kept = (await mint(db, owner)).key;
    const recorder = new LastUsedRecorder(db, 60_000);
    recorder.record(gone.id, T0.getTime());
    recorder.record(kept.id, T0.getTime());
    await deleteApiKey(db, gone.id);
    await recorder.flush();
    expect((await getApiKey(db, kept.id))?.lastUsedAt).toEqual(T0);
    await recorder.stop();
  });
});
