// WHOAMI: who the caller is and what it may do, so a script can check its key before relying on it.
import { z } from "zod";
import { StoredPermissionsSchema } from "../domain/access/permissions.ts";
import { defineOperation } from "./registry.ts";
import { UserShape, userOut } from "./shapes.ts";

export const whoami = defineOperation({
  name: "WHOAMI",
  title: "Who am I",
  description:
    "Tell who is calling and what it may do: the user behind the credential, the API key used (if any), " +
    "the permissions in force now (narrowed to the owner's role), and the management tools it may call.",
  input: z.object({}),
  output: z.object({
    user: UserShape,
    key: z
      .object({ id: z.string(), kind: z.enum(["api_key", "oauth"]).describe('"api_key", or "oauth" for an OAuth access token (id is then its grant)') })
      .nullable()
      .describe("The credential used; null for a signed-in admin session"),
    permissions: StoredPermissionsSchema.describe("The permissions in force for this call"),
    management_tools: z.array(z.string()).describe("The management tools this caller may call"),
  }),
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/whoami" },
  handler(ctx) {
    const self = ctx.caller.permissions.self ?? [];
    const tools = ctx.deps.catalog.all.filter((name) => self.includes("*") || self.includes(name));
    return { user: userOut(ctx.caller.user), key: ctx.caller.key && { id: ctx.caller.key.id, kind: ctx.caller.key.kind }, permissions: ctx.caller.permissions, management_tools: tools };
  },
});
