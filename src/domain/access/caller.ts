// Who is calling, as every layer sees it: the user, the credential they came with and what they may do now.
// It lives in the domain, below the gateway and the operations, because both decide on it.
import type { Permissions } from "./permissions.ts";
import type { User } from "./users.ts";

/**
 * The credential a request came with: an API key, or an OAuth access token (then `id` is its grant,
 * which stays the same across refreshes). `permissions` are as stored; `expiresAt` is when the
 * presented token stops working (what bounds the keys a key manages). `audience` is the one agent or
 * connection an OAuth token was issued for (null for a key): on any other endpoint it is no token.
 */
export type CallingKey = {
  kind: "api_key" | "oauth";
  id: string;
  permissions: Permissions;
  expiresAt: Date | null;
  audience: string | null;
};

/**
 * Who is calling: the user, the credential they came with (null for an admin session) with its stored
 * permissions and expiry (which bound the keys it manages), and what they may do now.
 */
export type Caller = { user: User; key: CallingKey | null; permissions: Permissions };
