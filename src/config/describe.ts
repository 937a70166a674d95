// Describing the config for people: the reference table (README, --help) and the effective config
// with secrets masked (check-config, the Settings page). Both read the one schema.
import { z } from "zod";
import type { Config } from "./load.ts";
import { ConfigSchema } from "./schema.ts";

export type ConfigField = { section: string; key: string; type: string; default: string | undefined; description: string };

type JsonSchema = {
  type?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
};

const SECRET_KEY = /secret|token|password/i;

/** Every field of switchboard.toml with its type, default and description, in schema order. */
export function configReference(): ConfigField[] {
  const root = z.toJSONSchema(ConfigSchema, { io: "input" }) as JsonSchema;
  const fields: ConfigField[] = [];
  for (const [section, sectionSchema] of Object.entries(root.properties ?? {})) {
    for (const [key, field] of Object.entries(sectionSchema.properties ?? {})) {
      fields.push({
        section,
        key,
        type: field.enum ? field.enum.map((v) => JSON.stringify(v)).join(" \\| ") : (field.format ?? field.type ?? "any"),
        default: field.default === undefined ? undefined : JSON.stringify(field.default),
        description: field.description ?? "",
      });
    }
  }
  return fields;
}

/** The descriptions of the sections ([server], [database], …). */
export function sectionDescriptions(): Record<string, string> {
  const root = z.toJSONSchema(ConfigSchema, { io: "input" }) as JsonSchema;
  return Object.fromEntries(Object.entries(root.properties ?? {}).map(([name, s]) => [name, s.description ?? ""]));
}

/** The configuration reference as a Markdown table (kept in README.md; a test checks it matches). */
export function configReferenceMarkdown(): string {
  const rows = configReference().map(
    (f) => `| \`${f.section}.${f.key}\` | ${f.type} | ${f.default === undefined ? "—" : `\`${f.default}\``} | ${f.description.replace(/\|/g, "\\|").replace(/</g, "&lt;")} |`,
  );
  return ["| key | type | default | description |", "|---|---|---|---|", ...rows].join("\n");
}

/** The effective configuration as TOML: file values, else defaults, plus derived values; secrets masked. */
export function renderEffectiveConfig(config: Config, options: { secretSource: string }): string {
  const lines: string[] = [`# source: ${config.source ?? "built-in defaults (no config file)"}`];
  const bySection = new Map<string, ConfigField[]>();
  for (const field of configReference()) bySection.set(field.section, [...(bySection.get(field.section) ?? []), field]);
  const derived: Record<string, Record<string, unknown>> = {
    server: { public_url: config.server.public_url },
    database: { path: config.database.path },
  };
  for (const [section, fields] of bySection) {
    lines.push("", `[${section}]`);
    const given = (config.input[section] ?? {}) as Record<string, unknown>;
    for (const field of fields) {
      const value = derived[section]?.[field.key] ?? given[field.key];
      if (SECRET_KEY.test(field.key)) {
        lines.push(`${field.key} = "********"  # ${given[field.key] !== undefined ? "set in the config" : options.secretSource}`);
      } else if (value !== undefined) {
        lines.push(`${field.key} = ${JSON.stringify(value)}`);
      } else if (field.default !== undefined) {
        lines.push(`${field.key} = ${field.default}  # default`);
      }
    }
  }
  return lines.join("\n") + "\n";
}
