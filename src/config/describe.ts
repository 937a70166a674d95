// Describing the config for people: the reference table (README, --help) and the effective config
// with secrets masked (check-config, the Settings page). Both read the one schema.
import { z } from "zod";
import type { Config } from "./load.ts";
import { ConfigSchema } from "./schema.ts";

/**
 * One setting. `section` is the table it lives in: "server" for [server], "connections[]" for the
 * repeated [[connections]] tables (`repeated` is then true), or "agents[].connections[]" for tables
 * repeated inside a repeated table ([[agents.connections]]).
 */
export type ConfigField = { section: string; repeated: boolean; key: string; type: string; default: string | undefined; description: string };

type JsonSchema = {
  type?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
};

// Keys whose values are secrets: "secret", "token", "password" (or ending so); not "access_token_ttl".
const SECRET_KEY = /(^|_)(secret|token|password)$/i;
/** Tables whose every value is secret: a connection's headers and env. */
const SECRET_TABLES = new Set(["headers", "env"]);
const MASK = "********";

function rootSchema(): JsonSchema {
  return z.toJSONSchema(ConfigSchema, { io: "input" }) as JsonSchema;
}

function typeName(field: JsonSchema): string {
  if (field.enum) return field.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (field.const !== undefined) return JSON.stringify(field.const);
  if (field.anyOf) return field.anyOf.map((choice) => (choice.type === "array" ? "array" : typeName(choice))).join(" \\| ");
  if (field.format) return field.format;
  if (field.type === "array") return field.items?.type === "object" ? "array of tables" : `array of ${field.items?.type ?? "any"}s`;
  if (field.type === "object") return "table";
  return field.type ?? "any";
}

type Section = { name: string; repeated: boolean; schema: JsonSchema };

/** An array of tables (one [[name]] each), or null. */
function tableArray(name: string, schema: JsonSchema): Section | null {
  return schema.type === "array" && schema.items?.type === "object" ? { name: `${name}[]`, repeated: true, schema: { ...schema.items, description: schema.description } } : null;
}

/** Each table of the file, tables repeated inside a repeated table ([[agents.connections]]) right after their parent. */
function sections(root: JsonSchema): Section[] {
  return Object.entries(root.properties ?? {}).flatMap(([name, schema]) => {
    const repeated = tableArray(name, schema);
    if (!repeated) return [{ name, repeated: false, schema }];
    const nested = Object.entries(repeated.schema.properties ?? {}).map(([key, field]) => tableArray(`${repeated.name}.${key}`, field));
    return [repeated, ...nested.filter((s): s is Section => s !== null)];
  });
}

/** Every field of switchboard.toml with its type, default and description, in schema order. */
export function configReference(): ConfigField[] {
  const fields: ConfigField[] = [];
  for (const section of sections(rootSchema())) {
    for (const [key, field] of Object.entries(section.schema.properties ?? {})) {
      fields.push({
        section: section.name,
        repeated: section.repeated,
        key,
        type: typeName(field),
        default: field.default === undefined ? undefined : tomlValue(field.default),
        description: field.description ?? "",
      });
    }
  }
  return fields;
}

/** The descriptions of the sections ([server], [database], …, [[connections]] as "connections[]"). */
export function sectionDescriptions(): Record<string, string> {
  return Object.fromEntries(sections(rootSchema()).map((s) => [s.name, s.schema.description ?? ""]));
}

/** The header line of a section: "[server]", "[[connections]]" or "[[agents.connections]]". */
export function sectionHeader(field: Pick<ConfigField, "section" | "repeated">): string {
  return field.repeated ? `[[${field.section.replace(/\[\]/g, "")}]]` : `[${field.section}]`;
}

/** A value as TOML: strings, numbers, booleans, arrays and inline tables. */
export function tomlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${JSON.stringify(k)} = ${tomlValue(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

/** The configuration reference as a Markdown table (kept in README.md; a test checks it matches). */
export function configReferenceMarkdown(): string {
  const rows = configReference().map(
    (f) => `| \`${f.section}.${f.key}\` | ${f.type} | ${f.default === undefined ? "—" : `\`${f.default}\``} | ${f.description.replace(/\|/g, "\\|").replace(/</g, "&lt;")} |`,
  );
  return ["| key | type | default | description |", "|---|---|---|---|", ...rows].join("\n");
}

/** A value given in the file, with secrets masked: token-like keys whole, headers and env value by value. */
function masked(key: string, value: unknown): unknown {
  if (SECRET_KEY.test(key)) return MASK;
  if (SECRET_TABLES.has(key) && value !== null && typeof value === "object") return Object.fromEntries(Object.keys(value).map((k) => [k, MASK]));
  return value;
}

/** A URL with its password masked (database.url carries one). */
function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = MASK;
    return parsed.toString();
  } catch {
    return MASK;
  }
}

/** The effective configuration as TOML: file values, else defaults, plus derived values; secrets masked. */
export function renderEffectiveConfig(config: Config, options: { secretSource: string }): string {
  const lines: string[] = [`# source: ${config.source ?? "built-in defaults (no config file)"}`];
  const bySection = new Map<string, ConfigField[]>();
  for (const field of configReference()) bySection.set(field.section, [...(bySection.get(field.section) ?? []), field]);
  const derived: Record<string, Record<string, unknown>> = {
    server: { public_url: config.server.public_url },
    database: { path: config.database.path, url: config.database.url && urlWithoutPassword(config.database.url) },
  };
  for (const [section, fields] of bySection) {
    if (fields[0]!.repeated) {
      // Tables repeated inside a repeated table are written inline by their parent.
      if (!section.includes("[].")) lines.push(...renderRepeated(config, fields));
      continue;
    }
    lines.push("", sectionHeader(fields[0]!));
    const given = (config.input[section] ?? {}) as Record<string, unknown>;
    for (const field of fields) {
      const value = derived[section]?.[field.key] ?? given[field.key];
      if (SECRET_KEY.test(field.key)) {
        lines.push(`${field.key} = "${MASK}"  # ${given[field.key] !== undefined ? "set in the config" : options.secretSource}`);
      } else if (value !== undefined) {
        lines.push(`${field.key} = ${tomlValue(value)}`);
      } else if (field.default !== undefined) {
        lines.push(`${field.key} = ${field.default}  # default`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** Each [[connections]] table as the file gave it (secrets masked), or a note that there is none. */
function renderRepeated(config: Config, fields: ConfigField[]): string[] {
  const name = fields[0]!.section.replace(/\[\]$/, "");
  const given = config.input[name];
  if (!Array.isArray(given) || given.length === 0) return ["", `# no ${sectionHeader(fields[0]!)} declared`];
  const lines: string[] = [];
  for (const table of given as Record<string, unknown>[]) {
    lines.push("", sectionHeader(fields[0]!));
    for (const field of fields) {
      if (table[field.key] !== undefined) lines.push(`${field.key} = ${tomlValue(masked(field.key, table[field.key]))}`);
    }
  }
  return lines;
}
