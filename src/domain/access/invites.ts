// Invitations to become a user: a one-time link whose token (the shared format of token-format.ts) is
// stored only as an HMAC, valid 7 days, one per email. Accepting spends the link and creates the user in
// one transaction, so two acceptances at once make one user; revoking deletes it.
import { randomUUID } from "node:crypto";
import { asc, eq, gt, lte } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../db/client.ts";
import type { userInvites } from "../../db/schema.ts";
import { tables, transaction } from "../../db/store.ts";
import { AppError } from "../../errors.ts";
import { generateToken, hmacToken, isWellFormedToken } from "./token-format.ts";
import { EmailSchema, newUserRow, parseFields, PASSWORD_COST, RoleSchema, storeNewUser, type PasswordCost, type Role, type User } from "./users.ts";

/** The prefix of invite tokens, so a pasted link is recognisable (and scanners can find a leaked one). */
export const INVITE_TOKEN_PREFIX = "sb_invite_";
// A label of its own, so an invite's hash can never be looked up as another kind of token's.
const HASH_LABEL = "user-invite:";
/** How long an invite link works. */
export const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export type Invite = {
  id: string;
  email: string;
  role: Role;
  /** Who invited (null when that user is gone, or it was the host CLI). */
  invitedBy: { id: string; email: string } | null;
  createdAt: Date;
  expiresAt: Date;
};

const NewInviteSchema = z.object({ email: EmailSchema, role: RoleSchema });

function selection(db: Db) {
  const { userInvites, users } = tables(db);
  return { invite: userInvites, inviterEmail: users.email, inviterRole: users.role };
}

function toInvite(row: { invite: typeof userInvites.$inferSelect; inviterEmail: string | null; inviterRole?: Role | null }): Invite {
  const i = row.invite;
  const invitedBy = i.invitedBy !== null && row.inviterEmail !== null ? { id: i.invitedBy, email: row.inviterEmail } : null;
  return { id: i.id, email: i.email, role: i.role, invitedBy, createdAt: i.createdAt, expiresAt: i.expiresAt };
}

function hashOf(hmacKey: Buffer, token: string): string {
  return hmacToken(hmacKey, HASH_LABEL, token);
}

/** The live invite a token names, read inside `db` (a transaction or not); null for any other token. */
async function liveInvite(db: Db, hmacKey: Buffer, token: string, now: Date): Promise<Invite | null> {
  // A malformed token (a typo, a guess) fails before any lookup.
  if (!isWellFormedToken(INVITE_TOKEN_PREFIX, token)) return null;
  const { userInvites, users } = tables(db);
  const [row] = await db
    .select(selection(db))
    .from(userInvites)
    .leftJoin(users, eq(users.id, userInvites.invitedBy))
    .where(eq(userInvites.tokenHash, hashOf(hmacKey, token)));
  if (!row || row.invite.expiresAt.getTime() <= now.getTime()) return null;
  // An invite is only as good as its inviter: one whose inviter is gone or no longer an admin is dead
  // (removing or demoting deletes them too; this covers a row that outlived that). The host CLI's
  // invites have no inviter and stay valid.
  if (row.invite.invitedBy !== null && row.inviterRole !== "admin") return null;
  return toInvite(row);
}

/**
 * Invites `email` as `role`: returns the invite and its token (never stored, never shown again). An
 * email that already has a user is refused (USER_EXISTS); an earlier invite for the same email is
 * replaced, so only the newest link works. Expired invites are pruned on the way.
 */
export async function createInvite(
  db: Db,
  hmacKey: Buffer,
  input: { email: string; role: string },
  options: { invitedBy: string | null; now?: Date; ttlMs?: number },
): Promise<{ invite: Invite; token: string }> {
  const fields = parseFields(NewInviteSchema, input);
  const now = options.now ?? new Date();
  const token = generateToken(INVITE_TOKEN_PREFIX);
  const row = {
    id: `invite_${randomUUID()}`,
    tokenHash: hashOf(hmacKey, token),
    email: fields.email,
    role: fields.role,
    invitedBy: options.invitedBy,
    createdAt: now,
    expiresAt: new Date(now.getTime() + (options.ttlMs ?? INVITE_TTL_MS)),
  };
  await transaction(db, async (tx) => {
    const { userInvites, users } = tables(tx);
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, fields.email));
    if (taken) throw new AppError("USER_EXISTS");
    await tx.delete(userInvites).where(lte(userInvites.expiresAt, now));
    await tx.delete(userInvites).where(eq(userInvites.email, fields.email));
    await tx.insert(userInvites).values(row);
  });
  const { users } = tables(db);
  const [inviter] = options.invitedBy === null ? [] : await db.select({ email: users.email }).from(users).where(eq(users.id, options.invitedBy));
  return { invite: toInvite({ invite: row, inviterEmail: inviter?.email ?? null }), token };
}

/** The invites still waiting to be accepted (not expired), by email. */
export async function listInvites(db: Db, now = new Date()): Promise<Invite[]> {
  const { userInvites, users } = tables(db);
  const rows = await db
    .select(selection(db))
    .from(userInvites)
    .leftJoin(users, eq(users.id, userInvites.invitedBy))
    .where(gt(userInvites.expiresAt, now))
    .orderBy(asc(userInvites.email));
  return rows.map(toInvite);
}

/** Revokes an invite: its link stops working at once. INVITE_NOT_FOUND when there is no such invite. */
export async function revokeInvite(db: Db, id: string): Promise<{ id: string; email: string }> {
  const { userInvites } = tables(db);
  const [gone] = await db.delete(userInvites).where(eq(userInvites.id, id)).returning({ id: userInvites.id, email: userInvites.email });
  if (!gone) throw new AppError("INVITE_NOT_FOUND");
  return gone;
}

/** The invite a link's token names while it may still be accepted, or null (unknown, malformed, used, revoked or expired alike). */
export function findInvite(db: Db, hmacKey: Buffer, token: string, now = new Date()): Promise<Invite | null> {
  return liveInvite(db, hmacKey, token, now);
}

/**
 * Accepts an invite: creates its user with `password` (the rule of every new user) and spends the link,
 * in one transaction, so of two acceptances at once exactly one creates a user and the other
 * finds the link spent (INVITE_INVALID). A link that is unknown, used, revoked or expired is
 * INVITE_INVALID, one error for all four; an email taken since the invite is USER_EXISTS (nothing spent).
 */
export async function acceptInvite(
  db: Db,
  hmacKey: Buffer,
  input: { token: string; password: string },
  now = new Date(),
  cost: PasswordCost = PASSWORD_COST,
): Promise<User> {
  const invite = await liveInvite(db, hmacKey, input.token, now);
  if (!invite) throw new AppError("INVITE_INVALID");
  // argon2 runs outside the transaction (it is slow and asynchronous); the link is checked again inside.
  const row = await newUserRow({ email: invite.email, role: invite.role, password: input.password }, now, cost);
  return transaction(db, async (tx) => {
    const { userInvites } = tables(tx);
    // The conditional delete is the check: of two acceptances (on any replica) one gets the row back.
    const [spent] = await tx.delete(userInvites).where(eq(userInvites.tokenHash, hashOf(hmacKey, input.token))).returning({ id: userInvites.id, expiresAt: userInvites.expiresAt });
    if (!spent || spent.id !== invite.id || spent.expiresAt.getTime() <= now.getTime()) throw new AppError("INVITE_INVALID");
    return storeNewUser(tx, row);
  });
}
