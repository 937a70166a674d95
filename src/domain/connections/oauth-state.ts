// What may be shown of OAuth connections' state without reading a secret: how Switchboard registered at
// each one's authorization server, the shared account's link, and how many users connected their own
// (counts only: who they are is for the user themselves and the admins' link listing).
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { tables } from "../../db/store.ts";
import { SHARED_SUBJECT, type OAuthLinkSummary, type RegistrationMethod } from "./oauth-types.ts";

export type ConnectionOAuthState = {
  registration: { method: RegistrationMethod; issuer: string } | null;
  shared: Pick<OAuthLinkSummary, "state" | "account" | "expiresAt" | "lastError" | "connectedAt"> | null;
  users: { connected: number; needsReauth: number };
};

const NONE: ConnectionOAuthState = { registration: null, shared: null, users: { connected: 0, needsReauth: 0 } };

/**
 * The OAuth state of each of these connections (one with none reads as not registered, not connected),
 * in three queries whatever their number. No sealed column is selected.
 */
export async function oauthStates(db: Db, connectionIds: readonly string[]): Promise<Map<string, ConnectionOAuthState>> {
  const states = new Map<string, ConnectionOAuthState>(connectionIds.map((id) => [id, { ...NONE, users: { ...NONE.users } }]));
  if (connectionIds.length === 0) return states;
  const ids = [...connectionIds];
  const { upstreamOAuthRegistrations: r, upstreamOAuthLinks: l } = tables(db);
  const [registrations, shared, counts] = await Promise.all([
    db.select({ connectionId: r.connectionId, method: r.method, issuer: r.issuer }).from(r).where(inArray(r.connectionId, ids)),
    db
      .select({ connectionId: l.connectionId, state: l.state, account: l.account, expiresAt: l.expiresAt, lastError: l.lastError, connectedAt: l.connectedAt })
      .from(l)
      .where(and(inArray(l.connectionId, ids), eq(l.subject, SHARED_SUBJECT))),
    db
      .select({ connectionId: l.connectionId, state: l.state, n: sql<number>`count(*)`.mapWith(Number) })
      .from(l)
      .where(and(inArray(l.connectionId, ids), ne(l.subject, SHARED_SUBJECT)))
      .groupBy(l.connectionId, l.state),
  ]);
  for (const { connectionId, method, issuer } of registrations) states.get(connectionId)!.registration = { method, issuer };
  for (const { connectionId, ...link } of shared) states.get(connectionId)!.shared = link;
  for (const { connectionId, state, n } of counts) {
    const users = states.get(connectionId)!.users;
    if (state === "connected") users.connected = n;
    else users.needsReauth = n;
  }
  return states;
}

/** The OAuth state of one connection. */
export async function oauthState(db: Db, connectionId: string): Promise<ConnectionOAuthState> {
  return (await oauthStates(db, [connectionId])).get(connectionId)!;
}
