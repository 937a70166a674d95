// OAuth operations: the apps users approved (grants) and the clients known to the authorization
// server. Members list and revoke their own grants; admins everyone's, and they alone see and delete
// clients. No shape ever carries a token, a code or a hash.
import { z } from "zod";
import { listAgents } from "../domain/agents/agents.ts";
import { listConnectionSummaries } from "../domain/connections/connections.ts";
import { getGrant, listGrants, revokeGrant } from "../domain/oauth/authorizations.ts";
import { deleteClient, findClient, listClients } from "../domain/oauth/clients.ts";
import type { OAuthGrant } from "../domain/oauth/types.ts";
import { AppError } from "../errors.ts";
import { defineOperation, type OperationContext, type OperationDeps } from "./registry.ts";
import { OAuthClientShape, OAuthGrantShape, oauthClientOut, oauthGrantOut, type ResourceNames } from "./oauth-shapes.ts";

const GrantId = z.string().regex(/^grant_[0-9a-f-]{36}$/, { error: "expected an authorized app's id (grant_<uuid>)" }).describe("The grant's id, grant_<uuid>");
// A registered client's id ("sbc_…") or the https URL of its metadata document: in a REST path,
// percent-encode it (DELETE /api/v1/oauth/clients/https%3A%2F%2Fclaude.ai%2F…).
const ClientId = z.string().min(1, { error: "expected a client id" }).max(2048, { error: "expected at most 2048 characters" }).describe(
  'The client\'s id: "sbc_…" for a registered client, or its metadata document\'s https URL (percent-encoded in a REST path)',
);

/** The slug and title of every agent and connection, looked up once per list (a grant names only the id). */
async function resourceNames(deps: Pick<OperationDeps, "db">): Promise<ResourceNames> {
  const names: ResourceNames = new Map();
  for (const a of await listAgents(deps.db)) names.set(a.id, { slug: a.slug, title: a.title });
  for (const c of await listConnectionSummaries(deps.db)) names.set(c.id, { slug: c.slug, title: c.title });
  return names;
}

/** The grant if the caller may manage it; someone else's reads as missing to a member, so ids are not probed. */
async function manageableGrant(ctx: OperationContext, id: string): Promise<OAuthGrant> {
  const grant = await getGrant(ctx.deps.db, id, ctx.now);
  if (!grant || (ctx.caller.user.role !== "admin" && grant.userId !== ctx.caller.user.id)) throw new AppError("OAUTH_GRANT_NOT_FOUND");
  return grant;
}

export const oauthGrantList = defineOperation({
  name: "OAUTH_GRANT_LIST",
  title: "List authorized apps",
  description:
    "List the OAuth apps people approved (each grant: the client, the agent or connection it reaches, scope, when approved, " +
    "last used, when its refresh token lapses), newest first. Members see their own; admins see everyone's (narrow with user_id). " +
    "Never returns tokens or hashes.",
  input: z.object({ user_id: z.string().optional().describe("Admins: only this user's grants (user_<uuid>)") }),
  output: z.object({ grants: z.array(OAuthGrantShape) }),
  forMembers: true,
  audience: "everyone (members: own grants)",
  readOnly: true,
  rest: { method: "GET", path: "/oauth/grants" },
  async handler(ctx, input) {
    // A member's filter is themselves, whatever they ask for.
    const userId = ctx.caller.user.role === "admin" ? input.user_id : ctx.caller.user.id;
    const names = await resourceNames(ctx.deps);
    return { grants: (await listGrants(ctx.deps.db, { userId, now: ctx.now })).map((g) => oauthGrantOut(g, names)) };
  },
});

export const oauthGrantRevoke = defineOperation({
  name: "OAUTH_GRANT_REVOKE",
  title: "Revoke an authorized app",
  description:
    "Revoke an OAuth grant by id (grant_<uuid>): its access and refresh tokens stop working on the very next request, " +
    "and the app must ask the user to approve it again. Members revoke their own grants; admins anyone's.",
  input: z.object({ id: GrantId }),
  output: z.object({ id: z.string(), revoked: z.literal(true) }),
  forMembers: true,
  audience: "everyone (members: own grants)",
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/oauth/grants/:id" },
  async handler(ctx, input) {
    const grant = await manageableGrant(ctx, input.id);
    await revokeGrant(ctx.deps.db, grant.id);
    ctx.deps.logger.info("oauth grant revoked", { grant: grant.id, client: grant.clientId, user: grant.userId, by: ctx.caller.user.id });
    return { id: grant.id, revoked: true as const };
  },
});

export const oauthClientList = defineOperation({
  name: "OAUTH_CLIENT_LIST",
  title: "List OAuth clients",
  description:
    "List the OAuth clients the authorization server knows, newest first: registered ones (dcr, id sbc_…) and those named by a " +
    "metadata document (cimd, id = the document's URL), with their name, redirect URIs, created and last used. Client names are " +
    "what the clients say of themselves.",
  input: z.object({}),
  output: z.object({ clients: z.array(OAuthClientShape) }),
  forMembers: false,
  readOnly: true,
  rest: { method: "GET", path: "/oauth/clients" },
  handler: async (ctx) => ({ clients: (await listClients(ctx.deps.db)).map(oauthClientOut) }),
});

export const oauthClientDelete = defineOperation({
  name: "OAUTH_CLIENT_DELETE",
  title: "Delete an OAuth client",
  description:
    "Delete an OAuth client by id, with every grant, code and token it holds: its users' tokens stop at once. A registered client " +
    "may register again, and a metadata-document client is fetched again on its next sign-in; each user must approve it anew.",
  input: z.object({ id: ClientId }),
  output: z.object({ id: z.string(), deleted: z.literal(true) }),
  forMembers: false,
  readOnly: false,
  destructive: true,
  rest: { method: "DELETE", path: "/oauth/clients/:id" },
  async handler(ctx, input) {
    const client = await findClient(ctx.deps.db, input.id);
    if (!client) throw new AppError("OAUTH_CLIENT_NOT_FOUND");
    await deleteClient(ctx.deps.db, client.id);
    ctx.deps.logger.info("oauth client deleted", { client: client.id, by: ctx.caller.user.id });
    return { id: client.id, deleted: true as const };
  },
});
