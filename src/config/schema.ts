// The one definition of switchboard.toml: every field, its default and a one-line description.
// README's configuration reference is generated from this schema, and a test keeps them in step.
import { z } from "zod";
import {
  ArgsSchema,
  CommandSchema,
  CwdSchema,
  DescriptionSchema,
  EnvSchema,
  HeadersSchema,
  IsolationSchema,
  MaxProcessesSchema,
  SlugSchema,
  stdioRefusal,
  TitleSchema,
  TokenSchema,
  transportProblems,
  TransportSchema,
  UrlSchema,
} from "../domain/connection-rules.ts";
import { parseDuration, parseSize } from "./units.ts";

/** A duration string such as "30s" or "12h", read as milliseconds. */
function durationString() {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as "30s" or "12h", got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  });
}

function duration(defaultValue: string, description: string) {
  return durationString().prefault(defaultValue).meta({ format: "duration" }).describe(description);
}

/** A duration without a default of its own (another setting supplies it). */
function optionalDuration(description: string) {
  return durationString().optional().meta({ format: "duration" }).describe(description);
}

/** A size string such as "4MiB", read as bytes. */
function size(defaultValue: string, description: string) {
  return z
    .string()
    .transform((text, ctx) => {
      const bytes = parseSize(text);
      if (bytes === null) {
        ctx.addIssue({ code: "custom", message: `expected a size such as "512KiB" or "4MiB", got ${JSON.stringify(text)}` });
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

const server = z
  .strictObject({
    listen,
    public_url: publicUrl,
    max_body_size: size("4MiB", "Largest request body accepted; larger ones get 413."),
    shutdown_timeout: duration("10s", "How long a graceful shutdown waits for in-flight requests before closing."),
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
    busy_timeout: duration("5s", "How long a write waits for a lock held by another connection (a backup, say)."),
  })
  .prefault({})
  .describe("The embedded SQLite database.");

const security = z
  .strictObject({
    secret: z
      .string()
      .min(32, { error: "expected at least 32 characters" })
      .optional()
      .describe("Server secret from which token, cookie and encryption keys are derived. Use ${VAR}. Without it, one is generated once into <data dir>/secret (mode 0600)."),
    session_ttl: duration("12h", "How long an admin session lasts after sign-in."),
    login_window: duration("15m", "Window over which failed sign-ins are counted."),
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
    connect_timeout: duration("10s", "Default time to connect to and initialise an upstream before giving up (per connection: connect_timeout)."),
    call_timeout: duration("60s", "Default time an upstream request may take before the caller gets an error (per connection: call_timeout)."),
    session_idle_timeout: duration("30m", "A downstream MCP session unused this long is closed."),
    max_sessions: z.int().min(1).default(10_000).describe("Most downstream MCP sessions open at once, across all connections."),
    stdio_max_processes: z.int().min(1).default(8).describe("Default cap on processes of one stdio connection with isolation = \"session\" (per connection: max_processes)."),
    stderr_lines: z.int().min(0).default(200).describe("Lines of a stdio server's stderr kept in memory for its admin page."),
  })
  .prefault({})
  .describe("The gateway to upstream MCP servers: timeouts, sessions and stdio processes.");

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
    connect_timeout: optionalDuration("Time to connect and initialise; defaults to gateway.connect_timeout."),
    call_timeout: optionalDuration("Time a request may take; defaults to gateway.call_timeout."),
    enabled: z.boolean().default(true).describe("false keeps the connection but refuses calls to it."),
  })
  .transform((c) => ({ ...c, transport: c.transport ?? (c.command !== undefined ? ("stdio" as const) : ("http" as const)) }))
  .superRefine((c, ctx) => {
    const problems = transportProblems({ ...c, url: c.url ?? null, token: c.token ?? null, command: c.command ?? null, cwd: c.cwd ?? null });
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

/** The whole switchboard.toml. */
export const ConfigSchema = z
  .strictObject({ server, database, security, stdio, gateway, connections })
  .superRefine((config, ctx) => {
    // A declared stdio connection must pass the same [stdio] policy as one created in the admin.
    config.connections.forEach((c, i) => {
      if (c.transport !== "stdio" || c.command === undefined) return;
      const refusal = stdioRefusal(config.stdio, c.command);
      if (refusal) ctx.addIssue({ code: "custom", path: ["connections", i, refusal.code === "STDIO_DISABLED" ? "transport" : "command"], message: refusal.message });
    });
  });

/** One [[connections]] table, validated, durations in ms. */
export type ConfigConnection = z.output<typeof connection>;

/** The validated config, with defaults applied and units converted (durations in ms, sizes in bytes). */
export type ParsedConfig = z.output<typeof ConfigSchema>;
