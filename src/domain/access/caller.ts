// Who is calling, as every layer sees it: the user, the key they came with and what they may do now.
// It lives in the domain, below the gateway and the operations, because both decide on it.
import type { Permissions } from "./permissions.ts";
import type { User } from "./users.ts";

/** The key a request came with: its stored permissions and when the presented token stops working. */
export type CallingKey = { id: string; permissions: Permissions; expiresAt: Date | null };

/**
 * Who is calling: the user, the key they came with (null for an admin session) with its stored
 * permissions and expiry (which bound the keys it manages), and what they may do now.
 */
export type Caller = { user: User; key: CallingKey | null; permissions: Permissions };
