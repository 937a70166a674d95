// What users granted OAuth clients: authorization codes, grants (one per approval, a family of tokens)
// and their access and refresh tokens; issuing, rotating, revoking, verifying and pruning them.
// Tokens and codes use the API keys' format (token-format.ts) and are stored only as HMACs.
import { randomUUID, timingSafeEqual } from "node:crypto";
import { and, desc, eq, isNull, lte, sql } from "drizzle-orm";
import { probedCache, sqlChangeProbe, type ChangeProbe } from "../../db/change-probe.ts";
import type { Db } from "../../db/client.ts";
import { agents, connections, oauthClients, oauthCodes, oauthGrants, oauthTokens, users } from "../../db/schema.ts";
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
function resourceIsLive(db: Db, resource: string): boolean {
  if (AGENT_ID.test(resource)) return db.select({ enabled: agents.enabled }).from(agents).where(eq(agents.id, resource)).get()?.enabled === true;
  if (CONNECTION_ID.test(resource)) return db.select({ enabled: connections.enabled }).from(connections).where(eq(connections.id, resource)).get()?.enabled === true;
  return false;
}

/**
 * Issues a single-use authorization code for an approved request, bound to the client, the user, the
 * redirect URI, the PKCE challenge, the resource and the scope; valid for `ttlMs`. The request is
 * checked again here (client, redirect URI, challenge, scope, resource), whatever the caller checked.
 */
export function issueCode(db: Db, hmacKey: Buffer, request: AuthorizationRequest, options: { ttlMs: number; now?: Date }): string {
  const now = options.now ?? new Date();
  const client = db.select({ redirectUris: oauthClients.redirectUris }).from(oauthClients).where(eq(oauthClients.id, request.clientId)).get();
  if (!client) throw new OAuthError("invalid_client", "No such client; register again.");
  if (!redirectUriMatches(client.redirectUris, request.redirectUri)) throw new OAuthError("invalid_request", "redirect_uri is not one of the client's registered redirect URIs.");
  // OAuth 2.1 §4.1.1: PKCE is required, and only S256 is offered.
  if (!CODE_CHALLENGE.test(request.codeChallenge)) throw new OAuthError("invalid_request", "code_challenge must be an S256 challenge (43 characters of base64url).");
  const scope = grantedScope(request.scope);
  if (!resourceIsLive(db, request.resource)) throw new OAuthError("invalid_target", "The resource is not an enabled agent or connection of this server.");
  if (!db.select({ id: users.id }).from(users).where(eq(users.id, request.userId)).get()) throw new OAuthError("access_denied", "The approving user no longer exists.");
  const code = generateToken(AUTHORIZATION_CODE.prefix);
  db.insert(oauthCodes)
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
    })
    .run();
  return code;
}

type TokenOptions = { accessTtlMs: number; refreshTtlMs: number; now?: Date };

/** Inserts a new access and refresh token into `grantId`'s family and marks the grant and its client used. */
function issuePair(tx: Db, hmacKey: Buffer, grant: { id: string; clientId: string; scope: string }, accessScope: string, options: TokenOptions, now: Date): TokenSet {
  const accessToken = generateToken(ACCESS_TOKEN.prefix);
  const refreshToken = generateToken(REFRESH_TOKEN.prefix);
  tx.insert(oauthTokens)
    .values([
      { id: `tok_${randomUUID()}`, tokenHash: hashOf(hmacKey, ACCESS_TOKEN, accessToken), grantId: grant.id, kind: "access", scope: accessScope, createdAt: now, expiresAt: new Date(now.getTime() + options.accessTtlMs) },
      // The refresh token keeps the grant's whole scope (RFC 6749 §6); its lifetime restarts with each rotation.
      { id: `tok_${randomUUID()}`, tokenHash: hashOf(hmacKey, REFRESH_TOKEN, refreshToken), grantId: grant.id, kind: "refresh", scope: grant.scope, createdAt: now, expiresAt: new Date(now.getTime() + options.refreshTtlMs) },
    ])
    .run();
  tx.update(oauthGrants).set({ lastUsedAt: now }).where(eq(oauthGrants.id, grant.id)).run();
  tx.update(oauthClients).set({ lastUsedAt: now }).where(eq(oauthClients.id, grant.clientId)).run();
  return { accessToken, refreshToken, expiresIn: Math.floor(options.accessTtlMs / 1000), scope: accessScope, grantId: grant.id };
}

/** A transaction's outcome: a refusal must be thrown after the commit, so what it revoked or spent stays done. */
type Outcome = { ok: true; tokens: TokenSet } | { ok: false; error: OAuthError };

function settle(outcome: Outcome): TokenSet {
  if (!outcome.ok) throw outcome.error;
  return outcome.tokens;
}

const badCode = (why: string): Outcome => ({ ok: false, error: new OAuthError("invalid_grant", why) });

/**
 * Exchanges an authorization code for a new grant's first tokens. The code is spent by the first
 * presentation, whatever its outcome (a wrong verifier, redirect URI, client or resource, or expiry,
 * is `invalid_grant` and spends it). A code presented again is `invalid_grant` and revokes the grant
 * its first exchange made (RFC 6749 §4.1.2): someone else holds it.
 */
export function exchangeCode(
  db: Db,
  hmacKey: Buffer,
  input: { code: string; clientId: string; redirectUri: string; codeVerifier: string; resourceUrl: string | null },
  options: TokenOptions,
): TokenSet {
  const now = options.now ?? new Date();
  if (!isWellFormedToken(AUTHORIZATION_CODE.prefix, input.code)) throw new OAuthError("invalid_grant", "The authorization code is not valid.");
  const hash = hashOf(hmacKey, AUTHORIZATION_CODE, input.code);
  const outcome = db.transaction((t): Outcome => {
    const tx = t as unknown as Db;
    const code = tx.select().from(oauthCodes).where(eq(oauthCodes.codeHash, hash)).get();
    if (!code || !sameHash(code.codeHash, hash)) return badCode("The authorization code is not valid.");
    if (code.usedAt !== null) {
      if (code.grantId !== null) tx.delete(oauthGrants).where(eq(oauthGrants.id, code.grantId)).run();
      return badCode("The authorization code was already used; the tokens issued for it are revoked.");
    }
    tx.update(oauthCodes).set({ usedAt: now }).where(eq(oauthCodes.id, code.id)).run();
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
    tx.insert(oauthGrants).values(grant).run();
    tx.update(oauthCodes).set({ grantId: grant.id }).where(eq(oauthCodes.id, code.id)).run();
    return { ok: true, tokens: issuePair(tx, hmacKey, grant, grant.scope, options, now) };
  }, { behavior: "immediate" });
  return settle(outcome);
}

/**
 * Rotates a refresh token: it is spent and a new access and refresh token are issued in its grant. A
 * spent (rotated-out) refresh token presented again revokes the whole grant (reuse detection: either
 * the client or a thief holds a copy) and is `invalid_grant`. One IMMEDIATE transaction, so two
 * presentations of one token can never both succeed, in this process or another.
 */
export function refreshTokens(
  db: Db,
  hmacKey: Buffer,
  input: { refreshToken: string; clientId: string; resourceUrl: string | null; scope: string | null },
  options: TokenOptions,
): TokenSet {
  const now = options.now ?? new Date();
  const invalid = "The refresh token is not valid.";
  if (!isWellFormedToken(REFRESH_TOKEN.prefix, input.refreshToken)) throw new OAuthError("invalid_grant", invalid);
  const hash = hashOf(hmacKey, REFRESH_TOKEN, input.refreshToken);
  const outcome = db.transaction((t): Outcome => {
    const tx = t as unknown as Db;
    const row = tx
      .select({ token: oauthTokens, grant: oauthGrants })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grantId))
      .where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "refresh")))
      .get();
    if (!row || !sameHash(row.token.tokenHash, hash)) return badCode(invalid);
    if (row.token.usedAt !== null) {
      tx.delete(oauthGrants).where(eq(oauthGrants.id, row.grant.id)).run();
      return badCode("The refresh token was already used; every token of this authorization is revoked.");
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
    tx.update(oauthTokens).set({ usedAt: now }).where(eq(oauthTokens.id, row.token.id)).run();
    return { ok: true, tokens: issuePair(tx, hmacKey, row.grant, scope, options, now) };
  }, { behavior: "immediate" });
  return settle(outcome);
}

/**
 * Revokes a token (RFC 7009): a refresh token ends its whole grant (every token of the family), an
 * access token only itself; an unknown, malformed or already revoked token is no error (§2.2).
 */
export function revokeToken(db: Db, hmacKey: Buffer, token: string): void {
  if (isWellFormedToken(REFRESH_TOKEN.prefix, token)) {
    const hash = hashOf(hmacKey, REFRESH_TOKEN, token);
    const row = db.select({ grantId: oauthTokens.grantId }).from(oauthTokens).where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "refresh"))).get();
    if (row) db.delete(oauthGrants).where(eq(oauthGrants.id, row.grantId)).run();
  } else if (isWellFormedToken(ACCESS_TOKEN.prefix, token)) {
    const hash = hashOf(hmacKey, ACCESS_TOKEN, token);
    db.delete(oauthTokens).where(and(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.kind, "access"))).run();
  }
}

const grantSelection = {
  grant: oauthGrants,
  userEmail: users.email,
  clientName: oauthClients.name,
  clientKind: oauthClients.kind,
};

/** When the family's newest live refresh token expires: a correlated subquery, as epoch ms (or null). */
function refreshExpiresAtSql(now: Date) {
  return sql<number | null>`(select max(${oauthTokens.expiresAt}) from ${oauthTokens} where ${oauthTokens.grantId} = ${oauthGrants.id} and ${oauthTokens.kind} = 'refresh' and ${oauthTokens.usedAt} is null and ${oauthTokens.expiresAt} > ${now.getTime()})`;
}

type GrantRow = { grant: typeof oauthGrants.$inferSelect; userEmail: string; clientName: string; clientKind: "dcr" | "cimd"; refreshExpiresAt: number | null };

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
  return db
    .select({ ...grantSelection, refreshExpiresAt: refreshExpiresAtSql(now) })
    .from(oauthGrants)
    .innerJoin(users, eq(users.id, oauthGrants.userId))
    .innerJoin(oauthClients, eq(oauthClients.id, oauthGrants.clientId));
}

/** Grants ("authorized apps"), newest first; only `userId`'s when given. */
export function listGrants(db: Db, options: { userId?: string; now?: Date } = {}): OAuthGrant[] {
  const query = selectGrants(db, options.now ?? new Date());
  const filtered = options.userId === undefined ? query : query.where(eq(oauthGrants.userId, options.userId));
  return filtered.orderBy(desc(oauthGrants.createdAt), desc(oauthGrants.id)).all().map(toGrant);
}

/** One grant, or null; `now` decides which refresh token is still live (refreshExpiresAt). */
export function getGrant(db: Db, id: string, now = new Date()): OAuthGrant | null {
  const row = selectGrants(db, now).where(eq(oauthGrants.id, id)).get();
  return row ? toGrant(row) : null;
}

/** Revokes a grant: every token of its family stops on the next request. */
export function revokeGrant(db: Db, id: string): void {
  const deleted = db.delete(oauthGrants).where(eq(oauthGrants.id, id)).returning({ id: oauthGrants.id }).all();
  if (deleted.length === 0) throw new AppError("OAUTH_GRANT_NOT_FOUND");
}

/** The grants' writer for LastUsedRecorder: `oauth_grants.last_used_at` (a client's is written when it gets tokens). */
export const writeGrantLastUsed: LastUsedWriter = async (tx, id, at) => {
  await tx.update(oauthGrants).set({ lastUsedAt: at }).where(eq(oauthGrants.id, id));
};

/** A recorder of grants' last use by the resource server, written in batches like keys'. */
export function createGrantLastUsedRecorder(db: Db, flushEveryMs?: number): LastUsedRecorder {
  return new LastUsedRecorder(db, flushEveryMs, writeGrantLastUsed);
}

type CachedAccess = { grantId: string; clientId: string; resource: string; permissions: Permissions; expiresAt: number; user: User };

/**
 * A verifier of access tokens bound to one database, like the API keys' (createKeyVerifier): one HMAC
 * and a look at the change probe per call, a cache dropped whenever anything was committed, so a
 * revoked grant, a deleted client or user (the foreign keys take their tokens) fails on the very next
 * request. Returns null for a malformed, unknown, expired or revoked token.
 */
export function createAccessTokenVerifier(db: Db, hmacKey: Buffer, probe: ChangeProbe = sqlChangeProbe(db.$client)): (token: string, now?: Date) => Promise<VerifiedAccess | null> {
  const byHash = db
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
    .where(and(eq(oauthTokens.tokenHash, sql.placeholder("hash")), eq(oauthTokens.kind, "access")))
    .prepare();
  // The same HMAC as hashOf(ACCESS_TOKEN), with the key schedule done once rather than per request.
  const keyed = new Bun.CryptoHasher("sha256", hmacKey);

  const load = async (hash: string): Promise<CachedAccess | null> => {
    const [row] = await byHash.execute({ hash });
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
export function pruneOAuth(db: Db, now = new Date()): number {
  return db.transaction((t) => {
    const tx = t as unknown as Db;
    const codes = tx.delete(oauthCodes).where(lte(oauthCodes.expiresAt, now)).returning({ id: oauthCodes.id }).all().length;
    const tokens = tx.delete(oauthTokens).where(lte(oauthTokens.expiresAt, now)).returning({ id: oauthTokens.id }).all().length;
    const grants = tx
      .delete(oauthGrants)
      .where(sql`not exists (select 1 from ${oauthTokens} where ${oauthTokens.grantId} = ${oauthGrants.id} and (${oauthTokens.kind} = 'access' or ${oauthTokens.usedAt} is null))`)
      .returning({ id: oauthGrants.id })
      .all().length;
    const clients = tx
      .delete(oauthClients)
      .where(and(isNull(oauthClients.lastUsedAt), lte(oauthClients.createdAt, new Date(now.getTime() - UNUSED_CLIENT_TTL_MS)), sql`not exists (select 1 from ${oauthGrants} where ${oauthGrants.clientId} = ${oauthClients.id})`))
      .returning({ id: oauthClients.id })
      .all().length;
    return codes + tokens + grants + clients;
  }, { behavior: "immediate" });
}
