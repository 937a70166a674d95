// Connections: upstream MCP servers, stored with their token, headers, env and OAuth client secret
// encrypted (AES-256-GCM, bound to the row id and column), validated per transport and against the
// [stdio] policy, and turned into the ConnectionSpec the gateway runs. Secrets leave this module only
// inside a spec. Changing what an OAuth connection's tokens were for forgets them.
import { randomUUID } from "node:crypto";
import { asc, eq, getTableColumns, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client.ts";
import type { connections } from "../../db/schema.ts";
import { tables, transaction } from "../../db/store.ts";
import { AppError } from "../../errors.ts";
import type { ConnectionSpec, UpstreamTransport } from "./spec.ts";
import { decryptSecret, encryptSecret } from "../../security/cipher.ts";
import { removeConnectionFromAgents } from "../agents/agents.ts";
import { authProblems, stdioRefusal, transportProblems, type AuthFields, type StdioPolicy, type TransportFields } from "./rules.ts";
import { CONNECTION_ID } from "../access/permissions.ts";
import { removeGrantsOn } from "../access/grants.ts";

/** What a masked secret reads as; sent back unchanged, it keeps the stored value. */
export const SECRET_MASK = "********";

/** Everything a connection is made of, secrets in clear (in memory only). */
export type ConnectionFields = TransportFields & AuthFields & {
  slug: string;
  title: string;
  description: string;
  enabled: boolean;
  isolation: "shared" | "session";
  /** Null: the [gateway] default. */
  maxProcesses: number | null;
  connectTimeoutMs: number | null;
  callTimeoutMs: number | null;
  /** Usage rows keep this connection's call arguments and results (capped, redacted). */
  recordPayloads: boolean;
};

export type Connection = ConnectionFields & {
  id: string;
  fromConfig: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** The stored secrets could not be decrypted (the server secret changed): they read as unset. */
  secretsUnreadable: boolean;
};

/**
 * A change: absent fields stay. `token: null` (or "") removes the token, and likewise the OAuth client
 * secret, client id and scopes; SECRET_MASK as the token or client secret keeps the stored one; headers
 * and env are replaced whole, except that a value equal to SECRET_MASK keeps the stored value of that name.
 */
export type ConnectionChanges = Partial<ConnectionFields>;

/** What the connection functions need: the database, the encryption key and the [stdio] policy. */
export type ConnectionStore = { db: Db; encryptionKey: Buffer; stdio: StdioPolicy };

/** The [gateway] defaults a spec falls back on. */
export type GatewayDefaults = { connect_timeout: number; call_timeout: number; stdio_max_processes: number; max_response_size?: number };

type Row = typeof connections.$inferSelect;

function seal(store: ConnectionStore, id: string, column: string, value: string | null): string | null {
  return value === null ? null : encryptSecret(store.encryptionKey, value, `${id}:${column}`);
}

function sealTable(store: ConnectionStore, id: string, column: string, table: Record<string, string>): string | null {
  return Object.keys(table).length === 0 ? null : seal(store, id, column, JSON.stringify(table));
}

function toConnection(store: ConnectionStore, row: Row): Connection {
  let secretsUnreadable = false;
  const open = (column: string, sealed: string | null): string | null => {
    if (sealed === null) return null;
    try {
      return decryptSecret(store.encryptionKey, sealed, `${row.id}:${column}`);
    } catch {
      secretsUnreadable = true;
      return null;
    }
  };
  const token = open("token", row.tokenSealed);
  const headers = JSON.parse(open("headers", row.headersSealed) ?? "{}") as Record<string, string>;
  const env = JSON.parse(open("env", row.envSealed) ?? "{}") as Record<string, string>;
  const oauthClientSecret = open("oauth_client_secret", row.oauthClientSecretSealed);
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    transport: row.transport,
    enabled: row.enabled,
    url: row.url,
    token,
    headers,
    command: row.command,
    args: row.args,
    cwd: row.cwd,
    env,
    isolation: row.isolation,
    maxProcesses: row.maxProcesses,
    connectTimeoutMs: row.connectTimeoutMs,
    callTimeoutMs: row.callTimeoutMs,
    recordPayloads: row.recordPayloads,
    auth: row.auth,
    oauthMode: row.oauthMode,
    oauthClientId: row.oauthClientId,
    oauthClientSecret,
    oauthScopes: row.oauthScopes,
    fromConfig: row.fromConfig,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    secretsUnreadable,
  };
}

/** The connection with this id (conn_<uuid>) or slug, or null. */
export async function getConnection(store: ConnectionStore, idOrSlug: string): Promise<Connection | null> {
  const { connections } = tables(store.db);
  const column = CONNECTION_ID.test(idOrSlug) ? connections.id : connections.slug;
  const [row] = await store.db.select().from(connections).where(eq(column, idOrSlug)).limit(1);
  return row ? toConnection(store, row) : null;
}

/** Like getConnection, but CONNECTION_NOT_FOUND when there is none. */
export async function findConnection(store: ConnectionStore, idOrSlug: string): Promise<Connection> {
  const found = await getConnection(store, idOrSlug);
  if (!found) throw new AppError("CONNECTION_NOT_FOUND");
  return found;
}

/** Every connection by slug, secrets decrypted (tests read what was stored); a list anyone sees uses listConnectionSummaries. */
export async function listConnections(store: ConnectionStore): Promise<Connection[]> {
  const { connections } = tables(store.db);
  return (await store.db.select().from(connections).orderBy(asc(connections.slug))).map((row) => toConnection(store, row));
}

/**
 * A connection's public columns, and whether each secret is stored: what a list of connections may
 * show without reading a secret. Header and env names live inside the sealed tables, so they are not here.
 */
export type ConnectionSummary = Omit<Connection, "token" | "headers" | "env" | "oauthClientSecret" | "secretsUnreadable"> & {
  tokenSet: boolean;
  headersSet: boolean;
  envSet: boolean;
  oauthClientSecretSet: boolean;
};

/** True when a sealed column holds something; decided by the database, so the ciphertext is never read out. */
const stored = (column: SQLiteColumn) => sql<boolean>`(${column} is not null and ${column} <> '')`.mapWith(Boolean);

/**
 * Every connection by slug, its public columns only: the sealed token, headers, env and OAuth client secret are never
 * selected (only whether they are set), so listing what exists (CONNECTION_LIST, the admin's list,
 * start-up discovery, what a key can be granted) never decrypts a secret nor holds one in memory.
 */
export async function listConnectionSummaries(db: Db): Promise<ConnectionSummary[]> {
  const { connections } = tables(db);
  // Every column but the sealed ones, derived from the table: a column added later is listed too.
  const { tokenSealed, headersSealed, envSealed, oauthClientSecretSealed, ...publicColumns } = getTableColumns(connections);
  return db
    .select({
      ...publicColumns,
      tokenSet: stored(tokenSealed),
      headersSet: stored(headersSealed),
      envSet: stored(envSealed),
      oauthClientSecretSet: stored(oauthClientSecretSealed),
    })
    .from(connections)
    .orderBy(asc(connections.slug));
}

/** Whether a connection has this id (for permission validation; no decryption). */
export async function connectionExists(db: Db, id: string): Promise<boolean> {
  const { connections } = tables(db);
  const [row] = await db.select({ id: connections.id }).from(connections).where(eq(connections.id, id)).limit(1);
  return row !== undefined;
}

function mergeTable(field: "headers" | "env", current: Record<string, string>, next: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(next)) {
    if (value !== SECRET_MASK) out[name] = value;
    else if (current[name] !== undefined) out[name] = current[name];
    else throw new AppError("VALIDATION_FAILED", `${field}.${name}: expected a value`, { fields: { [`${field}.${name}`]: "expected a value" } });
  }
  return out;
}

/** The fields after a change, secrets merged as ConnectionChanges describes. */
export function applyChanges(current: ConnectionFields, changes: ConnectionChanges): ConnectionFields {
  const next: ConnectionFields = { ...current };
  for (const [key, value] of Object.entries(changes) as [keyof ConnectionFields, never][]) if (value !== undefined) next[key] = value;
  if (changes.token !== undefined) next.token = changes.token === SECRET_MASK ? current.token : changes.token || null;
  if (changes.headers !== undefined) next.headers = mergeTable("headers", current.headers, changes.headers);
  if (changes.env !== undefined) next.env = mergeTable("env", current.env, changes.env);
  if (changes.oauthClientSecret !== undefined) next.oauthClientSecret = changes.oauthClientSecret === SECRET_MASK ? current.oauthClientSecret : changes.oauthClientSecret || null;
  if (changes.oauthClientId !== undefined) next.oauthClientId = changes.oauthClientId || null;
  if (changes.oauthScopes !== undefined) next.oauthScopes = changes.oauthScopes || null;
  if (!next.title.trim()) next.title = next.slug;
  return next;
}

/** Throws unless the fields fit their transport and, when `checkStdio`, the [stdio] policy. */
export function checkConnection(fields: ConnectionFields, options: { stdio: StdioPolicy; checkStdio: boolean }): void {
  const problems = { ...transportProblems(fields), ...authProblems(fields) };
  if (Object.keys(problems).length > 0) {
    throw new AppError("VALIDATION_FAILED", Object.entries(problems).map(([f, m]) => `${f}: ${m}`).join("; "), { fields: problems });
  }
  if (options.checkStdio && fields.transport === "stdio") {
    const refusal = stdioRefusal(options.stdio, fields.command ?? "");
    if (refusal) throw new AppError(refusal.code, `${refusal.code === "STDIO_DISABLED" ? "transport" : "command"}: ${refusal.message}`);
  }
}

function rowValues(store: ConnectionStore, id: string, f: ConnectionFields) {
  return {
    slug: f.slug,
    title: f.title.trim() || f.slug,
    description: f.description,
    transport: f.transport,
    enabled: f.enabled,
    url: f.url,
    command: f.command,
    args: f.args,
    cwd: f.cwd,
    isolation: f.isolation,
    maxProcesses: f.maxProcesses,
    connectTimeoutMs: f.connectTimeoutMs,
    callTimeoutMs: f.callTimeoutMs,
    recordPayloads: f.recordPayloads,
    auth: f.auth,
    oauthMode: f.oauthMode,
    oauthClientId: f.oauthClientId,
    oauthScopes: f.oauthScopes,
    oauthClientSecretSealed: seal(store, id, "oauth_client_secret", f.oauthClientSecret),
    tokenSealed: seal(store, id, "token", f.token),
    headersSealed: sealTable(store, id, "headers", f.headers),
    envSealed: sealTable(store, id, "env", f.env),
  };
}

function slugTaken(err: unknown): boolean {
  // SQLite says "UNIQUE constraint failed: connections.slug", PostgreSQL 'violates unique constraint "connections_slug_unique"';
  // drizzle may wrap either (the driver's error is then the cause).
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/UNIQUE constraint failed: connections\.slug|violates unique constraint "connections_slug_unique"/.test(e.message)) return true;
  }
  return false;
}

const SLUG_TAKEN = () => new AppError("CONNECTION_SLUG_TAKEN", undefined, { fields: { slug: "another connection has this slug" } });

/** Stores a new connection after checking it; CONNECTION_SLUG_TAKEN when the slug is in use. */
export async function createConnection(store: ConnectionStore, fields: ConnectionFields, options: { now?: Date; id?: string; fromConfig?: boolean } = {}): Promise<Connection> {
  const { connections } = tables(store.db);
  checkConnection(fields, { stdio: store.stdio, checkStdio: true });
  const now = options.now ?? new Date();
  const id = options.id ?? `conn_${randomUUID()}`;
  try {
    await store.db.insert(connections).values({ id, ...rowValues(store, id, fields), fromConfig: options.fromConfig ?? false, createdAt: now, updatedAt: now });
  } catch (err) {
    if (slugTaken(err)) throw SLUG_TAKEN();
    throw err;
  }
  return findConnection(store, id);
}

/** What an OAuth connection's registration and tokens were got for: changing any of these forgets them. */
/** The fields an OAuth connection's registration and tokens were got for. */
const OAUTH_BASIS = ["url", "auth", "oauthMode", "oauthClientId", "oauthClientSecret", "oauthScopes"] as const;

/**
 * Whether `next` changes what `current`'s OAuth registration and tokens were got for: another URL is
 * another resource (maybe another authorization server), another client or mode another registration
 * and other owners, other scopes another consent. Compared in clear, so the same values rewritten (the
 * config sync at every start) change nothing.
 */
export function oauthBasisChanged(current: ConnectionFields, next: ConnectionFields): boolean {
  return OAUTH_BASIS.some((key) => current[key] !== next[key]);
}

/**
 * Forgets what an OAuth connection's change made stale, in the change's transaction: its registration,
 * its links and the sign-ins in progress. Tokens got for other settings are never sent on; everyone
 * authorizes again under the new ones.
 */
async function forgetStaleOAuth(tx: Db, id: string, current: ConnectionFields, next: ConnectionFields): Promise<void> {
  if (!oauthBasisChanged(current, next)) return;
  const { upstreamOAuthRegistrations, upstreamOAuthLinks, upstreamOAuthFlows } = tables(tx);
  await tx.delete(upstreamOAuthRegistrations).where(eq(upstreamOAuthRegistrations.connectionId, id));
  await tx.delete(upstreamOAuthLinks).where(eq(upstreamOAuthLinks.connectionId, id));
  await tx.delete(upstreamOAuthFlows).where(eq(upstreamOAuthFlows.connectionId, id));
}

/**
 * Changes a connection. Those declared in the config are read-only (CONNECTION_READ_ONLY) unless
 * `fromConfig` (the config sync itself). The [stdio] policy is checked when the command or transport
 * changes, so narrowing the policy does not stop an admin from renaming or disabling a connection.
 * One transaction: the row, and the OAuth state the change made stale (forgetStaleOAuth).
 */
export async function updateConnection(
  store: ConnectionStore,
  idOrSlug: string,
  changes: ConnectionChanges,
  options: { now?: Date; fromConfig?: boolean } = {},
): Promise<Connection> {
  return transaction(store.db, async (tx) => {
    const txStore = { ...store, db: tx };
    const { connections } = tables(tx);
    const current = await findConnection(txStore, idOrSlug);
    if (current.fromConfig && !options.fromConfig) throw new AppError("CONNECTION_READ_ONLY");
    const next = applyChanges(current, changes);
    const commandChanged = next.transport !== current.transport || next.command !== current.command;
    checkConnection(next, { stdio: store.stdio, checkStdio: commandChanged });
    try {
      await tx
        .update(connections)
        .set({ ...rowValues(store, current.id, next), fromConfig: options.fromConfig ?? current.fromConfig, updatedAt: options.now ?? new Date() })
        .where(eq(connections.id, current.id));
    } catch (err) {
      if (slugTaken(err)) throw SLUG_TAKEN();
      throw err;
    }
    await forgetStaleOAuth(tx, current.id, current, next);
    return findConnection(txStore, current.id);
  });
}

/**
 * Deletes a connection (not one declared in the config, unless `fromConfig`); returns what it was and
 * the keys that lost their grant on it. Agents that select it lose that selection and keys their grant
 * on it in the same transaction, so none names a missing connection (or a later one with its id).
 */
export async function deleteConnection(
  store: ConnectionStore,
  idOrSlug: string,
  options: { fromConfig?: boolean } = {},
): Promise<Connection & { keysChanged: string[] }> {
  return transaction(store.db, async (tx) => {
    const { connections } = tables(tx);
    const current = await findConnection({ ...store, db: tx }, idOrSlug);
    if (current.fromConfig && !options.fromConfig) throw new AppError("CONNECTION_READ_ONLY");
    await removeConnectionFromAgents(tx, current.id);
    const keysChanged = await removeGrantsOn(tx, current.id);
    await tx.delete(connections).where(eq(connections.id, current.id));
    return { ...current, keysChanged };
  });
}

/** Why the [stdio] policy stops this connection from running now, or null. */
export function policyRefusal(c: Pick<ConnectionFields, "transport" | "command">, stdio: StdioPolicy): string | null {
  return c.transport === "stdio" ? (stdioRefusal(stdio, c.command ?? "")?.message ?? null) : null;
}

/**
 * The spec the gateway runs, secrets decrypted and defaults filled in. A stdio connection the
 * [stdio] policy no longer allows (the config changed after it was created) is handed over disabled.
 */
export function toSpec(c: Connection, options: { gateway: GatewayDefaults; stdio: StdioPolicy }): ConnectionSpec {
  return {
    id: c.id,
    slug: c.slug,
    title: c.title,
    description: c.description,
    transport: c.transport,
    enabled: c.enabled && policyRefusal(c, options.stdio) === null,
    url: c.url,
    headers: { ...c.headers },
    // An OAuth connection's token is the one UpstreamCredentials gives per call (a static one is refused for it).
    token: c.auth === "oauth" ? null : c.token,
    oauth: c.auth === "oauth" ? { mode: c.oauthMode } : null,
    command: c.command,
    args: [...c.args],
    cwd: c.cwd,
    env: { ...c.env },
    isolation: c.isolation,
    maxProcesses: c.maxProcesses ?? options.gateway.stdio_max_processes,
    connectTimeoutMs: c.connectTimeoutMs ?? options.gateway.connect_timeout,
    callTimeoutMs: c.callTimeoutMs ?? options.gateway.call_timeout,
    maxResponseBytes: options.gateway.max_response_size,
    fromConfig: c.fromConfig,
    recordPayloads: c.recordPayloads,
  };
}

/** The fields of a new connection, with defaults for what `partial` leaves out. */
export function newConnectionFields(partial: Partial<ConnectionFields> & Pick<ConnectionFields, "slug" | "transport">): ConnectionFields {
  return applyChanges(
    {
      slug: partial.slug,
      title: "",
      description: "",
      transport: partial.transport,
      enabled: true,
      url: null,
      token: null,
      headers: {},
      command: null,
      args: [],
      cwd: null,
      env: {},
      isolation: "shared",
      maxProcesses: null,
      connectTimeoutMs: null,
      callTimeoutMs: null,
      recordPayloads: false,
      auth: "static",
      oauthMode: "shared",
      oauthClientId: null,
      oauthClientSecret: null,
      oauthScopes: null,
    },
    partial,
  );
}
