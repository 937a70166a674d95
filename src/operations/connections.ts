// Connection operations. Everyone may list, read (secrets masked), test and refresh connections;
// only admins create, change or delete them (a stdio connection runs a command on this host), and
// those declared in switchboard.toml are read-only. Every change is handed to the gateway at once.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  applyChanges,
  oauthBasisChanged,
  checkConnection,
  createConnection,
  deleteConnection,
  findConnection,
  getConnection,
  listConnectionSummaries,
  newConnectionFields,
  toSpec,
  updateConnection,
  type Connection,
  type ConnectionStore,
} from "../domain/connections/connections.ts";
import { agentsSelecting } from "../domain/agents/agents.ts";
import { AppError } from "../errors.ts";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import { AddressRules } from "../domain/connections/addresses.ts";
import {
  changesFrom,
  ConnectionDetailShape,
  ConnectionFieldsInput as F,
  ConnectionShape,
  ConnectionSummaryShape,
  connectionDetailOut,
  connectionOut,
  connectionSummariesOut,
} from "./connection-shapes.ts";
import { tellAgents } from "./agents.ts";
import { defineOperation, type OperationContext, type OperationDeps } from "./registry.ts";

const IdOrSlug = z.string().min(1).max(100).describe("The connection's id (conn_<uuid>) or its slug");

/** The connection functions' view of the operation dependencies. */
export function connectionStore(deps: Pick<OperationDeps, "db" | "keys" | "config">): ConnectionStore {
  return { db: deps.db, encryptionKey: deps.keys.encryption, stdio: deps.config.stdio };
}

/** The spec the gateway runs for a stored connection. */
export function specOf(deps: Pick<OperationDeps, "config">, c: Connection): ConnectionSpec {
  return toSpec(c, { gateway: deps.config.gateway, stdio: deps.config.stdio });
}

/** Finds the spec of a connection by id or slug: what the gateway's lookup needs. */
export function specLookup(deps: Pick<OperationDeps, "db" | "keys" | "config">): (idOrSlug: string) => Promise<ConnectionSpec | null> {
  const store = connectionStore(deps);
  return async (idOrSlug) => {
    const found = await getConnection(store, idOrSlug);
    return found ? specOf(deps, found) : null;
  };
}


/** Tells the gateway; the database already holds the change, so a gateway failure is logged, not thrown. */
async function tellGateway(ctx: OperationContext, what: string, id: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    ctx.deps.logger.warn(`gateway could not ${what} the connection`, { connection: id, error: err });
  }
}

/**
 * Refuses at once a URL whose host is an IP literal the address policy denies (a hostname is checked
 * on what it resolves to, at connect time). `field` names the field in the error.
 */
function checkUrlAddress(ctx: OperationContext, url: string | null | undefined, field = "url"): void {
  if (!url) return;
  const denied = new AddressRules(ctx.deps.config.gateway).literalRefusal(url);
  if (denied) throw new AppError("VALIDATION_FAILED", `${field}: ${denied}`, { fields: { [field]: denied } });
}

const AllFieldsOptional = z.object({
  slug: F.slug.optional(),
  title: F.title.optional(),
  description: F.description.optional(),
  transport: F.transport.optional(),
  enabled: F.enabled.optional(),
  url: F.url.optional(),
  token: F.token.optional(),
  headers: F.headers.optional(),
  command: F.command.optional(),
  args: F.args.optional(),
  cwd: F.cwd.optional(),
  env: F.env.optional(),
  isolation: F.isolation.optional(),
  max_processes: F.max_processes.optional(),
  connect_timeout_ms: F.connect_timeout_ms.optional(),
  call_timeout_ms: F.call_timeout_ms.optional(),
  record_payloads: F.record_payloads.optional(),
  auth: F.auth.optional(),
  oauth_mode: F.oauth_mode.optional(),
  oauth_client_id: F.oauth_client_id.optional(),
  oauth_client_secret: F.oauth_client_secret.optional(),
  oauth_scopes: F.oauth_scopes.optional(),
});

export const connectionCreate = defineOperation({
  name: "CONNECTION_CREATE",
  title: "Add a connection",
  description:
    "Admins only. Register an upstream MCP server. transport \"http\" (Streamable HTTP) or \"sse\" needs url (and optionally token, " +
    "sent as Authorization: Bearer, and headers); \"stdio\" needs command (and optionally args, cwd, env) and runs that command on the " +
    "Switchboard host, if the server's [stdio] settings allow it. With auth \"oauth\" an http or sse connection signs in at the upstream's " +
    "own authorization server instead of sending a token: an admin authorizes it in the admin (oauth_mode \"shared\"), or each user " +
    "connects their own account (\"per_user\"); oauth_client_id, oauth_client_secret and oauth_scopes are optional. " +
    "Token, headers, env and the OAuth client secret are stored encrypted and never returned. " +
    "Returns the connection; its tools are then reachable at mcp_url by keys granted {\"<id>\": [tools]}.",
  input: AllFieldsOptional.extend({ slug: F.slug, transport: F.transport }),
  output: ConnectionShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "POST", path: "/connections", successStatus: 201 },
  async handler(ctx, input) {
    checkUrlAddress(ctx, input.url);
    const store = connectionStore(ctx.deps);
    const created = await createConnection(store, newConnectionFields({ ...changesFrom(input), slug: input.slug, transport: input.transport }), { now: ctx.now });
    ctx.deps.logger.info("connection created", { connection: created.id, slug: created.slug, transport: created.transport, by: ctx.caller.user.id });
    await tellGateway(ctx, "apply", created.id, () => ctx.deps.gateway.apply(specOf(ctx.deps, created)));
    return connectionOut(ctx.deps, created, ctx.caller.user);
  },
});

export const connectionList = defineOperation({
  name: "CONNECTION_LIST",
  title: "List connections",
  description:
    "List the upstream MCP servers registered in this Switchboard, by slug: id, transport, URL or command, whether enabled, " +
    "status (connected, error with the last error, idle, disabled), and how many tools, resources and prompts were discovered. " +
    "Secrets are not read: token_set, headers_set and env_set say only whether each is stored; the names of headers and env are in CONNECTION_GET. " +
    "An OAuth connection's oauth says how it is registered upstream, whether its shared account is connected, and how many users connected their own (never a token).",
  input: z.object({}),
  output: z.object({ connections: z.array(ConnectionSummaryShape) }),
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/connections" },
  // Summaries: listing every connection never decrypts (nor holds in memory) any connection's secrets.
  handler: async (ctx) => ({ connections: await connectionSummariesOut(ctx.deps, await listConnectionSummaries(ctx.deps.db), ctx.caller.user) }),
});

export const connectionGet = defineOperation({
  name: "CONNECTION_GET",
  title: "Get a connection",
  description:
    "Get one connection by id or slug: its settings (secrets masked), status, and the tools, resources, resource templates and " +
    "prompts it offers as last discovered (names and descriptions; use these tool names in key permissions). Of a per-user OAuth " +
    "connection a member sees only the tools: its resources, templates and prompts were read with an admin's own account.",
  input: z.object({ id: IdOrSlug }),
  output: ConnectionDetailShape,
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/connections/:id" },
  async handler(ctx, input) {
    const detail = await connectionDetailOut(ctx.deps, await findConnection(connectionStore(ctx.deps), input.id), ctx.caller.user);
    const replicas = await ctx.deps.gateway.replicaStates?.(detail.id);
    return replicas ? { ...detail, replicas } : detail;
  },
});

export const connectionUpdate = defineOperation({
  name: "CONNECTION_UPDATE",
  title: "Change a connection",
  description:
    "Admins only. Change a connection's settings by id or slug; fields left out stay as they are. token: null removes it. headers " +
    "and env are replaced whole, but a value of \"********\" keeps the stored one (the OAuth client secret likewise), so what CONNECTION_GET returns can be sent back. " +
    "Changing the url, auth, oauth_mode or OAuth client forgets the connection's upstream authorizations (everyone connects again); changing only oauth_scopes keeps them. " +
    "Clients and processes built on the old settings are closed. Connections declared in switchboard.toml cannot be changed here.",
  input: AllFieldsOptional.extend({ id: IdOrSlug }),
  output: ConnectionShape,
  forMembers: false,
  readOnly: false,
  rest: { method: "PATCH", path: "/connections/:id" },
  async handler(ctx, input) {
    const { id, ...fields } = input;
    checkUrlAddress(ctx, fields.url);
    const updated = await updateConnection(connectionStore(ctx.deps), id, changesFrom(fields), { now: ctx.now });
    ctx.deps.logger.info("connection updated", { connection: updated.id, by: ctx.caller.user.id });
    await tellGateway(ctx, "apply", updated.id, () => ctx.deps.gateway.apply(specOf(ctx.deps, updated)));
    // A new slug renames prefixed tools: the agents over this connection list their tools again.
    for (const agentId of await agentsSelecting(ctx.deps.db, updated.id)) await tellAgents(ctx, "apply", agentId, (agents) => agents.agentApplied(agentId));
    return connectionOut(ctx.deps, updated, ctx.caller.user);
  },
});

export const connectionDelete = defineOperation({
  name: "CONNECTION_DELETE",
  title: "Delete a connection",
  description:
    "Admins only. Delete a connection by id or slug: its sessions end, its clients close and its stdio processes are killed. " +
    "Agents that select it drop it (and its tools); keys that named it lose that grant and keep their other permissions. Connections declared in switchboard.toml are removed there instead.",
  input: z.object({ id: IdOrSlug }),
  output: z.object({ id: z.string(), deleted: z.literal(true) }),
  forMembers: false,
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/connections/:id" },
  async handler(ctx, input) {
    const store = connectionStore(ctx.deps);
    const affected = await agentsSelecting(ctx.deps.db, (await findConnection(store, input.id)).id);
    const deleted = await deleteConnection(store, input.id);
    ctx.deps.logger.info("connection deleted", { connection: deleted.id, by: ctx.caller.user.id, agents_changed: affected, keys_changed: deleted.keysChanged });
    await tellGateway(ctx, "remove", deleted.id, () => ctx.deps.gateway.remove(deleted.id));
    for (const agentId of affected) await tellAgents(ctx, "apply", agentId, (agents) => agents.agentApplied(agentId));
    return { id: deleted.id, deleted: true as const };
  },
});

/** The spec to test: a stored connection, a stored one with unsaved changes, or an unsaved new one. */
async function specToTest(ctx: OperationContext, input: { id?: string; connection?: z.output<typeof AllFieldsOptional> }): Promise<ConnectionSpec> {
  if (input.id === undefined && input.connection === undefined) {
    throw new AppError("VALIDATION_FAILED", "id: give id, connection, or both", { fields: { id: "give id, connection, or both" } });
  }
  // Unsaved settings make this server reach a URL or run a command of the caller's choosing.
  if (input.connection !== undefined && ctx.caller.user.role !== "admin") throw new AppError("FORBIDDEN", "Only admins may test unsaved connection settings.");
  const store = connectionStore(ctx.deps);
  const stored = input.id === undefined ? null : await findConnection(store, input.id);
  checkUrlAddress(ctx, input.connection?.url, "connection.url");
  const changes = changesFrom(input.connection ?? {});
  let candidate: Connection;
  if (stored) {
    candidate = { ...stored, ...applyChanges(stored, changes) };
    // Unsaved OAuth settings (another URL, client, mode or scopes) are tested as a new connection: the
    // stored registration and tokens were got for the stored settings, and must never reach a URL typed in.
    // (A static token is the connection's own, which an admin may point anywhere by saving; an OAuth
    // token is an account's, maybe another admin's own, and saving such a change forgets it.)
    if (stored.auth === "oauth" && oauthBasisChanged(stored, candidate)) candidate = { ...candidate, id: `conn_${randomUUID()}` };
  } else {
    if (changes.transport === undefined) throw new AppError("VALIDATION_FAILED", "connection.transport: expected a transport", { fields: { "connection.transport": "expected a transport" } });
    const fields = newConnectionFields({ ...changes, slug: changes.slug ?? "unsaved", transport: changes.transport });
    candidate = { ...fields, id: `conn_${randomUUID()}`, fromConfig: false, createdAt: ctx.now, updatedAt: ctx.now, secretsUnreadable: false };
  }
  checkConnection(candidate, { stdio: store.stdio, checkStdio: true });
  return { ...specOf(ctx.deps, candidate), enabled: true };
}

export const connectionTest = defineOperation({
  name: "CONNECTION_TEST",
  title: "Test a connection",
  description:
    "Connect to an upstream with a fresh client, initialise, count what it offers, and disconnect; nothing is saved. Give id (or slug) to " +
    "test a stored connection; admins may also give connection settings, alone (a connection not yet created) or with id (unsaved " +
    "changes to it). Returns ok, latency_ms, the server's name and version, tool/resource/prompt counts, and error when it failed " +
    "(the connection's secrets redacted; a stdio server's stderr only for admins). Tests are bounded: concurrent tests of the same " +
    "settings share one run, and at capacity the answer is BUSY (HTTP 503, Retry-After).",
  input: z.object({
    id: IdOrSlug.optional(),
    connection: AllFieldsOptional.optional().describe("Admins only: settings to test, as CONNECTION_CREATE takes them (with id: changes to the stored ones)"),
  }),
  output: z.object({
    ok: z.boolean(),
    latency_ms: z.number(),
    server: z.object({ name: z.string(), version: z.string() }).nullable(),
    tools: z.number(),
    resources: z.number(),
    prompts: z.number(),
    error: z.string().optional(),
  }),
  forMembers: true,
  audience: "everyone; admins may also test unsaved settings (`connection`)",
  readOnly: true,
  rest: { method: "POST", path: "/connections/test" },
  async handler(ctx, input) {
    const spec = await specToTest(ctx, input);
    // A stdio server's stderr may show its environment (secrets): admins only.
    return ctx.deps.gateway.test(spec, { withStderr: ctx.caller.user.role === "admin" });
  },
});

export const connectionRefresh = defineOperation({
  name: "CONNECTION_REFRESH",
  title: "Refresh what a connection offers",
  description:
    "Ask a connection's upstream again for its tools, resources, resource templates and prompts, and update the cached list that " +
    "permissions and the admin use. Returns the connection as CONNECTION_GET does.",
  input: z.object({ id: IdOrSlug }),
  output: ConnectionDetailShape,
  forMembers: true,
  readOnly: true,
  rest: { method: "POST", path: "/connections/:id/refresh" },
  async handler(ctx, input) {
    const found = await findConnection(connectionStore(ctx.deps), input.id);
    const discovery = await ctx.deps.gateway.refresh(found.id);
    return connectionDetailOut(ctx.deps, found, ctx.caller.user, discovery);
  },
});
