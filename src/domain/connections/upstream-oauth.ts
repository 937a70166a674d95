// The database side of Switchboard as an OAuth client of its upstreams: registrations, links (tokens per
// subject) and flows in progress, with every secret sealed at rest (AES-256-GCM bound to its row and
// kind) and the single-use and compare-and-set writes that keep replicas from spending a flow twice or
// overwriting each other's refreshed tokens.
import { createHmac, hkdfSync } from "node:crypto";
import { and, asc, eq, getTableColumns, isNull, lte } from "drizzle-orm";
import type { upstreamOAuthFlows, upstreamOAuthLinks, upstreamOAuthRegistrations } from "../../db/schema.ts";
import { storableText } from "../../db/portable.ts";
import { tables } from "../../db/store.ts";
import { decryptSecret, encryptSecret } from "../../security/cipher.ts";
import type { ConnectionStore } from "./connections.ts";
import {
  SHARED_SUBJECT,
  type OAuthFlow,
  type OAuthLink,
  type OAuthLinkSummary,
  type OAuthSubject,
  type UpstreamOAuthStore,
  type UpstreamRegistration,
  type UpstreamTokens,
} from "./oauth-types.ts";

type LinkRow = typeof upstreamOAuthLinks.$inferSelect;
type RegistrationRow = typeof upstreamOAuthRegistrations.$inferSelect;
type FlowRow = typeof upstreamOAuthFlows.$inferSelect;

/** Why a link whose tokens cannot be unsealed reads as needing re-authorization. */
export const UNREADABLE_TOKENS = "the stored tokens cannot be decrypted (the server secret changed): authorize again";

/**
 * Bounds on text an authorization server chooses (account names, scopes, error reasons): shown in the
 * admin and stored on both engines, so a hostile server cannot fill a row or a page with it.
 */
const ACCOUNT_MAX = 256;
const SCOPE_MAX = 2000;
const ERROR_MAX = 1000;

function bounded<T extends string | null>(text: T, max: number): T {
  return (text === null ? null : storableText(text.length > max ? `${text.slice(0, max - 1)}…` : text)) as T;
}

/** What a row's subject says: "shared" or a user id; anything else is a caller's bug, refused before it is stored. */
function userIdOf(subject: OAuthSubject): string | null {
  if (subject === SHARED_SUBJECT) return null;
  if (!/^user_[0-9A-Za-z-]+$/.test(subject)) throw new Error(`not an OAuth subject: ${JSON.stringify(subject)}`);
  return subject;
}

function summaryOf(row: Omit<LinkRow, "accessTokenSealed" | "refreshTokenSealed" | "refreshTokenHash">): OAuthLinkSummary {
  return {
    connectionId: row.connectionId,
    subject: row.subject as OAuthSubject,
    userId: row.userId,
    state: row.state,
    account: row.account,
    expiresAt: row.expiresAt,
    scope: row.scope,
    lastError: row.lastError,
    connectedBy: row.connectedBy,
    connectedAt: row.connectedAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * The store of the OAuth client's state over `store`'s database and encryption key. Sealed values are
 * bound to `${connectionId}:${subject}:access|refresh`, `${connectionId}:registration:client_secret` and
 * `${stateHash}:verifier`, so a ciphertext copied onto another row or column does not open there.
 */
export function upstreamOAuthStore(store: ConnectionStore): UpstreamOAuthStore {
  const { db, encryptionKey } = store;
  // A key of its own for the refresh-token HMAC (never the encryption key used for two jobs).
  const hashKey = Buffer.from(hkdfSync("sha256", encryptionKey, "switchboard", "switchboard/upstream-refresh-hash/v1", 32));
  const refreshHash = (connectionId: string, subject: string, token: string): string =>
    createHmac("sha256", hashKey).update(`${connectionId}\n${subject}\n${token}`).digest("base64url");
  const seal = (value: string, context: string): string => encryptSecret(encryptionKey, value, context);
  const open = (sealed: string, context: string): string | null => {
    try {
      return decryptSecret(encryptionKey, sealed, context);
    } catch {
      return null;
    }
  };
  const linkWhere = (t: ReturnType<typeof tables>["upstreamOAuthLinks"], connectionId: string, subject: OAuthSubject) =>
    and(eq(t.connectionId, connectionId), eq(t.subject, subject));

  /** The columns a fresh set of tokens writes (the refresh token and its hash only when one was issued). */
  const tokenColumns = (connectionId: string, subject: OAuthSubject, tokens: UpstreamTokens) => ({
    accessTokenSealed: seal(tokens.accessToken, `${connectionId}:${subject}:access`),
    expiresAt: tokens.expiresAt,
    scope: bounded(tokens.scope, SCOPE_MAX),
    ...(tokens.refreshToken === null
      ? {}
      : { refreshTokenSealed: seal(tokens.refreshToken, `${connectionId}:${subject}:refresh`), refreshTokenHash: refreshHash(connectionId, subject, tokens.refreshToken) }),
  });

  function registrationOf(row: RegistrationRow): UpstreamRegistration | null {
    let clientSecret: string | null = null;
    if (row.clientSecretSealed !== null) {
      clientSecret = open(row.clientSecretSealed, `${row.connectionId}:registration:client_secret`);
      // Unreadable (the server secret changed): as if never registered, so the next authorization registers again.
      if (clientSecret === null) return null;
    }
    const { clientSecretSealed: _sealed, ...rest } = row;
    return { ...rest, clientSecret };
  }

  function linkOf(row: LinkRow): OAuthLink {
    const summary = summaryOf(row);
    const accessToken = open(row.accessTokenSealed, `${row.connectionId}:${row.subject}:access`);
    const refreshToken = row.refreshTokenSealed === null ? null : open(row.refreshTokenSealed, `${row.connectionId}:${row.subject}:refresh`);
    if (accessToken === null || (row.refreshTokenSealed !== null && refreshToken === null)) {
      // Read as needing re-authorization, never a crash; not written back: one replica started with the
      // wrong secret must not mark every other replica's good links.
      return {
        ...summary,
        state: "needs_reauth",
        lastError: UNREADABLE_TOKENS,
        tokens: { accessToken: "", refreshToken: null, expiresAt: row.expiresAt, scope: row.scope },
      };
    }
    return { ...summary, tokens: { accessToken, refreshToken, expiresAt: row.expiresAt, scope: row.scope } };
  }

  function flowOf(row: FlowRow): OAuthFlow | null {
    const codeVerifier = open(row.codeVerifierSealed, `${row.stateHash}:verifier`);
    if (codeVerifier === null) return null;
    return {
      connectionId: row.connectionId,
      subject: row.subject as OAuthSubject,
      userId: row.userId,
      codeVerifier,
      bindingHash: row.bindingHash,
      returnTo: row.returnTo,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
    };
  }

  return {
    async getRegistration(connectionId) {
      const { upstreamOAuthRegistrations: t } = tables(db);
      const [row] = await db.select().from(t).where(eq(t.connectionId, connectionId)).limit(1);
      return row ? registrationOf(row) : null;
    },

    async saveRegistration(r) {
      const { upstreamOAuthRegistrations: t } = tables(db);
      const values = {
        issuer: storableText(r.issuer),
        resource: storableText(r.resource),
        authorizationEndpoint: storableText(r.authorizationEndpoint),
        tokenEndpoint: storableText(r.tokenEndpoint),
        revocationEndpoint: storableText(r.revocationEndpoint),
        userinfoEndpoint: storableText(r.userinfoEndpoint),
        method: r.method,
        clientId: storableText(r.clientId),
        clientSecretSealed: r.clientSecret === null ? null : seal(r.clientSecret, `${r.connectionId}:registration:client_secret`),
        tokenEndpointAuthMethod: r.tokenEndpointAuthMethod,
        scopes: r.scopes,
        redirectUri: r.redirectUri,
        createdAt: r.createdAt,
      };
      await db.insert(t).values({ connectionId: r.connectionId, ...values }).onConflictDoUpdate({ target: t.connectionId, set: values });
    },

    async clearRegistration(connectionId) {
      const { upstreamOAuthRegistrations: t } = tables(db);
      await db.delete(t).where(eq(t.connectionId, connectionId));
    },

    async getLink(connectionId, subject) {
      const { upstreamOAuthLinks: t } = tables(db);
      const [row] = await db.select().from(t).where(linkWhere(t, connectionId, subject)).limit(1);
      return row ? linkOf(row) : null;
    },

    async saveLink(link) {
      const { upstreamOAuthLinks: t } = tables(db);
      const now = link.now ?? new Date();
      const userId = userIdOf(link.subject);
      // A fresh authorization replaces everything of the earlier link, a refresh token it had included.
      const values = {
        userId,
        refreshTokenSealed: null,
        refreshTokenHash: null,
        ...tokenColumns(link.connectionId, link.subject, link.tokens),
        account: bounded(link.account, ACCOUNT_MAX),
        state: "connected" as const,
        lastError: null,
        connectedBy: link.connectedBy,
        connectedAt: now,
        updatedAt: now,
      };
      await db
        .insert(t)
        .values({ connectionId: link.connectionId, subject: link.subject, ...values })
        .onConflictDoUpdate({ target: [t.connectionId, t.subject], set: values });
    },

    /**
     * A compare-and-set on the refresh token's HMAC (its ciphertext differs at each seal): two replicas
     * refreshing at once both send the old refresh token, and only the first write lands. A response
     * without a new refresh token keeps the old one (RFC 6749 §6: it stays valid then).
     */
    async replaceTokens(connectionId, subject, previousRefreshToken, tokens, now = new Date()) {
      const { upstreamOAuthLinks: t } = tables(db);
      const held = previousRefreshToken === null ? isNull(t.refreshTokenHash) : eq(t.refreshTokenHash, refreshHash(connectionId, subject, previousRefreshToken));
      const written = await db
        .update(t)
        .set({ ...tokenColumns(connectionId, subject, tokens), state: "connected", lastError: null, updatedAt: now })
        .where(and(linkWhere(t, connectionId, subject), held))
        .returning({ subject: t.subject });
      return written.length > 0;
    },

    async markNeedsReauth(connectionId, subject, reason, now = new Date(), options = {}) {
      const { upstreamOAuthLinks: t } = tables(db);
      const expected = options.ifRefreshToken;
      const held = expected === undefined ? undefined : expected === null ? isNull(t.refreshTokenHash) : eq(t.refreshTokenHash, refreshHash(connectionId, subject, expected));
      const marked = await db
        .update(t)
        .set({ state: "needs_reauth", lastError: bounded(reason, ERROR_MAX), updatedAt: now })
        .where(held ? and(linkWhere(t, connectionId, subject), held) : linkWhere(t, connectionId, subject))
        .returning({ subject: t.subject });
      return marked.length > 0;
    },

    async deleteLink(connectionId, subject) {
      const { upstreamOAuthLinks: t } = tables(db);
      return (await db.delete(t).where(linkWhere(t, connectionId, subject)).returning({ subject: t.subject })).length > 0;
    },

    async listLinks(connectionId) {
      const { upstreamOAuthLinks: t } = tables(db);
      const rows = await db.select(publicColumns(t)).from(t).where(eq(t.connectionId, connectionId)).orderBy(asc(t.subject));
      return rows.map(summaryOf);
    },

    async listLinksOfUser(userId) {
      const { upstreamOAuthLinks: t } = tables(db);
      const rows = await db.select(publicColumns(t)).from(t).where(eq(t.userId, userId)).orderBy(asc(t.connectionId));
      return rows.map(summaryOf);
    },

    async createFlow(stateHash, flow) {
      const { upstreamOAuthFlows: t } = tables(db);
      if (userIdOf(flow.subject) !== null && flow.subject !== flow.userId) throw new Error("a per-user flow is started by that user only");
      await db.insert(t).values({
        stateHash,
        connectionId: flow.connectionId,
        subject: flow.subject,
        userId: flow.userId,
        codeVerifierSealed: seal(flow.codeVerifier, `${stateHash}:verifier`),
        bindingHash: flow.bindingHash,
        returnTo: flow.returnTo,
        createdAt: flow.createdAt,
        expiresAt: flow.expiresAt,
      });
    },

    /** Deleted as it is read (DELETE … RETURNING): of two callbacks with one state, on any replicas, one gets it. */
    async takeFlow(stateHash, now = new Date()) {
      const { upstreamOAuthFlows: t } = tables(db);
      const [row] = await db.delete(t).where(eq(t.stateHash, stateHash)).returning();
      if (!row || row.expiresAt.getTime() <= now.getTime()) return null;
      return flowOf(row);
    },

    async pruneFlows(now = new Date()) {
      const { upstreamOAuthFlows: t } = tables(db);
      return (await db.delete(t).where(lte(t.expiresAt, now)).returning({ stateHash: t.stateHash })).length;
    },
  };
}

/** A link's columns but the sealed tokens and the refresh token's HMAC: a listing never holds a token, not even sealed. */
function publicColumns(t: ReturnType<typeof tables>["upstreamOAuthLinks"]) {
  const { accessTokenSealed: _access, refreshTokenSealed: _refresh, refreshTokenHash: _hash, ...columns } = getTableColumns(t);
  return columns;
}
