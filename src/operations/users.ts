// User operations: everyone may list users; only admins add, invite, change the role of, or remove them.
import { z } from "zod";
import { createInvite, listInvites, revokeInvite, type Invite } from "../domain/access/invites.ts";
import { createUser, deleteUser, EmailSchema, listUsers, PasswordSchema, RoleSchema, setRole } from "../domain/access/users.ts";
import { defineOperation, HOST_USER } from "./registry.ts";
import { Timestamp, UserShape, userOut } from "./shapes.ts";

const UserId = z.string().regex(/^user_[0-9a-f-]{36}$/, { error: "expected a user id (user_<uuid>)" }).describe("The user's id, user_<uuid>");

export const userList = defineOperation({
  name: "USER_LIST",
  title: "List users",
  description: "List the people who can sign in to this Switchboard's admin: id, email, role (admin or member), created.",
  input: z.object({}),
  output: z.object({ users: z.array(UserShape) }),
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/users" },
  handler: async (ctx) => ({ users: (await listUsers(ctx.deps.db)).map(userOut) }),
});

export const userCreate = defineOperation({
  name: "USER_CREATE",
  title: "Add a user",
  description: "Admins only. Add a person who signs in to the admin with this email and password (at least 10 characters), as admin or member.",
  input: z.object({ email: EmailSchema, role: RoleSchema, password: PasswordSchema }),
  output: UserShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "POST", path: "/users", successStatus: 201 },
  async handler(ctx, input) {
    const user = await createUser(ctx.deps.db, input, ctx.now, ctx.deps.passwordCost);
    ctx.deps.logger.info("user created", { user: user.id, by: ctx.caller.user.id });
    return userOut(user);
  },
});

export const userUpdate = defineOperation({
  name: "USER_UPDATE",
  title: "Change a user's role",
  description:
    "Admins only. Make a user an admin or a member. The last admin cannot be demoted. A demoted user's API keys lose admin powers at once.",
  input: z.object({ id: UserId, role: RoleSchema }),
  output: UserShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "PATCH", path: "/users/:id" },
  async handler(ctx, input) {
    const user = await setRole(ctx.deps.db, input.id, input.role, ctx.now);
    ctx.deps.logger.info("user role changed", { user: user.id, role: user.role, by: ctx.caller.user.id });
    return userOut(user);
  },
});

export const userDelete = defineOperation({
  name: "USER_DELETE",
  title: "Remove a user",
  description: "Admins only. Remove a user; their sessions end and their API keys stop working at once. The last admin cannot be removed.",
  input: z.object({ id: UserId }),
  output: z.object({ id: z.string(), deleted: z.literal(true) }),
  forMembers: false,
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/users/:id" },
  async handler(ctx, input) {
    await deleteUser(ctx.deps.db, input.id);
    ctx.deps.logger.info("user removed", { user: input.id, by: ctx.caller.user.id });
    return { id: input.id, deleted: true as const };
  },
});

const InviteId = z.string().regex(/^invite_[0-9a-f-]{36}$/, { error: "expected an invite id (invite_<uuid>)" }).describe("The invite's id, invite_<uuid>");

/** An invite as every face shows it: never its token or the token's hash. */
export const InviteShape = z.object({
  id: z.string().describe("invite_<uuid>"),
  email: z.string(),
  role: z.enum(["admin", "member"]),
  invited_by: z.object({ id: z.string(), email: z.string() }).nullable().describe("The admin who invited (null when they are gone)"),
  created_at: Timestamp,
  expires_at: Timestamp.describe("When the link stops working"),
});

export type InviteView = z.output<typeof InviteShape>;

function inviteOut(invite: Invite): z.input<typeof InviteShape> {
  return {
    id: invite.id,
    email: invite.email,
    role: invite.role,
    invited_by: invite.invitedBy,
    created_at: invite.createdAt.toISOString(),
    expires_at: invite.expiresAt.toISOString(),
  };
}

export const userInviteCreate = defineOperation({
  name: "USER_INVITE_CREATE",
  title: "Invite a user",
  description:
    "Admins only. Invite a person by email as admin or member: returns a one-time link (valid 7 days) where they set their own " +
    "password and are signed in. The link is returned this once and never again; send it to them. A new invite for the same " +
    "email replaces the earlier one; an email that already has a user is refused.",
  input: z.object({ email: EmailSchema, role: RoleSchema }),
  output: z.object({ invite: InviteShape, url: z.string().describe("The one-time link: <public_url>/admin/invite/<token>") }),
  forMembers: false,
  readOnly: false,
  rest: { method: "POST", path: "/users/invites", successStatus: 201 },
  async handler(ctx, input) {
    // The host CLI is no row of the users table: its invites name no inviter.
    const invitedBy = ctx.caller.user.id === HOST_USER.id ? null : ctx.caller.user.id;
    const { invite, token } = await createInvite(ctx.deps.db, ctx.deps.keys.tokenHmac, input, { invitedBy, now: ctx.now });
    ctx.deps.logger.info("user invited", { invite: invite.id, role: invite.role, by: ctx.caller.user.id });
    return { invite: inviteOut(invite), url: `${ctx.deps.config.server.public_url}/admin/invite/${token}` };
  },
});

export const userInviteList = defineOperation({
  name: "USER_INVITE_LIST",
  title: "List pending invites",
  description: "Admins only. The invites not yet accepted and not expired: email, role, who invited, when the link expires. Never the links themselves.",
  input: z.object({}),
  output: z.object({ invites: z.array(InviteShape) }),
  forMembers: false,
  readOnly: true,
  rest: { method: "GET", path: "/users/invites" },
  handler: async (ctx) => ({ invites: (await listInvites(ctx.deps.db, ctx.now)).map(inviteOut) }),
});

export const userInviteRevoke = defineOperation({
  name: "USER_INVITE_REVOKE",
  title: "Revoke an invite",
  description: "Admins only. Revoke a pending invite: its link stops working at once.",
  input: z.object({ id: InviteId }),
  output: z.object({ id: z.string(), email: z.string(), revoked: z.literal(true) }),
  forMembers: false,
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/users/invites/:id" },
  async handler(ctx, input) {
    const gone = await revokeInvite(ctx.deps.db, input.id);
    ctx.deps.logger.info("invite revoked", { invite: gone.id, by: ctx.caller.user.id });
    return { ...gone, revoked: true as const };
  },
});
