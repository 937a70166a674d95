// The shapes of Switchboard as an OAuth client of its upstreams (connections with auth = "oauth"): how it
// is registered at an upstream's authorization server, the tokens it holds for the shared account or
// for each user, the authorizations in progress, and the store that keeps them (secrets sealed at rest).
// Shared by the domain store (upstream-oauth.ts), the gateway's OAuth client (gateway/upstream/oauth/),
// the operations, the HTTP endpoints and the admin.
import type { OAuthMode } from "./spec.ts";

/**
 * Whose token a row holds: the connection's shared account ("shared"), or one user's (their user id).
 * A per-user connection's discovery (the tool list every agent is built from) runs with an admin's own
 * token, never a member's (see UpstreamCredentials).
 */
export type OAuthSubject = "shared" | `user_${string}`;

export const SHARED_SUBJECT = "shared" satisfies OAuthSubject;

/** How Switchboard got its client id at the upstream's authorization server. */
export type RegistrationMethod = "cimd" | "dcr" | "manual";

/** Switchboard as a client of one connection's authorization server, as discovered and registered. */
export type UpstreamRegistration = {
  connectionId: string;
  /** The authorization server's issuer (RFC 8414). */
  issuer: string;
  /** The protected resource Switchboard asks tokens for (RFC 8707 `resource`): the upstream's URL, or the resource its metadata names. */
  resource: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | null;
  /** OpenID Connect userinfo, when offered: what "connected as …" reads. */
  userinfoEndpoint: string | null;
  method: RegistrationMethod;
  clientId: string;
  /** Sealed at rest; null for a public client (CIMD, and DCR or manual clients without a secret). */
  clientSecret: string | null;
  tokenEndpointAuthMethod: "none" | "client_secret_basic" | "client_secret_post";
  /** The scopes asked for (space-separated), or null to ask for none in particular. */
  scopes: string | null;
  /** The redirect URI registered (Switchboard's callback at its public URL when registered). */
  redirectUri: string;
  createdAt: Date;
};

/** Tokens as the authorization server issued them (in clear: in memory only; sealed in the database). */
export type UpstreamTokens = {
  accessToken: string;
  refreshToken: string | null;
  /** When the access token expires (expires_in from the token response), or null when it did not say. */
  expiresAt: Date | null;
  scope: string | null;
};

/**
 * A subject's link to a connection's upstream account. "needs_reauth": its refresh token was refused
 * (revoked, expired) or it has none and the access token expired: someone must authorize again.
 */
export type OAuthLinkState = "connected" | "needs_reauth";

/** What may be shown of a link (never a token): the state, who it is connected as, until when. */
export type OAuthLinkSummary = {
  connectionId: string;
  subject: OAuthSubject;
  /** The user the link belongs to (per-user), or null for the shared account. */
  userId: string | null;
  state: OAuthLinkState;
  /** The upstream account, as the authorization server names it ("connected as …"), or null when unknown. */
  account: string | null;
  /** When the access token expires; Switchboard refreshes before then. */
  expiresAt: Date | null;
  scope: string | null;
  /** Why it needs re-authorization (the authorization server's error, redacted), or null. */
  lastError: string | null;
  /** The user who authorized it (for a shared link, the admin). */
  connectedBy: string | null;
  connectedAt: Date;
  updatedAt: Date;
};

/** A link with its tokens, for the credentials service only. */
export type OAuthLink = OAuthLinkSummary & { tokens: UpstreamTokens };

/**
 * An authorization in progress: created when someone clicks Authorize (or "Connect your account"),
 * taken once by the callback. Stored in the database, so the callback may land on any replica.
 */
export type OAuthFlow = {
  connectionId: string;
  subject: OAuthSubject;
  /** The signed-in user who started it; the callback must come from the same user and browser. */
  userId: string;
  /** PKCE code verifier (sealed at rest). */
  codeVerifier: string;
  /** HMAC of the random value of the browser cookie set when the flow started (binds the callback to that browser). */
  bindingHash: string;
  /** Where the admin returns after the callback (a path under /admin). */
  returnTo: string;
  createdAt: Date;
  expiresAt: Date;
};

/**
 * What the OAuth client needs from the database. Implemented by `upstreamOAuthStore` in
 * upstream-oauth.ts; secrets (client secret, tokens, verifiers) are sealed and unsealed inside it, bound
 * to their row, so no caller sees a ciphertext.
 */
export interface UpstreamOAuthStore {
  /** The connection's registration at its authorization server, or null before discovery. */
  getRegistration(connectionId: string): Promise<UpstreamRegistration | null>;
  /** Stores (replaces) the registration. */
  saveRegistration(registration: UpstreamRegistration): Promise<void>;
  /** Forgets the registration (the URL or the client settings changed): the next authorization discovers again. */
  clearRegistration(connectionId: string): Promise<void>;

  /** The link of `subject`, tokens included, or null. */
  getLink(connectionId: string, subject: OAuthSubject): Promise<OAuthLink | null>;
  /** Stores the tokens of a fresh authorization (replacing any earlier link of that subject): state "connected". */
  saveLink(link: { connectionId: string; subject: OAuthSubject; tokens: UpstreamTokens; account: string | null; connectedBy: string; now?: Date }): Promise<void>;
  /**
   * Replaces the tokens after a refresh, only if the link still holds `previousRefreshToken` (another
   * replica may have refreshed first: then nothing is written and false is returned).
   */
  replaceTokens(connectionId: string, subject: OAuthSubject, previousRefreshToken: string | null, tokens: UpstreamTokens, now?: Date): Promise<boolean>;
  /**
   * Marks the link as needing re-authorization, with the reason shown (already redacted). With
   * `ifRefreshToken`, only while the link still holds that refresh token (null: none): a refusal of a token
   * another replica has rotated meanwhile marks nothing. True if the link was marked.
   */
  markNeedsReauth(connectionId: string, subject: OAuthSubject, reason: string, now?: Date, options?: { ifRefreshToken?: string | null }): Promise<boolean>;
  /** Deletes the link (disconnect); true if there was one. */
  deleteLink(connectionId: string, subject: OAuthSubject): Promise<boolean>;
  /** Every link of a connection, without tokens. */
  listLinks(connectionId: string): Promise<OAuthLinkSummary[]>;
  /** Every link of a user, across connections, without tokens. */
  listLinksOfUser(userId: string): Promise<OAuthLinkSummary[]>;

  /** Stores a flow under the HMAC of its `state`; expired flows are pruned by the sweep. */
  createFlow(stateHash: string, flow: OAuthFlow): Promise<void>;
  /** Takes the flow stored under `stateHash` (single use: a second take finds nothing), or null when unknown or expired. */
  takeFlow(stateHash: string, now?: Date): Promise<OAuthFlow | null>;
  /** Deletes expired flows; returns how many. */
  pruneFlows(now?: Date): Promise<number>;
}

/**
 * Raised where a call needs an OAuth token its subject does not have: the user never connected their
 * account, or the link needs re-authorization. The gateway turns it into a tool error (or a JSON-RPC
 * error) naming the page where the user can connect (`connectUrl`), never into someone else's token.
 */
export class NeedsAuthorizationError extends Error {
  constructor(
    readonly connectionId: string,
    readonly connectionTitle: string,
    readonly mode: OAuthMode,
    readonly reason: "not_connected" | "needs_reauth",
    readonly connectUrl: string,
    /** Discovery's own need (no caller's): per user, that no admin has a connected account to list the tools with. */
    options: { discovery?: boolean } = {},
  ) {
    super(
      options.discovery && mode === "per_user"
        ? `"${connectionTitle}" lists its tools with an admin's own account, and no admin has a connected one: an admin connects theirs at ${connectUrl}.`
        : mode === "per_user"
        ? reason === "not_connected"
          ? `You have not connected your account for "${connectionTitle}" yet. Connect it at ${connectUrl} and call again.`
          : `Your account for "${connectionTitle}" needs to be connected again (its authorization was revoked or expired). Reconnect it at ${connectUrl} and call again.`
        : reason === "not_connected"
          ? `"${connectionTitle}" has not been authorized yet: an admin must authorize it at ${connectUrl}.`
          : `"${connectionTitle}" needs re-authorization (its authorization was revoked or expired): an admin must authorize it again at ${connectUrl}.`,
    );
    this.name = "NeedsAuthorizationError";
  }
}

/** The admin page where a user connects their own account (per_user), or an admin authorizes (shared). */
export function connectPath(connectionId: string, mode: OAuthMode): string {
  return mode === "per_user" ? `/admin/connected-accounts#${connectionId}` : `/admin/connections/${connectionId}#oauth`;
}

/** Switchboard's OAuth callback for its upstreams, at its public URL. */
export const UPSTREAM_CALLBACK_PATH = "/oauth/upstream/callback";
/** Switchboard's client ID metadata document (its URL is its client_id where the server supports CIMD). */
export const CLIENT_METADATA_PATH = "/oauth/upstream/client.json";
