// The operation registry: each management operation defined once (name, description, zod input and
// output, who may use it, REST route, handler) and served as MCP tools at /mcp/self, as REST under
// /api/v1, and to the admin's handlers, all through runOperation.
import { z } from "zod";
import type { Config } from "../config/load.ts";
import type { Db } from "../db/client.ts";
import { mayUseManagementTool, roleCeiling, type ManagementCatalog } from "../domain/access/permissions.ts";
import type { Caller } from "../domain/access/caller.ts";
import { callerActor } from "../domain/monitoring/actor.ts";
import { maskSecrets } from "../domain/monitoring/mask.ts";
import type { Actor, AuditSink, Face, Outcome, UsageSink } from "../domain/monitoring/types.ts";
import { parseFields, type PasswordCost, type User } from "../domain/access/users.ts";
import { AppError } from "../errors.ts";
import type { ManagedGateway } from "../gateway/types.ts";
import type { UpstreamAuthorizer } from "../gateway/upstream/oauth/types.ts";
import type { Logger } from "../logger.ts";
import type { ServerKeys } from "../security/keys.ts";

/** What operation handlers may use. */
export type OperationDeps = {
  db: Db;
  keys: ServerKeys;
  config: Config;
  /** The argon2id cost of password hashes: the production one when absent; only tests pass another. */
  passwordCost?: PasswordCost;
  logger: Logger;
  catalog: ManagementCatalog;
  /** Whether a connection or agent id names something that exists (for permission validation). */
  resourceExists: (resource: string) => Promise<boolean>;
  /**
   * The running gateway (an offline stand-in in the CLI): told of every connection and agent change,
   * asked for status, discovery, tests, agent health and "Try it" calls.
   */
  gateway: ManagedGateway;
  /** Switchboard as an OAuth client of its upstreams: starts, finishes and disconnects authorizations. */
  upstreamAuth: UpstreamAuthorizer;
  /** When this process started: the server's uptime (SERVER_STATS). */
  startedAt: Date;
  /** Where usage records go (the batched recorder; never blocks, never throws). */
  usage: UsageSink;
  /** Where audit records go (written synchronously). */
  audit: AuditSink;
};

/** Which face an operation came through, and the client's address (null where there is none: the CLI). */
export type Origin = { face: Face; address: string | null };

export type OperationContext = { deps: OperationDeps; caller: Caller; now: Date; origin: Origin };

/** The schema of an operation's input or output: always a JSON object. */
export type ObjectSchema = z.ZodObject<z.ZodRawShape>;

export type Operation<I extends ObjectSchema = ObjectSchema, O extends ObjectSchema = ObjectSchema> = {
  /** SCREAMING_SNAKE name: the MCP tool name and the permission action under "self". */
  name: string;
  title: string;
  /** Written for a model reading a tool list: what it does, when to use it, what it returns. */
  description: string;
  input: I;
  output: O;
  /** Members may use it (on what is theirs); otherwise only admins and their keys. */
  forMembers: boolean;
  /** Who may use it, for the README's table, where "everyone" or "admins" (from forMembers) says too little. */
  audience?: string;
  /** MCP tool annotations. */
  readOnly: boolean;
  destructive?: boolean;
  /** The REST route: path params (":id") are merged into the input. */
  rest: { method: "GET" | "POST" | "PATCH" | "DELETE"; path: string; successStatus?: 200 | 201 };
  // A method, not a property: a registry of operations with different inputs is then a plain
  // `readonly Operation[]` (methods compare their parameters both ways) and needs no cast.
  handler(ctx: OperationContext, input: z.output<I>): z.input<O> | Promise<z.input<O>>;
};

/** Declares an operation with its types inferred; a registry entry is exactly this value. */
export function defineOperation<I extends ObjectSchema, O extends ObjectSchema>(op: Operation<I, O>): Operation<I, O> {
  return op;
}

/** The names of all operations and of those open to members. */
export function catalogOf(operations: readonly Operation[]): ManagementCatalog {
  return { all: operations.map((op) => op.name), forMembers: operations.filter((op) => op.forMembers).map((op) => op.name) };
}

/** The caller for a signed-in admin session: everything the user's role allows. */
export function sessionCaller(user: User, catalog: ManagementCatalog): Caller {
  return { user, key: null, permissions: roleCeiling(user.role, catalog) };
}

/**
 * The user the CLI acts as. The CLI runs on the host as the owner of the data (whoever can run it can
 * read the database file and the server secret anyway), so it may do what an admin may. It is not a
 * row of the users table: no password, no session, no key can ever carry it, and no request reaches it.
 */
export const HOST_USER: User = { id: "host", email: "host (switchboard CLI)", role: "admin", createdAt: new Date(0) };

/** The caller for commands run on the host: an admin's powers, through the same operations and checks as everyone. */
export function hostCaller(catalog: ManagementCatalog): Caller {
  return { user: HOST_USER, key: null, permissions: roleCeiling("admin", catalog) };
}

/** Only callers granted the operation under "self" may run it. */
export function mayRun(caller: Caller, op: Pick<Operation, "name">): boolean {
  return mayUseManagementTool(caller.permissions, op.name);
}

/**
 * Runs an operation for a caller: permission, then input validation (VALIDATION_FAILED naming each
 * field), then the handler; the output is parsed by its schema, so nothing undeclared leaves.
 */
export async function runOperation<I extends ObjectSchema, O extends ObjectSchema>(
  op: Operation<I, O>,
  ctx: OperationContext,
  rawInput: unknown,
): Promise<z.output<O>> {
  const started = performance.now();
  let input: z.output<I> | undefined;
  try {
    if (!mayRun(ctx.caller, op)) throw new AppError("FORBIDDEN", `${ctx.caller.key ? "This key" : "You"} may not use ${op.name}.`);
    input = parseFields(op.input, rawInput ?? {});
    const result = await op.handler(ctx, input);
    const output = op.output.parse(result);
    recordRun(op, ctx, { rawInput, input, output, error: null, durationMs: performance.now() - started });
    if (!op.readOnly) await ctx.deps.audit.settled?.();
    return output;
  } catch (err) {
    recordRun(op, ctx, { rawInput, input, output: undefined, error: err, durationMs: performance.now() - started });
    if (!op.readOnly) await ctx.deps.audit.settled?.();
    throw err;
  }
}

/** Who an operation ran as, for its usage and audit rows. The host (the CLI) is no user of the table. */
export function actorOf(caller: Caller, face: Face): Actor {
  // Whoever runs the CLI on the host did it, even when it runs as a key's owner (`key create`): the owner did not.
  if (!caller.key && (face === "cli" || caller.user.id === HOST_USER.id)) return { userId: null, credentialKind: "host", credentialId: null };
  return callerActor(caller);
}

/** How a run ended: a refusal of the caller (FORBIDDEN), another AppError (its code), or a fault. */
function outcomeOf(error: unknown): { outcome: Exclude<Outcome, "tool_error" | "timeout">; code: string | null; message: string | null } {
  if (error === null) return { outcome: "ok", code: null, message: null };
  // A fault's own message may carry anything (a path, a value): only the safe words are kept.
  if (!(error instanceof AppError)) return { outcome: "error", code: "INTERNAL", message: "Something went wrong on our side." };
  // A message may quote what was typed: any token in it is masked like the change.
  return { outcome: error.code === "FORBIDDEN" ? "refused" : "error", code: error.code, message: String(maskSecrets(error.message.slice(0, 500))) };
}

/** The id an input or output names: its own `id`, or that of the thing it wraps (`{ key, token }`). */
function idOf(value: unknown): string | null {
  if (value === null || typeof value !== "object") return null;
  const id = (value as { id?: unknown }).id;
  if (typeof id === "string") return id;
  for (const inner of Object.values(value)) {
    const innerId = inner !== null && typeof inner === "object" && !Array.isArray(inner) ? (inner as { id?: unknown }).id : undefined;
    if (typeof innerId === "string") return innerId;
  }
  return null;
}

function jsonBytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? "");
}

/**
 * One usage row per run (but the admin pages' own reads), and one audit row per run of a change, ok or
 * not. The change stored is the input as given, masked (maskSecrets): never the output, so a new
 * key's token is never written.
 */
function recordRun(
  op: Operation,
  ctx: OperationContext,
  run: { rawInput: unknown; input: unknown; output: unknown; error: unknown; durationMs: number },
): void {
  const actor = actorOf(ctx.caller, ctx.origin.face);
  const { outcome, code, message } = outcomeOf(run.error);
  // The admin's pages read through operations to render themselves (the Monitoring page every 10 s):
  // those reads are page views, not calls of the management API, and would drown the log in its own
  // reflection. Its changes are recorded like any other face's.
  if (!(op.readOnly && ctx.origin.face === "admin")) recordUsage(op, ctx, run, { actor, outcome, code, message });
  if (op.readOnly) return;
  // The sink never throws: a lost row is logged there, and the change's answer stands.
  ctx.deps.audit.record({
    at: ctx.now,
    face: ctx.origin.face,
    actor,
    action: op.name,
    // The output's id is the real one (an input may name a slug, a create has none).
    targetId: idOf(run.output) ?? idOf(run.input) ?? idOf(run.rawInput),
    address: ctx.origin.address,
    change: maskSecrets(run.input ?? run.rawInput ?? {}),
    outcome,
  });
}

/** Who may use an operation, in the words of the README's table. */
export function audienceOf(op: Pick<Operation, "forMembers" | "audience">): string {
  return op.audience ?? (op.forMembers ? "everyone" : "admins");
}

/** The JSON Schema of an operation's input or output, as MCP tool lists and OpenAPI show it. */
export function jsonSchemaOf(schema: ObjectSchema, io: "input" | "output"): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** The usage row of one run of an operation. */
function recordUsage(
  op: Operation,
  ctx: OperationContext,
  run: { rawInput: unknown; output: unknown; durationMs: number },
  r: { actor: Actor; outcome: Outcome; code: string | null; message: string | null },
): void {
  ctx.deps.usage.record({
    at: ctx.now,
    durationMs: run.durationMs,
    face: ctx.origin.face,
    target: { kind: "self", id: null, slug: null },
    method: "operation",
    name: op.name,
    upstreamName: null,
    connectionId: null,
    outcome: r.outcome,
    errorCode: r.code,
    errorMessage: r.message,
    actor: r.actor,
    sessionId: null,
    client: { name: null, version: null },
    address: ctx.origin.address,
    requestBytes: jsonBytes(run.rawInput),
    responseBytes: jsonBytes(run.output),
    payload: null,
  });
}
