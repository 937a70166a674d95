// Builders for the OAuth domain's tests: a database with users, agents and connections inserted
// directly, clients, PKCE pairs, and a whole approval (code issued and exchanged) in one call.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db, SqliteHandle as DbHandle } from "../../src/db/client.ts";
import { tables } from "../../src/db/store.ts";
import type { Role, User } from "../../src/domain/access/users.ts";
import { exchangeCode, issueCode, type AuthorizationRequest } from "../../src/domain/oauth/authorizations.ts";
import { registerClient } from "../../src/domain/oauth/clients.ts";
import type { OAuthClient, TokenSet } from "../../src/domain/oauth/types.ts";

export const T0 = new Date("2030-01-01T00:00:00.000Z");
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const PUBLIC_URL = "https://mcp.example.com";
/** The token lifetimes the tests use: an hour of access, thirty days of refresh, five minutes of code. */
export const TTL = { accessTtlMs: HOUR, refreshTtlMs: 30 * DAY };
export const CODE_TTL_MS = 5 * MINUTE;

export async function addUser(db: Db, role: Role = "member"): Promise<User> {
  const { users } = tables(db);
  const user = { id: `user_${randomUUID()}`, email: `${randomUUID().slice(0, 8)}@example.com`, role, createdAt: T0 };
  await db.insert(users).values({ ...user, passwordHash: "!", updatedAt: T0 });
  return user;
}

export async function addAgent(db: Db, options: { enabled?: boolean } = {}): Promise<{ id: string; url: string }> {
  const { agents } = tables(db);
  const id = `agent_${randomUUID()}`;
  const slug = `a-${randomUUID().slice(0, 8)}`;
  await db
    .insert(agents)
    .values({ id, slug, title: slug, description: "", instructions: "", enabled: options.enabled ?? true, prefixTools: false, selections: [], fromConfig: false, createdAt: T0, updatedAt: T0 });
  return { id, url: `${PUBLIC_URL}/mcp/agent/${slug}` };
}

export async function addConnection(db: Db): Promise<{ id: string; url: string }> {
  const { connections } = tables(db);
  const id = `conn_${randomUUID()}`;
  const slug = `c-${randomUUID().slice(0, 8)}`;
  await db
    .insert(connections)
    .values({ id, slug, title: slug, description: "", transport: "http", enabled: true, url: "https://upstream.example.com/mcp", args: [], isolation: "shared", fromConfig: false, createdAt: T0, updatedAt: T0 });
  return { id, url: `${PUBLIC_URL}/mcp/${slug}` };
}

export async function addClient(db: Db, redirectUris: string[] = ["http://localhost/callback"], now = T0): Promise<OAuthClient> {
  return registerClient(db, { name: "Test client", redirectUris, clientUri: null, logoUri: null }, now);
}

/** A PKCE pair: a fresh verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** One user, one enabled agent, one registered client, an HMAC key: what most tests start from. */
export type OAuthWorld = { db: Db; handle: DbHandle; hmacKey: Buffer; user: User; agent: { id: string; url: string }; client: OAuthClient };

export async function oauthWorld(handle: DbHandle): Promise<OAuthWorld> {
  const db = handle.db;
  return { db, handle, hmacKey: randomBytes(32), user: await addUser(db), agent: await addAgent(db), client: await addClient(db) };
}

/** An approval and the code it yields, with what the token request must repeat. */
export type IssuedCode = { code: string; verifier: string; request: AuthorizationRequest };

export async function approve(w: OAuthWorld, overrides: Partial<AuthorizationRequest> = {}, now = T0): Promise<IssuedCode> {
  const { verifier, challenge } = pkcePair();
  const request: AuthorizationRequest = {
    clientId: w.client.id,
    userId: w.user.id,
    redirectUri: "http://localhost:49152/callback",
    codeChallenge: challenge,
    resource: w.agent.id,
    resourceUrl: w.agent.url,
    scope: "mcp",
    ...overrides,
  };
  return { code: await issueCode(w.db, w.hmacKey, request, { ttlMs: CODE_TTL_MS, now }), verifier, request };
}

/** Exchanges an issued code as its client would. */
export async function redeem(w: OAuthWorld, issued: IssuedCode, now = T0): Promise<TokenSet> {
  return exchangeCode(
    w.db,
    w.hmacKey,
    { code: issued.code, clientId: issued.request.clientId, redirectUri: issued.request.redirectUri, codeVerifier: issued.verifier, resourceUrl: issued.request.resourceUrl },
    { ...TTL, now },
  );
}

/** Approves and exchanges in one go: a grant with its first tokens. */
export async function authorize(w: OAuthWorld, overrides: Partial<AuthorizationRequest> = {}, now = T0): Promise<TokenSet> {
  return redeem(w, await approve(w, overrides, now), now);
}

export function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}
