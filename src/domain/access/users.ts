// Users of the admin: creation, sign-in checks, roles, removal and password resets.
import { randomUUID } from "node:crypto";
import { asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../db/client.ts";
import type { users } from "../../db/schema.ts";
import { tables, transaction } from "../../db/store.ts";
import { AppError } from "../../errors.ts";

export const ROLES = ["admin", "member"] as const;
export type Role = (typeof ROLES)[number];
export type User = { id: string; email: string; role: Role; createdAt: Date };

export const EmailSchema = z.email({ error: "expected an email address" }).max(254).transform((email) => email.toLowerCase());
export const PasswordSchema = z
  .string()
  .min(10, { error: "expected at least 10 characters" })
  .max(256, { error: "expected at most 256 characters" });
export const RoleSchema = z.enum(ROLES, { error: 'expected "admin" or "member"' });

const NewUserSchema = z.object({ email: EmailSchema, role: RoleSchema, password: PasswordSchema });

/** The cost of an argon2id password hash: memory in KiB and number of passes. */
export type PasswordCost = { memoryCost: number; timeCost: number };

/**
 * The production cost (64 MiB, 2 passes: Bun's argon2id defaults, written out so they cannot change
 * under us). Only tests pass a cheaper one, through the deps; there is no setting for it, because a
 * cheap hash would make a stolen database cheap to crack.
 */
export const PASSWORD_COST: PasswordCost = { memoryCost: 65536, timeCost: 2 };

function hashPassword(password: string, cost: PasswordCost): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id", memoryCost: cost.memoryCost, timeCost: cost.timeCost });
}

// A hash of a random password at the same cost as real ones, verified when the email is unknown so
// that a wrong email costs as much time as a wrong password and sign-in timing does not reveal which
// accounts exist.
const decoyHashes = new Map<string, Promise<string>>();
function decoy(cost: PasswordCost): Promise<string> {
  const key = `${cost.memoryCost}:${cost.timeCost}`;
  let hash = decoyHashes.get(key);
  if (!hash) decoyHashes.set(key, (hash = hashPassword(crypto.randomUUID(), cost)));
  return hash;
}

function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, email: row.email, role: row.role, createdAt: row.createdAt };
}

/** Throws VALIDATION_FAILED naming each bad field, or returns the parsed value. */
export function parseFields<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) fields[issue.path.join(".") || "input"] ??= issue.message;
  const summary = Object.entries(fields).map(([field, message]) => `${field}: ${message}`).join("; ");
  throw new AppError("VALIDATION_FAILED", summary, { fields });
}

/** A new user's row (fields checked, password hashed), not yet stored: createUser and an accepted invite store it. */
export async function newUserRow(
  input: { email: string; role: string; password: string },
  now: Date,
  cost: PasswordCost,
): Promise<typeof users.$inferSelect> {
  const fields = parseFields(NewUserSchema, input);
  const passwordHash = await hashPassword(fields.password, cost);
  return { id: `user_${randomUUID()}`, email: fields.email, role: fields.role, passwordHash, createdAt: now, updatedAt: now };
}

/** Stores a new user's row; USER_EXISTS if the email is taken (the unique index decides, so a race cannot make two). */
export async function storeNewUser(db: Db, row: typeof users.$inferSelect): Promise<User> {
  const { users } = tables(db);
  try {
    await db.insert(users).values(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError("USER_EXISTS");
    throw err;
  }
  return toUser(row);
}

/** Whether `err` (or what it wraps) is a unique constraint's refusal, in SQLite's words or PostgreSQL's (SQLSTATE 23505). */
function isUniqueViolation(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/UNIQUE constraint failed|violates unique constraint/.test(e.message)) return true;
    if ((e as { errno?: unknown }).errno === "23505") return true;
  }
  return false;
}

/** Creates a user with an argon2id password hash; USER_EXISTS if the email is taken. */
export async function createUser(
  db: Db,
  input: { email: string; role: string; password: string },
  now = new Date(),
  cost: PasswordCost = PASSWORD_COST,
): Promise<User> {
  return storeNewUser(db, await newUserRow(input, now, cost));
}

/** Creates the first admin, only while there are no users at all (checked in the same transaction). */
export async function createFirstAdmin(
  db: Db,
  input: { email: string; password: string },
  now = new Date(),
  cost: PasswordCost = PASSWORD_COST,
): Promise<User> {
  const fields = parseFields(NewUserSchema, { ...input, role: "admin" });
  const passwordHash = await hashPassword(fields.password, cost);
  const row = { id: `user_${randomUUID()}`, email: fields.email, role: "admin" as const, passwordHash, createdAt: now, updatedAt: now };
  await transaction(db, async (tx) => {
    const { users } = tables(tx);
    const [existing] = await tx.select({ n: count() }).from(users);
    if ((existing?.n ?? 0) > 0) throw new AppError("SETUP_DONE");
    await tx.insert(users).values(row);
  });
  return toUser(row);
}

/**
 * The user whose email and password match, or null; takes the same time whether or not the email
 * exists (`cost` must be the one users are hashed at: the decoy is hashed at it).
 */
export async function authenticate(db: Db, email: string, password: string, cost: PasswordCost = PASSWORD_COST): Promise<User | null> {
  const { users } = tables(db);
  const [row] = await db.select().from(users).where(eq(users.email, email.trim().toLowerCase()));
  const ok = await Bun.password.verify(password, row?.passwordHash ?? (await decoy(cost)));
  return row && ok ? toUser(row) : null;
}

/** How many users there are (none: the server offers the setup link). */
export async function countUsers(db: Db): Promise<number> {
  const { users } = tables(db);
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}

/** Every user, by email. */
export async function listUsers(db: Db): Promise<User[]> {
  const { users } = tables(db);
  const rows = await db.select().from(users).orderBy(asc(users.email));
  return rows.map(toUser);
}

/** One user by id, or null. */
export async function getUser(db: Db, id: string): Promise<User | null> {
  const { users } = tables(db);
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row ? toUser(row) : null;
}

/** One user by email (any case, surrounding spaces ignored), or null. */
export async function findUserByEmail(db: Db, email: string): Promise<User | null> {
  const { users } = tables(db);
  const [row] = await db.select().from(users).where(eq(users.email, email.trim().toLowerCase()));
  return row ? toUser(row) : null;
}

async function countAdmins(db: Db): Promise<number> {
  const { users } = tables(db);
  const [row] = await db.select({ n: count() }).from(users).where(eq(users.role, "admin"));
  return row?.n ?? 0;
}

/**
 * Changes a user's role; the last admin cannot be demoted, so the admin is never locked out. A demoted
 * admin's pending invites go with the role, in the same transaction: a link must not grant more than
 * its inviter may still grant.
 */
export async function setRole(db: Db, id: string, role: string, now = new Date()): Promise<User> {
  const parsed = parseFields(RoleSchema, role);
  return transaction(db, async (tx) => {
    const { userInvites, users } = tables(tx);
    const user = await getUser(tx, id);
    if (!user) throw new AppError("USER_NOT_FOUND");
    if (user.role === "admin" && parsed !== "admin" && (await countAdmins(tx)) <= 1) throw new AppError("LAST_ADMIN");
    await tx.update(users).set({ role: parsed, updatedAt: now }).where(eq(users.id, id));
    if (parsed !== "admin") await tx.delete(userInvites).where(eq(userInvites.invitedBy, id));
    return { ...user, role: parsed };
  });
}

/**
 * Removes a user and (by cascade) their sessions; the last admin cannot be removed. Their pending
 * invites are deleted too (the foreign key would only forget the inviter, and the link would still work).
 */
export async function deleteUser(db: Db, id: string): Promise<void> {
  await transaction(db, async (tx) => {
    const { userInvites, users } = tables(tx);
    const user = await getUser(tx, id);
    if (!user) throw new AppError("USER_NOT_FOUND");
    if (user.role === "admin" && (await countAdmins(tx)) <= 1) throw new AppError("LAST_ADMIN");
    await tx.delete(userInvites).where(eq(userInvites.invitedBy, id));
    await tx.delete(users).where(eq(users.id, id));
  });
}

/** Sets a new password and ends every session of the user. */
export async function resetPassword(db: Db, email: string, password: string, now = new Date(), cost: PasswordCost = PASSWORD_COST): Promise<User> {
  parseNewPassword(password);
  const user = await findUserByEmail(db, email);
  if (!user) throw new AppError("USER_NOT_FOUND");
  return setPassword(db, user, password, now, cost);
}

/**
 * Whether `password` is the user's current one. An unknown user id is checked against the decoy hash,
 * so the answer costs the same time either way.
 */
export async function verifyPassword(db: Db, userId: string, password: string, cost: PasswordCost = PASSWORD_COST): Promise<boolean> {
  const { users } = tables(db);
  const [row] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
  const ok = await Bun.password.verify(password, row?.passwordHash ?? (await decoy(cost)));
  return row !== undefined && ok;
}

/**
 * A signed-in user's new password (the caller has checked the current one): the same rule as a new
 * user's, and every session of the user ends with it, so a stolen session does not outlive the change.
 * The caller starts a fresh session for the browser that made the change.
 */
export async function changePassword(db: Db, userId: string, password: string, now = new Date(), cost: PasswordCost = PASSWORD_COST): Promise<User> {
  parseNewPassword(password);
  const user = await getUser(db, userId);
  if (!user) throw new AppError("USER_NOT_FOUND");
  return setPassword(db, user, password, now, cost);
}

/** A new password by the rule of every new user's (VALIDATION_FAILED naming "password" otherwise). */
export function parseNewPassword(password: string): string {
  // Parsed as a named field so the error says "password: …", as createUser's does.
  return parseFields(z.object({ password: PasswordSchema }), { password }).password;
}

async function setPassword(db: Db, user: User, password: string, now: Date, cost: PasswordCost): Promise<User> {
  const passwordHash = await hashPassword(parseNewPassword(password), cost);
  await transaction(db, async (tx) => {
    const { sessions, users } = tables(tx);
    await tx.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, user.id));
    await tx.delete(sessions).where(eq(sessions.userId, user.id));
  });
  return user;
}
