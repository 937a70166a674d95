// What users granted OAuth clients: authorization codes, grants (one per approval, a family of tokens)
// and their access and refresh tokens; issuing, rotating, revoking, verifying and pruning them.
// Tokens and codes use the API keys' format (token-format.ts) and are stored only as HMACs.
import { randomUUID, timingSafeEqual } from "node:crypto";
import { and, desc, eq, isNull, lte, sql } from "drizzle-orm";
import { probedCache, sqlChangeProbe, type ChangeProbe } from "../../db/change-probe.ts";
import type { Db } from "../../db/client.ts";
import type { oauthGrants as OAuthGrantsTable } from "../../db/schema.ts";
import { sqliteOf, tables, transaction } from "../../db/store.ts";
import { AppError, OAuthError } from "../../errors.ts";
import { LastUsedRecorder, type LastUsedWriter } from "../access/api-keys.ts";
import { AGENT_ID, CONNECTION_ID, WILDCARD, type Permissions } from "../access/permissions.ts";
import { generateToken, hmacToken, isWellFormedToken } from "../access/token-format.ts";
import type { User } from "../access/users.ts";
import { CODE_CHALLENGE, verifyPkce } from "./pkce.ts";
import { redirectUriMatches } from "./redirect-uris.ts";
import { grantedScope, narrowedScope } from "./scopes.ts";
import type { OAuthGrant, TokenSet, VerifiedAccess } from "./types.ts";

/** Each kind's prefix (what secret scanners and the checksum see) and HMAC label (so kinds never cross). */
export const ACCESS_TOKEN = { prefix: "mcp_at_", label: "oauth-access:" } as const;
export const REFRESH_TOKEN = { prefix: "mcp_rt_", label: "oauth-refresh:" } as const;
export const AUTHORIZATION_CODE = { prefix: "mcp_ac_", label: "oauth-code:" } as const;

/**
 * A client (registered, or known by a fetched metadata document) that got no token within this long of
 * becoming known is pruned: both ways in are open to strangers, so what they leave behind is bounded.
 */
export const UNUSED_CLIENT_TTL_MS = 24 * 3_600_000;

/** An approved authorization request, as the consent page's approval hands it over. */
export type AuthorizationRequest = {
  clientId: string;
  userId: string;
  /** The redirect_uri of the request, exactly as presented (the token request must repeat it). */
  redirectUri: string;
  codeChallenge: string;
  /** The agent or connection id the resource URL names. */
  resource: string;
  /** The resource URL the client named (RFC 8707), the tokens' audience. */
  resourceUrl: string;
  scope: string;
};

type TokenKind = { prefix: string; label: string };

function hashOf(hmacKey: Buffer, kind: TokenKind, token: string): string {
  return hmacToken(hmacKey, kind.label, token);
}

function sameHash(a: string, b: string): boolean {
  // The row was found by its hash through the index; compare again in constant time before trusting it.
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Whether `resource` names an agent or connection that exists and is enabled now. */
async function resourceIsLive(db: Db, resource: string): Promise<boolean> {
  const { agents, connections } = tables(db);
  if (AGENT_ID.test(resource)) {
    const [agent] = await db.select({ enabled: agents.enabled }).from(agents).where(eq(agents.id, resource));
    return agent?.enabled === true;
  }
  if (CONNECTION_ID.test(resource)) {
    const [connection] = await db.select({ enabled: connections.enabled }).from(connections).where(eq(connections.id, resource));
    return connection?.enabled === true;
  }
  return false;
}

/**
 * Issues a single-use authorization code for an approved request, bound to the client, the user, the
 * redirect URI, the PKCE challenge, the resource and the scope; valid for `ttlMs`. The request is
 * checked again here (client, redirect URI, challenge, scope, resource), whatever the caller checked.
 */
export async function issueCode(db: Db, hmacKey: Buffer, request: AuthorizationRequest, options: { ttlMs: number; now?: Date }): Promise<string> {
  const { oauthClients, oauthCodes, users } = tables(db);
  const now = options.now ?? new Date();
  const [client] = await db.select({ redirectUris: oauthClients.redirectUris }).from(oauthClients).where(eq(oauthClients.id, request.clientId));
  if (!client) throw new OAuthError("invalid_client", "No such client; register again.");
  if (!redirectUriMatches(client.redirectUris, request.redirectUri)) throw new OAuthError("invalid_request", "redirect_uri is not one of the client's registered redirect URIs.");
  // OAuth 2.1 §4.1.1: PKCE is required, and only S256 is offered.
  if (!CODE_CHALLENGE.test(request.codeChallenge)) throw new OAuthError("invalid_request", "code_challenge must be an S256 challenge (43 characters of base64url).");
  const scope = grantedScope(request.scope);
  if (!(await resourceIsLive(db, request.resource))) throw new OAuthError("invalid_target", "The resource is not an enabled agent or connection of this server.");
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, request.userId));
  if (!user) throw new OAuthError("access_denied", "The approving user no longer exists.");
  const code = generateToken(AUTHORIZATION_CODE.prefix);
  await db
    .insert(oauthCodes)
    .values({
      id: `code_${randomUUID()}`,
      codeHash: hashOf(hmacKey, AUTHORIZATION_CODE, code),
      clientId: request.clientId,
      userId: request.userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      resource: request.resource,
      resourceUrl: request.resourceUrl,
      scope,
      createdAt: now,
      expiresAt: new Date(now.getTime() + options.ttlMs),
    });
  return code;
}

type TokenOptions = { accessTtlMs: number; refreshTtlMs: number; now?: Date };

/** Inserts a new access and refresh token into `grantId`'s family and marks the grant and its client used. */
async function issuePair(tx: Db, hmacKey: Buffer, grant: { id: string; clientId: string; scope: string }, accessScope: string, options: TokenOptions, now: Date): Promise<TokenSet> {
  const { oauthClients, oauthGrants, oauthTokens } = tables(tx);
  const accessToken = generateToken(ACCESS_TOKEN.prefix);
  const refreshToken = generateToken(REFRESH_TOKEN.prefix);
  await tx.insert(oauthTokens)
    .values([
      { id: `tok_${randomUUID()}`, tokenHash: hashOf(hmacKey, ACCESS_TOKEN, accessToken), grantId: grant.id, kind: "access", scope: accessScope, createdAt: now, expiresAt: new Date(now.getTime() + options.accessTtlMs) },
      // The refresh token keeps the grant's whole scope (RFC 6749 §6); its lifetime restarts with each rotation.
      { id: `tok_${randomUUID()}`, tokenHash: hashOf(hmacKey, REFRESH_TOKEN, refreshToken), grantId: grant.id, kind: "refresh", scope: grant.scope, createdAt: now, expiresAt: new Date(now.getTime() + options.refreshTtlMs) },
    ]);
  await tx.update(oauthGrants).set({ lastUsedAt: now }).where(eq(oauthGrants.id, grant.id));
  await tx.update(oauthClients).set({ lastUsedAt: now }).where(eq(oauthClients.id, grant.clientId));
  return { accessToken, refreshToken, expiresIn: Math.floor(options.accessTtlMs / 1000), scope: accessScope, grantId: grant.id };
}

/** A transaction's outcome: a refusal must be thrown after the commit, so what it revoked or spent stays done. */
type Outcome = { ok: true; tokens: TokenSet } | { ok: false; error: OAuthError };

function settle(outcome: Outcome): TokenSet {
  if (!outcome.ok) throw outcome.error;
  return outcome.tokens;
}

const badCode = (why: string): Outcome => ({ ok: false, error: new OAuthError("invalid_grant", why) });

const ALREADY_USED_CODE = "The authorization code was already used; the tokens issued for it are revoked.";

/** A code presented again: the grant its first exchange made is revoked (RFC 6749 §4.1.2), someone else holds the code. */
async function reusedCode(tx: Db, codeId: string): Promise<Outcome> {
  const { oauthCodes, oauthGrants } = tables(tx);
  const [code] = await tx.select({ grantId: oauthCodes.grantId }).from(oauthCodes).where(eq(oauthCodes.id, codeId));
  if (code?.grantId) await tx.delete(oauthGrants).where(eq(oauthGrants.id, code.grantId));
  return badCode(ALREADY_USED_CODE);
}

/**
 * Exchanges an authorization code for a new grant's first tokens. The code is spent by the first
 * presentation, whatever its outcome (a wrong verifier, redirect URI, client or resource, or expiry,
 * is `invalid_grant` and spends it). A code presented again is `invalid_grant` and revokes the grant
 * its first exchange made (RFC 6749 §4.1.2): someone else holds it. Two presentations at once, by two
 * replicas even, never both get tokens: the code is spent by a conditional write, which only one wins.
 */
export async function exchangeCode(
  db: Db,
  hmacKey: Buffer,
  input: { code: string; clientId: string; redirectUri: string; codeVerifier: string; resourceUrl: string | null },
  options: TokenOptions,
): Promise<TokenSet> {
  const now = options.now ?? new Date();
  if (!isWellFormedToken(AUTHORIZATION_CODE.prefix, input.code)) throw new OAuthError("invalid_grant", "The authorization code is not valid.");
  const hash = hashOf(hmacKey, AUTHORIZATION_CODE, input.code);
  const outcome = await transaction(db, async (tx): Promise<Outcome> => {
    const { oauthCodes, oauthGrants } = tables(tx);
    const [code] = await tx.select().from(oauthCodes).where(eq(oauthCodes.codeHash, hash));
    if (!code || !sameHash(code.codeHash, hash)) return badCode("The authorization code is not valid.");
    if (code.usedAt !== null) return reusedCode(tx, code.id);
    // Spent only if still unspent: on PostgreSQL another replica's exchange may have spent it since the
    // read (this write waits for that one's commit, then matches nothing), and that makes this one a reuse.
    const spent = await tx
      .update(oauthCodes)
      .set({ usedAt: now })
      .where(and(eq(oauthCodes.id, code.id), isNull(oauthCodes.usedAt)))
      .returning({ id: oauthCodes.id });
    if (spent.length === 0) return reusedCode(tx, code.id);
    if (code.clientId !== input.clientId) return badCode("The authorization code was issued to another client.");
    if (code.expiresAt.getTime() <= now.getTime()) return badCode("The authorization code has expired.");
    // RFC 6749 §4.1.3: the redirect_uri must be identical to the authorization request's.
    if (code.redirectUri !== input.redirectUri) return badCode("redirect_uri differs from the authorization request's.");
    if (!verifyPkce(input.codeVerifier, code.codeChallenge)) return badCode("code_verifier does not match the code_challenge.");
    // RFC 8707 §2.2: a resource named again must be the one the code was issued for.
    if (input.resourceUrl !== null && input.resourceUrl !== code.resourceUrl) {
      return { ok: false, error: new OAuthError("invalid_target", "resource differs from the one the authorization was given for.") };
    }
    const grant = {
      id: `grant_${randomUUID()}`,
      userId: code.userId,
      clientId: code.clientId,
      resource: code.resource,
      resourceUrl: code.resourceUrl,
      scope: code.scope,
      // At most the resource, and at most the consenting user's (every user may use every agent and connection).
      permissions: { [code.resource]: [WILDCARD] },
      createdAt: now,
    };
    await tx.insert(oauthGrants).values(grant);
    await tx.update(oauthCodes).set({ grantId: grant.id }).where(eq(oauthCodes.id, code.id));
    return { ok: true, tokens: await issuePair(tx, hmacKey, grant, grant.scope, options, now) };
  });
  return settle(outcome);
}

const ALREADY_USED_REFRESH = "The refresh token was already used; every token of this authorization is revoked.";

/**
 * Rotates a refresh token: it is spent and a new access and refresh token are issued in its grant. A
 * spent (rotated-out) refresh token presented again revokes the whole grant (reuse detection: either
 * the client or a thief holds a copy) and is `invalid_grant`. One transaction, and the token is spent
 * by a conditional write, so two presentations of one token can never both succeed, in this process,
 * another, or another replica.
 */
export async function refreshTokens(
  db: Db,
  hmacKey: Buffer,
  input: { refreshToken: string; clientId: string; resourceUrl: string | null; scope: string | null },
  options: TokenOptions,
): Promise<TokenSet> {
  const now = options.now ?? new Date();
  const invalid = "The refresh token is not valid.";
  if (!isWellFormedToken(REFRESH_TOKEN.prefix, input.refreshToken)) throw new OAuthError("invalid_grant", invalid);
  const hash = hashOf(hmacKey, REFRESH_TOKEN, input.refreshToken);
  const outcome = await transaction(db, async (tx): Promise<Outcome> => {
    const { oauthGrants, oauthTokens } = tables(tx);
    const [row] = await tx
      .select({ token: oauthTokens, grant: oauthGrants })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grantId))
      .where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "refresh")));
    if (!row || !sameHash(row.token.tokenHash, hash)) return badCode(invalid);
    if (row.token.usedAt !== null) {
      await tx.delete(oauthGrants).where(eq(oauthGrants.id, row.grant.id));
      return badCode(ALREADY_USED_REFRESH);
    }
    if (row.token.expiresAt.getTime() <= now.getTime()) return badCode("The refresh token has expired.");
    if (row.grant.clientId !== input.clientId) return badCode(invalid);
    if (input.resourceUrl !== null && input.resourceUrl !== row.grant.resourceUrl) {
      return { ok: false, error: new OAuthError("invalid_target", "resource differs from the one the authorization was given for.") };
    }
    let scope: string;
    try {
      scope = narrowedScope(row.grant.scope, input.scope);
    } catch (err) {
      if (err instanceof OAuthError) return { ok: false, error: err };
      throw err;
    }
    // Spent only if still unspent: a rotation that committed since the read (another replica's, on
    // PostgreSQL) leaves nothing to match, and this presentation is then a reuse like any other.
    const spent = await tx
      .update(oauthTokens)
      .set({ usedAt: now })
      .where(and(eq(oauthTokens.id, row.token.id), isNull(oauthTokens.usedAt)))
      .returning({ id: oauthTokens.id });
    if (spent.length === 0) {
      await tx.delete(oauthGrants).where(eq(oauthGrants.id, row.grant.id));
      return badCode(ALREADY_USED_REFRESH);
    }
    return { ok: true, tokens: await issuePair(tx, hmacKey, row.grant, scope, options, now) };
  });
  return settle(outcome);
}

/**
 * Revokes a token (RFC 7009): a refresh token ends its whole grant (every token of the family), an
 * access token only itself; an unknown, malformed or already revoked token is no error (§2.2).
 */
export async function revokeToken(db: Db, hmacKey: Buffer, token: string): Promise<void> {
  const { oauthGrants, oauthTokens } = tables(db);
  if (isWellFormedToken(REFRESH_TOKEN.prefix, token)) {
    const hash = hashOf(hmacKey, REFRESH_TOKEN, token);
    const [row] = await db.select({ grantId: oauthTokens.grantId }).from(oauthTokens).where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "refresh")));
    if (row) await db.delete(oauthGrants).where(eq(oauthGrants.id, row.grantId));
  } else if (isWellFormedToken(ACCESS_TOKEN.prefix, token)) {
    const hash = hashOf(hmacKey, ACCESS_TOKEN, token);
    await db.delete(oauthTokens).where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "access")));
  }
}

type GrantRow = { grant: typeof OAuthGrantsTable.$inferSelect; userEmail: string; clientName: string; clientKind: "dcr" | "cimd"; refreshExpiresAt: number | null };

function toGrant(row: GrantRow): OAuthGrant {
  const g = row.grant;
  return {
    id: g.id,
    userId: g.userId,
    userEmail: row.userEmail,
    clientId: g.clientId,
    clientName: row.clientName,
    clientKind: row.clientKind,
    resource: g.resource,
    resourceUrl: g.resourceUrl,
    scope: g.scope,
    permissions: g.permissions,
    createdAt: g.createdAt,
    lastUsedAt: g.lastUsedAt,
    refreshExpiresAt: row.refreshExpiresAt === null ? null : new Date(row.refreshExpiresAt),
  };
}

function selectGrants(db: Db, now: Date) {
  const { oauthClients, oauthGrants, oauthTokens, users } = tables(db);
  // When the family's newest live refresh token expires: a correlated subquery, as epoch ms (or null;
  // PostgreSQL returns its bigint as a string, hence the mapping).
  const refreshExpiresAt = sql<number | null>`(select max(${oauthTokens.expiresAt}) from ${oauthTokens} where ${oauthTokens.grantId} = ${oauthGrants.id} and ${oauthTokens.kind} = 'refresh' and ${oauthTokens.usedAt} is null and ${oauthTokens.expiresAt} > ${now.getTime()})`.mapWith(Number);
  return db
    .select({ grant: oauthGrants, userEmail: users.email, clientName: oauthClients.name, clientKind: oauthClients.kind, refreshExpiresAt })
    .from(oauthGrants)
    .innerJoin(users, eq(users.id, oauthGrants.userId))
    .innerJoin(oauthClients, eq(oauthClients.id, oauthGrants.clientId));
}

/** Grants ("authorized apps"), newest first; only `userId`'s when given. */
export async function listGrants(db: Db, options: { userId?: string; now?: Date } = {}): Promise<OAuthGrant[]> {
  const { oauthGrants } = tables(db);
  const query = selectGrants(db, options.now ?? new Date());
  const filtered = options.userId === undefined ? query : query.where(eq(oauthGrants.userId, options.userId));
  const rows = await filtered.orderBy(desc(oauthGrants.createdAt), desc(oauthGrants.id));
  return rows.map(toGrant);
}

/** One grant, or null; `now` decides which refresh token is still live (refreshExpiresAt). */
export async function getGrant(db: Db, id: string, now = new Date()): Promise<OAuthGrant | null> {
  const { oauthGrants } = tables(db);
  const [row] = await selectGrants(db, now).where(eq(oauthGrants.id, id));
  return row ? toGrant(row) : null;
}

/** Revokes a grant: every token of its family stops on the next request. */
export async function revokeGrant(db: Db, id: string): Promise<void> {
  const { oauthGrants } = tables(db);
  const deleted = await db.delete(oauthGrants).where(eq(oauthGrants.id, id)).returning({ id: oauthGrants.id });
  if (deleted.length === 0) throw new AppError("OAUTH_GRANT_NOT_FOUND");
}

/** The grants' writer for LastUsedRecorder: `oauth_grants.last_used_at` (a client's is written when it gets tokens). */
export const writeGrantLastUsed: LastUsedWriter = async (tx, id, at) => {
  const { oauthGrants } = tables(tx);
  await tx.update(oauthGrants).set({ lastUsedAt: at }).where(eq(oauthGrants.id, id));
};

/** A recorder of grants' last use by the resource server, written in batches like keys'. */
export function createGrantLastUsedRecorder(db: Db, flushEveryMs?: number): LastUsedRecorder {
  return new LastUsedRecorder(db, flushEveryMs, writeGrantLastUsed);
}

type CachedAccess = { grantId: string; clientId: string; resource: string; permissions: Permissions; expiresAt: number; user: User };

/** The probe a verifier uses when none is given: SQLite's (the PostgreSQL change feed is handed in by compose). */
function defaultProbe(db: Db): ChangeProbe {
  const sqlite = sqliteOf(db);
  if (!sqlite) throw new Error("an access token verifier on PostgreSQL needs its change probe");
  return sqlChangeProbe(sqlite);
}

/**
 * A verifier of access tokens bound to one database, like the API keys' (createKeyVerifier): one HMAC
 * and a look at the change probe per call, a cache dropped whenever anything was committed, so a
 * revoked grant, a deleted client or user (the foreign keys take their tokens) fails on the very next
 * request. Resolves to null for a malformed, unknown, expired or revoked token.
 */
export function createAccessTokenVerifier(db: Db, hmacKey: Buffer, probe: ChangeProbe = defaultProbe(db)): (token: string, now?: Date) => Promise<VerifiedAccess | null> {
  const { oauthGrants, oauthTokens, users } = tables(db);
  // The same HMAC as hashOf(ACCESS_TOKEN), with the key schedule done once rather than per request.
  const keyed = new Bun.CryptoHasher("sha256", hmacKey);

  const load = async (hash: string): Promise<CachedAccess | null> => {
    const [row] = await db
      .select({
        tokenHash: oauthTokens.tokenHash,
        expiresAt: oauthTokens.expiresAt,
        grantId: oauthGrants.id,
        clientId: oauthGrants.clientId,
        resource: oauthGrants.resource,
        permissions: oauthGrants.permissions,
        userId: users.id,
        userEmail: users.email,
        userRole: users.role,
        userCreatedAt: users.createdAt,
      })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grantId))
      .innerJoin(users, eq(users.id, oauthGrants.userId))
      .where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "access")));
    if (!row || !sameHash(row.tokenHash, hash)) return null;
    return {
      grantId: row.grantId,
      clientId: row.clientId,
      resource: row.resource,
      permissions: row.permissions,
      expiresAt: row.expiresAt.getTime(),
      user: { id: row.userId, email: row.userEmail, role: row.userRole, createdAt: row.userCreatedAt },
    };
  };

  const lookup = probedCache(probe, load);

  return async (token, now = new Date()) => {
    // Malformed and mistyped tokens (an API key among them) are refused before any lookup.
    if (!isWellFormedToken(ACCESS_TOKEN.prefix, token)) return null;
    const access = await lookup(keyed.copy().update(`${ACCESS_TOKEN.label}${token}`).digest("base64url"));
    if (access === null) return null;
    if (access.expiresAt <= now.getTime()) return null;
    return { grantId: access.grantId, clientId: access.clientId, resource: access.resource, permissions: access.permissions, expiresAt: new Date(access.expiresAt), user: access.user };
  };
}

/**
 * Deletes what can no longer be used: expired codes and tokens, grants with no live token left (no
 * unexpired access token and no unspent, unexpired refresh token), and clients (registered or document)
 * that got no token within UNUSED_CLIENT_TTL_MS of becoming known. Returns how many rows it deleted.
 */
export async function pruneOAuth(db: Db, now = new Date()): Promise<number> {
  return transaction(db, async (tx) => {
    const { oauthClients, oauthCodes, oauthGrants, oauthTokens } = tables(tx);
    const codes = await tx.delete(oauthCodes).where(lte(oauthCodes.expiresAt, now)).returning({ id: oauthCodes.id });
    const tokens = await tx.delete(oauthTokens).where(lte(oauthTokens.expiresAt, now)).returning({ id: oauthTokens.id });
    const grants = await tx
      .delete(oauthGrants)
      .where(sql`not exists (select 1 from ${oauthTokens} where ${oauthTokens.grantId} = ${oauthGrants.id} and (${oauthTokens.kind} = 'access' or ${oauthTokens.usedAt} is null))`)
      .returning({ id: oauthGrants.id });
    const clients = await tx
      .delete(oauthClients)
      .where(and(isNull(oauthClients.lastUsedAt), lte(oauthClients.createdAt, new Date(now.getTime() - UNUSED_CLIENT_TTL_MS)), sql`not exists (select 1 from ${oauthGrants} where ${oauthGrants.clientId} = ${oauthClients.id})`))
      .returning({ id: oauthClients.id });
    return codes.length + tokens.length + grants.length + clients.length;
  });
}
