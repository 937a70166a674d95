// The same tables for PostgreSQL (`database.url`): same names, columns and constraints as schema.ts,
// with pg-core types that give queries the same TypeScript types; drizzle-kit generates
// src/db/migrations-pg from this file, and test/unit/schema-parity.test.ts keeps the two in step.
import { bigint, boolean, customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import type { AgentConnectionSelection } from "../domain/agents/tools.ts";

/**
 * A JSON document in a jsonb column. The value goes to Bun's client as it is: the client encodes a
 * jsonb parameter as JSON itself, so drizzle's own jsonb (which stringifies first) would store every
 * object as a JSON string. Bun's client also parses jsonb on the way back.
 */
const jsonb = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => "jsonb",
  toDriver: (value) => value,
  fromDriver: (value) => value,
});

/**
 * A time, stored as epoch milliseconds in a bigint and read as a Date: what SQLite's
 * `integer(…, { mode: "timestamp_ms" })` stores, so raw SQL comparing a time with an epoch-ms number
 * means the same on both engines. (PostgreSQL returns int8 as a string; Number() reads either.)
 */
const epochMs = customType<{ data: Date; driverData: number | string | bigint }>({
  dataType: () => "bigint",
  toDriver: (value) => value.getTime(),
  fromDriver: (value) => new Date(Number(value)),
});

/** People who sign in to the admin. Emails are stored lower-cased. */
export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  role: text("role", { enum: ["admin", "member"] }).notNull(),
  passwordHash: text("password_hash").notNull(),
  createdAt: epochMs("created_at").notNull(),
  updatedAt: epochMs("updated_at").notNull(),
});

/** Server-side admin sessions. Only a hash of the session token is stored, so a leaked database opens no session. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
  },
  (table) => [index("sessions_user_id_idx").on(table.userId), index("sessions_expires_at_idx").on(table.expiresAt)],
);

/**
 * Pending invitations to become a user: only an HMAC of the one-time link's token is kept. One per
 * email (a new invite replaces the old); the row is deleted when it is accepted or revoked, so a link
 * works once. `invited_by` is null when the inviter is gone (or was the host CLI).
 */
export const userInvites = pgTable(
  "user_invites",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    email: text("email").notNull().unique(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
  },
  (table) => [index("user_invites_expires_at_idx").on(table.expiresAt)],
);

/**
 * API keys. Only an HMAC-SHA-256 of the token (under a key derived from the server secret) is kept,
 * indexed for a constant-cost lookup; `prefix` is the start of the token, for people to recognise it.
 * After a rotation with a grace period the previous token's hash stays valid until `previous_expires_at`.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    permissions: jsonb("permissions").notNull().$type<Record<string, string[]>>(),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
    lastUsedAt: epochMs("last_used_at"),
    expiresAt: epochMs("expires_at"),
    previousTokenHash: text("previous_token_hash").unique(),
    previousExpiresAt: epochMs("previous_expires_at"),
  },
  (table) => [index("api_keys_owner_id_idx").on(table.ownerId)],
);

/**
 * Upstream MCP servers. Token, headers and env are AES-256-GCM ciphertexts (src/security/cipher.ts)
 * bound to the row id and column, never plain text. Null timeouts and max_processes mean the
 * [gateway] defaults. Rows with from_config were declared in switchboard.toml and are rewritten at start.
 */
export const connections = pgTable("connections", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  title: text("title").notNull(),
  description: text("description").notNull(),
  transport: text("transport", { enum: ["http", "sse", "stdio"] }).notNull(),
  enabled: boolean("enabled").notNull(),
  url: text("url"),
  command: text("command"),
  args: jsonb("args").notNull().$type<string[]>(),
  cwd: text("cwd"),
  isolation: text("isolation", { enum: ["shared", "session"] }).notNull(),
  maxProcesses: integer("max_processes"),
  connectTimeoutMs: bigint("connect_timeout_ms", { mode: "number" }),
  callTimeoutMs: bigint("call_timeout_ms", { mode: "number" }),
  tokenSealed: text("token_sealed"),
  headersSealed: text("headers_sealed"),
  envSealed: text("env_sealed"),
  fromConfig: boolean("from_config").notNull(),
  createdAt: epochMs("created_at").notNull(),
  updatedAt: epochMs("updated_at").notNull(),
  /** Usage rows keep this connection's call arguments and results (capped, redacted). */
  recordPayloads: boolean("record_payloads").notNull().default(false),
  /** "oauth": the upstream's own authorization server issues the token (upstream_oauth_*), in `oauth_mode`. */
  auth: text("auth", { enum: ["static", "oauth"] }).notNull().default("static"),
  oauthMode: text("oauth_mode", { enum: ["shared", "per_user"] }).notNull().default("shared"),
  /** A client the admin registered at the upstream's authorization server (else CIMD or DCR); the secret sealed like the token. */
  oauthClientId: text("oauth_client_id"),
  oauthClientSecretSealed: text("oauth_client_secret_sealed"),
  /** The scopes asked for, space-separated; null: none in particular. */
  oauthScopes: text("oauth_scopes"),
});

/**
 * Agents: virtual MCP servers over a selection of connections' tools (and resources and prompts).
 * `selections` is the AgentConnectionSelection list, keyed by connection id, in the agent's order.
 * Rows with from_config were declared in switchboard.toml and are rewritten at start.
 */
export const agents = pgTable("agents", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  title: text("title").notNull(),
  description: text("description").notNull(),
  instructions: text("instructions").notNull(),
  enabled: boolean("enabled").notNull(),
  prefixTools: boolean("prefix_tools").notNull(),
  selections: jsonb("selections").notNull().$type<AgentConnectionSelection[]>(),
  fromConfig: boolean("from_config").notNull(),
  createdAt: epochMs("created_at").notNull(),
  updatedAt: epochMs("updated_at").notNull(),
  /** Usage rows keep this agent's call arguments and results (capped, redacted). */
  recordPayloads: boolean("record_payloads").notNull().default(false),
});

/**
 * OAuth clients (public clients: PKCE, no secret). A registered client (RFC 7591, kind "dcr") has an
 * "sbc_<random>" id; a metadata-document client (kind "cimd") is keyed by its document's https URL and
 * re-fetched after `cached_until`. `last_used_at` is when a token was last issued to it.
 */
export const oauthClients = pgTable(
  "oauth_clients",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["dcr", "cimd"] }).notNull(),
    name: text("name").notNull(),
    redirectUris: jsonb("redirect_uris").notNull().$type<string[]>(),
    clientUri: text("client_uri"),
    logoUri: text("logo_uri"),
    createdAt: epochMs("created_at").notNull(),
    lastUsedAt: epochMs("last_used_at"),
    cachedUntil: epochMs("cached_until"),
  },
  (table) => [index("oauth_clients_created_at_idx").on(table.createdAt), index("oauth_clients_kind_created_at_idx").on(table.kind, table.createdAt)],
);

/**
 * Approvals: a user let a client reach one agent or connection (`resource`, the id; `resource_url`,
 * the URL the client named, the tokens' audience). One grant is one family of tokens; deleting it
 * (revocation, reuse of a rotated-out refresh token, the user's, the client's or the resource's
 * removal) ends every token of the family.
 */
export const oauthGrants = pgTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    clientId: text("client_id").notNull().references(() => oauthClients.id, { onDelete: "cascade" }),
    resource: text("resource").notNull(),
    resourceUrl: text("resource_url").notNull(),
    scope: text("scope").notNull(),
    permissions: jsonb("permissions").notNull().$type<Record<string, string[]>>(),
    createdAt: epochMs("created_at").notNull(),
    lastUsedAt: epochMs("last_used_at"),
  },
  (table) => [
    index("oauth_grants_user_id_idx").on(table.userId),
    index("oauth_grants_client_id_idx").on(table.clientId),
    index("oauth_grants_resource_idx").on(table.resource),
    index("oauth_grants_created_at_idx").on(table.createdAt),
  ],
);

/**
 * Authorization codes (only their HMAC): single use, short-lived, bound to the client, the user, the
 * redirect URI, the PKCE challenge and the resource. `used_at` marks a spent code, kept until it
 * expires so a replay is recognised; `grant_id` is the grant its exchange made (revoked on a replay).
 */
export const oauthCodes = pgTable(
  "oauth_codes",
  {
    id: text("id").primaryKey(),
    codeHash: text("code_hash").notNull().unique(),
    clientId: text("client_id").notNull().references(() => oauthClients.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    redirectUri: text("redirect_uri").notNull(),
    codeChallenge: text("code_challenge").notNull(),
    resource: text("resource").notNull(),
    resourceUrl: text("resource_url").notNull(),
    scope: text("scope").notNull(),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
    usedAt: epochMs("used_at"),
    grantId: text("grant_id").references(() => oauthGrants.id, { onDelete: "cascade" }),
  },
  (table) => [
    index("oauth_codes_client_id_idx").on(table.clientId),
    index("oauth_codes_user_id_idx").on(table.userId),
    index("oauth_codes_grant_id_idx").on(table.grantId),
    index("oauth_codes_resource_idx").on(table.resource),
    index("oauth_codes_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * Access and refresh tokens (only their HMAC, under a label per kind), each in one grant's family.
 * A refresh token is rotated on use: `used_at` marks it spent, and presenting it again revokes the
 * family. `scope` is what this token was issued with (an access token's may be narrower than the grant's).
 */
export const oauthTokens = pgTable(
  "oauth_tokens",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    grantId: text("grant_id").notNull().references(() => oauthGrants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["access", "refresh"] }).notNull(),
    scope: text("scope").notNull(),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
    usedAt: epochMs("used_at"),
  },
  (table) => [index("oauth_tokens_grant_id_idx").on(table.grantId), index("oauth_tokens_expires_at_idx").on(table.expiresAt)],
);

/**
 * Usage: one row per MCP request to a connection or agent and per management operation (the shape of
 * UsageRecord, flattened). Written in batches by the UsageRecorder. Every index ends in `at`; the
 * same indexes as SQLite's (where they also end, implicitly, in the rowid).
 */
export const usageEvents = pgTable(
  "usage_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
    at: bigint("at", { mode: "number" }).notNull(),
    durationMs: bigint("duration_ms", { mode: "number" }).notNull(),
    face: text("face").notNull(),
    targetKind: text("target_kind").notNull(),
    targetId: text("target_id"),
    targetSlug: text("target_slug"),
    method: text("method").notNull(),
    name: text("name"),
    upstreamName: text("upstream_name"),
    connectionId: text("connection_id"),
    outcome: text("outcome").notNull(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    userId: text("user_id"),
    credentialKind: text("credential_kind").notNull(),
    credentialId: text("credential_id"),
    sessionId: text("session_id"),
    clientName: text("client_name"),
    clientVersion: text("client_version"),
    address: text("address"),
    requestBytes: bigint("request_bytes", { mode: "number" }).notNull(),
    responseBytes: bigint("response_bytes", { mode: "number" }).notNull(),
    payload: text("payload"),
  },
  (table) => [
    index("usage_events_at_idx").on(table.at),
    index("usage_events_target_id_at_idx").on(table.targetId, table.at),
    index("usage_events_connection_id_at_idx").on(table.connectionId, table.at),
    index("usage_events_credential_id_at_idx").on(table.credentialId, table.at),
    index("usage_events_user_id_at_idx").on(table.userId, table.at),
    index("usage_events_name_at_idx").on(table.name, table.at),
    index("usage_events_outcome_at_idx").on(table.outcome, table.at),
  ],
);

/**
 * What a roll-up row counts (usage_rollups and usage_totals alike): calls, errors, the sum of their
 * durations, and `h00`…`h15`, calls per latency bucket (edges in domain/monitoring/histogram.ts).
 */
function rollupCounters() {
  const bucket = (name: string) => bigint(name, { mode: "number" }).notNull().default(0);
  return {
    calls: bigint("calls", { mode: "number" }).notNull(),
    errors: bigint("errors", { mode: "number" }).notNull(),
    durationSum: bigint("duration_sum", { mode: "number" }).notNull(),
    h00: bucket("h00"),
    h01: bucket("h01"),
    h02: bucket("h02"),
    h03: bucket("h03"),
    h04: bucket("h04"),
    h05: bucket("h05"),
    h06: bucket("h06"),
    h07: bucket("h07"),
    h08: bucket("h08"),
    h09: bucket("h09"),
    h10: bucket("h10"),
    h11: bucket("h11"),
    h12: bucket("h12"),
    h13: bucket("h13"),
    h14: bucket("h14"),
    h15: bucket("h15"),
  };
}

/**
 * Roll-ups of usage_events per minute (grain "m") and per hour ("h"), one row per bucket and
 * combination of what the dashboard filters and ranks by, maintained in the batch's transaction.
 * Key columns hold "" for null, since a unique index treats nulls as distinct (and ON CONFLICT would
 * never fire). `h00`…`h15` count calls per latency bucket (edges in domain/monitoring/histogram.ts).
 */
export const usageRollups = pgTable(
  "usage_rollups",
  {
    grain: text("grain", { enum: ["m", "h"] }).notNull(),
    bucket: bigint("bucket", { mode: "number" }).notNull(),
    face: text("face").notNull(),
    targetKind: text("target_kind").notNull(),
    targetId: text("target_id").notNull(),
    connectionId: text("connection_id").notNull(),
    name: text("name").notNull(),
    credentialId: text("credential_id").notNull(),
    userId: text("user_id").notNull(),
    outcome: text("outcome").notNull(),
    errorCode: text("error_code").notNull(),
    ...rollupCounters(),
  },
  (table) => [
    uniqueIndex("usage_rollups_key_idx").on(
      table.grain,
      table.bucket,
      table.targetId,
      table.connectionId,
      table.name,
      table.credentialId,
      table.userId,
      table.outcome,
      table.errorCode,
      table.face,
      table.targetKind,
    ),
    index("usage_rollups_target_idx").on(table.grain, table.targetId, table.bucket),
    index("usage_rollups_connection_idx").on(table.grain, table.connectionId, table.bucket),
    index("usage_rollups_credential_idx").on(table.grain, table.credentialId, table.bucket),
    index("usage_rollups_user_idx").on(table.grain, table.userId, table.bucket),
  ],
);

/** The audit log: one row per change through any face (AuditRecord, flattened); kept longer than usage. */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
    at: bigint("at", { mode: "number" }).notNull(),
    face: text("face").notNull(),
    userId: text("user_id"),
    credentialKind: text("credential_kind").notNull(),
    credentialId: text("credential_id"),
    action: text("action").notNull(),
    targetId: text("target_id"),
    address: text("address"),
    change: text("change"),
    outcome: text("outcome").notNull(),
  },
  (table) => [
    index("audit_events_at_idx").on(table.at),
    index("audit_events_user_id_at_idx").on(table.userId, table.at),
    index("audit_events_credential_id_at_idx").on(table.credentialId, table.at),
    index("audit_events_action_at_idx").on(table.action, table.at),
    index("audit_events_target_id_at_idx").on(table.targetId, table.at),
  ],
);

/**
 * Per-dimension roll-ups, which keep the dashboard fast at millions of rows where the combinations of
 * usage_rollups are nearly as many as the rows: per minute and hour, within a scope (all calls, one
 * agent, one credential), calls by one dimension ("" for the scope's total, or name, agent,
 * connection, credential, user) and outcome. Written with usage_rollups, in the same transaction.
 */
export const usageTotals = pgTable(
  "usage_totals",
  {
    grain: text("grain", { enum: ["m", "h"] }).notNull(),
    scope: text("scope").notNull(),
    scopeId: text("scope_id").notNull(),
    dim: text("dim").notNull(),
    bucket: bigint("bucket", { mode: "number" }).notNull(),
    dimId: text("dim_id").notNull(),
    outcome: text("outcome").notNull(),
    errorCode: text("error_code").notNull(),
    ...rollupCounters(),
  },
  (table) => [
    uniqueIndex("usage_totals_key_idx").on(table.grain, table.scope, table.scopeId, table.dim, table.bucket, table.dimId, table.outcome, table.errorCode),
    index("usage_totals_bucket_idx").on(table.grain, table.bucket),
  ],
);

/**
 * The running replicas (issue 15): each server registers itself at start, heartbeats, and deregisters
 * at a clean stop. Times in ms since the epoch; a replica is alive while its heartbeat is recent.
 */
export const replicas = pgTable("replicas", {
  id: text("id").primaryKey(),
  /** Where the other replicas reach it (cluster.advertise_url). */
  url: text("url").notNull(),
  startedAt: bigint("started_at", { mode: "number" }).notNull(),
  heartbeatAt: bigint("heartbeat_at", { mode: "number" }).notNull(),
});

/** Which replica holds each downstream MCP session, so another replica can forward its requests there. */
export const mcpSessions = pgTable(
  "mcp_sessions",
  {
    sessionId: text("session_id").primaryKey(),
    replicaId: text("replica_id").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (table) => [index("mcp_sessions_replica_id_idx").on(table.replicaId)],
);

/**
 * Each replica's state of each connection it runs (stdio processes run per replica), written when the
 * state changes; shown in CONNECTION_GET and the connection's page when there are several replicas.
 */
export const replicaConnections = pgTable(
  "replica_connections",
  {
    replicaId: text("replica_id").notNull(),
    connectionId: text("connection_id").notNull(),
    state: text("state").notNull(),
    error: text("error"),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.replicaId, table.connectionId] }), index("replica_connections_connection_id_idx").on(table.connectionId)],
);

/**
 * The sign-in throttle's attempts when several replicas share the database (domain/access/
 * sign-in-attempts.ts): one row per counter an attempt is counted against, `key` being the lowercased
 * account, the client IP or the trusted device's id. A row is a reservation until the attempt
 * succeeds (deleted) or fails (kept until it leaves the window). `at` in ms since the epoch.
 */
export const signInAttempts = pgTable(
  "sign_in_attempts",
  {
    id: text("id").primaryKey(),
    counter: text("counter", { enum: ["account", "ip", "device"] }).notNull(),
    key: text("key").notNull(),
    at: bigint("at", { mode: "number" }).notNull(),
  },
  (table) => [index("sign_in_attempts_counter_key_at_idx").on(table.counter, table.key, table.at), index("sign_in_attempts_at_idx").on(table.at)],
);

/**
 * PostgreSQL only: the change feed (src/db/change-probe.ts). One row whose version the triggers of
 * migration 0002_change_feed bump, in the committing transaction, on every write to a table whose
 * rows a cache holds (keys, users, OAuth clients, grants and tokens, agents, connections); each request
 * reads it once to know whether its caches still hold. SQLite needs no table: its WAL header tells.
 */
export const switchboardChanges = pgTable("switchboard_changes", {
  id: integer("id").primaryKey(),
  version: bigint("version", { mode: "number" }).notNull(),
});

/**
 * Switchboard as a client of an OAuth connection's authorization server (issue 16): what discovery found
 * and how it registered (CIMD, DCR or the admin's client). One per connection; deleted when the URL or the
 * client settings change, so the next authorization discovers again. The client secret is sealed, bound to
 * the connection.
 */
export const upstreamOAuthRegistrations = pgTable("upstream_oauth_registrations", {
  connectionId: text("connection_id").primaryKey().references(() => connections.id, { onDelete: "cascade" }),
  issuer: text("issuer").notNull(),
  resource: text("resource").notNull(),
  authorizationEndpoint: text("authorization_endpoint").notNull(),
  tokenEndpoint: text("token_endpoint").notNull(),
  revocationEndpoint: text("revocation_endpoint"),
  userinfoEndpoint: text("userinfo_endpoint"),
  method: text("method", { enum: ["cimd", "dcr", "manual"] }).notNull(),
  clientId: text("client_id").notNull(),
  clientSecretSealed: text("client_secret_sealed"),
  tokenEndpointAuthMethod: text("token_endpoint_auth_method", { enum: ["none", "client_secret_basic", "client_secret_post"] }).notNull(),
  scopes: text("scopes"),
  redirectUri: text("redirect_uri").notNull(),
  createdAt: epochMs("created_at").notNull(),
});

/**
 * The upstream tokens of an OAuth connection, per subject: "shared" (the connection's one account; user_id
 * null) or a user's own (subject = user_id; gone with the user). Tokens are sealed, bound to the row and
 * kind; `refresh_token_hash` (an HMAC) lets a refresh replace the tokens only if no other replica did first.
 * `connected_by` is who authorized it, set null when that user is removed (a shared link stays).
 */
export const upstreamOAuthLinks = pgTable(
  "upstream_oauth_links",
  {
    connectionId: text("connection_id").notNull().references(() => connections.id, { onDelete: "cascade" }),
    subject: text("subject").notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    accessTokenSealed: text("access_token_sealed").notNull(),
    refreshTokenSealed: text("refresh_token_sealed"),
    refreshTokenHash: text("refresh_token_hash"),
    expiresAt: epochMs("expires_at"),
    scope: text("scope"),
    account: text("account"),
    state: text("state", { enum: ["connected", "needs_reauth"] }).notNull(),
    lastError: text("last_error"),
    connectedBy: text("connected_by").references(() => users.id, { onDelete: "set null" }),
    connectedAt: epochMs("connected_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.connectionId, table.subject] }), index("upstream_oauth_links_user_id_idx").on(table.userId)],
);

/**
 * Authorizations in progress, under the HMAC of their `state`: taken once by the callback (on whichever
 * replica it lands), bound to the user and browser that started them. The PKCE verifier is sealed.
 */
export const upstreamOAuthFlows = pgTable(
  "upstream_oauth_flows",
  {
    stateHash: text("state_hash").primaryKey(),
    connectionId: text("connection_id").notNull().references(() => connections.id, { onDelete: "cascade" }),
    subject: text("subject").notNull(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    codeVerifierSealed: text("code_verifier_sealed").notNull(),
    bindingHash: text("binding_hash").notNull(),
    returnTo: text("return_to").notNull(),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
  },
  (table) => [index("upstream_oauth_flows_expires_at_idx").on(table.expiresAt)],
);
