// The credentials service of OAuth connections (src/gateway/upstream/oauth/credentials.ts) over an
// in-memory store and a loopback token endpoint: whose token each subject gets (never another's), the
// cache following the change probe, refresh before expiry and on a 401 (once per link), and what a
// refused or failed refresh does to the link (marks only that subject, or nothing); the refresh's client
// authentication (the exchange's) and bounded answer; the tokens handed out are redacted from upstream text.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { NeedsAuthorizationError, type OAuthSubject, type UpstreamRegistration } from "../../src/domain/connections/oauth-types.ts";
import { MemoryOAuthStore as MemoryStore } from "../support/memory-oauth-store.ts";
import type { ConnectionSpec, OAuthMode } from "../../src/domain/connections/spec.ts";
import { OAuthCredentials, RefreshFailedError } from "../../src/gateway/upstream/oauth/credentials.ts";
import { DEFAULT_ADDRESS_POLICY } from "../../src/gateway/upstream/address-policy.ts";
import { OAUTH_MAX_RESPONSE_BYTES } from "../../src/gateway/upstream/oauth/discovery.ts";
import { redactFor } from "../../src/gateway/redact.ts";
import type { Logger } from "../../src/logger.ts";
import { httpSpec } from "../support/gateway-harness.ts";

const ALICE = "user_alice" as const;
const BOB = "user_bob" as const;
const ADMIN = "user_admin" as const;
const ADMIN2 = "user_admin2" as const;
const ADMINS = new Set<string>([ADMIN, ADMIN2]);

/** A token endpoint: rotating refresh tokens, each tied to a user; can be told to refuse, fail or hang. */
type TokenServer = { url: string; refreshes: number; forms: URLSearchParams[]; authorizations: (string | null)[]; valid: Map<string, string>; mode: "ok" | "fail" | "hang" | "echo"; answered: number; onRefused: (() => void) | null; stop: () => void };

function startTokenServer(): TokenServer {
  let n = 0;
  const state: TokenServer = { url: "", refreshes: 0, forms: [], authorizations: [], valid: new Map(), mode: "ok", answered: 0, onRefused: null, stop: () => server.stop(true) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const form = new URLSearchParams(await request.text());
      state.forms.push(form);
      state.authorizations.push(request.headers.get("authorization"));
      state.refreshes++;
      if (state.mode === "hang") return new Promise<Response>(() => {});
      if (state.mode === "fail") return new Response("upstream broke", { status: 502 });
      // A hostile authorization server echoing the request (refresh token, client secret) in its errors.
      if (state.mode === "echo") return Response.json({ error: "invalid_client", error_description: form.toString() }, { status: 401 });
      const user = state.valid.get(form.get("refresh_token") ?? "");
      if (!user) state.onRefused?.();
      if (!user) return Response.json({ error: "invalid_grant", error_description: "refresh token revoked" }, { status: 400 });
      // Slow enough that concurrent callers overlap with the one refresh.
      await Bun.sleep(50);
      state.valid.delete(form.get("refresh_token")!);
      const refresh = `rt-${user}-${++n}`;
      state.valid.set(refresh, user);
      state.answered++;
      return Response.json({ access_token: `at-${user}-${n}`, token_type: "Bearer", expires_in: 3600, refresh_token: refresh });
    },
  });
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}

const token = startTokenServer();
afterAll(() => token.stop());

let store: MemoryStore;
let version: number;
let logged: string[];
let credentials: OAuthCredentials;

const logger: Logger = {
  debug: (m, f) => void logged.push(m + JSON.stringify(f ?? {})),
  info: (m, f) => void logged.push(m + JSON.stringify(f ?? {})),
  warn: (m, f) => void logged.push(m + JSON.stringify(f ?? {})),
  error: (m, f) => void logged.push(m + JSON.stringify(f ?? {})),
} as Logger;

function oauthSpec(mode: OAuthMode): ConnectionSpec {
  return httpSpec("http://127.0.0.1:9/mcp", { oauth: { mode }, title: "Tracker" });
}

function register(spec: ConnectionSpec, secret: string | null = "client-secret", method?: UpstreamRegistration["tokenEndpointAuthMethod"]): void {
  store.registrations.set(spec.id, {
    connectionId: spec.id,
    issuer: token.url,
    resource: "http://127.0.0.1:9/mcp",
    authorizationEndpoint: `${token.url}/authorize`,
    tokenEndpoint: `${token.url}/token`,
    revocationEndpoint: null,
    userinfoEndpoint: null,
    method: "dcr",
    clientId: "sb-client",
    clientSecret: secret,
    tokenEndpointAuthMethod: method ?? (secret ? "client_secret_post" : "none"),
    scopes: null,
    redirectUri: "http://127.0.0.1:1/oauth/upstream/callback",
    createdAt: new Date(),
  });
}

/** A link of `subject` whose access token expires in `expiresInMs` (lifetime one hour). */
async function link(spec: ConnectionSpec, subject: OAuthSubject, user: string, options: { expiresInMs?: number; refresh?: boolean; connectedAt?: Date } = {}): Promise<void> {
  const refresh = options.refresh === false ? null : `rt-${user}-0`;
  if (refresh) token.valid.set(refresh, user);
  const now = Date.now();
  const expiresInMs = options.expiresInMs ?? 3_600_000;
  await store.saveLink({ connectionId: spec.id, subject, tokens: { accessToken: `at-${user}-0`, refreshToken: refresh, expiresAt: new Date(now + expiresInMs), scope: null }, account: user, connectedBy: subject === "shared" ? ADMIN : subject, now: options.connectedAt ?? new Date(now + expiresInMs - 3_600_000) });
}

async function refusal(promise: Promise<unknown>): Promise<NeedsAuthorizationError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(NeedsAuthorizationError);
  return err as NeedsAuthorizationError;
}

beforeEach(() => {
  store = new MemoryStore();
  version = 0;
  logged = [];
  token.refreshes = 0;
  token.answered = 0;
  token.forms = [];
  token.authorizations = [];
  token.mode = "ok";
  token.onRefused = null;
  credentials = new OAuthCredentials({
    store,
    isAdmin: async (id) => ADMINS.has(id),
    probe: () => String(version),
    publicUrl: "https://sb.example.com/",
    addressPolicy: DEFAULT_ADDRESS_POLICY,
    logger,
    refreshTimeoutMs: 500,
    refusalRecheckMs: 10,
  });
});

describe("whose token", () => {
  test("shared mode: every user and discovery get the shared token", async () => {
    const spec = oauthSpec("shared");
    await link(spec, "shared", "bot");
    expect(await credentials.authorization(spec, { userId: ALICE })).toBe("Bearer at-bot-0");
    expect(await credentials.authorization(spec, { userId: BOB })).toBe("Bearer at-bot-0");
    expect(await credentials.authorization(spec, "discovery")).toBe("Bearer at-bot-0");
  });

  test("shared mode not authorized: the error names the connection's page, for an admin", async () => {
    const spec = oauthSpec("shared");
    const err = await refusal(credentials.authorization(spec, { userId: ALICE }));
    expect(err.reason).toBe("not_connected");
    expect(err.connectUrl).toBe(`https://sb.example.com/admin/connections/${spec.id}#oauth`);
    expect(err.message).toContain(err.connectUrl);
  });

  test("per-user: each user gets their own link; one without a link gets the error, never another's token (the shared link included)", async () => {
    const spec = oauthSpec("per_user");
    await link(spec, ALICE, "alice");
    await link(spec, "shared", "bot");
    await link(spec, ADMIN, "admin");
    expect(await credentials.authorization(spec, { userId: ALICE })).toBe("Bearer at-alice-0");
    const err = await refusal(credentials.authorization(spec, { userId: BOB }));
    expect(err.reason).toBe("not_connected");
    expect(err.connectUrl).toBe(`https://sb.example.com/admin/connected-accounts#${spec.id}`);
    expect(err.message).not.toContain("at-");
  });

  test("per-user discovery: the connected admin who connected most recently; never a member, never a link needing re-authorization", async () => {
    const spec = oauthSpec("per_user");
    const t = Date.now();
    await link(spec, ADMIN, "admin", { connectedAt: new Date(t - 60_000) });
    await link(spec, ADMIN2, "admin2", { connectedAt: new Date(t - 30_000) });
    // The most recent of all is a member's: discovery's lists are shown to everyone, so it is not used.
    await link(spec, ALICE, "alice", { connectedAt: new Date(t) });
    expect(await credentials.authorization(spec, "discovery")).toBe("Bearer at-admin2-0");
    await store.markNeedsReauth(spec.id, ADMIN2, "revoked");
    version++;
    expect(await credentials.authorization(spec, "discovery")).toBe("Bearer at-admin-0");
    await store.deleteLink(spec.id, ADMIN);
    version++;
    const err = await refusal(credentials.authorization(spec, "discovery"));
    expect(err.reason).toBe("not_connected");
  });
});

describe("the cache follows the change probe", () => {
  test("a link is read once while nothing changes; a disconnect applies once the probe moves", async () => {
    const spec = oauthSpec("per_user");
    await link(spec, ALICE, "alice");
    await credentials.authorization(spec, { userId: ALICE });
    await credentials.authorization(spec, { userId: ALICE });
    expect(store.reads).toBe(1);
    await store.deleteLink(spec.id, ALICE);
    version++;
    expect((await refusal(credentials.authorization(spec, { userId: ALICE }))).reason).toBe("not_connected");
  });
});

describe("refresh", () => {
  test("an access token expiring within a minute is refreshed first: the registration's client authentication and resource, rotated tokens stored", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 30_000 });
    const value = await credentials.authorization(spec, { userId: ALICE });
    expect(value).toMatch(/^Bearer at-alice-\d+$/);
    expect(value).not.toBe("Bearer at-alice-0");
    const form = token.forms[0]!;
    expect(form.get("grant_type")).toBe("refresh_token");
    expect(form.get("refresh_token")).toBe("rt-alice-0");
    expect(form.get("resource")).toBe("http://127.0.0.1:9/mcp");
    expect(form.get("client_id")).toBe("sb-client");
    expect(form.get("client_secret")).toBe("client-secret");
    const stored = store.links.get(`${spec.id}|${ALICE}`)!;
    expect(`Bearer ${stored.tokens.accessToken}`).toBe(value);
    expect(stored.tokens.refreshToken).not.toBe("rt-alice-0");
    expect(stored.tokens.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });

  test("client_secret_basic: the refresh authenticates as the exchange does, id and secret form-encoded before Basic (RFC 6749 §2.3.1)", async () => {
    const spec = oauthSpec("shared");
    const secret = "s3cret+with:plus %and";
    register(spec, secret, "client_secret_basic");
    await link(spec, "shared", "bot", { expiresInMs: 10_000 });
    expect(await credentials.authorization(spec, "discovery")).toMatch(/^Bearer at-bot-\d+$/);
    const basic = token.authorizations[0]!;
    expect(basic).toBe(`Basic ${btoa(`sb-client:${encodeURIComponent(secret).replace(/%20/g, "+")}`)}`);
    // Decoded as the server does: the secret comes back whole ('+' is not a space, ':' does not split it).
    const [id, encoded] = atob(basic.slice("Basic ".length)).split(":");
    expect(decodeURIComponent(encoded!.replace(/\+/g, " "))).toBe(secret);
    expect(id).toBe("sb-client");
    expect(token.forms[0]!.get("client_secret")).toBeNull();
  });

  test("a token endpoint answering 8 MiB to a refresh is refused, not read whole; the link stays as it is", async () => {
    const padding = "x".repeat(8 * OAUTH_MAX_RESPONSE_BYTES);
    let served = 0;
    const big = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        served++;
        return Response.json({ access_token: "at-new", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-new", padding });
      },
    });
    try {
      const spec = oauthSpec("shared");
      register(spec);
      const origin = `http://127.0.0.1:${big.port}`;
      store.registrations.set(spec.id, { ...store.registrations.get(spec.id)!, issuer: origin, tokenEndpoint: `${origin}/token` });
      await link(spec, "shared", "bot", { expiresInMs: 10_000 });
      const err = await credentials.authorization(spec, "discovery").then(() => null, (e: unknown) => e);
      expect(served).toBe(1);
      expect(err).toBeInstanceOf(RefreshFailedError);
      expect((err as Error).message).toContain(`answered more than ${OAUTH_MAX_RESPONSE_BYTES} bytes`);
      expect(store.links.get(`${spec.id}|shared`)!.tokens.accessToken).toBe("at-bot-0");
      expect(store.marked).toEqual([]);
    } finally {
      big.stop(true);
    }
  });

  test("every token handed out (and the refresh token) is redacted from that connection's upstream text, before and after a refresh", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    await link(spec, BOB, "bob");
    const bob = await credentials.authorization(spec, { userId: BOB });
    const alice = await credentials.authorization(spec, { userId: ALICE });
    expect(alice).not.toBe("Bearer at-alice-0");
    const echoed = `seen: ${bob} and ${alice}, earlier at-alice-0 / rt-alice-0 (base64 ${btoa(alice.slice(7))})`;
    const shown = redactFor(spec, echoed, Infinity);
    expect(shown).not.toMatch(/at-bob|at-alice|rt-alice/);
    expect(shown).not.toContain(btoa(alice.slice(7)));
    // Another connection's text is not touched by them, and a static spec with no secrets is unchanged.
    expect(redactFor(oauthSpec("per_user"), echoed, Infinity)).toBe(echoed);
    expect(redactFor(httpSpec("http://127.0.0.1:9/mcp", { id: spec.id }), echoed, Infinity)).toBe(echoed);
  });

  test("a token far from expiry is not refreshed; the value the upstream refused is (a stale refused value is not)", async () => {
    const spec = oauthSpec("shared");
    register(spec);
    await link(spec, "shared", "bot");
    expect(await credentials.authorization(spec, "discovery")).toBe("Bearer at-bot-0");
    expect(await credentials.authorization(spec, "discovery", { rejected: "Bearer something-older" })).toBe("Bearer at-bot-0");
    expect(token.refreshes).toBe(0);
    const fresh = await credentials.authorization(spec, "discovery", { rejected: "Bearer at-bot-0" });
    expect(fresh).not.toBe("Bearer at-bot-0");
    expect(token.refreshes).toBe(1);
  });

  test("concurrent callers share one refresh", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    const values = await Promise.all(Array.from({ length: 8 }, () => credentials.authorization(spec, { userId: ALICE })));
    expect(new Set(values).size).toBe(1);
    expect(token.refreshes).toBe(1);
  });

  test("invalid_grant marks only that subject's link as needing re-authorization; the other user's calls go on", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    await link(spec, BOB, "bob", { expiresInMs: 10_000 });
    token.valid.delete("rt-alice-0");
    const err = await refusal(credentials.authorization(spec, { userId: ALICE }));
    expect(err.reason).toBe("needs_reauth");
    expect(store.marked.map((m) => m.subject)).toEqual([ALICE]);
    expect(store.marked[0]!.reason).toContain("invalid_grant");
    expect(store.links.get(`${spec.id}|${ALICE}`)!.state).toBe("needs_reauth");
    expect(await credentials.authorization(spec, { userId: BOB })).toMatch(/^Bearer at-bob-\d+$/);
    // Marked: the next call is refused at once, without asking the authorization server again.
    version++;
    const before = token.refreshes;
    expect((await refusal(credentials.authorization(spec, { userId: ALICE }))).reason).toBe("needs_reauth");
    expect(token.refreshes).toBe(before);
  });

  test("a refused refresh whose link another replica already rotated uses the stored tokens, and marks nothing", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    // Another replica spent rt-alice-0 first and stored what it got.
    token.valid.delete("rt-alice-0");
    token.onRefused = () => {
      store.links.get(`${spec.id}|${ALICE}`)!.tokens = { accessToken: "at-alice-other", refreshToken: "rt-alice-other", expiresAt: new Date(Date.now() + 3_600_000), scope: null };
    };
    expect(await credentials.authorization(spec, { userId: ALICE })).toBe("Bearer at-alice-other");
    expect(store.marked).toEqual([]);
  });

  test("replaceTokens refused (another replica refreshed in between): the stored tokens are used", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    store.beforeReplace = () => {
      store.links.get(`${spec.id}|${ALICE}`)!.tokens = { accessToken: "at-alice-other", refreshToken: "rt-alice-other", expiresAt: new Date(Date.now() + 3_600_000), scope: null };
    };
    expect(await credentials.authorization(spec, { userId: ALICE })).toBe("Bearer at-alice-other");
    expect(store.marked).toEqual([]);
  });

  test("a token endpoint that fails or does not answer is a transient error: the link is not marked, and the message has no token", async () => {
    const spec = oauthSpec("per_user");
    register(spec);
    await link(spec, ALICE, "alice", { expiresInMs: 10_000 });
    for (const mode of ["fail", "hang", "echo"] as const) {
      token.mode = mode;
      const err = await credentials.authorization(spec, { userId: ALICE }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshFailedError);
      expect((err as Error).message).not.toContain("rt-alice");
      expect((err as Error).message).not.toContain("at-alice");
      expect((err as Error).message).not.toContain("client-secret");
    }
    expect(store.marked).toEqual([]);
    expect(store.links.get(`${spec.id}|${ALICE}`)!.state).toBe("connected");
    token.mode = "ok";
    expect(await credentials.authorization(spec, { userId: ALICE })).toMatch(/^Bearer at-alice-\d+$/);
    expect(logged.join("\n")).not.toMatch(/rt-alice|at-alice|client-secret/);
  });

  test("no refresh token: used until it expires, then the link needs re-authorization", async () => {
    const spec = oauthSpec("shared");
    register(spec);
    await link(spec, "shared", "bot", { expiresInMs: 10_000, refresh: false });
    expect(await credentials.authorization(spec, "discovery")).toBe("Bearer at-bot-0");
    const err = await refusal(credentials.authorization(spec, "discovery", { rejected: "Bearer at-bot-0" }));
    expect(err.reason).toBe("needs_reauth");
    expect(err.message).toContain("an admin must authorize it again");
    expect(store.marked.map((m) => m.subject)).toEqual(["shared"]);
    expect(token.refreshes).toBe(0);
  });

  test("a static connection is not asked for", async () => {
    const err = await credentials.authorization(httpSpec("http://127.0.0.1:9/mcp"), "discovery").then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NeedsAuthorizationError);
  });
});
