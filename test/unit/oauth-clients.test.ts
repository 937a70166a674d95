// OAuth clients: registration (ids, redirect URIs checked), metadata-document clients (upserted by
// URL, keeping their grants), listing, and deletion taking grants, codes and tokens with it.
import { describe, expect, test } from "bun:test";
import { count } from "drizzle-orm";
import { oauthClients, oauthCodes, oauthGrants, oauthTokens } from "../../src/db/schema.ts";
import { AppError, OAuthError } from "../../src/errors.ts";
import { createAccessTokenVerifier, refreshTokens } from "../../src/domain/oauth/authorizations.ts";
import { deleteClient, findClient, listClients, registerClient, saveClientDocument } from "../../src/domain/oauth/clients.ts";
import type { ClientMetadata } from "../../src/domain/oauth/types.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf } from "../support/errors.ts";
import { approve, at, authorize, HOUR, oauthWorld, T0, TTL } from "../support/oauth.ts";

const openDb = useTestDatabase();
const CIMD_URL = "https://claude.ai/oauth/mcp-oauth-client-metadata";

function metadata(overrides: Partial<ClientMetadata> = {}): ClientMetadata {
  return { name: "Cursor", redirectUris: ["cursor://anysphere.cursor-mcp/oauth/callback"], clientUri: "https://cursor.com", logoUri: null, ...overrides };
}

async function oauthErrorOf(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await rejectionOf(promise);
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

describe("registerClient", () => {
  test("stores a public client with a fresh sbc_ id and what it said", async () => {
    const { db } = openDb();
    const uris = ["cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost/callback", "https://cursor.com/cb"];
    const a = await registerClient(db, metadata({ redirectUris: uris }), T0);
    const b = await registerClient(db, metadata(), T0);
    expect(a.id).toMatch(/^sbc_[0-9a-f]{32}$/);
    expect(b.id).not.toBe(a.id);
    expect(a).toEqual({ id: a.id, kind: "dcr", name: "Cursor", redirectUris: uris, clientUri: "https://cursor.com", logoUri: null, createdAt: T0, lastUsedAt: null, cachedUntil: null });
    expect(await findClient(db, a.id)).toEqual(a);
  });

  test("a bad redirect URI is invalid_redirect_uri naming it, and nothing is stored", async () => {
    const { db } = openDb();
    const err = await oauthErrorOf(registerClient(db, metadata({ redirectUris: ["http://localhost/cb", "javascript:alert(1)", "http://evil.example/cb"] })));
    expect(err.error).toBe("invalid_redirect_uri");
    expect(err.message).toContain("javascript:alert(1)");
    expect(err.message).toContain("http://evil.example/cb");
    expect(err.message).not.toContain("http://localhost/cb");
    expect((await db.select({ n: count() }).from(oauthClients))[0]!.n).toBe(0);
  });

  test.each([
    ["21 redirect URIs", { redirectUris: Array.from({ length: 21 }, (_, i) => `http://localhost/cb${i}`) }, "At most 20"],
    ["an empty name", { name: " " }, "client_name cannot be empty"],
    ["a name of 257 characters", { name: "x".repeat(257) }, "longer than 256"],
    ["a name with a bidi override (posing as another app)", { name: "Claude\u202e" }, "bidirectional"],
    ["a name with a line break", { name: "Claude\nApproved by admin" }, "control characters"],
    ["a javascript: client_uri", { clientUri: "javascript:alert(1)" }, "client_uri must be an http(s) URL"],
    ["a data: logo_uri", { logoUri: "data:image/svg+xml,<svg onload=alert(1)>" }, "logo_uri must be an http(s) URL"],
  ])("%s is invalid_client_metadata, and nothing is stored", async (_name, change, why) => {
    const { db } = openDb();
    const err = await oauthErrorOf(registerClient(db, metadata(change)));
    expect(err.error).toBe("invalid_client_metadata");
    expect(err.message).toContain(why);
    expect((await db.select({ n: count() }).from(oauthClients))[0]!.n).toBe(0);
  });

  test("20 redirect URIs and a 256-character name are accepted", async () => {
    const { db } = openDb();
    const client = await registerClient(db, metadata({ name: "x".repeat(256), redirectUris: Array.from({ length: 20 }, (_, i) => `http://localhost/cb${i}`) }));
    expect(client.redirectUris).toHaveLength(20);
  });

  test("no redirect URI at all is invalid_redirect_uri", async () => {
    const { db } = openDb();
    expect((await oauthErrorOf(registerClient(db, metadata({ redirectUris: [] })))).error).toBe("invalid_redirect_uri");
  });
});

describe("saveClientDocument", () => {
  test("creates a metadata-document client keyed by its URL, cached until the given time", async () => {
    const { db } = openDb();
    const client = await saveClientDocument(db, CIMD_URL, metadata({ name: "Claude", redirectUris: ["https://claude.ai/api/mcp/auth_callback"] }), at(HOUR), T0);
    expect(client).toMatchObject({ id: CIMD_URL, kind: "cimd", name: "Claude", redirectUris: ["https://claude.ai/api/mcp/auth_callback"], createdAt: T0, cachedUntil: at(HOUR) });
  });

  test("saving again updates what the document says, and keeps the creation time, last use and grants", async () => {
    const w = await oauthWorld(openDb());
    const first = await saveClientDocument(w.db, CIMD_URL, metadata({ name: "Claude", redirectUris: ["https://claude.ai/cb"] }), at(HOUR), T0);
    const tokens = await authorize({ ...w, client: first }, { redirectUri: "https://claude.ai/cb" });
    const second = await saveClientDocument(w.db, CIMD_URL, metadata({ name: "Claude 2", redirectUris: ["https://claude.ai/cb2"] }), at(3 * HOUR), at(2 * HOUR));
    expect(second).toMatchObject({ id: CIMD_URL, kind: "cimd", name: "Claude 2", redirectUris: ["https://claude.ai/cb2"], createdAt: T0, lastUsedAt: T0, cachedUntil: at(3 * HOUR) });
    expect(await listClients(w.db)).toHaveLength(2);
    expect((await createAccessTokenVerifier(w.db, w.hmacKey)(tokens.accessToken, T0))?.clientId).toBe(CIMD_URL);
  });

  test("refuses bad redirect URIs, and an id that is no URL or is a registered client's", async () => {
    const w = await oauthWorld(openDb());
    expect((await oauthErrorOf(saveClientDocument(w.db, CIMD_URL, metadata({ redirectUris: ["data:text/html,x"] }), at(HOUR), T0))).error).toBe("invalid_redirect_uri");
    expect((await oauthErrorOf(saveClientDocument(w.db, "not a url", metadata(), at(HOUR), T0))).error).toBe("invalid_client");
    // A document can never overwrite a registered client (its name and redirect URIs would be hijacked).
    expect((await oauthErrorOf(saveClientDocument(w.db, w.client.id, metadata({ redirectUris: ["https://evil.example/cb"] }), at(HOUR), T0))).error).toBe("invalid_client");
    expect((await findClient(w.db, w.client.id))?.redirectUris).toEqual(["http://localhost/callback"]);
    expect(await findClient(w.db, CIMD_URL)).toBeNull();
  });
});

describe("listClients and findClient", () => {
  test("newest first; an unknown id is null", async () => {
    const { db } = openDb();
    const old = await registerClient(db, metadata(), T0);
    const doc = await saveClientDocument(db, CIMD_URL, metadata(), at(2 * HOUR), at(HOUR));
    const recent = await registerClient(db, metadata(), at(2 * HOUR));
    expect((await listClients(db)).map((c) => c.id)).toEqual([recent.id, doc.id, old.id]);
    expect(await findClient(db, "sbc_00000000000000000000000000000000")).toBeNull();
  });
});

describe("deleteClient", () => {
  test("takes its grants, codes and tokens: its access token stops, its refresh token is invalid_grant", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    await approve(w); // a code not yet exchanged
    const otherClient = await registerClient(w.db, metadata({ redirectUris: ["http://localhost/callback"] }), T0);
    const other = { ...(await authorize({ ...w, client: otherClient })), clientId: otherClient.id };
    expect(await verify(tokens.accessToken, T0)).not.toBeNull();
    await deleteClient(w.db, w.client.id);
    expect(await findClient(w.db, w.client.id)).toBeNull();
    expect(await verify(tokens.accessToken, T0)).toBeNull();
    const err = await oauthErrorOf(refreshTokens(w.db, w.hmacKey, { refreshToken: tokens.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: T0 }));
    expect(err.error).toBe("invalid_grant");
    // What remains is the other client's: its spent code, its grant and its two tokens.
    expect(await w.db.select({ clientId: oauthCodes.clientId }).from(oauthCodes)).toEqual([{ clientId: other.clientId }]);
    expect(await w.db.select({ id: oauthGrants.id }).from(oauthGrants)).toEqual([{ id: other.grantId }]);
    expect((await w.db.select({ n: count() }).from(oauthTokens))[0]!.n).toBe(2);
    // Another client's grant is untouched.
    expect((await verify(other.accessToken, T0))?.grantId).toBe(other.grantId);
  });

  test("an unknown client is OAUTH_CLIENT_NOT_FOUND", async () => {
    const { db } = openDb();
    const err = await rejectionOf(deleteClient(db, "sbc_nope"));
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("OAUTH_CLIENT_NOT_FOUND");
    expect((err as AppError).status).toBe(404);
  });
});
