// API-key and permission tests: a test app with one admin and one member inserted directly (no argon2),
// keys minted through the domain, and small request helpers for /mcp/self (JSON-RPC) and /api/v1 (REST).
import type { Hono } from "hono";
import { createApiKey, type ApiKey } from "../../src/domain/access/api-keys.ts";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import type { User } from "../../src/domain/access/users.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import { createTestApp, useFresh, useShared, type ConfigOverrides, type TestApp } from "./app.ts";
import { insertUser } from "./users.ts";

/** The token format of DESIGN.md: prefix, 43 base62 characters of randomness, 6 of checksum. */
export const TOKEN_PATTERN = /^mcp_key_[0-9A-Za-z]{49}$/;
/** Any token-looking substring. */
export const TOKEN_ANYWHERE = /mcp_key_[0-9A-Za-z]{49}/g;
export const MCP_ACCEPT = "application/json, text/event-stream";

export type Harness = TestApp & {
  dbPath: string;
  admin: User;
  member: User;
};

/** Mints a key directly (no ceiling check), as if it had been created before the owner changed. */
export async function mintKey(
  deps: Pick<AppDeps, "db" | "keys">,
  owner: User,
  permissions: Permissions,
  options: { name?: string; expiresAt?: Date | null; now?: Date } = {},
): Promise<{ key: ApiKey; token: string }> {
  return await createApiKey(deps.db, {
    hmacKey: deps.keys.tokenHmac,
    name: options.name ?? "test key",
    ownerId: owner.id,
    permissions,
    expiresAt: options.expiresAt ?? null,
    now: options.now,
  });
}

/** Builds an app over a fresh database with one admin and one member (neither can sign in). */
export async function createHarness(overrides: ConfigOverrides = {}): Promise<Harness> {
  const t = await createTestApp({ overrides });
  return { ...t, dbPath: t.config.database.path, admin: await insertUser(t.deps, "admin", "admin@example.com"), member: await insertUser(t.deps, "member", "member@example.com") };
}

/** A fresh harness per test of the calling file, closed after each. */
export function useHarness(overrides: ConfigOverrides = {}): () => Promise<Harness> {
  return useFresh(() => createHarness(overrides));
}

/** One harness shared by the calling file (or describe block), closed after all its tests. */
export function useSharedHarness(overrides: ConfigOverrides = {}): () => Promise<Harness> {
  return useShared(() => createHarness(overrides));
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
