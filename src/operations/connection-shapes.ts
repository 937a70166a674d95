// The public shapes of connections (secrets masked) and the input fields of the connection operations.
import { z } from "zod";
import {
  ArgsSchema,
  AuthSchema,
  CALL_TIMEOUT_MAX,
  CALL_TIMEOUT_MAX_MS,
  CommandSchema,
  CONNECT_TIMEOUT_MAX,
  CONNECT_TIMEOUT_MAX_MS,
  DescriptionSchema,
  EnvSchema,
  HeadersSchema,
  IsolationSchema,
  MaxProcessesSchema,
  OAuthClientIdSchema,
  OAuthClientSecretSchema,
  OAuthModeSchema,
  OAuthScopesSchema,
  SlugSchema,
  TitleSchema,
  TokenSchema,
  TransportSchema,
  UrlSchema,
} from "../domain/connections/rules.ts";
import { policyRefusal, SECRET_MASK, type Connection, type ConnectionChanges, type ConnectionSummary } from "../domain/connections/connections.ts";
import { oauthState, oauthStates, type ConnectionOAuthState } from "../domain/connections/oauth-state.ts";
import type { User } from "../domain/access/users.ts";
import type { Discovery } from "../gateway/types.ts";
import { connectionOAuthOut, ConnectionOAuthShape } from "./connection-oauth-shape.ts";
import type { OperationDeps } from "./registry.ts";
import { Timestamp } from "./shapes.ts";

/** A timeout in whole milliseconds, bounded so its timer never overflows (the message names the limit as a duration too). */
function timeoutMs(maxMs: number, max: string) {
  return z
    .int({ error: "expected a whole number of milliseconds" })
    .min(100, { error: "expected at least 100 ms" })
    .max(maxMs, { error: `expected at most ${maxMs} ms (${max})` })
    .nullable();
}

/** The input fields of a connection, as CONNECTION_CREATE and CONNECTION_UPDATE take them (snake_case). */
export const ConnectionFieldsInput = {
  slug: SlugSchema,
  title: TitleSchema.describe("Name shown to people; defaults to the slug"),
  description: DescriptionSchema.describe("What this server offers"),
  transport: TransportSchema.describe('"http" (Streamable HTTP), "sse" (legacy HTTP+SSE) or "stdio" (a command run on the Switchboard host)'),
  enabled: z.boolean().describe("false keeps the connection but refuses calls to it"),
  url: UrlSchema.nullable().describe("http and sse: the upstream MCP endpoint"),
  token: TokenSchema.nullable().describe(`http and sse: sent upstream as Authorization: Bearer <token>. Stored encrypted, never returned. null removes it; "${SECRET_MASK}" keeps it`),
  headers: HeadersSchema.describe(`http and sse: extra request headers (replaced whole). Stored encrypted; a value of "${SECRET_MASK}" keeps the stored value of that header`),
  command: CommandSchema.nullable().describe("stdio: the program to run (subject to the server's stdio.allowed_commands)"),
  args: ArgsSchema.describe("stdio: its arguments"),
  cwd: z.string().startsWith("/", { error: "expected an absolute path" }).max(4096).nullable().describe("stdio: working directory (absolute)"),
  env: EnvSchema.describe(`stdio: environment variables (replaced whole; the process gets only these plus PATH). Stored encrypted; "${SECRET_MASK}" keeps a stored value`),
  isolation: IsolationSchema.describe('stdio: "shared" (one process for every session, the default) or "session" (one per downstream session)'),
  max_processes: MaxProcessesSchema.nullable().describe('stdio with isolation "session": most processes at once; null for the server default'),
  connect_timeout_ms: timeoutMs(CONNECT_TIMEOUT_MAX_MS, CONNECT_TIMEOUT_MAX).describe(`Milliseconds to connect and initialise (100 to ${CONNECT_TIMEOUT_MAX_MS}, i.e. ${CONNECT_TIMEOUT_MAX}); null for the server default`),
  call_timeout_ms: timeoutMs(CALL_TIMEOUT_MAX_MS, CALL_TIMEOUT_MAX).describe(`Milliseconds a request may take (100 to ${CALL_TIMEOUT_MAX_MS}, i.e. ${CALL_TIMEOUT_MAX}); null for the server default`),
  record_payloads: z.boolean().describe("Record arguments and results: usage rows keep each call's arguments and result, capped at monitoring.payload_max_size, with the connection's secret values and monitoring.redact_patterns masked (default false: neither is kept)"),
  auth: AuthSchema.describe('http and sse: "static" (default) sends token and headers as given; "oauth" signs in at the upstream\'s own authorization server (authorized in the admin) and sends the token got there, so it takes no token nor Authorization header'),
  oauth_mode: OAuthModeSchema.describe('With auth "oauth": "shared" (default; an admin authorizes one account every caller uses) or "per_user" (each user connects their own account, and calls carry the caller\'s token)'),
  oauth_client_id: OAuthClientIdSchema.nullable().describe("With auth \"oauth\": a client registered by hand at the upstream's authorization server (its redirect URI: <public_url>/oauth/upstream/callback), for servers without client ID metadata documents or dynamic registration; null: register by itself"),
  oauth_client_secret: OAuthClientSecretSchema.nullable().describe(`With oauth_client_id: that client's secret, if it has one. Stored encrypted, never returned. null removes it; "${SECRET_MASK}" keeps it`),
  oauth_scopes: OAuthScopesSchema.nullable().describe('With auth "oauth": the scopes to ask for, space-separated (e.g. "repo read:org"); null: none in particular'),
};

type FieldsInput = Partial<{ [K in keyof typeof ConnectionFieldsInput]: z.output<(typeof ConnectionFieldsInput)[K]> }>;

/** Operation input (snake_case) → domain changes (camelCase); absent stays absent. */
export function changesFrom(input: FieldsInput): ConnectionChanges {
  const changes: ConnectionChanges = {
    slug: input.slug,
    title: input.title,
    description: input.description,
    transport: input.transport,
    enabled: input.enabled,
    url: input.url,
    token: input.token,
    headers: input.headers,
    command: input.command,
    args: input.args,
    cwd: input.cwd,
    env: input.env,
    isolation: input.isolation,
    maxProcesses: input.max_processes,
    connectTimeoutMs: input.connect_timeout_ms,
    callTimeoutMs: input.call_timeout_ms,
    recordPayloads: input.record_payloads,
    auth: input.auth,
    oauthMode: input.oauth_mode,
    oauthClientId: input.oauth_client_id,
    oauthClientSecret: input.oauth_client_secret,
    oauthScopes: input.oauth_scopes,
  };
  for (const key of Object.keys(changes) as (keyof ConnectionChanges)[]) if (changes[key] === undefined) delete changes[key];
  return changes;
}

const MaskedTable = z.record(z.string(), z.string());

export const ConnectionShape = z.object({
  id: z.string().describe("conn_<uuid>; grant its tools to a key as {\"conn_<uuid>\": [tool names] or [\"*\"]}"),
  slug: z.string(),
  title: z.string(),
  description: z.string(),
  transport: z.enum(["http", "sse", "stdio"]),
  enabled: z.boolean(),
  mcp_url: z.string().describe("Where MCP clients reach this connection through Switchboard (Authorization: Bearer <API key or OAuth access token>)"),
  url: z.string().nullable().describe("http and sse: the upstream URL"),
  token_set: z.boolean().describe("Whether a bearer token is stored (it is never returned)"),
  headers: MaskedTable.describe(`Header names, values masked as "${SECRET_MASK}"`),
  command: z.string().nullable(),
  args: z.array(z.string()),
  cwd: z.string().nullable(),
  env: MaskedTable.describe(`Variable names, values masked as "${SECRET_MASK}"`),
  isolation: z.enum(["shared", "session"]),
  max_processes: z.number().nullable().describe("null: the server default"),
  connect_timeout_ms: z.number().nullable().describe("null: the server default"),
  call_timeout_ms: z.number().nullable().describe("null: the server default"),
  record_payloads: z.boolean().describe("Whether usage rows keep this connection's call arguments and results (capped, redacted)"),
  auth: z.enum(["static", "oauth"]).describe('"static": the token and headers given; "oauth": a token got from the upstream\'s authorization server'),
  oauth: ConnectionOAuthShape,
  from_config: z.boolean().describe("Declared in switchboard.toml: read-only here"),
  secrets_unreadable: z.boolean().describe("The stored secrets cannot be decrypted (the server secret changed); set them again"),
  refused_by_policy: z.string().nullable().describe("Why the server's [stdio] policy stops this connection from running, if it does"),
  status: z.object({
    state: z.enum(["disabled", "idle", "connecting", "connected", "error", "needs_authorization"]),
    last_error: z.string().nullable(),
    since: Timestamp.nullable(),
  }),
  discovery: z.object({
    tools: z.number(),
    resources: z.number(),
    resource_templates: z.number(),
    prompts: z.number(),
    refreshed_at: Timestamp.nullable(),
    error: z.string().nullable(),
    warnings: z.array(z.string()).describe("What the last discovery dropped as malformed (not an object, no valid name, wrong-typed fields), and why"),
    per_session: z
      .array(z.string())
      .describe('What the upstream keeps per client session (log levels, resource subscriptions, tasks): exact per client unless a stdio connection shares one process (isolation = "shared")'),
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** A connection as the operations return it (what the admin views show). */
export type ConnectionView = z.output<typeof ConnectionShape>;

// The list is a summary: header and env names live inside the sealed tables, and whether they can be
// decrypted is only known by decrypting, so the list says only whether each secret is stored.
const { headers: _headers, env: _env, secrets_unreadable: _unreadable, ...publicFields } = ConnectionShape.shape;

/** A connection as CONNECTION_LIST returns it: everything known without decrypting a secret. */
export const ConnectionSummaryShape = z.object({
  ...publicFields,
  headers_set: z.boolean().describe("Whether request headers are stored (their names are in CONNECTION_GET; their values are never returned)"),
  env_set: z.boolean().describe("Whether environment variables are stored (their names are in CONNECTION_GET; their values are never returned)"),
});

/** A connection in the list (what the admin's list shows). */
export type ConnectionSummaryView = z.output<typeof ConnectionSummaryShape>;

const Named = z.object({ name: z.string(), title: z.string().optional(), description: z.string().optional() });

/** A connection with what it offers, as last discovered. */
export const ConnectionDetailShape = ConnectionShape.extend({
  offers: z.object({
    tools: z.array(Named),
    resources: z.array(Named.extend({ uri: z.string() })),
    resource_templates: z.array(Named.extend({ uri_template: z.string() })),
    prompts: z.array(Named),
  }),
  replicas: z
    .array(
      z.object({
        replica_id: z.string(),
        url: z.string(),
        state: z.string(),
        error: z.string().nullable(),
        updated_at: Timestamp,
      }),
    )
    .optional()
    .describe("With several replicas: each live replica's own state of this connection (stdio servers run on every replica); absent on one"),
});

const mask = (table: Record<string, string>) => Object.fromEntries(Object.keys(table).map((name) => [name, SECRET_MASK]));

/** What a connection's public columns are in the list and the full view alike, with its gateway status and discovery counts. */
async function publicOut(
  deps: Pick<OperationDeps, "gateway" | "config">,
  c: Omit<Connection, "token" | "headers" | "env" | "oauthClientSecret" | "secretsUnreadable">,
  secretsSet: { token: boolean; oauthClientSecret: boolean },
  oauth: ConnectionOAuthState,
  viewer: Pick<User, "role">,
) {
  const status = await deps.gateway.status(c.id);
  const found = deps.gateway.discovery(c.id);
  // Not even how many resources or prompts an admin's own account holds (see seesAccountLists).
  const all = seesAccountLists(viewer, c);
  return {
    id: c.id,
    slug: c.slug,
    title: c.title,
    description: c.description,
    transport: c.transport,
    enabled: c.enabled,
    mcp_url: `${deps.config.server.public_url}/mcp/${c.id}`,
    url: c.url,
    token_set: secretsSet.token,
    command: c.command,
    args: c.args,
    cwd: c.cwd,
    isolation: c.isolation,
    max_processes: c.maxProcesses,
    connect_timeout_ms: c.connectTimeoutMs,
    call_timeout_ms: c.callTimeoutMs,
    record_payloads: c.recordPayloads,
    auth: c.auth,
    oauth: connectionOAuthOut(c, secretsSet.oauthClientSecret, oauth),
    from_config: c.fromConfig,
    refused_by_policy: policyRefusal(c, deps.config.stdio),
    status: { state: status.state, last_error: status.lastError, since: status.since?.toISOString() ?? null },
    discovery: {
      tools: found.tools.length,
      resources: all ? found.resources.length : 0,
      resource_templates: all ? found.resourceTemplates.length : 0,
      prompts: all ? found.prompts.length : 0,
      refreshed_at: found.refreshedAt?.toISOString() ?? null,
      error: found.error,
      warnings: found.warnings,
      per_session: found.perSession,
    },
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

/** The public view of a connection: secrets masked, with its gateway status and discovery counts (as `viewer` may see them). */
export async function connectionOut(deps: Pick<OperationDeps, "gateway" | "config" | "db">, c: Connection, viewer: Pick<User, "role">): Promise<z.input<typeof ConnectionShape>> {
  const secretsSet = { token: c.token !== null, oauthClientSecret: c.oauthClientSecret !== null };
  const oauth = c.auth === "oauth" ? await oauthState(deps.db, c.id) : NO_OAUTH;
  return { ...(await publicOut(deps, c, secretsSet, oauth, viewer)), headers: mask(c.headers), env: mask(c.env), secrets_unreadable: c.secretsUnreadable };
}

/** The connections in the list, from their summaries: whether each secret is stored, nothing decrypted; their OAuth state read at once. */
export async function connectionSummariesOut(
  deps: Pick<OperationDeps, "gateway" | "config" | "db">,
  list: ConnectionSummary[],
  viewer: Pick<User, "role">,
): Promise<z.input<typeof ConnectionSummaryShape>[]> {
  const states = await oauthStates(deps.db, list.filter((s) => s.auth === "oauth").map((s) => s.id));
  return Promise.all(
    list.map(async (s) => ({
      ...(await publicOut(deps, s, { token: s.tokenSet, oauthClientSecret: s.oauthClientSecretSet }, states.get(s.id) ?? NO_OAUTH, viewer)),
      headers_set: s.headersSet,
      env_set: s.envSet,
    })),
  );
}

/** The state of a static connection (its OAuth part is null anyway). */
const NO_OAUTH: ConnectionOAuthState = { registration: null, shared: null, users: { connected: 0, needsReauth: 0 } };

const named = (item: { name: string; title?: string; description?: string }) => ({
  name: item.name,
  ...(item.title !== undefined ? { title: item.title } : {}),
  ...(item.description !== undefined ? { description: item.description } : {}),
});

/**
 * Whether `viewer` may see what discovery listed of a connection beyond its tools. A per-user
 * connection's resources, templates and prompts were read with an admin's own account (whoever
 * connected last): admins only. Its tools are assumed not to be account-specific, so everyone sees them.
 */
export function seesAccountLists(viewer: Pick<User, "role">, c: Pick<Connection, "auth" | "oauthMode">): boolean {
  return viewer.role === "admin" || !(c.auth === "oauth" && c.oauthMode === "per_user");
}

/** The connection with the names and descriptions of what it offers, as `viewer` may see them (seesAccountLists). */
export async function connectionDetailOut(
  deps: Pick<OperationDeps, "gateway" | "config" | "db">,
  c: Connection,
  viewer: Pick<User, "role">,
  found?: Discovery,
): Promise<z.input<typeof ConnectionDetailShape>> {
  const d = found ?? deps.gateway.discovery(c.id);
  const all = seesAccountLists(viewer, c);
  return {
    ...(await connectionOut(deps, c, viewer)),
    offers: {
      tools: d.tools.map(named),
      resources: all ? d.resources.map((r) => ({ ...named(r), uri: r.uri })) : [],
      resource_templates: all ? d.resourceTemplates.map((t) => ({ ...named(t), uri_template: t.uriTemplate })) : [],
      prompts: all ? d.prompts.map(named) : [],
    },
  };
}

export type ConnectionDetailView = z.output<typeof ConnectionDetailShape>;
