// The public shapes of OAuth grants ("authorized apps") and clients, as the operations return them:
// never a token, a code or a hash.
import { z } from "zod";
import { AGENT_ID } from "../domain/access/permissions.ts";
import type { OAuthClient, OAuthGrant } from "../domain/oauth/types.ts";
import { Timestamp } from "./shapes.ts";

const ClientKindShape = z.enum(["dcr", "cimd"]).describe("dcr: registered itself (RFC 7591); cimd: named by its client ID metadata document's URL");

export const OAuthGrantShape = z.object({
  id: z.string().describe("grant_<uuid>"),
  user: z.object({ id: z.string(), email: z.string() }).describe("Who approved it"),
  client: z.object({ id: z.string(), name: z.string().describe("As the client states it"), kind: ClientKindShape }),
  resource: z
    .object({
      id: z.string().describe("agent_<uuid> or conn_<uuid>"),
      kind: z.enum(["agent", "connection"]),
      slug: z.string().nullable().describe("null if it no longer exists"),
      title: z.string().nullable().describe("null if it no longer exists"),
    })
    .describe("The agent or connection the app may reach"),
  resource_url: z.string().describe("The MCP URL the tokens are for (their audience)"),
  scope: z.string(),
  created_at: Timestamp.describe("When the user approved it"),
  last_used_at: Timestamp.nullable(),
  refresh_expires_at: Timestamp.nullable().describe("When the app must ask again unless it refreshes its tokens before"),
});

export type OAuthGrantView = z.output<typeof OAuthGrantShape>;

/** Slug and title by agent or connection id. */
export type ResourceNames = Map<string, { slug: string; title: string }>;

export function oauthGrantOut(grant: OAuthGrant, names: ResourceNames): z.input<typeof OAuthGrantShape> {
  const named = names.get(grant.resource);
  return {
    id: grant.id,
    user: { id: grant.userId, email: grant.userEmail },
    client: { id: grant.clientId, name: grant.clientName, kind: grant.clientKind },
    resource: { id: grant.resource, kind: AGENT_ID.test(grant.resource) ? "agent" : "connection", slug: named?.slug ?? null, title: named?.title ?? null },
    resource_url: grant.resourceUrl,
    scope: grant.scope,
    created_at: grant.createdAt.toISOString(),
    last_used_at: grant.lastUsedAt?.toISOString() ?? null,
    refresh_expires_at: grant.refreshExpiresAt?.toISOString() ?? null,
  };
}

export const OAuthClientShape = z.object({
  id: z.string().describe('"sbc_…" for a registered client; the metadata document\'s https URL otherwise'),
  kind: ClientKindShape,
  name: z.string().describe("As the client states it: not verified for registered clients"),
  redirect_uris: z.array(z.string()),
  client_uri: z.string().nullable(),
  created_at: Timestamp,
  last_used_at: Timestamp.nullable().describe("When a token was last issued to it"),
});

export type OAuthClientView = z.output<typeof OAuthClientShape>;

export function oauthClientOut(client: OAuthClient): z.input<typeof OAuthClientShape> {
  return {
    id: client.id,
    kind: client.kind,
    name: client.name,
    redirect_uris: client.redirectUris,
    client_uri: client.clientUri,
    created_at: client.createdAt.toISOString(),
    last_used_at: client.lastUsedAt?.toISOString() ?? null,
  };
}
