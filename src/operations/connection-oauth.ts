// The operations over OAuth connections' links to upstream accounts: who is connected to a connection,
// one's own connected accounts, and disconnecting. Members see the shared link and their own, and
// disconnect only their own; admins see and disconnect everyone's. No shape ever carries a token.
import { z } from "zod";
import { getUser } from "../domain/access/users.ts";
import { findConnection, getConnection, listConnectionSummaries, type Connection } from "../domain/connections/connections.ts";
import { SHARED_SUBJECT, type OAuthLinkSummary, type OAuthSubject } from "../domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../domain/connections/upstream-oauth.ts";
import { AppError } from "../errors.ts";
import type { OAuthConnection } from "../gateway/upstream/oauth/authorizer.ts";
import { connectionStore, specOf } from "./connections.ts";
import { defineOperation, type OperationContext, type OperationDeps } from "./registry.ts";
import { Timestamp } from "./shapes.ts";

const ConnectionRef = z.string().min(1).max(100).describe("The connection's id (conn_<uuid>) or its slug");
const Subject = z
  .union([z.literal("shared"), z.string().regex(/^user_[0-9a-f-]{36}$/, { error: 'expected "shared" or a user id (user_<uuid>)' })])
  .describe('Whose link: "shared" (the connection\'s shared account) or a user id; omitted: your own');

const LinkState = z.enum(["connected", "needs_reauth"]);

const LinkShape = z.object({
  subject: z.string().describe('"shared" or the user id whose account it is'),
  user: z.object({ id: z.string(), email: z.string() }).nullable().describe("The user whose account it is (null for the shared account, or a user since removed)"),
  state: LinkState.describe('"connected", or "needs_reauth" when its refresh was refused: someone must authorize again'),
  account: z.string().nullable().describe("The upstream account, as its authorization server names it (connected as …)"),
  expires_at: Timestamp.nullable().describe("When the access token expires (Switchboard refreshes it before)"),
  scope: z.string().nullable(),
  last_error: z.string().nullable().describe("Why it needs re-authorization"),
  connected_at: Timestamp,
  updated_at: Timestamp,
});

const AccountShape = z.object({
  connection_id: z.string(),
  slug: z.string(),
  title: z.string(),
  state: z.enum(["not_connected", "connected", "needs_reauth"]),
  account: z.string().nullable(),
  expires_at: Timestamp.nullable(),
  last_error: z.string().nullable(),
});

/** The store of upstream tokens over the operations' dependencies. */
function oauthStore(deps: Pick<OperationDeps, "db" | "keys" | "config">) {
  return upstreamOAuthStore(connectionStore(deps));
}

/** The connection, which must sign in with OAuth; its mode. */
async function oauthConnection(ctx: OperationContext, ref: string): Promise<{ connection: Connection; mode: "shared" | "per_user" }> {
  const connection = await findConnection(connectionStore(ctx.deps), ref);
  const oauth = specOf(ctx.deps, connection).oauth;
  if (!oauth) throw new AppError("UPSTREAM_OAUTH_NOT_OAUTH");
  return { connection, mode: oauth.mode };
}

/** What the authorizer needs of a connection, read by id (null: none, or not http(s)). */
export function oauthConnectionLookup(deps: Pick<OperationDeps, "db" | "keys" | "config">): (id: string) => Promise<OAuthConnection | null> {
  const store = connectionStore(deps);
  return async (id) => {
    const c = await getConnection(store, id);
    if (!c) return null;
    return {
      id: c.id,
      title: c.title,
      url: c.url,
      mode: specOf(deps, c).oauth?.mode ?? null,
      clientId: c.oauthClientId,
      clientSecret: c.oauthClientSecret,
      scopes: c.oauthScopes,
    };
  };
}

async function linkOut(ctx: OperationContext, link: OAuthLinkSummary): Promise<z.input<typeof LinkShape>> {
  const user = link.userId ? await getUser(ctx.deps.db, link.userId) : null;
  return {
    subject: link.subject,
    user: user ? { id: user.id, email: user.email } : null,
    state: link.state,
    account: link.account,
    expires_at: link.expiresAt?.toISOString() ?? null,
    scope: link.scope,
    last_error: link.lastError,
    connected_at: link.connectedAt.toISOString(),
    updated_at: link.updatedAt.toISOString(),
  };
}

export const connectionOAuthLinks = defineOperation({
  name: "CONNECTION_OAUTH_LINKS",
  title: "List a connection's connected accounts",
  description:
    'For an OAuth connection (auth "oauth"): its mode ("shared": one account an admin authorized for every caller; "per_user": each ' +
    "user's own) and its links to upstream accounts: whose, connected as, state (connected or needs_reauth), expiry, last error. " +
    "Admins see every link; members the shared one and their own. Never returns tokens.",
  input: z.object({ connection: ConnectionRef }),
  output: z.object({ mode: z.enum(["shared", "per_user"]), links: z.array(LinkShape) }),
  forMembers: true,
  audience: "everyone (members: the shared link and their own)",
  readOnly: true,
  rest: { method: "GET", path: "/connections/:connection/oauth/links" },
  async handler(ctx, input) {
    const { connection, mode } = await oauthConnection(ctx, input.connection);
    const all = await oauthStore(ctx.deps).listLinks(connection.id);
    const visible = ctx.caller.user.role === "admin" ? all : all.filter((l) => l.subject === SHARED_SUBJECT || l.userId === ctx.caller.user.id);
    return { mode, links: await Promise.all(visible.map((l) => linkOut(ctx, l))) };
  },
});

export const oauthAccountsList = defineOperation({
  name: "OAUTH_ACCOUNTS_LIST",
  title: "List your connected accounts",
  description:
    'Your own account on every per-user OAuth connection: "not_connected" (connect it in the admin before calling its tools), ' +
    '"connected" (connected as, expiry) or "needs_reauth" (connect it again). Never returns tokens.',
  input: z.object({}),
  output: z.object({ accounts: z.array(AccountShape) }),
  forMembers: true,
  audience: "everyone (their own)",
  readOnly: true,
  rest: { method: "GET", path: "/oauth/accounts" },
  async handler(ctx) {
    const perUser = (await listConnectionSummaries(ctx.deps.db)).filter((c) => c.auth === "oauth" && c.oauthMode === "per_user" && c.transport !== "stdio");
    const mine = new Map((await oauthStore(ctx.deps).listLinksOfUser(ctx.caller.user.id)).map((l) => [l.connectionId, l]));
    return {
      accounts: perUser.map((c) => {
        const link = mine.get(c.id);
        return {
          connection_id: c.id,
          slug: c.slug,
          title: c.title,
          state: link?.state ?? ("not_connected" as const),
          account: link?.account ?? null,
          expires_at: link?.expiresAt?.toISOString() ?? null,
          last_error: link?.lastError ?? null,
        };
      }),
    };
  },
});

export const connectionOAuthDisconnect = defineOperation({
  name: "CONNECTION_OAUTH_DISCONNECT",
  title: "Disconnect an account from a connection",
  description:
    'Disconnect an upstream account from an OAuth connection: subject "shared" (the shared account), a user id, or omitted for your ' +
    "own. Its tokens are revoked at the upstream when it offers revocation, and forgotten; calls that needed them get a clear error " +
    "until someone connects again. Members may disconnect only their own account.",
  input: z.object({ connection: ConnectionRef, subject: Subject.optional() }),
  output: z.object({ disconnected: z.boolean().describe("false when there was no such link") }),
  forMembers: true,
  audience: "everyone (members: their own account)",
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/connections/:connection/oauth/links" },
  async handler(ctx, input) {
    const { connection } = await oauthConnection(ctx, input.connection);
    const subject = (input.subject ?? ctx.caller.user.id) as OAuthSubject;
    // The shared account and other users' are admins' to cut: a member would cut everyone's calls, or someone else's.
    if (subject !== ctx.caller.user.id && ctx.caller.user.role !== "admin") throw new AppError("FORBIDDEN", "You may disconnect only your own account.");
    const disconnected = await ctx.deps.upstreamAuth.disconnect(connection.id, subject);
    if (disconnected) ctx.deps.logger.info("upstream oauth disconnected", { connection: connection.id, subject, by: ctx.caller.user.id });
    return { disconnected };
  },
});
