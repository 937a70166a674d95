// The one definition of switchboard.toml: every field, its default and a one-line description.
// README's configuration reference is generated from this schema, and a test keeps them in step.
import { isIP } from "node:net";
import { z } from "zod";
import {
  ArgsSchema,
  authProblems,
  AuthSchema,
  CALL_TIMEOUT_MAX,
  CommandSchema,
  CONNECT_TIMEOUT_MAX,
  CwdSchema,
  DescriptionSchema,
  EnvSchema,
  HeadersSchema,
  IsolationSchema,
  MaxProcessesSchema,
  OAuthClientIdSchema,
  OAuthClientSecretSchema,
  OAuthModeSchema,
  OAuthScopesSchema,
  SlugSchema,
  stdioRefusal,
  TitleSchema,
  TokenSchema,
  transportProblems,
  TransportSchema,
  UrlSchema,
} from "../domain/connections/rules.ts";
import {
  checkSelections,
  collisionMessages,
  InstructionsSchema,
  PromptsSelectionSchema,
  ResourcesSelectionSchema,
  ToolSelectionSchema,
  UpstreamToolNameSchema,
} from "../domain/agents/rules.ts";
import type { AgentConnectionSelection } from "../domain/agents/tools.ts";
import { MAX_TIMER_MS, parseDuration, parseSize } from "./units.ts";
import { AddressRules, type AddressPolicySettings } from "../domain/connections/addresses.ts";

/**
 * A duration string such as "30s" or "12h", read as milliseconds, at most `max` (a duration string).
 * Every duration has a maximum: a timer takes at most ~24.8 days (a longer one fires at once, so an
 * oversized timeout failed every call), and an oversized TTL overflowed the dates built from it.
 */
function durationString(max: string) {
  const maxMs = parseDuration(max) ?? MAX_TIMER_MS;
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as "30s" or "12h", got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    if (ms > maxMs) {
      ctx.addIssue({ code: "custom", message: `expected at most ${max}, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** The maximum of a duration that states none: below the timer limit (2^31-1 ms). */
const TIMER_LIMIT = "24d";

function duration(defaultValue: string, description: string, max = TIMER_LIMIT) {
  return durationString(max).prefault(defaultValue).meta({ format: "duration" }).describe(`${description} At most ${max}.`);
}

/** A duration without a default of its own (another setting supplies it). */
function optionalDuration(description: string, max = TIMER_LIMIT) {
  return durationString(max).optional().meta({ format: "duration" }).describe(`${description} At most ${max}.`);
}

/** A size string such as "4MiB", read as bytes (at least `min`). */
function size(defaultValue: string, description: string, { min = 0 }: { min?: number } = {}) {
  return z
    .string()
    .transform((text, ctx) => {
      const bytes = parseSize(text);
      if (bytes === null) {
        ctx.addIssue({ code: "custom", message: `expected a size such as "512KiB" or "4MiB", got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      if (bytes < min) {
        ctx.addIssue({ code: "custom", message: `expected at least ${min} bytes, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return bytes;
    })
    .prefault(defaultValue)
    .meta({ format: "size" })
    .describe(description);
}

const LISTEN_PATTERN = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const listen = z
  .string()
  .refine((text) => {
    const match = LISTEN_PATTERN.exec(text);
    return match !== null && Number(match[2]) <= 65535;
  }, { error: (issue) => `expected "host:port", got ${JSON.stringify(issue.input)}` })
  .default("127.0.0.1:8787")
  .describe('Address the HTTP server listens on, as "host:port" (port 0 picks a free port).');

const publicUrl = z
  .string()
  .refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "http:" || url.protocol === "https:") && url.pathname === "/" && !url.search && !url.hash && !text.endsWith("/");
    } catch {
      return false;
    }
  }, { error: (issue) => `expected an http(s) origin without a trailing slash such as "https://mcp.example.com", got ${JSON.stringify(issue.input)}` })
  .optional()
  .describe("The URL users and MCP clients reach Switchboard at; used in links, OAuth metadata and client snippets. Defaults to http://<listen>.");

/** An IP address, or a CIDR block such as "10.0.0.0/8" or "fd00::/8". */
const addressOrBlock = z.string().refine((text) => {
  const [address, prefix, ...rest] = text.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}, { error: (issue) => `expected an IP address or a CIDR block such as "10.0.0.0/8", got ${JSON.stringify(issue.input)}` });

const server = z
  .strictObject({
    listen,
    public_url: publicUrl,
    trusted_proxies: z
      .array(addressOrBlock)
      .default([])
      .describe(
        'Reverse proxies in front of Switchboard (addresses or CIDR blocks, e.g. ["127.0.0.1", "10.0.0.0/8"]): for requests from them, the client is read from X-Forwarded-For (the nearest address not itself a trusted proxy), so sign-in throttling and logs see the real client. Empty: the socket\'s address is the client.',
      ),
    max_body_size: size("4MiB", "Largest request body accepted; larger ones get 413."),
    shutdown_timeout: duration("10s", "How long a graceful shutdown waits for in-flight requests before closing.", "1h"),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Least severe log level written to stderr."),
  })
  .prefault({})
  .describe("The HTTP server.");

const database = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .default("./data/switchboard.db")
      .describe("SQLite database file. Its directory is the data dir (the generated secret lives there too). Relative paths are read from the config file's directory, or the working directory without a file."),
    busy_timeout: duration("5s", "How long a write waits for a lock held by another connection (a backup, say).", "10m"),
    url: z
      .string()
      .superRefine(checkPostgresUrl)
      .optional()
      .describe(
        'PostgreSQL instead of the SQLite file: "postgres://user:password@host:5432/database", usually "${DATABASE_URL}". Several replicas may share it; each needs the same security.secret.',
      ),
    pool_size: z.int().min(1).max(1000).default(10).describe("Most connections each replica keeps open to PostgreSQL (with database.url)."),
  })
  .prefault({})
  .describe("The database: the embedded SQLite file, or PostgreSQL when url is set.");

/** A PostgreSQL URL's shape: scheme, a host, no whitespace (whether it answers is for `serve` to find out). */
function checkPostgresUrl(url: string, ctx: z.RefinementCtx): void {
  const problem = (message: string) => ctx.addIssue({ code: "custom", message });
  // Never echo the value: it holds the password.
  if (/\s/.test(url)) return problem("expected a URL without whitespace");
  if (!/^postgres(ql)?:\/\//.test(url)) return problem('expected a URL starting with "postgres://" or "postgresql://"');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return problem('expected a URL such as "postgres://user:password@host:5432/database"');
  }
  if (!parsed.hostname) problem('expected a host, as in "postgres://user:password@host:5432/database"');
}

const cluster = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe("Run as one of several replicas on a shared database: register, heartbeat, and forward a request for an MCP session to the replica that holds it. On by itself with PostgreSQL; set it only to share one SQLite file between processes on one machine (tests)."),
    advertise_url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Where the other replicas reach this one (e.g. "http://10.0.0.5:8080"). Default: "http://" followed by server.listen; required when that is 0.0.0.0 or [::], an address the others cannot reach.'),
    heartbeat: duration("5s", "How often this replica tells the others it is alive.", "1h"),
    dead_after: duration("15s", "A replica whose last heartbeat is older than this is dead: its sessions are answered 404 and its row is pruned.", "1d"),
  })
  .prefault({})
  .describe("Several replicas behind a load balancer.");

const security = z
  .strictObject({
    secret: z
      .string()
      .min(32, { error: "expected at least 32 characters" })
      .optional()
      .describe("Server secret from which token, cookie and encryption keys are derived. Use ${VAR}. Without it, one is generated once into <data dir>/secret (mode 0600)."),
    session_ttl: duration("12h", "How long an admin session lasts after sign-in.", "365d"),
    login_window: duration("15m", "Window over which failed sign-ins are counted.", "24h"),
    login_max_per_account: z.int().min(1).default(5).describe("Failed sign-ins allowed per account within login_window before that account is throttled."),
    login_max_per_ip: z.int().min(1).default(20).describe("Failed sign-ins allowed per client IP within login_window before that IP is throttled."),
  })
  .prefault({})
  .describe("Secrets, sessions and sign-in throttling.");

const stdio = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Whether stdio connections (commands Switchboard runs on this host) may exist. false refuses creating them, and refuses to start with one declared below."),
    allowed_commands: z
      .array(z.string().min(1))
      .default([])
      .describe('Commands a stdio connection may run, matched exactly as written (a bare name is looked up on PATH; a path allows only that path), e.g. ["npx", "uvx", "node"]. Empty allows any command. This limits the program, not what it does: npx and uvx run any package.'),
  })
  .prefault({})
  .describe("Stdio connections run a command on this host, as the Switchboard user: code execution, so only admins may create them.");

const gateway = z
  .strictObject({
    connect_timeout: duration("10s", "Default time to connect to and initialise an upstream before giving up (per connection: connect_timeout).", CONNECT_TIMEOUT_MAX),
    call_timeout: duration("60s", "Default time an upstream request may take before the caller gets an error (per connection: call_timeout).", CALL_TIMEOUT_MAX),
    session_idle_timeout: duration("30m", "A downstream MCP session unused this long is closed.", "7d"),
    max_sessions: z.int().min(1).default(10_000).describe("Most downstream MCP sessions open at once, across all connections."),
    stdio_max_processes: z.int().min(1).default(8).describe("Default cap on processes of one stdio connection with isolation = \"session\" (per connection: max_processes)."),
    stderr_lines: z.int().min(0).default(200).describe("Lines of a stdio server's stderr kept in memory for its admin page."),
    max_concurrent_tests: z.int().min(1).max(1000).default(4).describe("Most connection tests (CONNECTION_TEST, the admin's Test button) running at once; more get 503 BUSY. Concurrent tests of the same settings share one run."),
    upstream_deny: z
      .array(addressOrBlock)
      .default([])
      .describe(
        'Addresses http and sse upstreams may never reach (IP addresses or CIDR blocks), besides the built-in list that is always denied: link-local 169.254.0.0/16 and fe80::/10, cloud metadata (169.254.169.254, fd00:ec2::254, 100.100.100.200, 192.0.0.192, 168.63.129.16), 0.0.0.0/8, ::, multicast, 240.0.0.0/4 and broadcast. Checked on every address a host resolves to, at connect time and on each redirect. Loopback and private ranges are allowed unless listed, e.g. ["127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].',
      ),
    upstream_allow: z
      .array(addressOrBlock)
      .default([])
      .describe("When not empty, the only addresses http and sse upstreams may reach (IP addresses or CIDR blocks); upstream_deny and the built-in list still win. Empty: any address not denied."),
    max_response_size: size("32MiB", "Most bytes of one upstream answer: an HTTP body, one event of an event stream, or one stdio message. A larger one fails the call with a JSON-RPC error and is not read further.", {
      min: 1024,
    }),
  })
  .prefault({})
  .describe("The gateway to upstream MCP servers: timeouts, sessions and stdio processes.");

const hostName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, { error: (issue) => `expected a lower-case host name such as "claude.ai", got ${JSON.stringify(issue.input)}` });

const oauth = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Whether Switchboard is an OAuth 2.1 authorization server for MCP clients (browser sign-in for Claude, ChatGPT, VS Code, Cursor, Claude Code). false: only API keys work, and the 401 challenge names no authorization server."),
    access_token_ttl: duration("1h", "How long an OAuth access token works; clients refresh it with their refresh token.", "24h"),
    refresh_token_ttl: duration("30d", "How long an unused refresh token stays valid; each refresh issues a new one (rotation) and restarts this period.", "365d"),
    dynamic_registration: z.boolean().default(true).describe("Whether clients may register themselves (RFC 7591 dynamic client registration: Cursor, mcp-remote, older clients). Registered clients are public (PKCE, no secret)."),
    client_metadata_documents: z.boolean().default(true).describe('Whether a client may use an https URL as its client_id (a client ID metadata document: Claude, ChatGPT, VS Code, Claude Code). Switchboard fetches it from public addresses only.'),
    client_metadata_hosts: z
      .array(hostName)
      .default([])
      .describe('When not empty, the only hosts whose client ID metadata documents are accepted, e.g. ["claude.ai", "chatgpt.com", "vscode.dev"]. Empty: any public https host.'),
  })
  .prefault({})
  .describe("OAuth 2.1 for MCP clients: Switchboard is its own authorization server, users approve a client on a consent page. Vendor-cloud connectors (Claude.ai, ChatGPT) need server.public_url on public HTTPS.");

const monitoring = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Whether every MCP request to a connection or agent and every management operation is recorded (one usage row each, written in batches off the request path)."),
    retention: duration("30d", "How long usage rows are kept; older ones are pruned in the background.", "3650d"),
    max_rows: z.int().min(1000).default(10_000_000).describe("Most usage rows kept; the oldest beyond it are pruned in the background."),
    audit_retention: duration("365d", "How long audit rows (every change through any face) are kept.", "3650d"),
    queue_size: z.int().min(1).max(1_000_000).default(10_000).describe("Usage records waiting to be written; when full, new ones are dropped and counted (switchboard_usage_dropped_total) rather than slowing calls."),
    flush_interval: duration("250ms", "How often waiting usage records are written, in one transaction.", "1m"),
    flush_rows: z.int().min(1).max(100_000).default(500).describe("Write waiting usage records as soon as this many are queued."),
    payload_max_size: size("16KiB", "For connections and agents that opt in to storing arguments and results: the most bytes of each kept (the rest is cut, and marked so).", { min: 256 }),
    redact_patterns: z
      .array(z.string().min(1).refine((p) => {
        try {
          new RegExp(p);
          return true;
        } catch {
          return false;
        }
      }, { error: (issue) => `expected a regular expression, got ${JSON.stringify(issue.input)}` }))
      .default([])
      .describe('Regular expressions whose matches are masked in stored arguments, results and error messages, besides the connection\'s own secret values, e.g. ["sk-[A-Za-z0-9]{20,}"].'),
  })
  .prefault({})
  .describe("Usage recording, its retention, and the audit log.");

const metrics = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Whether GET /metrics serves Prometheus text."),
    token: z.string().min(16, { error: "expected at least 16 characters" }).optional().describe("A bearer token /metrics requires (Authorization: Bearer <token>). Use ${VAR}. Without it, /metrics answers only clients on the loopback address."),
  })
  .prefault({})
  .describe("Prometheus metrics at /metrics.");

const connection = z
  .strictObject({
    slug: SlugSchema.describe('Unique short name, 1-63 of a-z 0-9 -, e.g. "github". The connection\'s id (conn_<uuid>) is derived from it, so it stays the same across restarts.'),
    title: TitleSchema.optional().describe("Name shown in the admin; defaults to the slug."),
    description: DescriptionSchema.default("").describe("What this server offers, for people and models."),
    transport: TransportSchema.optional().describe('"http" (Streamable HTTP), "sse" (legacy HTTP+SSE) or "stdio" (a command Switchboard runs). Defaults to "stdio" when command is set, else "http".'),
    url: UrlSchema.optional().describe("http and sse: the upstream's endpoint, e.g. \"https://api.example.com/mcp\"."),
    token: TokenSchema.optional().describe("http and sse: sent upstream as Authorization: Bearer <token>. Use ${VAR}; stored encrypted, never shown."),
    headers: HeadersSchema.default({}).describe('http and sse: extra request headers, e.g. { "X-Team" = "platform" }. Stored encrypted; values never shown.'),
    command: CommandSchema.optional().describe("stdio: the program to run, e.g. \"npx\"; see stdio.allowed_commands."),
    args: ArgsSchema.default([]).describe('stdio: its arguments, e.g. ["-y", "@modelcontextprotocol/server-everything"].'),
    cwd: CwdSchema.optional().describe("stdio: working directory; relative paths are read from the config file's directory. Defaults to Switchboard's."),
    env: EnvSchema.default({}).describe("stdio: environment variables. The process gets only these (plus PATH), never Switchboard's own environment. Stored encrypted; values never shown."),
    isolation: IsolationSchema.default("shared").describe('stdio: "shared" (one process serves every session) or "session" (one process per downstream session).'),
    max_processes: MaxProcessesSchema.optional().describe('stdio with isolation = "session": most processes at once; defaults to gateway.stdio_max_processes.'),
    connect_timeout: optionalDuration("Time to connect and initialise; defaults to gateway.connect_timeout.", CONNECT_TIMEOUT_MAX),
    call_timeout: optionalDuration("Time a request may take; defaults to gateway.call_timeout.", CALL_TIMEOUT_MAX),
    enabled: z.boolean().default(true).describe("false keeps the connection but refuses calls to it."),
    record_payloads: z.boolean().default(false).describe("Usage rows keep each call's arguments and result, capped at monitoring.payload_max_size, with this connection's secret values and monitoring.redact_patterns masked. Off: neither is kept."),
    auth: AuthSchema.default("static").describe('http and sse: "static" sends token and headers as given; "oauth" signs in at the upstream\'s own authorization server (discovered from the upstream), authorized from the admin, and sends the token got there, refreshed as it expires.'),
    oauth_mode: OAuthModeSchema.optional().describe('With auth = "oauth": "shared" (an admin authorizes one account every caller uses) or "per_user" (each user connects their own account; a call carries the calling user\'s token). Defaults to "shared".'),
    oauth_client_id: OAuthClientIdSchema.optional().describe("With auth = \"oauth\": a client registered by hand at the upstream's authorization server, for servers that offer neither client ID metadata documents nor dynamic registration. Its redirect URI is <public_url>/oauth/upstream/callback."),
    oauth_client_secret: OAuthClientSecretSchema.optional().describe("With oauth_client_id, if that client has a secret. Use ${VAR}; stored encrypted, never shown."),
    oauth_scopes: OAuthScopesSchema.optional().describe('With auth = "oauth": the scopes to ask for, space-separated, e.g. "repo read:org". Defaults to none in particular (what the server grants by default).'),
  })
  .transform((c) => ({ ...c, transport: c.transport ?? (c.command !== undefined ? ("stdio" as const) : ("http" as const)) }))
  .superRefine((c, ctx) => {
    const fields = { ...c, url: c.url ?? null, token: c.token ?? null, command: c.command ?? null, cwd: c.cwd ?? null };
    const auth = { auth: c.auth, oauthMode: c.oauth_mode ?? "shared", oauthClientId: c.oauth_client_id || null, oauthClientSecret: c.oauth_client_secret || null, oauthScopes: c.oauth_scopes || null };
    const problems = { ...transportProblems(fields), ...authProblems({ ...fields, ...auth }) };
    // In a file an OAuth setting without auth = "oauth" is a mistake (a forgotten line), not a value kept for later.
    if (c.auth !== "oauth") {
      for (const key of ["oauth_mode", "oauth_client_id", "oauth_client_secret", "oauth_scopes"] as const) {
        if (c[key] !== undefined) problems[key] = 'only connections with auth = "oauth" take this';
      }
    }
    for (const [field, message] of Object.entries(problems)) ctx.addIssue({ code: "custom", path: field.split("."), message });
  });

const connections = z
  .array(connection)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((c, i) => {
      if (seen.has(c.slug)) ctx.addIssue({ code: "custom", path: [i, "slug"], message: `slug ${JSON.stringify(c.slug)} is declared twice` });
      seen.add(c.slug);
    });
  })
  .describe("Upstream MCP servers declared in the file: applied at every start, read-only in the admin, removed from the database when removed here. Write one [[connections]] table each.");

/** An agent's tools from one connection: "*" (all, following the upstream) or a list of names or { name, alias, description } tables. */
const agentTools = z
  .union([z.literal("*"), z.literal("all"), z.array(z.union([UpstreamToolNameSchema, ToolSelectionSchema]))], {
    error: 'expected "*" or a list of tool names (or { name, alias, description } tables)',
  })
  .transform((tools): AgentConnectionSelection["tools"] => (typeof tools === "string" ? "all" : tools.map((t) => (typeof t === "string" ? { name: t } : t))));

const agentConnection = z.strictObject({
  connection: SlugSchema.describe("The slug of a connection declared in this file."),
  tools: agentTools.describe('"*" for every tool it offers, or a list: "name" or { name = "…", alias = "…", description = "…" }.'),
  resources: ResourcesSelectionSchema.default("none").describe('"all", "none", or URI patterns such as ["file:///docs/*"].'),
  prompts: PromptsSelectionSchema.default("none").describe('"all", "none", or prompt names.'),
});

const agent = z
  .strictObject({
    slug: SlugSchema.describe('Unique short name, 1-63 of a-z 0-9 -, e.g. "demo". Served at /mcp/agent/<slug> too; the id (agent_<uuid>) is derived from it.'),
    title: TitleSchema.optional().describe("Name shown in the admin; defaults to the slug."),
    description: DescriptionSchema.default("").describe("What this agent is for, for people."),
    instructions: InstructionsSchema.default("").describe("Sent to MCP clients as the server's instructions."),
    enabled: z.boolean().default(true).describe("false keeps the agent but refuses sessions to it."),
    prefix_tools: z.boolean().default(false).describe("Expose every tool as <connection-slug>__<tool> (aliases excepted), so tools of different connections never collide."),
    record_payloads: z.boolean().default(false).describe("Usage rows keep each call's arguments and result, capped at monitoring.payload_max_size, with the connections' secret values and monitoring.redact_patterns masked. Off: neither is kept."),
    tools: z
      .record(z.string(), agentTools)
      .default({})
      .describe('Tools by connection slug: { everything = ["echo", "get-sum"], github = "*" }. For aliases, descriptions, resources and prompts use [[agents.connections]] instead.'),
    connections: z
      .array(agentConnection)
      .default([])
      .describe("The richer form, one [[agents.connections]] table per connection: connection, tools, resources, prompts."),
  })
  .transform((a) => ({
    ...a,
    /** Both forms as one list, in file order: `tools` first, then [[agents.connections]]. */
    selections: [
      ...Object.entries(a.tools).map(([slug, tools]) => ({ connection: slug, tools, resources: "none" as const, prompts: "none" as const })),
      ...a.connections,
    ],
  }));

const agents = z
  .array(agent)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((a, i) => {
      if (seen.has(a.slug)) ctx.addIssue({ code: "custom", path: [i, "slug"], message: `slug ${JSON.stringify(a.slug)} is declared twice` });
      seen.add(a.slug);
    });
  })
  .describe("Agents declared in the file: virtual MCP servers over the connections declared above, applied at every start, read-only in the admin. Write one [[agents]] table each.");

/** Problems of the declared agents that need the declared connections: unknown slugs, a connection twice, bad or colliding names. */
function checkDeclaredAgents(config: { connections: { slug: string }[]; agents: z.output<typeof agents> }, ctx: z.RefinementCtx): void {
  const declared = new Set(config.connections.map((c) => c.slug));
  const unknown = (slug: string) => `no connection ${JSON.stringify(slug)} is declared in [[connections]]`;
  config.agents.forEach((a, i) => {
    // A table that failed its own checks was not transformed: its problems are already reported.
    if (!Array.isArray(a.selections)) return;
    for (const slug of Object.keys(a.tools)) if (!declared.has(slug)) ctx.addIssue({ code: "custom", path: ["agents", i, "tools", slug], message: unknown(slug) });
    a.connections.forEach((c, j) => {
      const path = ["agents", i, "connections", j, "connection"];
      if (!declared.has(c.connection)) ctx.addIssue({ code: "custom", path, message: unknown(c.connection) });
      else if (c.connection in a.tools) ctx.addIssue({ code: "custom", path, message: `${JSON.stringify(c.connection)} is also in tools: select each connection once` });
      else if (a.connections.findIndex((o) => o.connection === c.connection) < j) ctx.addIssue({ code: "custom", path, message: `${JSON.stringify(c.connection)} is selected twice` });
    });
    // Names and collisions of the listed tools ("*" is checked when the agent is served: what it holds is known then).
    const selections = a.selections.filter((s) => declared.has(s.connection)).map((s) => ({ ...s, connectionId: s.connection }));
    const check = checkSelections({ prefixTools: a.prefix_tools, connections: selections }, { slugOf: (slug) => slug, toolsOf: () => [] });
    const problems = Object.values(check.problems).filter((p) => !p.includes("selected twice"));
    for (const message of [...problems, ...collisionMessages(check.collisions)]) ctx.addIssue({ code: "custom", path: ["agents", i], message });
  });
}

/** Declared URLs whose host is an IP literal the address policy denies (hostnames are checked at connect time). */
function checkDeclaredUrls(config: { gateway: AddressPolicySettings; connections: { url?: string }[] }, ctx: z.RefinementCtx): void {
  let addresses: AddressRules;
  try {
    addresses = new AddressRules(config.gateway);
  } catch {
    return; // a malformed entry, reported on its own key
  }
  config.connections.forEach((c, i) => {
    const denied = c.url === undefined ? null : addresses.literalRefusal(c.url);
    if (denied) ctx.addIssue({ code: "custom", path: ["connections", i, "url"], message: denied });
  });
}

/**
 * A replica advertises "http://" + server.listen unless told otherwise; on 0.0.0.0 or [::] that names
 * no host the others can reach (each would forward to itself and answer 404), so clustering on an
 * unspecified address needs cluster.advertise_url.
 */
function checkAdvertisedAddress(config: { server: { listen: string }; database: { url?: string }; cluster: { enabled: boolean; advertise_url?: string } }, ctx: z.RefinementCtx): void {
  if ((!config.database.url && !config.cluster.enabled) || config.cluster.advertise_url) return;
  const [, host, port] = LISTEN_PATTERN.exec(config.server.listen) ?? [];
  if (host === undefined) return;
  // The URL parser normalises the spellings ("0", "[0:0::0]") to these two.
  const hostname = new URL(`http://${host}`).hostname;
  if (hostname !== "0.0.0.0" && hostname !== "[::]") return;
  ctx.addIssue({
    code: "custom",
    path: ["cluster", "advertise_url"],
    message: `required when several replicas share the database (database.url or cluster.enabled) and server.listen is ${JSON.stringify(config.server.listen)}: the other replicas cannot reach http://${config.server.listen}; set it to an address they can, e.g. "http://10.0.0.5:${port}"`,
  });
}

/** The whole switchboard.toml. */
export const ConfigSchema = z
  .strictObject({ server, database, cluster, security, stdio, gateway, oauth, monitoring, metrics, connections, agents })
  .superRefine((config, ctx) => {
    // A declared stdio connection must pass the same [stdio] policy as one created in the admin.
    config.connections.forEach((c, i) => {
      if (c.transport !== "stdio" || c.command === undefined) return;
      const refusal = stdioRefusal(config.stdio, c.command);
      if (refusal) ctx.addIssue({ code: "custom", path: ["connections", i, refusal.code === "STDIO_DISABLED" ? "transport" : "command"], message: refusal.message });
    });
    // A declared URL with a literal IP is checked against the address policy now (hostnames at connect time).
    checkDeclaredUrls(config, ctx);
    checkDeclaredAgents(config, ctx);
    // Keys, cookies and sealed secrets are derived from the secret, so replicas sharing one database
    // must share it; a generated one would live in one replica's data dir only.
    if (config.database.url && !config.security.secret) {
      ctx.addIssue({ code: "custom", path: ["security", "secret"], message: "required when database.url is set: every replica must use the same secret (use ${VAR})" });
    }
    checkAdvertisedAddress(config, ctx);
  });

/** One [[connections]] table, validated, durations in ms. */
export type ConfigConnection = z.output<typeof connection>;

/** One [[agents]] table, validated; `selections` holds both forms, connections named by slug. */
export type ConfigAgent = z.output<typeof agent>;

/** The validated config, with defaults applied and units converted (durations in ms, sizes in bytes). */
export type ParsedConfig = z.output<typeof ConfigSchema>;
