// Building blocks of the HTTP fuzz test: a seeded PRNG and generators of malformed requests for
// every route family (JSON-RPC, REST, admin forms, paths, headers, bodies). Every URL, host and
// command they produce is loopback or invalid: the fuzz never makes the gateway reach anywhere else.

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** One request as the fuzz sends it: over fetch, or as raw bytes on a socket. */
export type FuzzRequest =
  | { kind: "fetch"; family: string; method: string; path: string; headers: Record<string, string>; body?: string | { chunked: number } }
  | { kind: "raw"; family: string; bytes: string };

/** What the generators may put in: the live ids and tokens of the gateway under test. */
export type FuzzTargets = {
  httpConn: string;
  stdioConn: string;
  agent: string;
  /** Tokens: a full key, a narrow one (WHOAMI only), one granting only the HTTP connection. */
  tokens: { full: string; narrow: string; conn: string };
  sessionCookie: string;
  /** A live (initialized) Mcp-Session-Id per endpoint path that has one: sessions belong to their endpoint. */
  sessions: Record<string, string>;
  publicUrl: string;
  maxBodyBytes: number;
};

const PATH_JUNK = [
  "%00", "%0d%0a", "%0a", "%zz", "%", "%c3", "%ff", "%e2%80%ae", "%7f", "%2e%2e", "..", "%2f", "%252f", "%22", "x%22,resource_metadata=%22https:evil.example",
  "%3Cscript%3E", "%F0%9F%98%80", "conn_", "agent_x", "*", "%2A", ";", "a;b=c", "~", "x".repeat(3000), "\u00e9", "%E2%80%8F", "self", "", "%20",
];
const JSON_JUNK = [
  "", "{", "}", "[", "null", "true", "0", "-1", "1e999", '"str"', "{}", "[]", "[[]]", "{\"a\":", "\u0000", "\ufeff{}", "{'jsonrpc':'2.0'}", "{\"jsonrpc\":\"2.0\",}", "NaN",
  "{\"__proto__\":{\"admin\":true}}", "{\"constructor\":{\"prototype\":{}}}", "\"\\ud800\"", "{\"a\":\"\\u0000\"}",
];
const MCP_METHODS = [
  "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list", "resources/subscribe", "resources/unsubscribe",
  "prompts/list", "prompts/get", "completion/complete", "logging/setLevel", "notifications/initialized", "notifications/cancelled", "notifications/progress",
  "notifications/roots/list_changed", "sampling/createMessage", "elicitation/create", "roots/list", "tasks/get", "tasks/list", "", "x", "rpc.discover", "__proto__",
  "tools/call\u0000", "TOOLS/LIST",
];
const WEIRD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, "", "x", "\u0000", "\u202e", "a".repeat(5000), [], {}, [null], { a: { b: { c: [] } } }, "conn_x", "*", 12345678901234567890,
];
const TOOL_NAMES = ["echo", "add", "whoami", "", "*", "nope", "echo\u0000", "../echo", "self", "CONNECTION_LIST", "WHOAMI", "API_KEY_CREATE", "a".repeat(2000)];
// Only loopback or invalid: the gateway must never be made to reach another address by the fuzz.
const URLS = ["not a url", "http://127.0.0.1:1/", "http://[::1]:1/mcp", "http://localhost:1/", "ftp://127.0.0.1/", "javascript:alert(1)", "http://", "//127.0.0.1", ""];
const CONTENT_TYPES = [
  undefined, "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
  "application/json; charset=utf-16", "*/*", "application/jsonx", "", "text/event-stream",
];
const ACCEPTS = [undefined, "application/json, text/event-stream", "application/json", "text/event-stream", "text/html", "*/*", "", "application/xml"];
/** Methods fetch sends without a body (it refuses one for TRACE as for GET and HEAD). */
const BODYLESS = new Set(["GET", "HEAD", "TRACE"]);
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"];
const PROTOCOL_VERSIONS = ["2025-06-18", "2025-11-25", "2024-11-05", "1999-01-01", "junk", "", "2025-06-18, 2025-03-26", "\u00e9"];

function deep(rng: Rng, depth: number): unknown {
  let value: unknown = rng.pick(WEIRD_VALUES);
  for (let i = 0; i < depth; i++) value = rng.chance(0.5) ? [value] : { a: value };
  return value;
}

function weird(rng: Rng): unknown {
  return rng.chance(0.1) ? deep(rng, 1 + rng.int(200)) : rng.pick(WEIRD_VALUES);
}

/** One JSON-RPC message, well-formed or broken in one or several ways. */
function rpcMessage(rng: Rng): unknown {
  const method = rng.pick(MCP_METHODS);
  const params: Record<string, unknown> = {};
  if (method === "initialize" && rng.chance(0.6)) {
    Object.assign(params, { protocolVersion: rng.pick(PROTOCOL_VERSIONS), capabilities: rng.chance(0.7) ? {} : weird(rng), clientInfo: rng.chance(0.7) ? { name: "fuzz", version: "1" } : weird(rng) });
  } else if (method === "tools/call") {
    params.name = rng.chance(0.8) ? rng.pick(TOOL_NAMES) : weird(rng);
    params.arguments = rng.chance(0.5) ? { text: rng.chance(0.8) ? "hi" : weird(rng), a: weird(rng), b: 2 } : weird(rng);
    if (rng.chance(0.2)) params._meta = { progressToken: weird(rng) };
  } else if (method.startsWith("resources/")) {
    params.uri = rng.chance(0.5) ? rng.pick(["fixture://x", "file:///etc/passwd", "", "http://127.0.0.1:1/"]) : weird(rng);
  } else if (rng.chance(0.5)) {
    for (const key of ["cursor", "name", "level", "requestId", "ref", "argument", "progressToken"]) if (rng.chance(0.3)) params[key] = weird(rng);
  }
  const message: Record<string, unknown> = { jsonrpc: "2.0", id: rng.int(1000), method, params };
  // Then break it: a wrong or missing member, an odd id, extra members.
  const breakages = rng.int(3);
  for (let i = 0; i < breakages; i++) {
    const field = rng.pick(["jsonrpc", "id", "method", "params", "result", "error", "extra"]);
    if (rng.chance(0.3)) delete message[field];
    else message[field] = field === "id" ? rng.pick([null, "", 2 ** 64, -0, 1e308, "x".repeat(10_000), {}, [], true, 1.5]) : weird(rng);
  }
  return message;
}

function jsonRpcBody(rng: Rng): string {
  const roll = rng.int(10);
  if (roll === 0) return rng.pick(JSON_JUNK);
  if (roll === 1) return JSON.stringify(Array.from({ length: rng.int(20) }, () => (rng.chance(0.5) ? rpcMessage(rng) : weird(rng))));
  if (roll === 2) return "[".repeat(1000 + rng.int(20_000)) + "]".repeat(rng.int(2000));
  if (roll === 3) return JSON.stringify(rpcMessage(rng)).slice(0, rng.int(60));
  return JSON.stringify(rpcMessage(rng));
}

function authHeader(rng: Rng, t: FuzzTargets): string | undefined {
  return rng.pick([
    undefined, undefined, `Bearer ${t.tokens.full}`, `Bearer ${t.tokens.full}`, `Bearer ${t.tokens.narrow}`, `Bearer ${t.tokens.conn}`, "Bearer mcp_key_wrong", "Bearer",
    "Basic YTpi", `bearer  ${t.tokens.full}`, `Bearer ${t.tokens.full.slice(0, -1)}x`, "Bearer \u00e9\u00e9", `Bearer ${"A".repeat(8000)}`, "Bearer a b",
  ]);
}

function junkHeaders(rng: Rng, t: FuzzTargets): Record<string, string> {
  const headers: Record<string, string> = {};
  const auth = authHeader(rng, t);
  if (auth !== undefined) headers.authorization = auth;
  const type = rng.pick(CONTENT_TYPES);
  if (type !== undefined) headers["content-type"] = type;
  const accept = rng.pick(ACCEPTS);
  if (accept !== undefined) headers.accept = accept;
  const live = Object.values(t.sessions);
  if (rng.chance(0.4)) headers["mcp-session-id"] = rng.chance(0.6) && live.length > 0 ? rng.pick(live) : rng.pick(["", "junk", "x".repeat(5000), "\u00e9\u00ff", "00000000-0000-0000-0000-000000000000", "a,b"]);
  if (rng.chance(0.3)) headers["mcp-protocol-version"] = rng.pick(PROTOCOL_VERSIONS);
  if (rng.chance(0.1)) headers["last-event-id"] = rng.pick(["", "x", "\u00e9", "1".repeat(500)]);
  if (rng.chance(0.1)) headers.origin = rng.pick(["http://evil.example", "null", t.publicUrl, "http://127.0.0.1", "\u00e9"]);
  if (rng.chance(0.05)) headers.host = rng.pick(["evil.example", "127.0.0.1", "[::1]", "\u00e9"]);
  if (rng.chance(0.1)) headers["x-forwarded-for"] = rng.pick(["1.2.3.4", "junk", "::1, 127.0.0.1", ""]);
  if (rng.chance(0.1)) headers["x-junk"] = rng.pick(["\t", "\u0080\u00ff", "a".repeat(4000), "\u00e9\u00e8"]);
  return headers;
}

function mcpRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const path = rng.pick([`/mcp/${t.httpConn}`, `/mcp/${t.stdioConn}`, "/mcp/fz-http", "/mcp/fz-stdio", `/mcp/agent/${t.agent}`, "/mcp/agent/fz-agent", "/mcp/self", "/mcp/conn_00000000-0000-0000-0000-000000000000", "/mcp/agent/nope"]);
  if (rng.chance(0.5)) return wellFramedMcpRequest(rng, t, path);
  const method = rng.chance(0.8) ? "POST" : rng.pick(METHODS);
  const body = BODYLESS.has(method) ? undefined : jsonRpcBody(rng);
  return { kind: "fetch", family: "mcp", method, path, headers: junkHeaders(rng, t), body };
}

/**
 * A request whose HTTP framing is right (a key that reaches the target, JSON, both Accept types, a
 * live session and protocol version), so the junk in its JSON-RPC body gets past the edge into the
 * sessions, the proxy and the upstreams.
 */
function wellFramedMcpRequest(rng: Rng, t: FuzzTargets, path: string): FuzzRequest {
  const headers: Record<string, string> = {
    authorization: `Bearer ${rng.chance(0.8) ? t.tokens.full : rng.pick([t.tokens.conn, t.tokens.narrow])}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  const session = t.sessions[path];
  if (session !== undefined && rng.chance(0.9)) headers["mcp-session-id"] = session;
  if (rng.chance(0.8)) headers["mcp-protocol-version"] = rng.chance(0.8) ? "2025-06-18" : rng.pick(PROTOCOL_VERSIONS);
  const method = rng.chance(0.9) ? "POST" : rng.pick(["GET", "DELETE"]);
  // Ending a live session would leave the rest of the run outside; DELETE names one that is not live.
  if (method === "DELETE") headers["mcp-session-id"] = rng.pick(["00000000-0000-0000-0000-000000000000", "junk", ""]);
  const body = method === "POST" ? (rng.chance(0.15) ? jsonRpcBody(rng) : JSON.stringify(rng.chance(0.15) ? [rpcMessage(rng), rpcMessage(rng)] : rpcMessage(rng))) : undefined;
  return { kind: "fetch", family: "mcp", method, path, headers, body };
}

function apiBody(rng: Rng): string {
  if (rng.chance(0.3)) return rng.chance(0.5) ? rng.pick(JSON_JUNK) : jsonRpcBody(rng);
  const body: Record<string, unknown> = {};
  const fields = ["slug", "name", "title", "transport", "url", "command", "args", "env", "headers", "token", "permissions", "expires_at", "grace_period", "email", "password", "role", "connections", "tools", "instructions", "enabled", "call_timeout", "connect_timeout", "description"];
  for (const field of fields) {
    if (!rng.chance(0.3)) continue;
    if (field === "url") body.url = rng.pick(URLS);
    else if (field === "command") body.command = rng.pick(["sh", "/bin/false", "", "rm", "curl", "\u0000"]);
    else if (field === "permissions") body.permissions = rng.pick([{ self: ["*"] }, { "*": ["*"] }, { nope: ["x"] }, "x", [], { self: "x" }, { self: [1] }, weird(rng)]);
    else if (field.endsWith("timeout") || field === "grace_period") body[field] = rng.pick(["30s", "1000d", "0", "-1s", "abc", 1e20, 1, null]);
    else if (field === "slug" || field === "name" || field === "title") body[field] = rng.pick(["ok-slug", "a\u0000b", "\u202eevil", "", "x".repeat(500), "a\nb", "<script>", 7]);
    else body[field] = weird(rng);
  }
  return JSON.stringify(body);
}

const ODD_NAMES = ["plain", "a\u0000b", "\u202eevil", "tab\there", "line\nbreak", "\u0007bell", "x".repeat(300), "", " ", "<b>x</b>", "\u00e9t\u00e9"];
const ODD_DURATIONS = ["30s", "1000d", "25d", "24d", "99999999h", "1ms", "0s", "-5s", "1e9s", "", "2m30s", 1e12];

/**
 * A create that is valid but for one or two odd values (a control character in a name, a duration
 * past what a timer holds), so it reaches validation and storage instead of the first parse error.
 * Connection URLs are loopback ports where nothing listens.
 */
function nearlyValidCreate(rng: Rng, t: FuzzTargets): FuzzRequest {
  const n = rng.int(1_000_000);
  const slug = rng.chance(0.8) ? `fz-${n}` : rng.pick(ODD_NAMES);
  const bodies: [string, Record<string, unknown>][] = [
    ["/api/v1/connections", { slug, title: rng.pick(ODD_NAMES), transport: "http", url: `http://127.0.0.1:${1 + rng.int(3)}/mcp`, call_timeout: rng.pick(ODD_DURATIONS), connect_timeout: rng.pick(ODD_DURATIONS), headers: rng.chance(0.5) ? { "X-A": rng.pick(ODD_NAMES) } : {} }],
    ["/api/v1/connections/test", { slug, transport: "http", url: `http://127.0.0.1:${1 + rng.int(3)}/mcp`, connect_timeout: rng.pick(ODD_DURATIONS) }],
    ["/api/v1/agents", { slug, title: rng.pick(ODD_NAMES), instructions: rng.pick(ODD_NAMES), connections: [{ connection: rng.pick(["fz-http", "fz-stdio", t.httpConn, "nope"]), tools: rng.pick([["echo"], ["*"], "*", [""], [rng.pick(TOOL_NAMES)], [{ name: "echo", alias: rng.pick(ODD_NAMES) }]]) }] }],
    ["/api/v1/keys", { name: rng.pick(ODD_NAMES), permissions: rng.pick([{ self: ["WHOAMI"] }, { [t.httpConn]: ["echo"] }, { [t.agent]: ["*"] }, { "*": ["echo"] }]), expires_at: rng.pick([null, "2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "junk", 1e20]) }],
  ];
  const [path, body] = rng.pick(bodies);
  const headers: Record<string, string> = { authorization: `Bearer ${rng.chance(0.85) ? t.tokens.full : t.tokens.narrow}`, "content-type": "application/json" };
  return { kind: "fetch", family: "api", method: "POST", path, headers, body: JSON.stringify(body) };
}

function apiRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  if (rng.chance(0.25)) return nearlyValidCreate(rng, t);
  const id = rng.pick([t.httpConn, t.stdioConn, t.agent, "key_00000000-0000-0000-0000-000000000000", "user_x", "nope", rng.pick(PATH_JUNK)]);
  const path = rng.pick([
    "/api/v1/connections", `/api/v1/connections/${id}`, `/api/v1/connections/${id}/refresh`, "/api/v1/connections/test", "/api/v1/agents", `/api/v1/agents/${id}`,
    "/api/v1/keys", `/api/v1/keys/${id}`, `/api/v1/keys/${id}/rotate`, "/api/v1/users", `/api/v1/users/${id}`, "/api/v1/whoami", "/api/v1/openapi.json", "/api/v1", "/api/v1/",
    `/api/v1/${rng.pick(PATH_JUNK)}`, "/api/v2/connections",
  ]);
  const query = rng.chance(0.2) ? `?${rng.pick(["limit=-1", "cursor=%00", "x=%zz", "a=1&a=2", "token=x", "limit=99999999999999999999"])}` : "";
  const method = rng.pick(METHODS);
  const body = BODYLESS.has(method) ? undefined : apiBody(rng);
  return { kind: "fetch", family: "api", method, path: path + query, headers: junkHeaders(rng, t), body };
}

function formBody(rng: Rng): string {
  const params = new URLSearchParams();
  const fields = ["email", "password", "confirm", "next", "token", "name", "slug", "transport", "url", "command", "args", "permissions", "expires_at", "role", "tools", "instructions", "grace", "arguments", "tool"];
  for (const field of fields) {
    if (!rng.chance(0.35)) continue;
    const value = field === "url" ? rng.pick(URLS) : field === "command" ? rng.pick(["sh", "", "rm"]) : rng.pick(["", "x", "\u0000", "\u202e", "a".repeat(3000), "{", "[]", "{\"self\":[\"*\"]}", "admin", "//evil.example", "-1", "1e999", "%zz"]);
    params.append(field, value);
    if (rng.chance(0.1)) params.append(field, value);
  }
  if (rng.chance(0.1)) return `${params.toString()}&%zz=%&=&&${"a=".repeat(200)}`;
  return params.toString();
}

function adminRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const id = rng.pick([t.httpConn, t.stdioConn, t.agent, "key_00000000-0000-0000-0000-000000000000", "user_x", "nope", rng.pick(PATH_JUNK)]);
  const path = rng.pick([
    "/admin", "/admin/", "/admin/login", "/admin/logout", "/admin/setup", "/admin/setup?token=x", "/admin/settings", "/admin/users", `/admin/users/${id}`, `/admin/users/${id}/role`, `/admin/users/${id}/delete`,
    "/admin/keys", "/admin/keys/new", `/admin/keys/${id}`, `/admin/keys/${id}/rotate`, `/admin/keys/${id}/delete`, "/admin/connections", "/admin/connections/new", "/admin/connections/test",
    `/admin/connections/${id}`, `/admin/connections/${id}/edit`, `/admin/connections/${id}/test`, `/admin/connections/${id}/refresh`, `/admin/connections/${id}/status`, `/admin/connections/${id}/delete`, "/admin/agents", "/admin/agents/new",
    "/admin/agents/check", `/admin/agents/${id}`, `/admin/agents/${id}/edit`, `/admin/agents/${id}/try`, `/admin/agents/${id}/delete`, `/admin/${rng.pick(PATH_JUNK)}`, "/admin/login?next=%00",
    "/admin/audit", "/admin/audit?range=%00&face=x", `/admin/audit?cursor=${rng.pick(PATH_JUNK)}&limit=-1`, "/admin/audit?user_id=&action=%E2%80%AE", "/admin/apps", `/admin/apps/${id}/revoke`, "/admin/apps/clients/delete", "/admin/login?next=%2Foauth%2Fauthorize%3Fx%3D%00",
  ]);
  const method = rng.chance(0.6) ? "POST" : rng.pick(METHODS);
  const headers = junkHeaders(rng, t);
  delete headers.authorization;
  const cookie = rng.pick([t.sessionCookie, t.sessionCookie, undefined, "sb_session=junk", "sb_session=", `${t.sessionCookie}; sb_device=junk.x`, "sb_session=%zz%00", "\u00e9=\u00e9"]);
  if (cookie !== undefined) headers.cookie = cookie;
  if (rng.chance(0.5)) headers["sec-fetch-site"] = rng.pick(["same-origin", "same-origin", "cross-site", "none", "junk"]);
  if (rng.chance(0.4)) headers["hx-request"] = "true";
  if (method === "POST" && rng.chance(0.7)) headers["content-type"] = rng.pick(["application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=zz", "application/json", "text/plain"]);
  const body = BODYLESS.has(method) ? undefined : rng.chance(0.8) ? formBody(rng) : rng.pick(JSON_JUNK);
  return { kind: "fetch", family: "admin", method, path, headers, body };
}

function pathRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const prefix = rng.pick(["/mcp/", "/mcp/agent/", "/mcp/self/", "/mcp-key/", "/mcp-key/agent/", "/oauth/", "/api/v1/", "/api/v1/connections/", "/admin/", "/admin/keys/", "/.well-known/oauth-protected-resource/", "/.well-known/", "/", "/admin/assets/", "//", "/healthz/"]);
  const segments = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(PATH_JUNK));
  return { kind: "fetch", family: "path", method: rng.pick(METHODS), path: prefix + segments.join(rng.pick(["/", "//", ""])), headers: junkHeaders(rng, t) };
}

function miscRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const path = rng.pick([
    "/healthz", "/healthz?x=%00", "/metrics", "/", "/favicon.ico", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp/self", `/.well-known/oauth-protected-resource/mcp/agent/${t.agent}`,
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/admin/assets/htmx.js", "/admin/assets/app.css", "/admin/assets/..%2f..%2fpackage.json", "/admin/assets/%2e%2e",
    "/oauth/authorize", "/oauth/token", "/robots.txt",
  ]);
  const headers = junkHeaders(rng, t);
  if (rng.chance(0.3)) headers["if-none-match"] = rng.pick(["*", "\"x\"", "", "W/\"x\""]);
  return { kind: "fetch", family: "misc", method: rng.pick(["GET", "GET", "HEAD", ...METHODS]), path, headers };
}

function oversizedRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const path = rng.pick([`/mcp/${t.httpConn}`, "/mcp/self", "/api/v1/connections", "/admin/login", "/admin/connections", `/mcp/agent/${t.agent}`, "/healthz"]);
  const headers = { ...junkHeaders(rng, t), "content-type": "application/json" };
  const size = t.maxBodyBytes + 1 + rng.int(t.maxBodyBytes);
  return { kind: "fetch", family: "oversized", method: "POST", path, headers, body: rng.chance(0.5) ? { chunked: size } : "x".repeat(size) };
}

function rawRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const path = rng.pick([`/mcp/${t.httpConn}`, "/mcp/self", "/api/v1/connections", "/admin/login", "/healthz", `/mcp/x",resource_metadata="https:evil.example`, "/mcp/\u00e9", "*", "http://127.0.0.1/healthz", "/mcp/a b", "/%00"]);
  const method = rng.pick(["GET", "POST", "FOO", "get", "M-SEARCH", "BREW", "", "TRACE", "CONNECT"]);
  const version = rng.pick(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9", "JUNK"]);
  const lines = [`${method} ${path} ${version}`];
  if (rng.chance(0.9)) lines.push("Host: 127.0.0.1");
  const odd = rng.pick(["\u0001", "\u007f", "\u0080", "\u00ff", "\t", "\u000b", "\u0000", "\u001b[31m"]);
  if (rng.chance(0.5)) lines.push(`Mcp-Session-Id: a${odd}b`);
  if (rng.chance(0.5)) lines.push(`Authorization: Bearer ${rng.chance(0.5) ? t.tokens.full : "x"}${rng.chance(0.5) ? odd : ""}`);
  if (rng.chance(0.3)) lines.push(`X-Odd${rng.chance(0.3) ? odd : ""}: ${odd}`);
  if (rng.chance(0.2)) lines.push(`Cookie: sb_session=${odd}`);
  const body = jsonRpcBody(rng);
  const framing = rng.int(4);
  if (framing === 0) lines.push(`Content-Length: ${body.length}`, "Content-Type: application/json");
  else if (framing === 1) lines.push("Transfer-Encoding: chunked", "Content-Type: application/json");
  else if (framing === 2) lines.push(`Content-Length: ${rng.pick(["-1", "abc", "99999999999999999999", "5, 6"])}`);
  lines.push("Connection: close");
  let bytes = `${lines.join("\r\n")}\r\n\r\n`;
  if (framing === 0) bytes += body;
  else if (framing === 1) bytes += rng.chance(0.5) ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : `zz\r\n${body}\r\n`;
  return { kind: "raw", family: "raw", bytes };
}

const OAUTH_VALUES = ["", "x", "\u0000", "\u202e", "a".repeat(3000), "%zz", "S256", "plain", "code", "token", "authorization_code", "refresh_token", "client_credentials", "mcp", "mcp offline_access", "openid", "mcp_at_x", "mcp_rt_" + "A".repeat(49), "sbc_00", "https://127.0.0.1/meta.json", "https://claude.ai/oauth/mcp-oauth-client-metadata", "http://localhost:1/cb", "cursor://anysphere.cursor-mcp/oauth/callback", "javascript:alert(1)", "//evil.example"];

/** The authorization server's endpoints, with odd parameters in the query, forms and JSON bodies. */
function oauthRequest(rng: Rng, t: FuzzTargets): FuzzRequest {
  const fields = ["client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "state", "resource", "scope", "grant_type", "code", "code_verifier", "refresh_token", "token", "token_type_hint", "decision"];
  const params = new URLSearchParams();
  for (const field of fields) {
    if (!rng.chance(0.4)) continue;
    const value = field === "resource" ? rng.pick([`${t.publicUrl}/mcp/agent/${t.agent}`, `${t.publicUrl}/mcp/${t.httpConn}`, `${t.publicUrl}/mcp/self`, ...OAUTH_VALUES]) : rng.pick(OAUTH_VALUES);
    params.append(field, value);
    if (rng.chance(0.1)) params.append(field, value);
  }
  const path = rng.pick(["/oauth/register", "/oauth/token", "/oauth/revoke", "/oauth/authorize", "/oauth/authorize", `/oauth/${rng.pick(PATH_JUNK)}`]);
  const method = path === "/oauth/authorize" && rng.chance(0.5) ? "GET" : rng.chance(0.85) ? "POST" : rng.pick(METHODS);
  const headers = junkHeaders(rng, t);
  if (rng.chance(0.5)) headers.cookie = t.sessionCookie;
  if (rng.chance(0.5)) headers["sec-fetch-site"] = rng.pick(["same-origin", "cross-site", "none"]);
  if (method === "GET") return { kind: "fetch", family: "oauth", method, path: `${path}?${params.toString()}`, headers };
  const registration = { redirect_uris: rng.pick([[rng.pick(OAUTH_VALUES)], [], "x", null, [1, 2], Array.from({ length: 30 }, () => "http://localhost/cb")]), client_name: rng.pick(OAUTH_VALUES), token_endpoint_auth_method: rng.pick(["none", "client_secret_basic", "private_key_jwt", 5]), grant_types: rng.pick([["authorization_code"], ["implicit"], "x"]) };
  const json = rng.chance(0.5);
  headers["content-type"] = json ? "application/json" : rng.pick(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]);
  const body = !BODYLESS.has(method) ? (json ? (rng.chance(0.7) ? JSON.stringify(path === "/oauth/register" ? registration : Object.fromEntries(params)) : rng.pick(JSON_JUNK)) : params.toString()) : undefined;
  return { kind: "fetch", family: "oauth", method, path, headers, body };
}

const GENERATORS: [number, (rng: Rng, t: FuzzTargets) => FuzzRequest][] = [
  [6, oauthRequest],
  [40, mcpRequest],
  [20, apiRequest],
  [15, adminRequest],
  [10, pathRequest],
  [6, miscRequest],
  [3, oversizedRequest],
  [6, rawRequest],
];

/** `count` requests from `seed`: the same seed gives the same requests. */
export function generateRequests(seed: number, count: number, targets: FuzzTargets): FuzzRequest[] {
  const rng = new Rng(seed);
  const total = GENERATORS.reduce((sum, [weight]) => sum + weight, 0);
  return Array.from({ length: count }, () => {
    let roll = rng.int(total);
    for (const [weight, generate] of GENERATORS) {
      if (roll < weight) return generate(rng, targets);
      roll -= weight;
    }
    throw new Error("unreachable");
  });
}

/** A one-line description of a request, to replay it by hand. */
export function describeRequest(req: FuzzRequest): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…(${s.length} chars)` : s);
  if (req.kind === "raw") return `raw ${JSON.stringify(cut(req.bytes))}`;
  const body = req.body === undefined ? "" : typeof req.body === "string" ? ` body=${JSON.stringify(cut(req.body))}` : ` body=<chunked ${req.body.chunked} bytes>`;
  return `${req.method} ${cut(req.path)} headers=${cut(JSON.stringify(req.headers))}${body}`;
}
