// `switchboard db copy`: a populated SQLite installation (every table an installation keeps) copied into
// a fresh PostgreSQL database, row for row, after which a server on PostgreSQL accepts the old API key
// and the old password; a target holding rows is refused unless --replace; an older, newer or damaged
// source is refused; a difference found by the read-back rolls the copy back; a wrong URL hides its password.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { compose } from "../../src/compose.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openDatabase, openPostgres, type DbHandle } from "../../src/db/client.ts";
import { PER_REPLICA_TABLES, tablesInCopyOrder } from "../../src/db/copy.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import * as schema from "../../src/db/schema.ts";
import { tables, type Tables } from "../../src/db/store.ts";
import { listConnections } from "../../src/domain/connections/connections.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { createApp } from "../../src/http/app.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { silentLogger } from "../../src/logger.ts";
import { getTableName, is } from "drizzle-orm";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import { createTestApp, PUBLIC_URL, TEST_SECRET } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { signIn, TEST_PASSWORD_COST } from "../support/users.ts";

const pg = usePostgres();
const tempDir = useTempDirs("switchboard-db-copy-");
const PASSWORD = "the admin's old password";

reportMissingPostgres("the db copy tests", test);

type Run = { code: number; stdout: string; stderr: string };

async function cli(args: string[], cwd = "/", env: Record<string, string> = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), readStdin: async () => "", env, cwd };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/**
 * A SQLite installation with rows in every table an installation keeps: a user who signs in, a session,
 * an invite, an API key, connections with sealed secrets (from the config, through the real cipher), an
 * agent, an OAuth client, grant, code and tokens, an OAuth connection's upstream registration, link and
 * flow (sealed), usage rows with their roll-ups and totals, audit rows.
 */
async function populatedSqlite(): Promise<{ dir: string; path: string; token: string; email: string; adminId: string }> {
  const dir = tempDir();
  const app = await createTestApp({
    dir,
    overrides: {
      // The source is a SQLite installation whatever the run (a PostgreSQL run would give it a database).
      database: {},
      connections: [
        { slug: "docs", transport: "http", url: "https://docs.example.com/mcp", token: "upstream-token-0123456789", headers: { "X-Team": "platform" }, enabled: false },
        { slug: "local", command: "true", env: { API_KEY: "stdio-secret-value" }, enabled: false, record_payloads: true },
        { slug: "linear", url: "https://linear.example.com/mcp", auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: "oauth-client-secret-value", oauth_scopes: "read", enabled: false },
      ],
    },
  });
  const email = "admin@example.com";
  const admin = await app.createUser(email, "admin", PASSWORD);
  await app.signIn(email, PASSWORD); // a session row
  const { token } = await mintKey(app.deps, admin, { self: ["*"], "*": ["*"] }, { name: "ci key", expiresAt: new Date(Date.now() + 86_400_000) });
  const t = tables(app.deps.db);
  const db = app.deps.db;
  // As if added in the admin: a server on PostgreSQL started without these in its config keeps them.
  await db.update(t.connections).set({ fromConfig: false });
  const now = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);
  await db.insert(t.userInvites).values({ id: "inv_1", tokenHash: "h-inv", email: "new@example.com", role: "member", invitedBy: admin.id, createdAt: now, expiresAt: new Date(now.getTime() + 1000) });
  await db.insert(t.agents).values({
    id: "agent_1",
    slug: "helper",
    title: "Helper",
    description: "ü and \"quotes\"",
    instructions: "line\nbreak",
    enabled: true,
    prefixTools: false,
    selections: [{ connectionId: "conn_x", tools: ["b", "a"], resources: [], prompts: [] }] as never,
    fromConfig: false,
    createdAt: now,
    updatedAt: now,
    recordPayloads: true,
  });
  await db.insert(t.oauthClients).values({ id: "sbc_1", kind: "dcr", name: "Cursor", redirectUris: ["http://127.0.0.1/cb"], clientUri: null, logoUri: null, createdAt: now, lastUsedAt: null, cachedUntil: null });
  await db.insert(t.oauthGrants).values({ id: "grant_1", userId: admin.id, clientId: "sbc_1", resource: "agent_1", resourceUrl: `${PUBLIC_URL}/mcp/agent/helper`, scope: "mcp", permissions: { agent_1: ["*"], z: [], a: ["x"] }, createdAt: now, lastUsedAt: now });
  await db.insert(t.oauthCodes).values({ id: "code_1", codeHash: "h-code", clientId: "sbc_1", userId: admin.id, redirectUri: "http://127.0.0.1/cb", codeChallenge: "c", resource: "agent_1", resourceUrl: "u", scope: "mcp", createdAt: now, expiresAt: now, usedAt: now, grantId: "grant_1" });
  await db.insert(t.oauthTokens).values([
    { id: "tok_1", tokenHash: "h-access", grantId: "grant_1", kind: "access", scope: "mcp", createdAt: now, expiresAt: now, usedAt: null },
    { id: "tok_2", tokenHash: "h-refresh", grantId: "grant_1", kind: "refresh", scope: "mcp", createdAt: now, expiresAt: now, usedAt: now },
  ]);
  // More usage rows than one insert batch takes, with ids that skip (deleted rows leave holes).
  const usage = Array.from({ length: 2345 }, (_, i) => ({
    id: i * 2 + 7,
    at: now.getTime() + i,
    durationMs: i % 97,
    face: "mcp",
    targetKind: "agent",
    targetId: "agent_1",
    targetSlug: "helper",
    method: "tools/call",
    name: `tool_${i % 5}`,
    upstreamName: null,
    connectionId: "conn_x",
    outcome: i % 10 === 0 ? "error" : "ok",
    errorCode: i % 10 === 0 ? "UPSTREAM_ERROR" : null,
    errorMessage: null,
    userId: admin.id,
    credentialKind: "api_key",
    credentialId: "key_1",
    sessionId: "s",
    clientName: "client",
    clientVersion: "1.0",
    address: "127.0.0.1",
    requestBytes: 100 + i,
    responseBytes: 200,
    payload: i === 3 ? JSON.stringify({ arguments: { q: "é" } }) : null,
  }));
  for (let i = 0; i < usage.length; i += 500) await db.insert(t.usageEvents).values(usage.slice(i, i + 500));
  const counters = { calls: 3, errors: 1, durationSum: 42, h00: 1, h05: 2 };
  await db.insert(t.usageRollups).values([
    { grain: "m", bucket: 1, face: "mcp", targetKind: "agent", targetId: "agent_1", connectionId: "", name: "a", credentialId: "", userId: "", outcome: "ok", errorCode: "", ...counters },
    { grain: "h", bucket: 1, face: "mcp", targetKind: "agent", targetId: "agent_1", connectionId: "", name: "a", credentialId: "", userId: "", outcome: "ok", errorCode: "", ...counters },
  ]);
  await db.insert(t.usageTotals).values({ grain: "m", scope: "all", scopeId: "", dim: "name", bucket: 1, dimId: "a", outcome: "ok", errorCode: "", ...counters });
  await db.insert(t.auditEvents).values([
    { id: 5, at: now.getTime(), face: "admin", userId: admin.id, credentialKind: "session", credentialId: null, action: "KEY_CREATE", targetId: "key_1", address: "::1", change: '{"name":"ci key"}', outcome: "ok" },
    { id: 9, at: now.getTime() + 1, face: "rest", userId: null, credentialKind: "api_key", credentialId: "key_1", action: "CONNECTION_UPDATE", targetId: null, address: null, change: null, outcome: "denied" },
  ]);
  // Switchboard as an OAuth client of the "linear" upstream: its registration, a user's tokens, a flow.
  const oauth = upstreamOAuthStore(connectionStore(app.deps));
  const linear = configConnectionId("linear");
  await oauth.saveRegistration({
    connectionId: linear, issuer: "https://auth.linear.example.com", resource: "https://linear.example.com/mcp", authorizationEndpoint: "https://auth.linear.example.com/authorize",
    tokenEndpoint: "https://auth.linear.example.com/token", revocationEndpoint: null, userinfoEndpoint: null, method: "manual", clientId: "client-1",
    clientSecret: "oauth-client-secret-value", tokenEndpointAuthMethod: "client_secret_post", scopes: "read", redirectUri: `${PUBLIC_URL}/oauth/upstream/callback`, createdAt: now,
  });
  await oauth.saveLink({ connectionId: linear, subject: admin.id as `user_${string}`, tokens: { accessToken: "upstream-access-0001", refreshToken: "upstream-refresh-0001", expiresAt: now, scope: "read" }, account: "admin@linear", connectedBy: admin.id, now });
  await oauth.createFlow("state-hash-1", { connectionId: linear, subject: "shared", userId: admin.id, codeVerifier: "verifier-0001-abcdefghijklmnopqrstuvwxyz0123", bindingHash: "b", returnTo: "/admin", createdAt: now, expiresAt: new Date(now.getTime() + 86_400_000) });
  // Per-replica state of the source's own process: not the installation's, not copied.
  await db.insert(t.replicas).values({ id: "rep_old", url: "http://10.0.0.1:8080", startedAt: 1, heartbeatAt: 2 });
  await app.close();
  return { dir, path: join(dir, "data", "switchboard.db"), token, email, adminId: admin.id };
}

/** Every row of every table, as drizzle returns them, sorted: what both engines must agree on. */
async function everyRow(db: DbHandle["db"]): Promise<Record<string, string[]>> {
  const t = tables(db);
  const out: Record<string, string[]> = {};
  for (const key of tablesInCopyOrder()) {
    const rows = (await db.select().from(t[key])) as Record<string, unknown>[];
    out[getTableName(t[key])] = rows.map((row) => JSON.stringify(row, (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v))).sort();
  }
  return out;
}

async function withClient<T>(url: string, fn: (client: SQL) => Promise<T>): Promise<T> {
  const client = new SQL({ url, max: 1 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A migrated, empty PostgreSQL database's URL. */
async function migratedUrl(): Promise<string> {
  const url = await pg.emptyUrl();
  await (await openPostgres({ url, poolSize: 1 })).close();
  return url;
}

describe("the db command's usage", () => {
  test("needs the copy subcommand, a sqlite: source and a postgres:// target", async () => {
    expect((await cli(["db"])).stderr).toContain("a subcommand is required: copy");
    expect((await cli(["db", "move"])).code).toBe(2);
    const noFrom = await cli(["db", "copy", "--to", "postgres://h/db"]);
    expect([noFrom.code, noFrom.stderr]).toEqual([2, expect.stringContaining("--from sqlite:PATH is required")]);
    const badFrom = await cli(["db", "copy", "--from", "/x.db", "--to", "postgres://h/db"]);
    expect(badFrom.stderr).toContain("--from must be sqlite:PATH");
    const badTo = await cli(["db", "copy", "--from", "sqlite:/x.db", "--to", "mysql://u:pw@h/db"]);
    expect([badTo.code, badTo.stderr]).toEqual([2, expect.stringContaining("--to must be a postgres:// URL")]);
    expect(badTo.stderr).not.toContain("pw");
    const help = await cli(["db", "copy", "--help"]);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining("--replace")]);
  });
});

describe.skipIf(!havePostgres)("switchboard db copy", () => {
  test("copies every table, verifies it, and a server on PostgreSQL takes the old key and password", async () => {
    const source = await populatedSqlite();
    const url = await pg.emptyUrl();
    const run = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    // One comparison, so a failure shows the exit code, what was said and what was printed together.
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/usage_events\s+2345\s+2345/);
    expect(run.stdout).toMatch(/api_keys\s+1\s+1/);
    expect(run.stdout).toMatch(/replicas\s+\(per-replica state, not copied\)/);
    expect(run.stdout).toContain("verified:");
    // The secret is configured (security.secret) for the test app, but not in a config the command read:
    // it can only say where a generated one would be.
    expect(run.stdout).toContain("reminder: every replica on PostgreSQL must use the server secret");

    // Independently of the command's own check: every row reads back the same through drizzle.
    const sqlite = openDatabase({ path: source.path, busyTimeoutMs: 1000 });
    const target = await openPostgres({ url, poolSize: 2 });
    try {
      const before = await everyRow(sqlite.db);
      const after = await everyRow(target.db);
      for (const name of PER_REPLICA_TABLES) {
        expect(after[name]).toEqual([]);
        delete before[name];
        delete after[name];
      }
      expect(after).toEqual(before);
      for (const name of ["users", "sessions", "user_invites", "api_keys", "connections", "agents", "oauth_clients", "oauth_grants", "oauth_codes", "oauth_tokens", "usage_events", "usage_rollups", "usage_totals", "audit_events", "upstream_oauth_registrations", "upstream_oauth_links", "upstream_oauth_flows"]) {
        expect({ name, rows: after[name]!.length > 0 }).toEqual({ name, rows: true });
      }
      // The sealed secrets are the very ciphertexts (re-encrypting would need the secret, which the copy never reads).
      expect(after.connections!.join()).toContain("tokenSealed");
      expect(after.upstream_oauth_links!.join()).toContain('"accessTokenSealed":"v1.');
      // The identity sequences are past the copied ids: the next usage row gets a new id.
      const [next] = await target.db.insert(tables(target.db).usageEvents).values({ ...JSON.parse(after.usage_events![0]!), id: undefined }).returning({ id: tables(target.db).usageEvents.id });
      expect(next!.id).toBeGreaterThan(2344 * 2 + 7);
    } finally {
      sqlite.close();
      await target.close();
    }

    // A server on the PostgreSQL database, with the same secret, knows the old credentials.
    const config = parseConfig(
      { server: { listen: "127.0.0.1:0", public_url: PUBLIC_URL, log_level: "error" }, database: { url }, security: { secret: TEST_SECRET } },
      { source: null, env: {}, baseDir: source.dir },
    );
    const { deps, handle } = await compose(config, silentLogger, { passwordCost: TEST_PASSWORD_COST });
    try {
      const app = createApp(deps);
      const request = (path: string, init?: RequestInit) => Promise.resolve(app.request(new URL(path, PUBLIC_URL).href, init));
      const listed = await request("/api/v1/connections", { headers: { authorization: `Bearer ${source.token}` } });
      const listedBody = await listed.text();
      expect({ status: listed.status, body: listedBody.slice(0, 500) }).toEqual({ status: 200, body: expect.stringContaining('"docs"') });
      // The sealed secrets decrypt under the same server secret on the new engine.
      const [docs, linear, local] = await listConnections(connectionStore(deps));
      expect([docs!.slug, docs!.secretsUnreadable, docs!.token, docs!.headers]).toEqual(["docs", false, "upstream-token-0123456789", { "X-Team": "platform" }]);
      expect([local!.slug, local!.secretsUnreadable, local!.env]).toEqual(["local", false, { API_KEY: "stdio-secret-value" }]);
      expect([linear!.slug, linear!.secretsUnreadable, linear!.oauthClientSecret]).toEqual(["linear", false, "oauth-client-secret-value"]);
      // So do the upstream OAuth secrets, each bound to its row: the copy kept the ciphertexts and the keys they are bound to.
      const oauth = upstreamOAuthStore(connectionStore(deps));
      expect((await oauth.getRegistration(linear!.id))?.clientSecret).toBe("oauth-client-secret-value");
      expect(await oauth.getLink(linear!.id, source.adminId as `user_${string}`)).toMatchObject({ state: "connected", tokens: { accessToken: "upstream-access-0001", refreshToken: "upstream-refresh-0001" } });
      expect((await oauth.takeFlow("state-hash-1"))?.codeVerifier).toBe("verifier-0001-abcdefghijklmnopqrstuvwxyz0123");
      const forged = await request("/api/v1/connections", { headers: { authorization: `Bearer ${source.token.slice(0, -1)}x` } });
      expect(forged.status).toBe(401);
      expect(await signIn(request, source.email, PASSWORD)).toStartWith("sb_session=");
      await expect(signIn(request, source.email, "not the password")).rejects.toThrow("failed");
    } finally {
      await deps.lastUsed.stop();
      await deps.oauth.grantLastUsed.stop();
      await handle.close();
    }
  }, 60_000);

  test("a target holding rows is refused, and --replace empties it in the copy's transaction", async () => {
    const source = await populatedSqlite();
    const url = await migratedUrl();
    await withClient(url, async (c) => {
      await c`insert into users (id, email, role, password_hash, created_at, updated_at) values ('user_other', 'other@example.com', 'member', '!', 1, 1)`;
      await c`insert into replicas (id, url, started_at, heartbeat_at) values ('rep_live', 'http://x', 1, 1)`;
    });
    const refused = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the target database already holds rows (replicas: 1, users: 1)");
    expect(refused.stderr).toContain("--replace");
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from api_keys`)[0].n)).toBe(0);

    const replaced = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url, "--replace"]);
    expect(replaced.stderr).toBe("");
    expect(replaced.code).toBe(0);
    const emails = await withClient(url, async (c) => ((await c`select email from users order by email`) as { email: string }[]).map((r) => r.email));
    expect(emails).toEqual([source.email]);
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from replicas`)[0].n)).toBe(0);
  }, 60_000);

  test("a difference found by the read-back rolls everything back and names the table", async () => {
    const source = await populatedSqlite();
    const url = await migratedUrl();
    // PostgreSQL changes a value as it is stored: what a lossy mapping would do, caught only by the checksum.
    await withClient(url, (c) =>
      c.unsafe(`create function shout() returns trigger language plpgsql as $$ begin new.title := upper(new.title); return new; end $$;
        create trigger shout before insert on agents for each row execute function shout();`),
    );
    const changed = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain("verification failed for table agents");
    expect(changed.stderr).toContain("checksums differ");
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from users`)[0].n)).toBe(0);

    // A row dropped as it is stored: the counts differ.
    await withClient(url, (c) =>
      c.unsafe(`drop trigger shout on agents;
        create function drop_one() returns trigger language plpgsql as $$ begin if new.id = 9 then return null; end if; return new; end $$;
        create trigger drop_one before insert on audit_events for each row execute function drop_one();`),
    );
    const dropped = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    expect(dropped.code).toBe(1);
    expect(dropped.stderr).toMatch(/verification failed for table audit_events: (\d+) rows in SQLite, (\d+) read back from PostgreSQL/);
    const [, sent, readBack] = /(\d+) rows in SQLite, (\d+) read back/.exec(dropped.stderr)!;
    expect(Number(readBack)).toBe(Number(sent) - 1);
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from usage_events`)[0].n)).toBe(0);
  }, 60_000);

  test("a NUL an older installation kept in the usage and audit logs is copied as the recorder now stores it", async () => {
    const source = await populatedSqlite();
    const file = new Database(source.path);
    file.query("UPDATE audit_events SET change = ? WHERE id = 9").run("before\u0000after");
    file.query("UPDATE usage_events SET name = ? WHERE id = (SELECT min(id) FROM usage_events)").run("evil\u0000tool");
    file.close();
    const url = await pg.emptyUrl();
    const run = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(await withClient(url, async (c) => (await c`select change from audit_events where id = 9`)[0].change)).toBe("before\uFFFDafter");
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from usage_events where name = ${"evil\uFFFDtool"}`)[0].n)).toBe(1);
  }, 60_000);

  test("a row PostgreSQL cannot hold elsewhere fails the copy, naming its table and the reason, not the batch's secrets (password hashes)", async () => {
    const source = await populatedSqlite();
    const file = new Database(source.path);
    const { hash } = file.query("SELECT password_hash AS hash FROM users WHERE email = ?").get(source.email) as { hash: string };
    file.query("UPDATE users SET email = ? WHERE email = ?").run("evil\u0000@example.com", source.email);
    file.close();
    const url = await pg.emptyUrl();
    const run = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("copying table users failed:");
    expect(run.stderr).toContain("nothing was committed");
    expect(run.stderr).not.toContain(hash);
    expect(run.stderr).not.toContain("params");
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from users`)[0].n)).toBe(0);
  }, 60_000);

  test("an older source is migrated only with --migrate-source; a newer or damaged one is refused", async () => {
    const url = await pg.emptyUrl();
    // Older: a database at the previous schema version (its last migration not applied).
    const older = join(tempDir(), "older.db");
    openDatabase({ path: older, busyTimeoutMs: 1000, migrations: MIGRATIONS.slice(0, -1) }).close();
    const refusedOlder = await cli(["db", "copy", "--from", `sqlite:${older}`, "--to", url]);
    expect(refusedOlder.code).toBe(1);
    expect(refusedOlder.stderr).toContain(`is at schema version ${MIGRATIONS.length - 1}, this build's is ${MIGRATIONS.length}: pass --migrate-source`);
    expect(userVersion(older)).toBe(MIGRATIONS.length - 1);
    const migrated = await cli(["db", "copy", "--from", `sqlite:${older}`, "--to", url, "--migrate-source"]);
    expect(migrated.stderr).toBe("");
    expect(migrated.stdout).toContain("the source was migrated first: 1 migration(s)");
    expect(userVersion(older)).toBe(MIGRATIONS.length);

    const newer = join(tempDir(), "newer.db");
    openDatabase({ path: newer, busyTimeoutMs: 1000 }).close();
    const file = new Database(newer);
    file.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    file.close();
    const refusedNewer = await cli(["db", "copy", "--from", `sqlite:${newer}`, "--to", url, "--migrate-source"]);
    expect(refusedNewer.code).toBe(1);
    expect(refusedNewer.stderr).toContain(`written by a newer Switchboard (schema version ${MIGRATIONS.length + 1}`);

    const garbage = join(tempDir(), "garbage.db");
    writeFileSync(garbage, "this is not a database, just text long enough to have a header ".repeat(20));
    const refusedGarbage = await cli(["db", "copy", "--from", `sqlite:${garbage}`, "--to", url]);
    expect(refusedGarbage.code).toBe(1);
    expect(refusedGarbage.stderr).toContain(`cannot read ${garbage} as a SQLite database`);

    const missing = await cli(["db", "copy", "--from", "sqlite:nowhere.db", "--to", url], tempDir());
    expect(missing.stderr).toContain("no SQLite database at");
    // None of the refusals wrote to the target (the one copy that ran had no users to copy).
    expect(await withClient(url, async (c) => (await c`select count(*)::int as n from users`)[0].n)).toBe(0);
  }, 60_000);

  test("--config supplies the source and says where the secret to reuse is", async () => {
    const source = await populatedSqlite();
    const url = await pg.emptyUrl();
    const configFile = join(source.dir, "switchboard.toml");
    writeFileSync(configFile, `[database]\npath = "data/switchboard.db"\n`);
    // What an installation without security.secret has: the secret it generated, beside the database.
    writeFileSync(join(source.dir, "data", "secret"), `${TEST_SECRET}\n`);
    const run = await cli(["db", "copy", "--config", configFile, "--to", url]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`copied sqlite:${source.path}`);
    // No security.secret in that config: the generated one in the data dir is the one to carry over.
    expect(run.stdout).toContain(`the one generated into ${join(source.dir, "data", "secret")}`);

    // The config of the installation to be: database.url is the target, and its security.secret the one to reuse.
    const nextConfig = join(source.dir, "next.toml");
    writeFileSync(nextConfig, `[database]\npath = "data/switchboard.db"\nurl = "\${DATABASE_URL}"\n[security]\nsecret = "\${SWITCHBOARD_SECRET}"\n`);
    const again = await cli(["db", "copy", "--config", nextConfig, "--replace"], "/", { DATABASE_URL: url, SWITCHBOARD_SECRET: TEST_SECRET });
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("verified:");
    expect(again.stdout).toContain(`the security.secret of ${nextConfig}`);
    expect(again.stdout).not.toContain(TEST_SECRET);
  }, 60_000);
});

describe.skipIf(!havePostgres)("the real executable", () => {
  test("takes --to \"$DATABASE_URL\" from the shell and exits 0; a refusal exits 1", async () => {
    const source = await populatedSqlite();
    const url = await pg.emptyUrl();
    const main = join(import.meta.dir, "../../src/main.ts");
    const copy = async (): Promise<Run> => {
      const child = Bun.spawn(["sh", "-c", `"$BUN" "$MAIN" db copy --from "sqlite:$SOURCE" --to "$DATABASE_URL"`], {
        env: { PATH: process.env.PATH, BUN: process.execPath, MAIN: main, SOURCE: source.path, DATABASE_URL: url },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      return { code, stdout, stderr };
    };
    const first = await copy();
    expect([first.code, first.stderr]).toEqual([0, ""]);
    expect(first.stdout).toContain("verified:");
    const second = await copy();
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("already holds rows");
  }, 60_000);
});

describe("a wrong target URL", () => {
  test("gives the reason, never the password", async () => {
    const source = await populatedSqlite();
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const run = await cli(["db", "copy", "--from", `sqlite:${source.path}`, "--to", `postgres://switchboard:s3cret-Pa55@127.0.0.1:${port}/prod`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port}/prod`);
    expect(run.stderr).not.toContain("s3cret-Pa55");
    // An older source is migrated only once the target answers: a wrong URL leaves it as it was.
    const older = join(tempDir(), "older.db");
    openDatabase({ path: older, busyTimeoutMs: 1000, migrations: MIGRATIONS.slice(0, -1) }).close();
    const unreached = await cli(["db", "copy", "--from", `sqlite:${older}`, "--to", `postgres://switchboard:s3cret-Pa55@127.0.0.1:${port}/prod`, "--migrate-source"]);
    expect(unreached.code).toBe(1);
    expect(unreached.stderr).toContain("cannot reach PostgreSQL");
    expect(userVersion(older)).toBe(MIGRATIONS.length - 1);
  }, 60_000);
});

function userVersion(path: string): number {
  const file = new Database(path, { readonly: true });
  try {
    return Number(file.query("PRAGMA user_version").values()[0]![0]);
  } finally {
    file.close();
  }
}

// The copy order covers the whole schema, a table after those it references.
test("the copy order is every table of the schema, parents first", () => {
  const order = tablesInCopyOrder();
  const all = Object.keys(schema).filter((k) => is((schema as Record<string, unknown>)[k], SQLiteTable));
  expect([...order].sort()).toEqual(all.sort() as (keyof Tables)[]);
  expect(order.length).toBe(21);
  expect(order.indexOf("users")).toBeLessThan(order.indexOf("apiKeys"));
  for (const child of ["upstreamOAuthRegistrations", "upstreamOAuthLinks", "upstreamOAuthFlows"] as const) expect(order.indexOf("connections")).toBeLessThan(order.indexOf(child));
  for (const child of ["upstreamOAuthLinks", "upstreamOAuthFlows"] as const) expect(order.indexOf("users")).toBeLessThan(order.indexOf(child));
  expect(order.indexOf("oauthGrants")).toBeLessThan(order.indexOf("oauthCodes"));
  expect(order.indexOf("oauthClients")).toBeLessThan(order.indexOf("oauthGrants"));
});
