// The database tables, as drizzle definitions; drizzle-kit generates migrations from this file.
import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";
import type { AgentConnectionSelection } from "../domain/agents/tools.ts";

/** People who sign in to the admin. Emails are stored lower-cased. */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  role: text("role", { enum: ["admin", "member"] }).notNull(),
  passwordHash: text("password_hash").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** Server-side admin sessions. Only a hash of the session token is stored, so a leaked database opens no session. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [index("sessions_user_id_idx").on(table.userId), index("sessions_expires_at_idx").on(table.expiresAt)],
);

/**
 * API keys. Only an HMAC-SHA-256 of the token (under a key derived from the server secret) is kept,
 * indexed for a constant-cost lookup; `prefix` is the start of the token, for people to recognise it.
 * After a rotation with a grace period the previous token's hash stays valid until `previous_expires_at`.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    permissions: text("permissions", { mode: "json" }).notNull().$type<Record<string, string[]>>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    previousTokenHash: text("previous_token_hash").unique(),
    previousExpiresAt: integer("previous_expires_at", { mode: "timestamp_ms" }),
  },
  (table) => [index("api_keys_owner_id_idx").on(table.ownerId)],
);

/**
 * Upstream MCP servers. Token, headers and env are AES-256-GCM ciphertexts (src/security/cipher.ts)
 * bound to the row id and column, never plain text. Null timeouts and max_processes mean the
 * [gateway] defaults. Rows with from_config were declared in switchboard.toml and are rewritten at start.
 */
export const connections = sqliteTable("connections", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  title: text("title").notNull(),
  description: text("description").notNull(),
  transport: text("transport", { enum: ["http", "sse", "stdio"] }).notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  url: text("url"),
  command: text("command"),
  args: text("args", { mode: "json" }).notNull().$type<string[]>(),
  cwd: text("cwd"),
  isolation: text("isolation", { enum: ["shared", "session"] }).notNull(),
  maxProcesses: integer("max_processes"),
  connectTimeoutMs: integer("connect_timeout_ms"),
  callTimeoutMs: integer("call_timeout_ms"),
  tokenSealed: text("token_sealed"),
  headersSealed: text("headers_sealed"),
  envSealed: text("env_sealed"),
  fromConfig: integer("from_config", { mode: "boolean" }).notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * Agents: virtual MCP servers over a selection of connections' tools (and resources and prompts).
 * `selections` is the AgentConnectionSelection list, keyed by connection id, in the agent's order.
 * Rows with from_config were declared in switchboard.toml and are rewritten at start.
 */
export const agents = sqliteTable("agents", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  title: text("title").notNull(),
  description: text("description").notNull(),
  instructions: text("instructions").notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  prefixTools: integer("prefix_tools", { mode: "boolean" }).notNull(),
  selections: text("selections", { mode: "json" }).notNull().$type<AgentConnectionSelection[]>(),
  fromConfig: integer("from_config", { mode: "boolean" }).notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * OAuth clients (public clients: PKCE, no secret). A registered client (RFC 7591, kind "dcr") has an
 * "sbc_<random>" id; a metadata-document client (kind "cimd") is keyed by its document's https URL and
 * re-fetched after `cached_until`. `last_used_at` is when a token was last issued to it.
 */
export const oauthClients = sqliteTable(
  "oauth_clients",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["dcr", "cimd"] }).notNull(),
    name: text("name").notNull(),
    redirectUris: text("redirect_uris", { mode: "json" }).notNull().$type<string[]>(),
    clientUri: text("client_uri"),
    logoUri: text("logo_uri"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    cachedUntil: integer("cached_until", { mode: "timestamp_ms" }),
  },
  (table) => [index("oauth_clients_created_at_idx").on(table.createdAt), index("oauth_clients_kind_created_at_idx").on(table.kind, table.createdAt)],
);

/**
 * Approvals: a user let a client reach one agent or connection (`resource`, the id; `resource_url`,
 * the URL the client named, the tokens' audience). One grant is one family of tokens; deleting it
 * (revocation, reuse of a rotated-out refresh token, the user's, the client's or the resource's
 * removal) ends every token of the family.
 */
export const oauthGrants = sqliteTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    clientId: text("client_id").notNull().references(() => oauthClients.id, { onDelete: "cascade" }),
    resource: text("resource").notNull(),
    resourceUrl: text("resource_url").notNull(),
    scope: text("scope").notNull(),
    permissions: text("permissions", { mode: "json" }).notNull().$type<Record<string, string[]>>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
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
export const oauthCodes = sqliteTable(
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
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }),
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
export const oauthTokens = sqliteTable(
  "oauth_tokens",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    grantId: text("grant_id").notNull().references(() => oauthGrants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["access", "refresh"] }).notNull(),
    scope: text("scope").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }),
  },
  (table) => [index("oauth_tokens_grant_id_idx").on(table.grantId), index("oauth_tokens_expires_at_idx").on(table.expiresAt)],
);
