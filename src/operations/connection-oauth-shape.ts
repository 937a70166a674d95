// The OAuth part of a connection's public shape: its settings (the client secret only as set or not), how
// Switchboard registered upstream, the shared account's link and how many users connected their own.
// Never a token, and never who the users are: every caller who may read the connection sees the same.
import { z } from "zod";
import type { ConnectionOAuthState } from "../domain/connections/oauth-state.ts";
import type { AuthFields } from "../domain/connections/rules.ts";
import { Timestamp } from "./shapes.ts";

export const ConnectionOAuthShape = z
  .object({
    mode: z.enum(["shared", "per_user"]).describe('"shared": one account an admin authorized, for every caller; "per_user": each user\'s own account'),
    client_id: z.string().nullable().describe("The client registered by hand at the upstream's authorization server, or null (client ID metadata document or dynamic registration)"),
    client_secret_set: z.boolean().describe("Whether that client's secret is stored (it is never returned)"),
    scopes: z.string().nullable().describe("The scopes asked for, space-separated; null: none in particular"),
    registration: z
      .object({
        method: z.enum(["cimd", "dcr", "manual"]).describe('"cimd": Switchboard\'s client ID metadata document; "dcr": dynamic client registration; "manual": the client id given here'),
        issuer: z.string().describe("The authorization server"),
      })
      .nullable()
      .describe("How Switchboard is registered at the upstream's authorization server; null until the first authorization"),
    shared: z
      .object({
        state: z.enum(["connected", "needs_reauth"]).describe('"needs_reauth": its authorization was revoked or expired; an admin must authorize again'),
        account: z.string().nullable().describe("The upstream account it is connected as, when the server says"),
        expires_at: Timestamp.nullable().describe("When the access token expires (it is refreshed before then)"),
        last_error: z.string().nullable().describe("Why it needs re-authorization"),
        connected_at: Timestamp,
      })
      .nullable()
      .describe("The shared account's authorization (mode shared), or null when none was made"),
    users: z
      .object({ connected: z.number(), needs_reauth: z.number() })
      .describe("How many users connected their own account (mode per_user), and how many of those must connect again"),
  })
  .nullable()
  .describe('With auth "oauth": its settings and authorization state (never a token); null for static auth');

/** The OAuth part of the public shape of a connection with these settings and this state. */
export function connectionOAuthOut(c: Omit<AuthFields, "oauthClientSecret">, clientSecretSet: boolean, state: ConnectionOAuthState): z.input<typeof ConnectionOAuthShape> {
  if (c.auth !== "oauth") return null;
  return {
    mode: c.oauthMode,
    client_id: c.oauthClientId,
    client_secret_set: clientSecretSet,
    scopes: c.oauthScopes,
    registration: state.registration,
    shared: state.shared && {
      state: state.shared.state,
      account: state.shared.account,
      expires_at: state.shared.expiresAt?.toISOString() ?? null,
      last_error: state.shared.lastError,
      connected_at: state.shared.connectedAt.toISOString(),
    },
    users: { connected: state.users.connected, needs_reauth: state.users.needsReauth },
  };
}
