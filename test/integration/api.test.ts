// /api/v1: a table per route (guest, wrong permission, happy), the error bodies, request-body rules,
// the OpenAPI document, and the promise that no token is ever stored or listed in clear.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { getApiKey, hashToken } from "../../src/domain/access/api-keys.ts";
import { createAgent, getAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { createConnection, getConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { getUser, type User } from "../../src/domain/access/users.ts";
import { createInvite, findInvite } from "../../src/domain/access/invites.ts";
import { getGrant } from "../../src/domain/oauth/authorizations.ts";
import { findClient } from "../../src/domain/oauth/clients.ts";
import type { OAuthClient, TokenSet } from "../../src/domain/oauth/types.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { OPERATIONS, OPERATIONS_BY_NAME } from "../../src/operations/index.ts";
import { PUBLIC_URL, TEST_SECRET } from "../support/app.ts";
import { apiRequest, callTool, mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN, useHarness, type Harness } from "../support/key-harness.ts";
import { agentResource, approve, cimdClient, dcrClient } from "../support/oauth-grants.ts";
import { insertUser } from "../support/users.ts";
import { insertUsage, usageRecord } from "../support/usage-rows.ts";
import { everyStoredRow, rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useHarness();

type Json = Record<string, unknown>;
type Sent = { method: string; path: string; json?: unknown; ctx?: Json };
type Row = {
  op: string;
  /** The request, built against a fresh harness; the token is added per row kind. */
  request: (h: Harness) => Sent | Promise<Sent>;
  status: number;
  /** Checks the happy body (and anything else the row knows about). */
  check: (body: Json, h: Harness, ctx: Json) => void | Promise<void>;
  /** Strings the happy response must not contain. */
  never?: (h: Harness, ctx: Json) => string[];
};

/** A stored http connection with a token, for the connection rows. */
async function storedConnection(h: Harness, slug = "upstream") {
  return await createConnection(connectionStore(h.deps), newConnectionFields({ slug, transport: "http", url: "https://mcp.example.com/mcp", token: "tok-row-secret" }));
}

/** A per-user OAuth connection with the admin's link (its tokens in ctx: never in an answer). */
async function storedOAuthLink(h: Harness): Promise<{ id: string; tokens: string[] }> {
  const connection = await createConnection(connectionStore(h.deps), newConnectionFields({ slug: "oauthed", transport: "http", url: "https://mcp.example.com/mcp", auth: "oauth", oauthMode: "per_user" }));
  const tokens = { accessToken: "upstream-access-row-secret", refreshToken: "upstream-refresh-row-secret", expiresAt: new Date(Date.now() + 3600_000), scope: "mcp:tools" };
  await upstreamOAuthStore(connectionStore(h.deps)).saveLink({ connectionId: connection.id, subject: h.admin.id as OAuthSubject, tokens, account: "admin-upstream", connectedBy: h.admin.id });
  return { id: connection.id, tokens: [tokens.accessToken, tokens.refreshToken] };
}

/** An approval's tokens: never in an answer. */
function oauthSecrets(tokens: TokenSet): string[] {
  return [tokens.accessToken, tokens.refreshToken];
}

/** A stored agent over a stored connection, for the agent rows. */
async function storedAgent(h: Harness, slug = "helper") {
  const connection = await storedConnection(h);
  return await createAgent(agentStore(h.deps), newAgentFields({ slug, instructions: "Help.", connections: [{ connectionId: connection.id, tools: [{ name: "echo", alias: "say" }], resources: "none", prompts: "none" }] }));
}

const ROUTES: Row[] = [
  {
    op: "CONNECTION_LIST",
    request: async (h) => ({ method: "GET", path: "/connections", ctx: { id: (await storedConnection(h)).id } }),
    status: 200,
    check: (body, _h, ctx) => expect(body.connections).toMatchObject([{ id: ctx.id as string, slug: "upstream", token_set: true }]),
    never: () => ["tok-row-secret", "token_sealed"],
  },
  {
    op: "CONNECTION_GET",
    request: async (h) => ({ method: "GET", path: `/connections/${(await storedConnection(h)).id}` }),
    status: 200,
    check: (body) => expect(body).toMatchObject({ slug: "upstream", token_set: true, offers: { tools: [] } }),
    never: () => ["tok-row-secret"],
  },
  {
    op: "CONNECTION_CREATE",
    request: () => ({ method: "POST", path: "/connections", json: { slug: "made", transport: "http", url: "https://mcp.example.com/mcp", token: "tok-new-secret" } }),
    status: 201,
    check: async (body, h) => {
      expect(body).toMatchObject({ slug: "made", token_set: true });
      expect((await getConnection(connectionStore(h.deps), "made"))?.token).toBe("tok-new-secret");
    },
    never: () => ["tok-new-secret"],
  },
  {
    op: "CONNECTION_UPDATE",
    request: async (h) => ({ method: "PATCH", path: `/connections/${(await storedConnection(h)).id}`, json: { title: "Renamed" } }),
    status: 200,
    check: async (body, h) => {
      expect(body).toMatchObject({ title: "Renamed" });
      expect((await getConnection(connectionStore(h.deps), "upstream"))?.title).toBe("Renamed");
    },
    never: () => ["tok-row-secret"],
  },
  {
    op: "CONNECTION_DELETE",
    request: async (h) => {
      const id = (await storedConnection(h)).id;
      return { method: "DELETE", path: `/connections/${id}`, ctx: { id } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      expect(body).toEqual({ id: ctx.id as string, deleted: true });
      expect(await getConnection(connectionStore(h.deps), "upstream")).toBeNull();
    },
  },
  {
    op: "CONNECTION_TEST",
    request: async (h) => ({ method: "POST", path: "/connections/test", json: { id: (await storedConnection(h)).id } }),
    status: 200,
    check: (body) => expect(body).toMatchObject({ ok: false, tools: 0 }),
    never: () => ["tok-row-secret"],
  },
  {
    op: "CONNECTION_REFRESH",
    request: async (h) => ({ method: "POST", path: `/connections/${(await storedConnection(h)).id}/refresh` }),
    status: 200,
    check: (body) => expect(body).toMatchObject({ slug: "upstream", offers: { tools: [] } }),
    never: () => ["tok-row-secret"],
  },
  {
    op: "AGENT_LIST",
    request: async (h) => ({ method: "GET", path: "/agents", ctx: { id: (await storedAgent(h)).id } }),
    status: 200,
    check: (body, _h, ctx) => expect(body.agents).toMatchObject([{ id: ctx.id as string, slug: "helper", endpoint: `${PUBLIC_URL}/mcp/agent/${ctx.id as string}`, connections: [{ connection_slug: "upstream" }] }]),
    never: () => ["tok-row-secret"],
  },
  {
    op: "AGENT_GET",
    request: async (h) => ({ method: "GET", path: `/agents/${(await storedAgent(h)).slug}` }),
    status: 200,
    check: (body) => expect(body).toMatchObject({ slug: "helper", tools: [{ name: "say", upstream: "echo", connection_slug: "upstream", missing: true, input_schema: null }], collisions: [] }),
    never: () => ["tok-row-secret"],
  },
  {
    op: "AGENT_CREATE",
    request: async (h) => ({ method: "POST", path: "/agents", json: { slug: "made", connections: [{ connection: (await storedConnection(h)).id, tools: ["echo"] }] } }),
    status: 201,
    check: async (body, h) => {
      expect(body).toMatchObject({ slug: "made", tool_count: 0 });
      expect((await getAgent(h.deps.db, "made"))?.connections[0]?.tools).toEqual([{ name: "echo" }]);
    },
  },
  {
    op: "AGENT_UPDATE",
    request: async (h) => ({ method: "PATCH", path: `/agents/${(await storedAgent(h)).id}`, json: { title: "Renamed", enabled: false } }),
    status: 200,
    check: async (body, h) => {
      expect(body).toMatchObject({ title: "Renamed", enabled: false });
      expect(await getAgent(h.deps.db, "helper")).toMatchObject({ title: "Renamed", enabled: false, instructions: "Help." });
    },
  },
  {
    op: "AGENT_DELETE",
    request: async (h) => {
      const id = (await storedAgent(h)).id;
      return { method: "DELETE", path: `/agents/${id}`, ctx: { id } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      expect(body).toEqual({ id: ctx.id as string, deleted: true });
      expect(await getAgent(h.deps.db, "helper")).toBeNull();
    },
  },
  {
    op: "AGENT_CHECK",
    request: async (h) => ({ method: "POST", path: "/agents/check", json: { slug: "ignored", connections: [{ connection: (await storedConnection(h)).slug, tools: ["echo"] }] } }),
    status: 200,
    check: async (body, h) => {
      // Nothing discovered: the selected tool is reported missing, and nothing is saved.
      expect(body).toEqual({ exposed: [], missing: ["upstream/echo"], problems: [], collisions: [] });
      expect(await getAgent(h.deps.db, "ignored")).toBeNull();
    },
    never: () => ["tok-row-secret", "https://mcp.example.com"],
  },
  {
    op: "TOOL_LIST",
    request: async (h) => {
      const agent = await storedAgent(h);
      return { method: "GET", path: "/tools", ctx: { agent: agent.id, connection: agent.connections[0]!.connectionId } };
    },
    status: 200,
    check: (body, _h, ctx) =>
      expect(body).toEqual({
        connections: [{ id: ctx.connection as string, slug: "upstream", title: "upstream", tools: [], resources: [], prompts: [], discovery_error: null }],
        // The selected tool is not offered upstream (nothing discovered): not exposed, so not grantable.
        agents: [{ id: ctx.agent as string, slug: "helper", title: "helper", tools: [] }],
      }),
    never: () => ["tok-row-secret", "https://mcp.example.com"],
  },
  {
    op: "WHOAMI",
    request: () => ({ method: "GET", path: "/whoami" }),
    status: 200,
    check: (body, h) => expect(body).toMatchObject({ user: { id: h.admin.id, email: h.admin.email, role: "admin" }, management_tools: ["WHOAMI"] }),
  },
  {
    op: "SERVER_STATS",
    request: () => ({ method: "GET", path: "/stats" }),
    status: 200,
    check: (body) => {
      // The harness holds an admin and a member: counts, never who they are.
      expect(body).toMatchObject({ users: 2, active_sessions: 0, public_url: PUBLIC_URL });
      expect(body.version).toBeString();
      expect(body.uptime_seconds as number).toBeGreaterThanOrEqual(0);
      expect(body.database_bytes as number).toBeGreaterThan(0);
    },
    never: (h) => [h.admin.email, h.member.email, h.admin.id, TEST_SECRET],
  },
  {
    op: "API_KEY_CREATE",
    request: () => ({ method: "POST", path: "/keys", json: { name: "deploy bot", permissions: { self: ["API_KEY_CREATE"] }, expires_in: "30d" } }),
    status: 201,
    check: async (body, h) => {
      expect(body.token).toMatch(TOKEN_PATTERN);
      // The happy key holds only API_KEY_CREATE, so that is all it may hand on.
      expect(body.key).toMatchObject({ name: "deploy bot", permissions: { self: ["API_KEY_CREATE"] }, owner: { id: h.admin.id } });
      expect((body.key as Json).expires_at).toBeString();
      expect((await h.deps.verifyKey(body.token as string))?.permissions).toEqual({ self: ["API_KEY_CREATE"] });
    },
    never: () => ["token_hash", "tokenHash"],
  },
  {
    op: "API_KEY_LIST",
    request: async (h) => ({ method: "GET", path: "/keys", ctx: { other: await mintKey(h.deps, h.member, {}, { name: "member's" }) } }),
    status: 200,
    check: (body, h) => {
      const keys = body.keys as { name: string; owner: { id: string } }[];
      expect(keys.map((k) => k.name).sort()).toEqual(["member's", "test key"]);
    },
    never: (_h, ctx) => ["token_hash", "tokenHash", (ctx.other as { token: string }).token, '"token"'],
  },
  {
    op: "API_KEY_GET",
    request: async (h) => {
      const target = await mintKey(h.deps, h.member, { self: ["WHOAMI"] }, { name: "target" });
      return { method: "GET", path: `/keys/${target.key.id}`, ctx: { target } };
    },
    status: 200,
    check: (body, h, ctx) => {
      expect(body).toMatchObject({ id: (ctx.target as { key: { id: string } }).key.id, name: "target", owner: { id: h.member.id, email: h.member.email } });
    },
    never: (_h, ctx) => [(ctx.target as { token: string }).token, "token_hash", '"token"'],
  },
  {
    op: "API_KEY_UPDATE",
    request: async (h) => {
      const target = await mintKey(h.deps, h.member, { self: ["API_KEY_UPDATE"] }, { name: "before" }); // within the happy key (the key rule)
      return { method: "PATCH", path: `/keys/${target.key.id}`, json: { name: "after", expires_at: null }, ctx: { target } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      const id = (ctx.target as { key: { id: string } }).key.id;
      expect(body).toMatchObject({ id, name: "after", expires_at: null });
      expect((await getApiKey(h.deps.db, id))?.name).toBe("after");
    },
    never: (_h, ctx) => [(ctx.target as { token: string }).token],
  },
  {
    op: "API_KEY_ROTATE",
    request: async (h) => {
      const target = await mintKey(h.deps, h.member, { self: ["API_KEY_ROTATE"] }, { name: "rotated" }); // within the happy key (the key rule)
      return { method: "POST", path: `/keys/${target.key.id}/rotate`, ctx: { target } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      const target = ctx.target as { key: { id: string }; token: string };
      expect(body.token).toMatch(TOKEN_PATTERN);
      expect(body.token).not.toBe(target.token);
      expect(await h.deps.verifyKey(target.token)).toBeNull();
      expect((await h.deps.verifyKey(body.token as string))?.keyId).toBe(target.key.id);
    },
  },
  {
    op: "API_KEY_DELETE",
    request: async (h) => {
      const target = await mintKey(h.deps, h.member, { self: ["API_KEY_DELETE"] }, { name: "doomed" }); // within the happy key (the key rule)
      return { method: "DELETE", path: `/keys/${target.key.id}`, ctx: { target } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      const target = ctx.target as { key: { id: string }; token: string };
      expect(body).toEqual({ id: target.key.id, deleted: true });
      expect(await h.deps.verifyKey(target.token)).toBeNull();
    },
  },
  {
    op: "OAUTH_GRANT_LIST",
    request: async (h) => {
      const agent = await agentResource(h.deps, "oauth-agent");
      const mine = await approve(h.deps, h.admin, await dcrClient(h.deps, "Cursor"), agent);
      const theirs = await approve(h.deps, h.member, await cimdClient(h.deps), agent);
      return { method: "GET", path: "/oauth/grants", ctx: { agent, mine, theirs } };
    },
    status: 200,
    check: (body, h, ctx) => {
      const [mine, theirs, agent] = [ctx.mine as TokenSet, ctx.theirs as TokenSet, ctx.agent as { id: string; url: string }];
      // An admin's key sees everyone's.
      const grants = body.grants as Json[];
      expect(grants.map((g) => g.id).sort()).toEqual([mine.grantId, theirs.grantId].sort());
      expect(grants.find((g) => g.id === theirs.grantId)).toMatchObject({
        user: { id: h.member.id, email: h.member.email },
        client: { id: "https://claude.ai/oauth/mcp-oauth-client-metadata", name: "Claude", kind: "cimd" },
        resource: { id: agent.id, kind: "agent", slug: "oauth-agent", title: "oauth-agent" },
        resource_url: agent.url,
        scope: "mcp",
        created_at: expect.any(String),
        last_used_at: expect.any(String),
        refresh_expires_at: expect.any(String),
      });
      expect(grants.find((g) => g.id === mine.grantId)).toMatchObject({ user: { id: h.admin.id }, client: { name: "Cursor", kind: "dcr" } });
    },
    never: (_h, ctx) => [...oauthSecrets(ctx.mine as TokenSet), ...oauthSecrets(ctx.theirs as TokenSet), "token_hash", "mcp_at_", "mcp_rt_"],
  },
  {
    op: "OAUTH_GRANT_REVOKE",
    request: async (h) => {
      const tokens = await approve(h.deps, h.member, await dcrClient(h.deps), await agentResource(h.deps));
      return { method: "DELETE", path: `/oauth/grants/${tokens.grantId}`, ctx: { tokens } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      const tokens = ctx.tokens as TokenSet;
      expect(body).toEqual({ id: tokens.grantId, revoked: true });
      expect(await getGrant(h.deps.db, tokens.grantId)).toBeNull();
      expect(await h.deps.oauth.verifyAccessToken(tokens.accessToken)).toBeNull();
    },
    never: (_h, ctx) => oauthSecrets(ctx.tokens as TokenSet),
  },
  {
    op: "CONNECTION_OAUTH_LINKS",
    request: async (h) => {
      const { id, tokens } = await storedOAuthLink(h);
      return { method: "GET", path: `/connections/${id}/oauth/links`, ctx: { tokens } };
    },
    status: 200,
    check: (body, h) => expect(body).toMatchObject({ mode: "per_user", links: [{ subject: h.admin.id, user: { id: h.admin.id, email: h.admin.email }, state: "connected", account: "admin-upstream" }] }),
    never: (_h, ctx) => ctx.tokens as string[],
  },
  {
    op: "OAUTH_ACCOUNTS_LIST",
    request: async (h) => ({ method: "GET", path: "/oauth/accounts", ctx: await storedOAuthLink(h) }),
    status: 200,
    check: (body, _h, ctx) => expect(body).toEqual({ accounts: [{ connection_id: ctx.id as string, slug: "oauthed", title: "oauthed", state: "connected", account: "admin-upstream", expires_at: expect.any(String), last_error: null }] }),
    never: (_h, ctx) => ctx.tokens as string[],
  },
  {
    op: "CONNECTION_OAUTH_DISCONNECT",
    request: async (h) => {
      const { id, tokens } = await storedOAuthLink(h);
      return { method: "DELETE", path: `/connections/${id}/oauth/links`, ctx: { id, tokens } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      expect(body).toEqual({ disconnected: true });
      expect(await upstreamOAuthStore(connectionStore(h.deps)).getLink(ctx.id as string, h.admin.id as OAuthSubject)).toBeNull();
    },
    never: (_h, ctx) => ctx.tokens as string[],
  },
  {
    op: "OAUTH_CLIENT_LIST",
    request: async (h) => ({ method: "GET", path: "/oauth/clients", ctx: { dcr: await dcrClient(h.deps, "Cursor"), cimd: await cimdClient(h.deps) } }),
    status: 200,
    check: (body, _h, ctx) => {
      const [dcr, cimd] = [ctx.dcr as OAuthClient, ctx.cimd as OAuthClient];
      expect((body.clients as Json[]).map((c) => c.id).sort()).toEqual([dcr.id, cimd.id].sort());
      expect(body.clients).toContainEqual({ id: cimd.id, kind: "cimd", name: "Claude", redirect_uris: ["https://claude.ai/api/mcp/auth_callback"], client_uri: null, created_at: expect.any(String), last_used_at: null });
    },
  },
  {
    op: "OAUTH_CLIENT_DELETE",
    // A metadata-document client's id is a URL: percent-encoded, it is one path segment.
    request: async (h) => {
      const client = await cimdClient(h.deps);
      const tokens = await approve(h.deps, h.member, client, await agentResource(h.deps));
      return { method: "DELETE", path: `/oauth/clients/${encodeURIComponent(client.id)}`, ctx: { client, tokens } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      const [client, tokens] = [ctx.client as OAuthClient, ctx.tokens as TokenSet];
      expect(body).toEqual({ id: client.id, deleted: true });
      expect(await findClient(h.deps.db, client.id)).toBeNull();
      expect(await getGrant(h.deps.db, tokens.grantId)).toBeNull();
    },
  },
  {
    op: "AUDIT_LIST",
    request: async (h) => {
      // A change the member made, with a secret in it as it would have been before masking.
      h.deps.audit.record({
        at: new Date(),
        face: "admin",
        actor: { userId: h.member.id, credentialKind: "session", credentialId: null },
        action: "CONNECTION_UPDATE",
        targetId: "conn_00000000-0000-4000-8000-000000000000",
        address: "192.0.2.7",
        change: { title: "Renamed" },
        outcome: "ok",
      });
      // On PostgreSQL the row is written by the pool, after record() returns: read once it is there.
      await h.deps.audit.settled?.();
      return { method: "GET", path: "/audit" };
    },
    status: 200,
    check: (body, h) => {
      // An admin's key reads everyone's rows; the read itself makes none.
      expect(body).toEqual({
        rows: [
          {
            id: expect.any(String),
            at: expect.any(String),
            face: "admin",
            actor: { user_id: h.member.id, user_email: h.member.email, credential_kind: "session", credential_id: null },
            action: "CONNECTION_UPDATE",
            target_id: "conn_00000000-0000-4000-8000-000000000000",
            target_exists: false,
            address: "192.0.2.7",
            outcome: "ok",
            change: { title: "Renamed" },
          },
        ],
        next_cursor: null,
      });
    },
  },
  {
    op: "USER_LIST",
    request: () => ({ method: "GET", path: "/users" }),
    status: 200,
    check: (body, h) => {
      expect((body.users as User[]).map((u) => u.email).sort()).toEqual([h.admin.email, h.member.email].sort());
    },
    never: () => ["password", "$argon2"],
  },
  {
    op: "USER_CREATE",
    request: () => ({ method: "POST", path: "/users", json: { email: "New@Example.com", role: "member", password: "a long enough password" } }),
    status: 201,
    check: async (body, h) => {
      expect(body).toMatchObject({ email: "new@example.com", role: "member" });
      expect((await getUser(h.deps.db, body.id as string))?.email).toBe("new@example.com");
    },
    never: () => ["a long enough password", "$argon2", "password"],
  },
  {
    op: "USER_UPDATE",
    request: (h) => ({ method: "PATCH", path: `/users/${h.member.id}`, json: { role: "admin" } }),
    status: 200,
    check: async (body, h) => {
      expect(body).toMatchObject({ id: h.member.id, role: "admin" });
      expect((await getUser(h.deps.db, h.member.id))?.role).toBe("admin");
    },
  },
  {
    op: "USER_DELETE",
    request: (h) => ({ method: "DELETE", path: `/users/${h.member.id}` }),
    status: 200,
    check: async (body, h) => {
      expect(body).toEqual({ id: h.member.id, deleted: true });
      expect(await getUser(h.deps.db, h.member.id)).toBeNull();
    },
  },
  {
    op: "USER_INVITE_CREATE",
    request: () => ({ method: "POST", path: "/users/invites", json: { email: "Invited@Example.com", role: "member" } }),
    status: 201,
    check: async (body, h) => {
      expect(body.invite).toMatchObject({ email: "invited@example.com", role: "member", invited_by: { id: h.admin.id, email: h.admin.email } });
      // The one-time link, shown this once; only its HMAC is stored.
      const token = (body.url as string).slice(`${PUBLIC_URL}/admin/invite/`.length);
      expect(body.url).toStartWith(`${PUBLIC_URL}/admin/invite/sb_invite_`);
      expect((await findInvite(h.deps.db, h.deps.keys.tokenHmac, token))?.email).toBe("invited@example.com");
      expect(JSON.stringify((await rawRows(h.deps, "SELECT * FROM user_invites")))).not.toContain(token);
    },
    never: () => ["token_hash"],
  },
  {
    op: "USER_INVITE_LIST",
    request: async (h) => {
      const { token } = await createInvite(h.deps.db, h.deps.keys.tokenHmac, { email: "pending@example.com", role: "admin" }, { invitedBy: h.admin.id });
      return { method: "GET", path: "/users/invites", ctx: { token } };
    },
    status: 200,
    check: (body) => expect(body.invites).toMatchObject([{ email: "pending@example.com", role: "admin" }]),
    never: (_h, ctx) => [ctx.token as string, "token_hash", "sb_invite_"],
  },
  {
    op: "USER_INVITE_REVOKE",
    request: async (h) => {
      const { invite, token } = await createInvite(h.deps.db, h.deps.keys.tokenHmac, { email: "pending@example.com", role: "member" }, { invitedBy: h.admin.id });
      return { method: "DELETE", path: `/users/invites/${invite.id}`, ctx: { id: invite.id, token } };
    },
    status: 200,
    check: async (body, h, ctx) => {
      expect(body).toEqual({ id: ctx.id as string, email: "pending@example.com", revoked: true });
      expect(await findInvite(h.deps.db, h.deps.keys.tokenHmac, ctx.token as string)).toBeNull();
    },
  },
  {
    op: "MONITORING_LOGS_LIST",
    request: async (h) => ({ method: "GET", path: "/monitoring/logs", ctx: { id: await insertUsage(h.deps.db, usageRecord(h.member.id, { payload: { arguments: { q: "row-payload" } } })) } }),
    status: 200,
    check: (body, _h, ctx) => {
      expect((body.rows as Json[]).find((r) => r.id === ctx.id)).toMatchObject({ name: "search", outcome: "ok", has_payload: true });
      expect(body.next_cursor).toBeNull();
    },
    never: () => ["row-payload"],
  },
  {
    op: "MONITORING_LOG_GET",
    request: async (h) => ({ method: "GET", path: `/monitoring/logs/${await insertUsage(h.deps.db, usageRecord(h.member.id, { payload: { arguments: { q: "row-payload" } } }))}` }),
    status: 200,
    check: (body, h) => expect(body).toMatchObject({ name: "search", actor: { user_id: h.member.id }, payload: { arguments: { q: "row-payload" } } }),
  },
  {
    op: "MONITORING_STATS",
    request: async (h) => {
      await insertUsage(h.deps.db, usageRecord(h.member.id));
      await insertUsage(h.deps.db, usageRecord(h.admin.id, { outcome: "error", errorCode: "-32603", errorMessage: "boom" }));
      return { method: "GET", path: "/monitoring/stats" };
    },
    status: 200,
    check: (body) => {
      // Other rows (the request's own, once operations are recorded) may count too: the two written here must.
      expect((body.totals as { calls: number }).calls).toBeGreaterThanOrEqual(2);
      expect(body.errors).toContainEqual({ outcome: "error", code: "-32603", count: 1 });
      expect((body.top as { tools: Json[] }).tools).toContainEqual({ id: "search", calls: 2, errors: 1 });
      expect(body.series as unknown[]).toHaveLength(60);
    },
  },
  {
    op: "MONITORING_KEY_ACTIVITY",
    request: async (h) => {
      const { key } = await mintKey(h.deps, h.member, {});
      await insertUsage(h.deps.db, usageRecord(h.member.id, { actor: { userId: h.member.id, credentialKind: "api_key", credentialId: key.id }, address: "198.51.100.7" }));
      return { method: "GET", path: `/monitoring/keys/${key.id}/activity`, ctx: { id: key.id } };
    },
    status: 200,
    check: (body, _h, ctx) => expect(body).toMatchObject({ credential_id: ctx.id as string, calls: 1, errors: 0, tools: [{ id: "search", calls: 1 }], addresses: [{ address: "198.51.100.7", calls: 1 }] }),
  },
];

/** A tool the row's key does not hold: the wrong-permission key holds everything but the row's op. */
function allBut(op: string): string[] {
  return OPERATIONS.map((o) => o.name).filter((name) => name !== op);
}

test("the table covers every operation's route", async () => {
  expect(ROUTES.map((r) => r.op).sort()).toEqual(OPERATIONS.map((op) => op.name).sort());
  for (const row of ROUTES) {
    const op = OPERATIONS_BY_NAME.get(row.op)!;
    const h = await harness();
    const req = await row.request(h);
    expect(req.method).toBe(op.rest.method);
    expect(req.path).toMatch(new RegExp(`^${op.rest.path.replace(/:\w+/g, "[^/]+")}$`));
    expect(row.status).toBe(op.rest.successStatus ?? 200);
  }
});

for (const row of ROUTES) {
  describe(`${row.op}`, () => {
    test("guest: 401 with WWW-Authenticate, and nothing done", async () => {
      const h = await harness();
      const req = await row.request(h);
      const res = await apiRequest(h.app, req.method, req.path, { json: req.json });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/api/v1${req.path}"`);
      const body = (await res.json()) as Json;
      expect(body).toEqual({ error: { code: "UNAUTHENTICATED", message: "Missing or invalid bearer token." } });
      // Nothing changed: both users are still there, no key was added or removed.
      expect((await getUser(h.deps.db, h.member.id))?.role).toBe("member");
      expect((await rawRow(h.deps, "SELECT count(*) AS n FROM users"))).toEqual({ n: 2 });
    });

    test("wrong permission: 403 FORBIDDEN, no data", async () => {
      const h = await harness();
      const { token } = await mintKey(h.deps, h.admin, { self: allBut(row.op), "*": ["*"] });
      const req = await row.request(h);
      const keysBefore = (await rawRows(h.deps, "SELECT id, token_hash FROM api_keys ORDER BY id"));
      const res = await apiRequest(h.app, req.method, req.path, { token, json: req.json });
      expect(res.status).toBe(403);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: { code: "FORBIDDEN", message: `This key may not use ${row.op}.` } });
      expect(text).not.toContain(h.admin.email);
      expect(text).not.toMatch(TOKEN_ANYWHERE);
      expect((await rawRows(h.deps, "SELECT id, token_hash FROM api_keys ORDER BY id"))).toEqual(keysBefore);
      expect((await getUser(h.deps.db, h.member.id))?.role).toBe("member");
      expect((await rawRow(h.deps, "SELECT count(*) AS n FROM users"))).toEqual({ n: 2 });
    });

    test(`happy: ${row.status} with the result`, async () => {
      const h = await harness();
      const { token } = await mintKey(h.deps, h.admin, { self: [row.op] });
      const req = await row.request(h);
      const res = await apiRequest(h.app, req.method, req.path, { token, json: req.json });
      const text = await res.text();
      expect({ status: res.status, text }).toMatchObject({ status: row.status });
      expect(res.headers.get("content-type")).toStartWith("application/json");
      const body = JSON.parse(text) as Json;
      // No error envelope ({error: {code, message}}); CONNECTION_TEST reports a failed test as a string `error`.
      expect((body.error as { code?: string } | undefined)?.code).toBeUndefined();
      await row.check(body, h, req.ctx ?? {});
      expect(text).not.toContain(token);
      for (const s of row.never?.(h, req.ctx ?? {}) ?? []) expect(text).not.toContain(s);
    });
  });
}

describe("a member's key over REST", () => {
  test("sees only the member's own keys, whatever owner_id says", async () => {
    const h = await harness();
    const mine = await mintKey(h.deps, h.member, { self: ["*"] }, { name: "mine" });
    await mintKey(h.deps, h.admin, {}, { name: "the admin's" });
    const res = await apiRequest(h.app, "GET", `/keys?owner_id=${h.admin.id}`, { token: mine.token });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect((JSON.parse(text) as { keys: { name: string }[] }).keys.map((k) => k.name)).toEqual(["mine"]);
    expect(text).not.toContain("the admin's");
    expect(text).not.toContain(h.admin.email);
  });

  test("another user's key reads as API_KEY_NOT_FOUND for get, update, rotate and delete", async () => {
    const h = await harness();
    const mine = await mintKey(h.deps, h.member, { self: ["*"] });
    const theirs = await mintKey(h.deps, h.admin, { self: ["*"] }, { name: "the admin's" });
    const requests: [string, string, unknown][] = [
      ["GET", `/keys/${theirs.key.id}`, undefined],
      ["PATCH", `/keys/${theirs.key.id}`, { name: "stolen" }],
      ["POST", `/keys/${theirs.key.id}/rotate`, undefined],
      ["DELETE", `/keys/${theirs.key.id}`, undefined],
    ];
    for (const [method, path, json] of requests) {
      const res = await apiRequest(h.app, method, path, { token: mine.token, json });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { code: "API_KEY_NOT_FOUND", message: "No such API key." } });
    }
    expect((await getApiKey(h.deps.db, theirs.key.id))?.name).toBe("the admin's");
    expect((await h.deps.verifyKey(theirs.token))?.keyId).toBe(theirs.key.id);
  });

  test("admin-only routes are 403 for a member's {self:[*]} key", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    for (const [method, path, json] of [
      ["POST", "/users", { email: "x@example.com", role: "admin", password: "a long enough password" }],
      ["PATCH", `/users/${h.member.id}`, { role: "admin" }],
      ["DELETE", `/users/${h.admin.id}`, undefined],
    ] as const) {
      const res = await apiRequest(h.app, method, path, { token, json });
      expect(res.status).toBe(403);
    }
    expect((await getUser(h.deps.db, h.member.id))?.role).toBe("member");
    expect(await getUser(h.deps.db, h.admin.id)).not.toBeNull();
  });

  test("creating a key with admin-only tools is 403 FORBIDDEN naming the rule and the entry", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    const res = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "x", permissions: { self: ["USER_CREATE"] } } });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string; fields: Record<string, string> } };
    expect(body.error.code).toBe("FORBIDDEN");
    expect(body.error.message).toStartWith("A key may only grant permissions within its own and its owner's role: ");
    expect(body.error.message).toContain('self: "USER_CREATE" is more than the calling key may grant');
    expect(body.error.message).toContain('self: "USER_CREATE" is more than the owner (a member) may grant');
    expect(Object.keys(body.error.fields)).toEqual(["permissions.self"]);
    expect(body.error.fields["permissions.self"]).toContain('"USER_CREATE"');
    expect(JSON.stringify(body)).not.toMatch(TOKEN_ANYWHERE);
  });
});

describe("error bodies", () => {
  test("invalid fields: 400 VALIDATION_FAILED with fields naming each", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "", permissions: { self: [] } } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; fields: Record<string, string> } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(body.error.fields).toEqual({ name: "expected a name", "permissions.self": "expected at least one action" });
    expect(body.error.message).toContain("name: expected a name");
  });

  test("a malformed id in the path is VALIDATION_FAILED on id; an unknown one is 404", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const malformed = await apiRequest(h.app, "GET", "/keys/not-a-key", { token });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { fields: Json } }).error.fields).toEqual({ id: "expected an API key id (key_<uuid>)" });
    const unknown = await apiRequest(h.app, "DELETE", "/users/user_00000000-0000-4000-8000-000000000000", { token });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: "USER_NOT_FOUND", message: "No such user." } });
  });

  test("the path's id wins over an id in the body", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const a = await mintKey(h.deps, h.admin, {}, { name: "a" });
    const b = await mintKey(h.deps, h.admin, {}, { name: "b" });
    const res = await apiRequest(h.app, "PATCH", `/keys/${a.key.id}`, { token, json: { id: b.key.id, name: "renamed" } });
    expect(res.status).toBe(200);
    expect((await getApiKey(h.deps.db, a.key.id))?.name).toBe("renamed");
    expect((await getApiKey(h.deps.db, b.key.id))?.name).toBe("b");
  });

  test("conflicts keep their codes: the last admin, a taken email", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const demote = await apiRequest(h.app, "PATCH", `/users/${h.admin.id}`, { token, json: { role: "member" } });
    expect(demote.status).toBe(409);
    expect(((await demote.json()) as { error: { code: string } }).error.code).toBe("LAST_ADMIN");
    const taken = await apiRequest(h.app, "POST", "/users", { token, json: { email: h.member.email, role: "member", password: "a long enough password" } });
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { error: { code: string } }).error.code).toBe("USER_EXISTS");
  });

  test("expiry: both forms at once, or a time in the past, are refused on expires_at", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const both = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "x", permissions: {}, expires_in: "1d", expires_at: "2099-01-01T00:00:00Z" } });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { error: { fields: Json } }).error.fields).toHaveProperty("expires_at");
    const past = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "x", permissions: {}, expires_at: "2001-01-01T00:00:00Z" } });
    expect(past.status).toBe(400);
    expect(((await past.json()) as { error: { fields: Json } }).error.fields).toEqual({ expires_at: "expected a time in the future" });
  });

  test("an unknown route under /api/v1 is a JSON 404 for a key, and 401 for a guest", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await apiRequest(h.app, "GET", "/no-such-route", { token });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "Not found." } });
    expect((await apiRequest(h.app, "GET", "/no-such-route")).status).toBe(401);
  });
});

describe("request bodies", () => {
  async function postKeys(h: Harness, token: string, body: string, contentType?: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
    const res = await apiRequest(h.app, "POST", "/keys", { token, body, headers: contentType ? { "content-type": contentType } : {} });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }

  test("a non-JSON content type is 415, and nothing is created", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const json = JSON.stringify({ name: "x", permissions: {} });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
      const res = await postKeys(h, token, type === "application/x-www-form-urlencoded" ? "name=x" : json, type);
      expect(res).toEqual({ status: 415, body: { error: { code: "UNSUPPORTED_MEDIA_TYPE", message: "Send JSON (Content-Type: application/json)." } } });
    }
    expect((await rawRow(h.deps, "SELECT count(*) AS n FROM api_keys"))).toEqual({ n: 1 });
  });

  test("JSON types with a charset or a +json suffix are accepted", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const json = JSON.stringify({ name: "x", permissions: {} });
    expect((await postKeys(h, token, json, "application/json; charset=utf-8")).status).toBe(201);
    expect((await postKeys(h, token, json, "application/merge-patch+json")).status).toBe(201);
  });

  test("invalid JSON is 400 BAD_REQUEST", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await postKeys(h, token, '{"name": "x", ', "application/json");
    expect(res).toEqual({ status: 400, body: { error: { code: "BAD_REQUEST", message: "The request body is not valid JSON." } } });
  });

  for (const [name, body] of [
    ["an array", '[{"name": "x"}]'],
    ["a string", '"x"'],
    ["a number", "42"],
    ["null", "null"],
  ]) {
    test(`a body that is ${name} is 400 BAD_REQUEST`, async () => {
      const h = await harness();
      const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
      const res = await postKeys(h, token, body!, "application/json");
      expect(res).toEqual({ status: 400, body: { error: { code: "BAD_REQUEST", message: "The request body must be a JSON object." } } });
      expect((await rawRow(h.deps, "SELECT count(*) AS n FROM api_keys"))).toEqual({ n: 1 });
    });
  }

  test("an empty body is an empty input: fields are reported missing", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await postKeys(h, token, "");
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("VALIDATION_FAILED");
    expect(res.body.error?.message).toContain("name");
  });

  test("a body over server.max_body_size is 413", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const res = await postKeys(h, token, JSON.stringify({ name: "x".repeat(h.config.server.max_body_size), permissions: {} }), "application/json");
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("openapi.json", () => {
  type OpenApi = {
    openapi: string;
    info: { title: string; version: string };
    servers: { url: string }[];
    components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, unknown> };
    security: unknown[];
    paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string; required: boolean }[]; requestBody?: unknown; responses: Record<string, unknown> }>>;
  };

  test("is public, OpenAPI 3.1, and lists every operation at its path and method", async () => {
    const h = await harness();
    const res = await h.app.request("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApi;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBeString();
    expect(doc.info.version).toBeString();
    expect(doc.servers).toEqual([{ url: `${PUBLIC_URL}/api/v1` }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearer: [] }]);

    const ids: string[] = [];
    for (const op of OPERATIONS) {
      const path = op.rest.path.replace(/:(\w+)/g, "{$1}");
      const entry = doc.paths[path]?.[op.rest.method.toLowerCase()];
      expect(entry?.operationId).toBe(op.name);
      ids.push(entry!.operationId);
      expect(Object.keys(entry!.responses)).toContain(String(op.rest.successStatus ?? 200));
      expect(Object.keys(entry!.responses)).toEqual(expect.arrayContaining(["400", "401", "403"]));
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(entry!.parameters).toContainEqual(expect.objectContaining({ name, in: "path", required: true }));
      }
      if (op.rest.method === "POST" || op.rest.method === "PATCH") expect(entry!.requestBody).toBeObject();
      else expect(entry!.requestBody).toBeUndefined();
    }
    // Nothing else, nothing twice, and no path in Express syntax.
    const all = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((e) => e.operationId));
    expect(all.sort()).toEqual(ids.sort());
    for (const path of Object.keys(doc.paths)) expect(path).not.toContain(":");
  });

  test("every $ref resolves inside the document", async () => {
    const h = await harness();
    const text = await (await h.app.request("/api/v1/openapi.json")).text();
    const doc = JSON.parse(text) as Json;
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref).toStartWith("#/");
      let node: unknown = doc;
      for (const part of ref.slice(2).split("/")) node = (node as Json | undefined)?.[part];
      expect({ ref, resolved: node !== undefined }).toEqual({ ref, resolved: true });
    }
  });
});

describe("tokens in clear", () => {
  async function cliKeyList(h: Harness): Promise<string> {
    // The CLI opens the database the server runs on, whichever engine.
    const database = h.config.database.url ? `url = ${JSON.stringify(h.config.database.url)}` : `path = ${JSON.stringify(h.dbPath)}`;
    writeFileSync(join(h.dir, "switchboard.toml"), `[database]\n${database}\n\n[security]\nsecret = "${TEST_SECRET}"\n`);
    let stdout = "";
    let stderr = "";
    const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), readStdin: async () => "", env: {}, cwd: h.dir };
    const code = await runCli(["key", "list", "--json"], io);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    return stdout;
  }

  test("the database file and its WAL never hold a token; listings never return a token or hash", async () => {
    const h = await harness();
    const tokens: string[] = [];
    const bootstrap = await mintKey(h.deps, h.admin, { self: ["*"] }, { name: "bootstrap" });
    tokens.push(bootstrap.token);
    const ids: string[] = [];
    for (const name of ["alpha", "beta", "gamma"]) {
      const res = await apiRequest(h.app, "POST", "/keys", { token: bootstrap.token, json: { name, permissions: { self: ["WHOAMI"] } } });
      const body = (await res.json()) as { key: { id: string }; token: string };
      tokens.push(body.token);
      ids.push(body.key.id);
    }
    for (const [i, grace] of [[0, "1h"], [1, undefined], [0, undefined]] as const) {
      const res = await apiRequest(h.app, "POST", `/keys/${ids[i]}/rotate`, { token: bootstrap.token, json: grace ? { grace_period: grace } : {} });
      expect(res.status).toBe(200);
      tokens.push(((await res.json()) as { token: string }).token);
    }
    const mcpCreated = await callTool(h.app, bootstrap.token, "API_KEY_CREATE", { name: "delta", permissions: { self: ["WHOAMI"] } });
    tokens.push((mcpCreated.result?.structuredContent as { token: string }).token);
    expect(new Set(tokens).size).toBe(8);
    for (const t of tokens) expect(t).toMatch(TOKEN_PATTERN);

    const files = [h.dbPath, `${h.dbPath}-wal`];
    // On PostgreSQL the files are the server's: every row of every table as stored stands in for them.
    if (h.deps.sqlite) expect(existsSync(`${h.dbPath}-wal`)).toBe(true);
    const bytes = h.deps.sqlite ? files.filter(existsSync).map((f) => readFileSync(f).toString("latin1")).join("\n") : await everyStoredRow(h.deps);
    // Positive control: the rows are in these bytes (names and display prefixes are stored).
    expect(bytes).toContain("gamma");
    expect(bytes).toContain(bootstrap.key.prefix);
    for (const t of tokens) {
      expect(bytes).not.toContain(t);
      // Not even the part after the display prefix.
      expect(bytes).not.toContain(t.slice(14, 40));
    }
    expect(bytes.match(TOKEN_ANYWHERE)).toBeNull();

    const hashes = tokens.map((t) => hashToken(h.deps.keys.tokenHmac, t));
    // Each listing with a name it must show (so an empty answer cannot pass).
    const listings: [string, string][] = [
      [await (await apiRequest(h.app, "GET", "/keys", { token: bootstrap.token })).text(), "gamma"],
      [await (await apiRequest(h.app, "GET", `/keys/${ids[0]}`, { token: bootstrap.token })).text(), "alpha"],
      [JSON.stringify(await callTool(h.app, bootstrap.token, "API_KEY_LIST")), "delta"],
      [await cliKeyList(h), "delta"],
    ];
    for (const [listing, name] of listings) {
      expect(listing).toContain(name);
      expect(listing.match(TOKEN_ANYWHERE)).toBeNull();
      expect(listing).not.toContain("token_hash");
      expect(listing).not.toContain("tokenHash");
      expect(listing).not.toMatch(/"token"/);
      for (const hash of hashes) expect(listing).not.toContain(hash);
    }
  });
});
