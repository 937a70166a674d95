// OAuth clients: registered ones (RFC 7591, "sbc_<random>" ids) and metadata-document ones (their
// document's URL as id, cached until the document's lifetime ends). All are public clients: PKCE and
// no secret, since a desktop app or a browser cannot keep one.
import { randomBytes } from "node:crypto";
import { desc, eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import type { oauthClients } from "../../db/schema.ts";
import { tables } from "../../db/store.ts";
import { AppError, OAuthError } from "../../errors.ts";
import { singleLineProblem } from "../text.ts";
import { MAX_REDIRECT_URI_LENGTH, redirectUriProblem } from "./redirect-uris.ts";
import type { ClientMetadata, OAuthClient } from "./types.ts";

/** The prefix of a registered client's id; a metadata-document client's id is a URL, so the two never meet. */
export const REGISTERED_CLIENT_PREFIX = "sbc_";

function toClient(row: typeof oauthClients.$inferSelect): OAuthClient {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    redirectUris: row.redirectUris,
    clientUri: row.clientUri,
    logoUri: row.logoUri,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    cachedUntil: row.cachedUntil,
  };
}

/** At most this many redirect URIs per client (Cursor registers three): open registration stays bounded. */
export const MAX_REDIRECT_URIS = 20;
/** The longest client name kept; it is shown on the consent page. */
export const MAX_CLIENT_NAME_LENGTH = 256;

function nameProblem(name: string): string | null {
  if (name.trim() === "") return "client_name cannot be empty";
  if (name.length > MAX_CLIENT_NAME_LENGTH) return `client_name is longer than ${MAX_CLIENT_NAME_LENGTH} characters`;
  const unsafe = singleLineProblem(name);
  return unsafe === null ? null : `client_name ${unsafe}`;
}

function linkProblem(field: string, uri: string | null): string | null {
  if (uri === null) return null;
  // Kept for a page that may link to it one day (none does yet): a javascript: or data: URL must never be.
  if (uri.length > MAX_REDIRECT_URI_LENGTH || !/^https?:\/\//i.test(uri) || !URL.canParse(uri)) return `${field} must be an http(s) URL`;
  return null;
}

/**
 * Checks metadata however it came in (registration or a fetched document), whatever the caller
 * checked. The redirect URIs are what the authorization server trusts the metadata for (the code goes
 * there): invalid_redirect_uri naming each refused URI. The name and links are shown to the person
 * approving: invalid_client_metadata when they could mislead (control or bidi characters) or run script.
 */
function checkMetadata(metadata: ClientMetadata): void {
  if (metadata.redirectUris.length === 0) throw new OAuthError("invalid_redirect_uri", "At least one redirect URI is required.");
  if (metadata.redirectUris.length > MAX_REDIRECT_URIS) throw new OAuthError("invalid_client_metadata", `At most ${MAX_REDIRECT_URIS} redirect URIs may be registered.`);
  const problems = metadata.redirectUris.map(redirectUriProblem).filter((p) => p !== null);
  if (problems.length > 0) throw new OAuthError("invalid_redirect_uri", `${problems.join("; ")}.`);
  const problem = nameProblem(metadata.name) ?? linkProblem("client_uri", metadata.clientUri) ?? linkProblem("logo_uri", metadata.logoUri);
  if (problem !== null) throw new OAuthError("invalid_client_metadata", `${problem}.`);
}

/** Registers a client (RFC 7591 dynamic client registration) and returns it with its new id. */
export async function registerClient(db: Db, metadata: ClientMetadata, now = new Date()): Promise<OAuthClient> {
  const { oauthClients } = tables(db);
  checkMetadata(metadata);
  // 128 random bits: the id is public, but unguessable ids keep one client's consent pages and
  // grants from being enumerated.
  const id = `${REGISTERED_CLIENT_PREFIX}${randomBytes(16).toString("hex")}`;
  const [row] = await db
    .insert(oauthClients)
    .values({ id, kind: "dcr", name: metadata.name, redirectUris: metadata.redirectUris, clientUri: metadata.clientUri, logoUri: metadata.logoUri, createdAt: now })
    .returning();
  return toClient(row!);
}

/**
 * Stores what a client ID metadata document said (fetched and validated by the caller), keyed by its
 * URL, usable without fetching again until `cachedUntil`. A known client keeps its id, creation time,
 * last use and grants; its name and redirect URIs follow the document.
 */
export async function saveClientDocument(db: Db, url: string, metadata: ClientMetadata, cachedUntil: Date, now = new Date()): Promise<OAuthClient> {
  const { oauthClients } = tables(db);
  // A registered client's id can never be claimed by a document: those ids are not URLs.
  if (url.startsWith(REGISTERED_CLIENT_PREFIX) || !URL.canParse(url)) throw new OAuthError("invalid_client", `client_id ${JSON.stringify(url)} is not a metadata document URL.`);
  checkMetadata(metadata);
  const fields = { name: metadata.name, redirectUris: metadata.redirectUris, clientUri: metadata.clientUri, logoUri: metadata.logoUri, cachedUntil };
  const [row] = await db
    .insert(oauthClients)
    .values({ id: url, kind: "cimd", createdAt: now, ...fields })
    .onConflictDoUpdate({ target: oauthClients.id, set: fields })
    .returning();
  return toClient(row!);
}

/** The client with this id (a registered id or a document URL), or null. */
export async function findClient(db: Db, id: string): Promise<OAuthClient | null> {
  // No client id holds a NUL, and PostgreSQL refuses one in a text parameter (an error, not "no row").
  if (id.includes("\0")) return null;
  const { oauthClients } = tables(db);
  const [row] = await db.select().from(oauthClients).where(eq(oauthClients.id, id));
  return row ? toClient(row) : null;
}

/** Every known client, newest first. */
export async function listClients(db: Db): Promise<OAuthClient[]> {
  const { oauthClients } = tables(db);
  const rows = await db.select().from(oauthClients).orderBy(desc(oauthClients.createdAt), desc(oauthClients.id));
  return rows.map(toClient);
}

/**
 * Forgets a client. Its grants, codes and tokens go with it (foreign keys cascade), so every token it
 * holds stops on the next request, and the token endpoint answers invalid_client (a client then
 * registers again).
 */
export async function deleteClient(db: Db, id: string): Promise<void> {
  const { oauthClients } = tables(db);
  const deleted = await db.delete(oauthClients).where(eq(oauthClients.id, id)).returning({ id: oauthClients.id });
  if (deleted.length === 0) throw new AppError("OAUTH_CLIENT_NOT_FOUND");
}
