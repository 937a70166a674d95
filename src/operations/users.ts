// User operations: everyone may list users; only admins add, change the role of, or remove them.
import { z } from "zod";
import { createUser, deleteUser, EmailSchema, listUsers, PasswordSchema, RoleSchema, setRole } from "../domain/access/users.ts";
import { defineOperation } from "./registry.ts";
import { UserShape, userOut } from "./shapes.ts";

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
  handler: (ctx) => ({ users: listUsers(ctx.deps.db).map(userOut) }),
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
  handler(ctx, input) {
    const user = setRole(ctx.deps.db, input.id, input.role, ctx.now);
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
  handler(ctx, input) {
    deleteUser(ctx.deps.db, input.id);
    ctx.deps.logger.info("user removed", { user: input.id, by: ctx.caller.user.id });
    return { id: input.id, deleted: true as const };
  },
});
