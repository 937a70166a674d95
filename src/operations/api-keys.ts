// API key operations: create, list, get, update, rotate, delete. Members manage only their own keys;
// admins manage everyone's; a key manages only keys within its own powers (domain/access/key-policy.ts).
// No operation ever returns a stored hash; a token is returned only once.
import { z } from "zod";
import {
  createApiKey,
  deleteApiKey,
  getApiKey,
  listApiKeys,
  rotateApiKey,
  updateApiKey,
  type ApiKey,
} from "../domain/access/api-keys.ts";
import { assertTargetWithinKey, expiryWithinKey } from "../domain/access/key-policy.ts";
import { checkPermissions, PermissionsSchema, roleCeiling, type Permissions } from "../domain/access/permissions.ts";
import { getUser } from "../domain/access/users.ts";
import { singleLine } from "../domain/text.ts";
import { AppError } from "../errors.ts";
import { defineOperation, type OperationContext } from "./registry.ts";
import { ApiKeyShape, apiKeyOut, durationField, TimestampInput } from "./shapes.ts";

const TEN_YEARS = 3650 * 86_400_000;
const MAX_GRACE = 7 * 86_400_000;

const KeyId = z.string().regex(/^key_[0-9a-f-]{36}$/, { error: "expected an API key id (key_<uuid>)" }).describe("The key's id, key_<uuid>");
const Name = singleLine(z.string().trim().min(1, { error: "expected a name" }).max(100, { error: "expected at most 100 characters" }));
const ExpiresIn = durationField('Lifetime from now, e.g. "30d" or "12h" (at most 3650 days)', { maxMs: TEN_YEARS });
const ExpiresAt = TimestampInput.describe("When the key stops working (ISO 8601, in the future)");

/** What every key-changing tool tells a model about the rule it is bound by. */
const KEY_RULE =
  "When called with an API key, the target key's permissions (before and after) must be within the calling key's, " +
  "and no key may expire later than the calling key (nor lengthen or remove its own expiry); otherwise FORBIDDEN.";

const KeyWithToken = z.object({
  key: ApiKeyShape,
  token: z.string().describe("The secret token (mcp_key_…). Shown only now: store it safely. Send it as Authorization: Bearer <token>"),
});

/** The key if the caller may manage it; someone else's key reads as missing to a member. */
async function manageableKey(ctx: OperationContext, id: string): Promise<ApiKey> {
  const key = await getApiKey(ctx.deps.db, id, ctx.now);
  if (!key || (ctx.caller.user.role !== "admin" && key.ownerId !== ctx.caller.user.id)) throw new AppError("API_KEY_NOT_FOUND");
  return key;
}

/** How checkPermissions words an entry beyond the ceiling. */
const EXCEEDS = " is more than ";

/**
 * Refuses permissions that name unknown things or exceed what the caller may hand out: a session
 * grants at most its role; a key grants at most its own (effective) permissions.
 */
async function assertGrantable(ctx: OperationContext, permissions: Permissions, ownerRole: "admin" | "member"): Promise<void> {
  const byKey = ctx.caller.key !== null;
  // Whether each named connection or agent exists is read first: the check itself is a pure function.
  const named = Object.keys(permissions);
  const found = await Promise.all(named.map((resource) => ctx.deps.resourceExists(resource)));
  const existing = new Set(named.filter((_, i) => found[i]));
  const problems = [
    ...checkPermissions(permissions, {
      catalog: ctx.deps.catalog,
      resourceExists: (resource) => existing.has(resource),
      ceiling: byKey ? ctx.caller.permissions : roleCeiling(ctx.caller.user.role, ctx.deps.catalog),
      ceilingLabel: byKey ? "the calling key" : `a ${ctx.caller.user.role}`,
    }),
    // The key's owner caps it too (an admin minting for a member).
    ...checkPermissions(permissions, {
      catalog: ctx.deps.catalog,
      resourceExists: () => true,
      ceiling: roleCeiling(ownerRole, ctx.deps.catalog),
      ceilingLabel: `the owner (a ${ownerRole})`,
    }).filter((p) => p.includes(EXCEEDS)),
  ];
  const unique = [...new Set(problems)];
  if (unique.length === 0) return;
  const fields = Object.fromEntries(unique.map((p) => [`permissions.${p.slice(0, p.indexOf(":"))}`, p]));
  // Naming what does not exist is bad input (400); asking for more than the caller holds is a
  // refusal of power (403), named by the rule it breaks.
  if (unique.some((p) => !p.includes(EXCEEDS))) throw new AppError("INVALID_PERMISSIONS", `Invalid permissions: ${unique.join("; ")}`, { fields });
  const rule = byKey ? "A key may only grant permissions within its own and its owner's role" : "A key may only hold what you may grant and what its owner's role allows";
  throw new AppError("FORBIDDEN", `${rule}: ${unique.join("; ")}`, { fields });
}

function expiryFrom(ctx: OperationContext, input: { expires_in?: number; expires_at?: string | null }): Date | null | undefined {
  if (input.expires_in !== undefined && input.expires_at !== undefined) {
    throw new AppError("VALIDATION_FAILED", "Give expires_in or expires_at, not both.", { fields: { expires_at: "give expires_in or expires_at, not both" } });
  }
  if (input.expires_in !== undefined) return new Date(ctx.now.getTime() + input.expires_in);
  if (input.expires_at === undefined || input.expires_at === null) return input.expires_at;
  const at = new Date(input.expires_at);
  if (at.getTime() <= ctx.now.getTime()) throw new AppError("VALIDATION_FAILED", "expires_at: expected a time in the future", { fields: { expires_at: "expected a time in the future" } });
  return at;
}

export const apiKeyCreate = defineOperation({
  name: "API_KEY_CREATE",
  title: "Create an API key",
  description:
    "Create an API key for scripts and MCP clients. Give it a name and permissions ({resource: [actions]}: " +
    '"self" → management tool names or "*", "conn_<uuid>"/"agent_<uuid>" → tool names or "*", "*" → any connection). ' +
    "A key never gets more than its creator may grant. " +
    KEY_RULE +
    " When the calling key expires and no expiry is given, the new key expires with it. " +
    "Returns the key record and the token, which is shown only this once.",
  input: z.object({
    name: Name.describe("What the key is for, e.g. \"CI deploy bot\""),
    permissions: PermissionsSchema,
    expires_in: ExpiresIn.optional(),
    expires_at: ExpiresAt.optional(),
    owner_id: z.string().optional().describe("Admins only: create the key for this user (user_<uuid>); defaults to the caller"),
  }),
  output: KeyWithToken,
  forMembers: true,
  audience: "everyone (own keys; admins may set `owner_id`)",
  readOnly: false,
  rest: { method: "POST", path: "/keys", successStatus: 201 },
  async handler(ctx, input) {
    let owner = ctx.caller.user;
    if (input.owner_id !== undefined && input.owner_id !== owner.id) {
      if (ctx.caller.user.role !== "admin") throw new AppError("FORBIDDEN", "Only admins may create keys for other users.");
      const found = await getUser(ctx.deps.db, input.owner_id);
      if (!found) throw new AppError("VALIDATION_FAILED", "owner_id: no such user", { fields: { owner_id: "no such user" } });
      owner = found;
    }
    await assertGrantable(ctx, input.permissions, owner.role);
    const { key, token } = await createApiKey(ctx.deps.db, {
      hmacKey: ctx.deps.keys.tokenHmac,
      name: input.name,
      ownerId: owner.id,
      permissions: input.permissions,
      expiresAt: expiryWithinKey(ctx.caller.key, expiryFrom(ctx, input), { action: "create" }) ?? null,
      now: ctx.now,
    });
    ctx.deps.logger.info("api key created", { key: key.id, owner: owner.id, by: ctx.caller.user.id });
    return { key: apiKeyOut(key), token };
  },
});

export const apiKeyList = defineOperation({
  name: "API_KEY_LIST",
  title: "List API keys",
  description:
    "List API keys, newest first: name, token prefix, owner, permissions, created, last used, expiry. " +
    "Members see their own keys; admins see everyone's (narrow with owner_id). Never returns tokens or hashes.",
  input: z.object({ owner_id: z.string().optional().describe("Only keys of this user (user_<uuid>)") }),
  output: z.object({ keys: z.array(ApiKeyShape) }),
  forMembers: true,
  audience: "everyone (members: own keys)",
  readOnly: true,
  rest: { method: "GET", path: "/keys" },
  async handler(ctx, input) {
    const ownerId = ctx.caller.user.role === "admin" ? input.owner_id : ctx.caller.user.id;
    return { keys: (await listApiKeys(ctx.deps.db, { ownerId, now: ctx.now })).map(apiKeyOut) };
  },
});

export const apiKeyGet = defineOperation({
  name: "API_KEY_GET",
  title: "Get an API key",
  description: "Get one API key's record by id (key_<uuid>): name, prefix, owner, permissions and timestamps. Never the token.",
  input: z.object({ id: KeyId }),
  output: ApiKeyShape,
  forMembers: true,
  audience: "everyone (members: own keys)",
  readOnly: true,
  rest: { method: "GET", path: "/keys/:id" },
  handler: async (ctx, input) => apiKeyOut(await manageableKey(ctx, input.id)),
});

export const apiKeyUpdate = defineOperation({
  name: "API_KEY_UPDATE",
  title: "Update an API key",
  description:
    "Change an API key's name, permissions (replaced whole) or expiry (expires_in, expires_at, or expires_at: null for never). " +
    "The token stays the same; new permissions apply from the next request. " +
    KEY_RULE,
  input: z.object({
    id: KeyId,
    name: Name.optional(),
    permissions: PermissionsSchema.optional(),
    expires_in: ExpiresIn.optional(),
    expires_at: ExpiresAt.nullable().optional(),
  }),
  output: ApiKeyShape,
  forMembers: true,
  audience: "everyone (members: own keys)",
  readOnly: false,
  rest: { method: "PATCH", path: "/keys/:id" },
  async handler(ctx, input) {
    const key = await manageableKey(ctx, input.id);
    assertTargetWithinKey(ctx.caller.key, key, "update");
    const expiresAt = expiryWithinKey(ctx.caller.key, expiryFrom(ctx, input), { action: "update", targetId: key.id });
    if (input.permissions !== undefined) {
      const owner = await getUser(ctx.deps.db, key.ownerId);
      await assertGrantable(ctx, input.permissions, owner?.role ?? "member");
    }
    const updated = await updateApiKey(ctx.deps.db, key.id, { name: input.name, permissions: input.permissions, expiresAt }, ctx.now);
    ctx.deps.logger.info("api key updated", { key: key.id, by: ctx.caller.user.id });
    return apiKeyOut(updated);
  },
});

export const apiKeyRotate = defineOperation({
  name: "API_KEY_ROTATE",
  title: "Rotate an API key",
  description:
    "Issue a new token for an API key, keeping its name and permissions. The old token stops at once, or after " +
    'grace_period (e.g. "1h", at most 7 days) so running jobs can switch. Returns the new token, shown only this once. ' +
    KEY_RULE,
  input: z.object({
    id: KeyId,
    grace_period: durationField('How long the old token keeps working, e.g. "1h", at most 7 days (default: stops at once)', { maxMs: MAX_GRACE }).optional(),
  }),
  output: KeyWithToken,
  forMembers: true,
  audience: "everyone (members: own keys)",
  readOnly: false,
  rest: { method: "POST", path: "/keys/:id/rotate" },
  async handler(ctx, input) {
    const key = await manageableKey(ctx, input.id);
    assertTargetWithinKey(ctx.caller.key, key, "rotate");
    const rotated = await rotateApiKey(ctx.deps.db, { hmacKey: ctx.deps.keys.tokenHmac, id: key.id, graceMs: input.grace_period ?? 0, now: ctx.now });
    ctx.deps.logger.info("api key rotated", { key: key.id, by: ctx.caller.user.id });
    return { key: apiKeyOut(rotated.key), token: rotated.token };
  },
});

export const apiKeyDelete = defineOperation({
  name: "API_KEY_DELETE",
  title: "Revoke an API key",
  description:
    "Revoke (delete) an API key by id. Its token, and any rotated-out token still in grace, stop working on the very next request. " +
    "When called with an API key, the target key's permissions must be within the calling key's; otherwise FORBIDDEN.",
  input: z.object({ id: KeyId }),
  output: z.object({ id: z.string(), deleted: z.literal(true) }),
  forMembers: true,
  audience: "everyone (members: own keys)",
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/keys/:id" },
  async handler(ctx, input) {
    const key = await manageableKey(ctx, input.id);
    assertTargetWithinKey(ctx.caller.key, key, "delete");
    await deleteApiKey(ctx.deps.db, key.id);
    ctx.deps.logger.info("api key revoked", { key: key.id, by: ctx.caller.user.id });
    return { id: key.id, deleted: true as const };
  },
});
