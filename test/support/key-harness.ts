// A Switchboard app over a fresh database for API-key and permission tests: users inserted directly
// (no argon2 where no sign-in is needed), keys minted through the domain, and small request helpers
// for /mcp/self (JSON-RPC), /api/v1 (REST) and the admin (session cookie).
import { afterAll, afterEach } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { users } from "../../src/db/schema.ts";
import { createApiKey, type ApiKey } from "../../src/domain/access/api-keys.ts";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import { createUser, type Role, type User } from "../../src/domain/access/users.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import { silentLogger } from "../../src/logger.ts";
import { prepare } from "../../src/server.ts";

export const TEST_SECRET = "key-harness-secret-0123456789-abcdefghij";
export const PUBLIC_URL = "http://switchboard.test";
export const PASSWORD = "a long enough password";
/** The token format of DESIGN.md: prefix, 43 base62 characters of randomness, 6 of checksum. */
export const TOKEN_PATTERN = /^mcp_key_[0-9A-Za-z]{49}$/;
/** Any token-looking substring. */
export const TOKEN_ANYWHERE = /mcp_key_[0-9A-Za-z]{49}/g;
export const MCP_ACCEPT = "application/json, text/event-stream";

export type Harness = {
  dir: string;
  config: Config;
  deps: AppDeps;
  app: Hono<AppEnv>;
  dbPath: string;
  admin: User;
  member: User;
  /** Closes the database and removes the directory. */
  close: () => void;
};

/** A config for tests: database in `dir`, fixed secret and public URL, plus any server overrides. */
export function testConfig(dir: string, server: Record<string, unknown> = {}): Config {
  return parseConfig(
    { server: { listen: "127.0.0.1:0", public_url: PUBLIC_URL, log_level: "error", ...server }, database: { path: join(dir, "sb.db") }, security: { secret: TEST_SECRET } },
    { source: null, env: {}, baseDir: dir },
  );
}

/** Inserts a user without hashing a real password (they cannot sign in); cheap enough for tables of tests. */
export function insertUser(deps: Pick<AppDeps, "db">, role: Role, email = `${role}-${randomUUID().slice(0, 8)}@example.com`): User {
  const now = new Date();
  const row = { id: `user_${randomUUID()}`, email, role, passwordHash: "!", createdAt: now, updatedAt: now };
  deps.db.insert(users).values(row).run();
  return { id: row.id, email, role, createdAt: now };
}

/** Creates a user who can sign in with PASSWORD. */
export function createSignInUser(deps: Pick<AppDeps, "db">, role: Role, email = `${role}-${randomUUID().slice(0, 8)}@example.com`): Promise<User> {
  return createUser(deps.db, { email, role, password: PASSWORD });
}

/** Mints a key directly (no ceiling check), as if it had been created before the owner changed. */
export function mintKey(
  deps: Pick<AppDeps, "db" | "keys">,
  owner: User,
  permissions: Permissions,
  options: { name?: string; expiresAt?: Date | null; now?: Date } = {},
): { key: ApiKey; token: string } {
  return createApiKey(deps.db, {
    hmacKey: deps.keys.tokenHmac,
    name: options.name ?? "test key",
    ownerId: owner.id,
    permissions,
    expiresAt: options.expiresAt ?? null,
    now: options.now,
  });
}

/** Builds an app over a fresh database with one admin and one member (neither can sign in). */
export function createHarness(options: { server?: Record<string, unknown> } = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-keys-"));
  const config = testConfig(dir, options.server);
  const { deps, handle } = prepare(config, silentLogger);
  const app = createApp(deps);
  const admin = insertUser(deps, "admin", "admin@example.com");
  const member = insertUser(deps, "member", "member@example.com");
  let closed = false;
  return {
    dir,
    config,
    deps,
    app,
    dbPath: config.database.path,
    admin,
    member,
    close: () => {
      if (closed) return;
      closed = true;
      deps.lastUsed.stop();
      handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh harness per test of the calling file, closed after each. */
export function useHarness(options: { server?: Record<string, unknown> } = {}): () => Harness {
  const made: Harness[] = [];
  afterEach(() => {
    for (const h of made.splice(0)) h.close();
  });
  return () => {
    const h = createHarness(options);
    made.push(h);
    return h;
  };
}

/** One harness shared by the calling file (or describe block), closed after all its tests. */
export function useSharedHarness(options: { server?: Record<string, unknown> } = {}): () => Harness {
  let shared: Harness | undefined;
  afterAll(() => shared?.close());
  return () => (shared ??= createHarness(options));
}

export type JsonRpcResponse = {
  jsonrpc: "2.0";
  id: number | string | null;
  result?: Record<string, unknown> & { tools?: { name: string }[]; isError?: boolean; content?: { type: string; text: string }[]; structuredContent?: Record<string, unknown> };
  error?: { code: number; message: string; data?: unknown };
};

let rpcId = 0;

/** POSTs a raw body to /mcp/self. */
export function postMcp(app: Hono<AppEnv>, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    app.request("/mcp/self", { method: "POST", headers: { "content-type": "application/json", accept: MCP_ACCEPT, ...headers }, body }),
  );
}

/** Sends one JSON-RPC request to /mcp/self with a bearer token; returns the HTTP response. */
export function mcpRequest(app: Hono<AppEnv>, token: string, method: string, params: Record<string, unknown> = {}): Promise<Response> {
  return postMcp(app, JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }), { authorization: `Bearer ${token}` });
}

/** The JSON-RPC answer to one request (the HTTP status must be 200). */
export async function mcpCall(app: Hono<AppEnv>, token: string, method: string, params: Record<string, unknown> = {}): Promise<JsonRpcResponse> {
  const res = await mcpRequest(app, token, method, params);
  if (res.status !== 200) throw new Error(`expected 200 from ${method}, got ${res.status}: ${await res.text()}`);
  return (await res.json()) as JsonRpcResponse;
}

/** The names tools/list shows to this token. */
export async function listedTools(app: Hono<AppEnv>, token: string): Promise<string[]> {
  const answer = await mcpCall(app, token, "tools/list");
  if (!answer.result?.tools) throw new Error(`tools/list failed: ${JSON.stringify(answer)}`);
  return answer.result.tools.map((t) => t.name);
}

/** tools/call through JSON-RPC. */
export function callTool(app: Hono<AppEnv>, token: string, name: string, args: Record<string, unknown> = {}): Promise<JsonRpcResponse> {
  return mcpCall(app, token, "tools/call", { name, arguments: args });
}

/** The text of a tool result's first content item. */
export function resultText(answer: JsonRpcResponse): string {
  return answer.result?.content?.[0]?.text ?? "";
}

/** A REST request under /api/v1 with an optional bearer token and JSON body. */
export function apiRequest(
  app: Hono<AppEnv>,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] ??= "application/json";
  }
  return Promise.resolve(app.request(`/api/v1${path}`, { method, headers, body }));
}

/** Signs in through the real form; returns the Cookie header value for later requests. */
export async function signIn(app: Hono<AppEnv>, email: string, password = PASSWORD): Promise<string> {
  const res = await app.request("/admin/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password, next: "/admin" }).toString(),
  });
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = /sb_session=[^;]+/.exec(setCookie)?.[0];
  if (res.status !== 303 || !cookie) throw new Error(`sign-in as ${email} failed: ${res.status}`);
  return cookie;
}
