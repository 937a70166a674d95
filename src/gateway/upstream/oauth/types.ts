// The gateway's side of connections with auth = "oauth": what an upstream request asks for its bearer
// token (UpstreamCredentials), and what the admin asks to authorize a subject (UpstreamAuthorizer).
// Implemented in this folder (credentials.ts, authorizer.ts) over the domain's UpstreamOAuthStore.
import type { ConnectionSpec } from "../../../domain/connections/spec.ts";
import type { OAuthSubject } from "../../../domain/connections/oauth-types.ts";

/**
 * Whose token a request needs: a calling user's (a session's owner; in per-user mode their own link, in
 * shared mode the shared one), or discovery's (the connection's shared link; per-user: the link of the
 * admin who connected most recently, never a member's).
 */
export type CredentialSubject = { userId: string } | "discovery";

export interface UpstreamCredentials {
  /**
   * The `Authorization` header value ("Bearer …") for a request to `spec` on behalf of `who`. The access
   * token is refreshed first when it expires within a minute. `rejected`: the value the upstream just
   * answered 401 to, so it is refreshed (once) rather than handed out again. Throws a
   * NeedsAuthorizationError when the subject has no usable token (never connected, or the refresh was
   * refused: the link is then marked as needing re-authorization, for that subject only).
   */
  authorization(spec: ConnectionSpec, who: CredentialSubject, options?: { rejected?: string }): Promise<string>;
}

/** What the admin's "Authorize" / "Connect your account" button starts. */
export type AuthorizationStart = {
  connectionId: string;
  subject: OAuthSubject;
  /** The signed-in user starting it. */
  userId: string;
  /** HMAC of the binding cookie's random value (set by the route on the same response). */
  bindingHash: string;
  /** Where to return after the callback (a path under /admin). */
  returnTo: string;
};

/** The callback's query, as the authorization server sent the browser back. */
export type AuthorizationCallback = {
  state: string | null;
  code: string | null;
  error: string | null;
  /** RFC 9207 `iss`, when the server sends it: must be the issuer the flow was started with. */
  iss: string | null;
  /** The signed-in user, and the HMAC of the binding cookie the browser presented. */
  userId: string;
  bindingHash: string | null;
};

export type AuthorizationResult =
  | { ok: true; connectionId: string; subject: OAuthSubject; account: string | null; returnTo: string }
  | { ok: false; connectionId: string | null; message: string; returnTo: string | null };

export interface UpstreamAuthorizer {
  /**
   * Discovers the upstream's authorization server (RFC 9728 protected resource metadata, from the 401's
   * WWW-Authenticate or the well-known URL; RFC 8414 or OpenID discovery), registers Switchboard (client
   * ID metadata document, else dynamic registration, else the connection's configured client id and
   * secret), stores the flow and returns the authorization URL (PKCE S256, state, resource = the
   * upstream). Every URL fetched obeys the gateway's address policy. Throws an AppError with a message
   * for the admin when the upstream offers no usable OAuth.
   */
  start(start: AuthorizationStart): Promise<{ authorizationUrl: string }>;
  /** Finishes a flow: checks state, binding, user and issuer, exchanges the code, stores the link. */
  finish(callback: AuthorizationCallback): Promise<AuthorizationResult>;
  /** Disconnects a subject: deletes its link and, when the server offers revocation, revokes its refresh token (best effort). */
  disconnect(connectionId: string, subject: OAuthSubject): Promise<boolean>;
}
