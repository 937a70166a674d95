// Finding, reading, interpolating and validating switchboard.toml into the Config passed down the app.
import { dirname, isAbsolute, resolve } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import type { z } from "zod";
import { ConfigSchema, type ParsedConfig } from "./schema.ts";

/** The effective configuration: the validated file plus values derived from it. */
export type Config = ParsedConfig & {
  /** The file it came from, or null when the built-in defaults serve. */
  source: string | null;
  /** Directory of the database file; the generated secret lives here too. */
  dataDir: string;
  /** The file's values after ${VAR} interpolation, as written (for showing the effective config). */
  input: Record<string, unknown>;
  server: ParsedConfig["server"] & { host: string; port: number; public_url: string };
};

/** A config that cannot be used; `problems` holds one line per problem, each naming its key path. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/** Picks the config file: --config, else SWITCHBOARD_CONFIG, else ./switchboard.toml if present, else none. */
export function findConfigPath(options: { flag?: string; env: Env; cwd: string }): string | null {
  const chosen = options.flag ?? options.env.SWITCHBOARD_CONFIG;
  if (chosen) return resolve(options.cwd, chosen);
  const local = resolve(options.cwd, "switchboard.toml");
  return existsSync(local) ? local : null;
}

/** Reads and validates the config; throws ConfigError listing every problem found. */
export function loadConfig(options: { flag?: string; env: Env; cwd: string }): Config {
  const path = findConfigPath(options);
  if (path === null) return parseConfig({}, { source: null, env: options.env, baseDir: options.cwd });
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new ConfigError([`${path}: cannot read config file (${reason})`]);
  }
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (err) {
    throw new ConfigError([`${path}: not valid TOML (${(err as Error).message})`]);
  }
  return parseConfig(raw, { source: path, env: options.env, baseDir: dirname(path) });
}

/** Validates an already-parsed TOML document; exported for tests and `check-config`. */
export function parseConfig(raw: unknown, options: { source: string | null; env: Env; baseDir: string }): Config {
  const problems: string[] = [];
  const interpolated = interpolate(raw, [], options.env, problems);
  const result = ConfigSchema.safeParse(interpolated, { reportInput: true });
  if (!result.success) {
    // A value whose variable is unset already has its problem; don't report it twice.
    const unset = new Set(problems.map((line) => line.slice(0, line.indexOf(":"))));
    for (const issue of result.error.issues) {
      if (!unset.has(formatPath(issue.path))) problems.push(describeIssue(issue));
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const parsed = result.data;
  const [, host = "", port = "0"] = /^\[?(.*?)\]?:(\d+)$/.exec(parsed.server.listen) ?? [];
  const dbPath = isAbsolute(parsed.database.path) ? parsed.database.path : resolve(options.baseDir, parsed.database.path);
  return deepFreeze({
    ...parsed,
    source: options.source,
    dataDir: dirname(dbPath),
    input: (interpolated ?? {}) as Record<string, unknown>,
    server: {
      ...parsed.server,
      host,
      port: Number(port),
      public_url: parsed.server.public_url ?? `http://${parsed.server.listen}`,
    },
    database: { ...parsed.database, path: dbPath },
    // A stdio working directory is read like database.path: relative to the config file.
    connections: parsed.connections.map((c) => (c.cwd === undefined || isAbsolute(c.cwd) ? c : { ...c, cwd: resolve(options.baseDir, c.cwd) })),
  });
}

/**
 * The same config with the address the server actually listens on as its public_url (port 0: the OS
 * picked the port), frozen like the original, which is left as it was.
 */
export function withPublicUrl(config: Config, publicUrl: string): Config {
  return deepFreeze({ ...config, server: { ...config.server, public_url: publicUrl } });
}

/**
 * Freezes every object and array reachable from `value`. The config is read by every layer and built
 * once: a layer that could change it would change what the others (and the links they derived) see.
 */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces ${VAR} in every string value ("$$" is a literal "$"), noting each unset variable. */
function interpolate(value: unknown, path: (string | number)[], env: Env, problems: string[]): unknown {
  if (typeof value === "string") {
    return value.replace(VARIABLE, (whole, name: string | undefined) => {
      if (name === undefined) return "$";
      const found = env[name];
      if (found === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return whole;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], env, problems));
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, [...path, key], env, problems)]),
    );
  }
  return value;
}

function formatPath(path: PropertyKey[]): string {
  return path.length === 0 ? "(top level)" : path.map((part) => (typeof part === "number" ? `[${part}]` : String(part))).join(".").replace(/\.\[/g, "[");
}

/** Key names whose values are never echoed back in an error. */
const SECRET_KEY = /secret|token|password/i;
/** Tables whose every value is secret (a connection's headers and env). */
const SECRET_TABLE = new Set(["headers", "env"]);

function describeInput(input: unknown, path: PropertyKey[]): string {
  if (input === undefined) return "nothing";
  const key = String(path.at(-1) ?? "");
  if (SECRET_KEY.test(key) || SECRET_TABLE.has(key) || SECRET_TABLE.has(String(path.at(-2) ?? ""))) return "a value (hidden)";
  if (typeof input === "string") return JSON.stringify(input);
  if (Array.isArray(input)) return "an array";
  if (input instanceof Date) return "a date";
  if (input !== null && typeof input === "object") return "a table";
  return `${typeof input} ${JSON.stringify(input)}`;
}

/** One line per problem: "<key path>: expected …, got …". */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`).join("\n");
    case "invalid_type":
      return `${where}: expected ${issue.expected}, got ${describeInput(issue.input, issue.path)}`;
    case "invalid_value":
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeInput(issue.input, issue.path)}`;
    case "too_small":
    case "too_big":
      return `${where}: ${issue.message.replace(/^Too (small|big): (expected )?/, "expected ")}, got ${describeInput(issue.input, issue.path)}`;
    default:
      return `${where}: ${issue.message}`;
  }
}
