// AUDIT_LIST: the audit log of changes through every face (admin, MCP, REST, CLI, the config at start),
// newest first. Admins read every row; a member only the rows they made, whatever filter they pass.
import { z } from "zod";
import { getApiKey } from "../domain/access/api-keys.ts";
import { listUsers } from "../domain/access/users.ts";
import { getGrant } from "../domain/oauth/authorizations.ts";
import { listAudit, type AuditFilter, type AuditRow } from "../domain/monitoring/audit.ts";
import { FACES, RANGE_NAMES, RANGES } from "../domain/monitoring/types.ts";
import { defineOperation, type OperationContext, type OperationDeps } from "./registry.ts";
import { Timestamp, TimestampInput } from "./shapes.ts";

/** At most this many rows per page. */
export const AUDIT_PAGE_MAX = 500;

const FilterText = (what: string) => z.string().trim().min(1).max(200).optional().describe(what);

export const AuditListInput = z
  .object({
    range: z.enum(RANGE_NAMES).optional().describe("Only rows of the last hour, day, 7 or 30 days (instead of from/to)"),
    from: TimestampInput.optional().describe("Only rows at or after this time (ISO 8601)"),
    to: TimestampInput.optional().describe("Only rows before this time (ISO 8601)"),
    user_id: FilterText("Only changes made by this user (user_<uuid>); members always see only their own"),
    credential_id: FilterText("Only changes made with this API key (key_<uuid>) or OAuth grant (grant_<uuid>)"),
    action: FilterText('Only this action: an operation name ("CONNECTION_CREATE") or an event ("SIGN_IN", "OAUTH_APPROVE")'),
    target_id: FilterText("Only changes to this connection, agent, key, user, grant or client id"),
    face: z.enum(FACES).optional().describe("Only changes through this face: mcp, api, admin, cli or config"),
    cursor: z.string().max(500).optional().describe("next_cursor of the previous page, for older rows"),
    limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(50).describe(`Rows per page, 1-${AUDIT_PAGE_MAX} (default 50)`),
  })
  .refine((input) => input.range === undefined || (input.from === undefined && input.to === undefined), {
    error: "give either range or from/to, not both",
    path: ["range"],
  });

const ActorShape = z.object({
  user_id: z.string().nullable().describe("The user who made the change; null for the host's CLI and the config file"),
  user_email: z.string().nullable().describe("That user's email, if the user still exists"),
  credential_kind: z.enum(["api_key", "oauth", "session", "host", "config"]).describe("api_key, oauth (a grant), session (the admin), host (the CLI) or config"),
  credential_id: z.string().nullable().describe("The API key or OAuth grant id; null otherwise"),
});

export const AuditRowShape = z.object({
  id: z.string(),
  at: Timestamp,
  face: z.enum(FACES),
  actor: ActorShape,
  action: z.string(),
  target_id: z.string().nullable(),
  target_exists: z.boolean().nullable().describe("Whether the target still exists; null when not told (no target, or a change that was not made)"),
  address: z.string().nullable().describe("The client's address; null for the CLI and the config"),
  outcome: z.enum(["ok", "refused", "error"]),
  change: z.unknown().describe("What was asked for (an operation's input, a config entry), every secret value masked"),
});

export type AuditRowView = z.output<typeof AuditRowShape>;

/**
 * Whether a row's target still exists. Told only for a change that was made: a refused or failed one
 * names whatever id the caller typed, and its existence is not theirs to learn from the log.
 */
async function targetExists(deps: OperationDeps, row: AuditRow, emails: ReadonlyMap<string, string>): Promise<boolean | null> {
  const id = row.targetId;
  if (id === null || row.outcome !== "ok") return null;
  if (id.startsWith("conn_") || id.startsWith("agent_")) return deps.resourceExists(id);
  if (id.startsWith("user_")) return emails.has(id);
  if (id.startsWith("key_")) return (await getApiKey(deps.db, id)) !== null;
  if (id.startsWith("grant_")) return (await getGrant(deps.db, id)) !== null;
  return null;
}

async function auditRowOut(deps: OperationDeps, row: AuditRow, emails: ReadonlyMap<string, string>): Promise<z.input<typeof AuditRowShape>> {
  return {
    id: row.id,
    at: row.at.toISOString(),
    face: row.face,
    actor: {
      user_id: row.actor.userId,
      user_email: row.actor.userId === null ? null : (emails.get(row.actor.userId) ?? null),
      credential_kind: row.actor.credentialKind,
      credential_id: row.actor.credentialId,
    },
    action: row.action,
    target_id: row.targetId,
    target_exists: await targetExists(deps, row, emails),
    address: row.address,
    outcome: row.outcome,
    change: row.change ?? null,
  };
}

/** The filter a caller gets: theirs, and for a member always narrowed to themselves. */
export function auditFilterFor(ctx: Pick<OperationContext, "caller" | "now">, input: z.output<typeof AuditListInput>): AuditFilter {
  // A member reads only their own rows (their session's, their keys', their grants'), whatever they ask for.
  const userId = ctx.caller.user.role === "admin" ? input.user_id : ctx.caller.user.id;
  const from = input.range ? new Date(ctx.now.getTime() - RANGES[input.range]) : input.from ? new Date(input.from) : undefined;
  const to = input.range ? undefined : input.to ? new Date(input.to) : undefined;
  return { from, to, userId, credentialId: input.credential_id, action: input.action, targetId: input.target_id, face: input.face };
}

export const auditList = defineOperation({
  name: "AUDIT_LIST",
  title: "List the audit log",
  description:
    "List changes made to this Switchboard through any face (admin, MCP, REST, CLI, the config file at start), newest first: " +
    "when, who (user, API key or OAuth grant, the host's CLI), through which face and from which address, the action (an " +
    "operation name or an event such as SIGN_IN or OAUTH_APPROVE), its target id, the outcome (ok, refused, error) and the " +
    "change itself with every secret masked. Filter by range or from/to, user_id, credential_id, action, target_id, face; " +
    "page with next_cursor. Members see only their own changes; admins everyone's.",
  input: AuditListInput,
  output: z.object({
    rows: z.array(AuditRowShape),
    next_cursor: z.string().nullable().describe("Pass as cursor for the next (older) page; null at the end"),
  }),
  forMembers: true,
  audience: "everyone (members: own changes)",
  readOnly: true,
  rest: { method: "GET", path: "/audit" },
  async handler(ctx, input) {
    const page = await listAudit(ctx.deps.db, auditFilterFor(ctx, input), { cursor: input.cursor ?? null, limit: input.limit });
    const emails = new Map((await listUsers(ctx.deps.db)).map((u) => [u.id, u.email]));
    return { rows: await Promise.all(page.rows.map((row) => auditRowOut(ctx.deps, row, emails))), next_cursor: page.nextCursor };
  },
});
