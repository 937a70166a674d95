// What makes a connection's fields valid, shared by the config schema ([[connections]]) and the
// connection operations: field formats as zod schemas, and the rules that depend on the transport
// and on the [stdio] policy. Pure: no database, no I/O.
import { z } from "zod";
import { CONNECTION_AUTHS, OAUTH_MODES, TRANSPORTS, type ConnectionAuth, type OAuthMode, type UpstreamTransport } from "./spec.ts";
import { multiLine, singleLine } from "../text.ts";

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** RFC 9110 §5.6.2 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Headers the gateway itself sets or that frame the protocol; an upstream receiving someone else's
 * value for these would misroute or misparse requests. Authorization goes in `token` (or here, alone).
 */
const RESERVED_HEADERS = new Set([
  "host", "content-length", "content-type", "accept", "connection", "transfer-encoding", "upgrade",
  "keep-alive", "te", "trailer", "mcp-session-id", "mcp-protocol-version", "last-event-id",
]);

export const SlugSchema = z
  .string()
  .regex(SLUG_PATTERN, { error: "expected 1-63 lowercase letters, digits and dashes, starting with a letter or digit" })
  .describe('A short unique name, e.g. "github": 1-63 of a-z 0-9 -');
// Titles (connections and agents) are one line; descriptions may span lines (see ../text.ts for why).
export const TitleSchema = singleLine(z.string().trim().max(200, { error: "expected at most 200 characters" }));
export const DescriptionSchema = multiLine(z.string().max(2000, { error: "expected at most 2000 characters" }));
export const TransportSchema = z.enum(TRANSPORTS, { error: 'expected "http", "sse" or "stdio"' });
export const IsolationSchema = z.enum(["shared", "session"], { error: 'expected "shared" or "session"' });

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** An http(s) URL without user:password (the url column is not encrypted: credentials go in token or headers). */
export const UrlSchema = z
  .string()
  .max(4096)
  .refine((text) => {
    const url = parseUrl(text);
    return url !== null && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  }, { error: "expected an http(s) URL such as https://mcp.example.com/mcp" })
  .refine((text) => {
    const url = parseUrl(text);
    return url === null || (url.username === "" && url.password === "");
  }, { error: "put credentials in token or headers (stored encrypted), not in the URL" });
export const TokenSchema = z
  .string()
  .min(1, { error: "expected a token" })
  .max(8192, { error: "expected at most 8192 characters" })
  .refine((t) => !/[\r\n\0]/.test(t), { error: "a token cannot contain line breaks" });

export const HeadersSchema = z
  .record(
    z.string().regex(HEADER_NAME, { error: "header names are letters, digits and !#$%&'*+.^_`|~-" }),
    z.string().max(8192).refine((v) => !/[\r\n\0]/.test(v), { error: "a header value cannot contain line breaks" }),
    { error: "expected a table of header name → value" },
  )
  .refine((h) => Object.keys(h).length <= 50, { error: "expected at most 50 headers" });

export const CommandSchema = z
  .string()
  .min(1, { error: "expected a command" })
  .max(1024)
  .refine((c) => !c.includes("\0") && c.trim() === c, { error: "expected a command name or path without surrounding spaces" });
export const ArgsSchema = z.array(z.string().max(8192).refine((a) => !a.includes("\0"), { error: "an argument cannot contain NUL" }), { error: "expected a list of strings" }).max(200);
export const CwdSchema = z.string().min(1).max(4096);
export const EnvSchema = z
  .record(
    z.string().regex(ENV_NAME, { error: "variable names are letters, digits and _, not starting with a digit" }),
    z.string().max(32_768).refine((v) => !v.includes("\0"), { error: "a value cannot contain NUL" }),
    { error: "expected a table of variable name → value" },
  )
  .refine((e) => Object.keys(e).length <= 100, { error: "expected at most 100 variables" });
/**
 * The longest connect and call timeouts, for the config file and the API alike. A timer takes at most
 * ~24.8 days (a longer one fires at once and would fail every call); these are far below it.
 */
export const CONNECT_TIMEOUT_MAX = "10m";
export const CALL_TIMEOUT_MAX = "24h";
export const CONNECT_TIMEOUT_MAX_MS = 600_000;
export const CALL_TIMEOUT_MAX_MS = 86_400_000;
export const MaxProcessesSchema = z.int({ error: "expected a whole number" }).min(1).max(1000);

export const AuthSchema = z.enum(CONNECTION_AUTHS, { error: 'expected "static" or "oauth"' });
export const OAuthModeSchema = z.enum(OAUTH_MODES, { error: 'expected "shared" or "per_user"' });

/** RFC 6749 §2.2 VSCHAR: what a client id and secret are made of (printable ASCII). */
const VSCHARS = /^[\x20-\x7E]+$/;
export const OAuthClientIdSchema = z
  .string()
  .max(1000, { error: "expected at most 1000 characters" })
  .refine((id) => id === "" || VSCHARS.test(id), { error: "a client id is printable ASCII characters" });
export const OAuthClientSecretSchema = z
  .string()
  .max(8192, { error: "expected at most 8192 characters" })
  .refine((secret) => secret === "" || VSCHARS.test(secret), { error: "a client secret is printable ASCII characters" });
/**
 * RFC 6749 §3.3: scope tokens (printable ASCII but space, " and \) separated by single spaces; "" asks
 * for none in particular. Sent to the upstream's authorization server as they are.
 */
const SCOPE_LIST = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;
export const OAuthScopesSchema = z
  .string()
  .max(1000, { error: "expected at most 1000 characters" })
  .refine((scopes) => scopes === "" || SCOPE_LIST.test(scopes), {
    error: 'expected scope tokens separated by single spaces, e.g. "repo read:org" (no quotes, backslashes or other spaces)',
  });

/** How a connection signs in upstream: the fields the OAuth rules look at, besides the transport's. */
export type AuthFields = {
  auth: ConnectionAuth;
  oauthMode: OAuthMode;
  /** A client registered by hand at the upstream's authorization server; null: CIMD or dynamic registration. */
  oauthClientId: string | null;
  oauthClientSecret: string | null;
  /** Space-separated scope tokens; null: none in particular. */
  oauthScopes: string | null;
};

/**
 * Problems with how a connection signs in, by field name (the API's and the config's): OAuth only over
 * http and sse, where the token got by signing in is the Authorization header (so no static token and
 * no Authorization header beside it); a client secret needs its client id. Empty when all is well.
 */
export function authProblems(c: Pick<TransportFields, "transport" | "token" | "headers"> & AuthFields): Record<string, string> {
  const problems: Record<string, string> = {};
  if (c.auth === "oauth") {
    if (c.transport === "stdio") problems.auth = "only http and sse connections sign in with OAuth";
    if (c.token) problems.token = "an OAuth connection sends the token it signs in for: remove the static token";
    for (const name of Object.keys(c.headers)) {
      if (name.toLowerCase() === "authorization") problems[`headers.${name}`] = "an OAuth connection sends its own Authorization header";
    }
  }
  if (c.oauthClientSecret && !c.oauthClientId) problems.oauth_client_secret = "a client secret needs its client id (oauth_client_id)";
  return problems;
}

/** The fields the transport rules look at. */
export type TransportFields = {
  transport: UpstreamTransport;
  url: string | null;
  token: string | null;
  headers: Record<string, string>;
  command: string | null;
  args: string[];
  cwd: string | null;
  env: Record<string, string>;
};

/**
 * Problems with fields that depend on the transport, by field name: http and sse need a URL and take
 * no command; stdio needs a command and takes no URL, token or headers. Empty when all is well.
 */
export function transportProblems(c: TransportFields): Record<string, string> {
  const problems: Record<string, string> = {};
  if (c.transport === "stdio") {
    if (!c.command) problems.command = "expected a command for a stdio connection";
    if (c.url) problems.url = "only http and sse connections have a URL";
    if (c.token) problems.token = "only http and sse connections send a token";
    if (Object.keys(c.headers).length > 0) problems.headers = "only http and sse connections send headers";
  } else {
    if (!c.url) problems.url = `expected a URL for an ${c.transport} connection`;
    if (c.command) problems.command = "only stdio connections run a command";
    if (c.args.length > 0) problems.args = "only stdio connections take arguments";
    if (c.cwd) problems.cwd = "only stdio connections have a working directory";
    if (Object.keys(c.env).length > 0) problems.env = "only stdio connections have environment variables";
  }
  for (const name of Object.keys(c.headers)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower)) problems[`headers.${name}`] = "the gateway sets this header itself";
    else if (lower === "authorization" && c.token) problems[`headers.${name}`] = "give either a token or an Authorization header, not both";
  }
  return problems;
}

/** The [stdio] section of the config. */
export type StdioPolicy = { enabled: boolean; allowed_commands: string[] };

/**
 * Why the policy refuses this stdio command, or null. Commands match exactly as written: a bare name
 * allows only that name (looked up on PATH), a path allows only that path, so "/tmp/x/node" never
 * passes for "node".
 */
export function stdioRefusal(policy: StdioPolicy, command: string): { code: "STDIO_DISABLED" | "STDIO_COMMAND_NOT_ALLOWED"; message: string } | null {
  if (!policy.enabled) return { code: "STDIO_DISABLED", message: "stdio connections are disabled on this server (stdio.enabled = false)" };
  if (policy.allowed_commands.length > 0 && !policy.allowed_commands.includes(command)) {
    return {
      code: "STDIO_COMMAND_NOT_ALLOWED",
      message: `${JSON.stringify(command)} is not in stdio.allowed_commands (${policy.allowed_commands.map((c) => JSON.stringify(c)).join(", ")})`,
    };
  }
  return null;
}
