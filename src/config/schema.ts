// The one definition of switchboard.toml: every field, its default and a one-line description.
// README's configuration reference is generated from this schema, and a test keeps them in step.
import { z } from "zod";
import { parseDuration, parseSize } from "./units.ts";

/** A duration string such as "30s" or "12h", read as milliseconds. */
function duration(defaultValue: string, description: string) {
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: `expected a duration such as "30s" or "12h", got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return ms;
    })
    .prefault(defaultValue)
    .meta({ format: "duration" })
    .describe(description);
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

/** The whole switchboard.toml. */
export const ConfigSchema = z.strictObject({ server, database, security });

/** The validated config, with defaults applied and units converted (durations in ms, sizes in bytes). */
export type ParsedConfig = z.output<typeof ConfigSchema>;
