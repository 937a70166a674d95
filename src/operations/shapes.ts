// Schemas shared by several operations: ids, timestamps, and the public shapes of users and keys.
import { z } from "zod";
import type { ApiKey } from "../domain/access/api-keys.ts";
import { StoredPermissionsSchema } from "../domain/access/permissions.ts";
import type { User } from "../domain/access/users.ts";
import { parseDuration } from "../config/units.ts";

/** A time the server reports, ISO 8601 in UTC (a plain string in schemas: we produce it, nobody parses it). */
export const Timestamp = z.string().meta({ format: "date-time" }).describe("ISO 8601 time (UTC)");

/** A time a caller gives: any ISO 8601 date-time with an offset or Z. */
export const TimestampInput = z
  .string()
  .refine((text) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text)), {
    error: 'expected an ISO 8601 date-time such as "2027-01-31T12:00:00Z"',
  })
  .meta({ format: "date-time" });

export const UserShape = z.object({
  id: z.string().describe("user_<uuid>"),
  email: z.string(),
  role: z.enum(["admin", "member"]),
  created_at: Timestamp,
});

export type UserView = z.output<typeof UserShape>;

export function userOut(user: User): z.input<typeof UserShape> {
  return { id: user.id, email: user.email, role: user.role, created_at: user.createdAt.toISOString() };
}

export const ApiKeyShape = z.object({
  id: z.string().describe("key_<uuid>"),
  name: z.string(),
  prefix: z.string().describe("The first characters of the token, to recognise it; the token itself is never shown again"),
  owner: z.object({ id: z.string(), email: z.string() }),
  permissions: StoredPermissionsSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
  last_used_at: Timestamp.nullable(),
  expires_at: Timestamp.nullable().describe("When the key stops working; null for never"),
  previous_token_expires_at: Timestamp.nullable().describe("After a rotation with a grace period: when the old token stops"),
});

export function apiKeyOut(key: ApiKey): z.input<typeof ApiKeyShape> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    owner: { id: key.ownerId, email: key.ownerEmail },
    permissions: key.permissions,
    created_at: key.createdAt.toISOString(),
    updated_at: key.updatedAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    expires_at: key.expiresAt?.toISOString() ?? null,
    previous_token_expires_at: key.previousTokenExpiresAt?.toISOString() ?? null,
  };
}

/** A duration such as "30d" or "12h", in milliseconds. */
export function durationField(description: string, options: { maxMs: number }) {
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) ctx.addIssue({ code: "custom", message: `expected a duration such as "30d" or "12h", got ${JSON.stringify(text)}` });
      else if (ms > options.maxMs) ctx.addIssue({ code: "custom", message: `expected at most ${Math.round(options.maxMs / 86_400_000)} days` });
      return ms ?? 0;
    })
    .describe(description);
}
