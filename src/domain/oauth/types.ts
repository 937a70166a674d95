// The shapes of Switchboard's OAuth 2.1 authorization server, shared by the domain modules that keep
// them (clients.ts, authorizations.ts), the HTTP endpoints, the operations and the admin.
import type { Permissions } from "../access/permissions.ts";
import type { User } from "../access/users.ts";

/** How a client came to be known: registered itself (RFC 7591) or named by its metadata document's URL. */
export type ClientKind = "dcr" | "cimd";

/** An OAuth client: a public client (PKCE, no secret) that users may approve. */
export type OAuthClient = {
  /** "sbc_<random>" for a registered client; the document's https URL for a metadata-document client. */
  id: string;
  kind: ClientKind;
  /** client_name as the client states it (unverified for registered clients). */
  name: string;
  redirectUris: string[];
  clientUri: string | null;
  logoUri: string | null;
  createdAt: Date;
  /** When a token was last issued to it (by code or refresh). */
  lastUsedAt: Date | null;
  /** Metadata-document clients: until when the fetched document may be used without fetching it again. */
  cachedUntil: Date | null;
};

/** What the client ID metadata document (or the registration request) says, once validated. */
export type ClientMetadata = {
  name: string;
  redirectUris: string[];
  clientUri: string | null;
  logoUri: string | null;
};

/**
 * One approval: a user let a client reach one agent or connection. Each approval is one family of
 * tokens (its refresh tokens rotate within it); revoking the grant stops all of them at once.
 */
export type OAuthGrant = {
  /** "grant_<uuid>" */
  id: string;
  userId: string;
  userEmail: string;
  clientId: string;
  clientName: string;
  clientKind: ClientKind;
  /** The agent ("agent_<uuid>") or connection ("conn_<uuid>") the tokens are for. */
  resource: string;
  /** The resource URL the client named (RFC 8707), the tokens' audience. */
  resourceUrl: string;
  /** Granted scope, space-separated. */
  scope: string;
  /** What the tokens may do, a permissions object like a key's: at most `{ [resource]: ["*"] }`. */
  permissions: Permissions;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** When the family's current refresh token stops working, unless refreshed before. */
  refreshExpiresAt: Date | null;
};

/** The token endpoint's answer (RFC 6749 §5.1), before it is written as JSON. */
export type TokenSet = {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  scope: string;
  grantId: string;
};

/** What a valid access token resolves to, for the resource server (the /mcp routes). */
export type VerifiedAccess = {
  grantId: string;
  clientId: string;
  /** The agent or connection id the token is for: any other is `invalid_token`. */
  resource: string;
  permissions: Permissions;
  expiresAt: Date;
  user: User;
};
