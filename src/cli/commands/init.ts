// `switchboard init`: writes a commented switchboard.toml with a freshly generated secret.
import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { configReference, sectionDescriptions, sectionHeader } from "../../config/describe.ts";
import { parseFlags } from "../args.ts";
import type { Command } from "../io.ts";

/** The text of a new config file: every setting, commented out at its default, except the secret. */
export function renderInitialConfig(secret: string): string {
  const lines = [
    "# switchboard.toml — the one configuration file of Switchboard.",
    "# Every setting is shown at its default, commented out. ${VAR} reads an environment variable.",
    "# Durations read \"30s\", \"15m\", \"12h\", \"30d\"; sizes \"512KiB\", \"4MiB\".",
    "# Check it with: switchboard check-config --config <this file>",
  ];
  const sections = sectionDescriptions();
  let current = "";
  for (const field of configReference()) {
    // A table repeated inside a repeated table ([[agents.connections]]) is shown as its own section below.
    if (field.type === "array of tables") continue;
    if (field.section !== current) {
      current = field.section;
      // A repeated table ([[connections]]) has no defaults to show: its header is commented out too.
      lines.push("", `# ${sections[current]}`, `${field.repeated ? "# " : ""}${sectionHeader(field)}`);
    }
    lines.push(`# ${field.description}`);
    if (field.section === "security" && field.key === "secret") {
      lines.push(`secret = "${secret}"`);
    } else {
      lines.push(field.default === undefined ? `# ${field.key} = …` : `# ${field.key} = ${field.default}`);
    }
  }
  return lines.join("\n") + "\n";
}

export const initCommand: Command = {
  name: "init",
  summary: "Write a commented switchboard.toml with a generated secret",
  help: `Usage: switchboard init [--path FILE] [--force]

Writes a new config file listing every setting with its default and description, and a freshly
generated server secret (keep the file private: it is written with mode 0600).

Options:
  -p, --path FILE     where to write (default: ./switchboard.toml)
  -f, --force         overwrite an existing file
  -h, --help          show this help`,
  async run(args, io) {
    const { values } = parseFlags(args, { path: { type: "string", short: "p" }, force: { type: "boolean", short: "f" } });
    const path = resolve(io.cwd, values.path ?? "switchboard.toml");
    let fd: number;
    try {
      fd = openSync(path, values.force ? "w" : "wx", 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      io.stderr(code === "EEXIST" ? `error: ${path} already exists (use --force to overwrite)\n` : `error: cannot write ${path}: ${(err as Error).message}\n`);
      return 1;
    }
    try {
      // open()'s mode applies only to a new file; --force over an existing one must not leave the secret readable to others.
      fchmodSync(fd, 0o600);
      writeSync(fd, renderInitialConfig(randomBytes(32).toString("base64url")));
    } finally {
      closeSync(fd);
    }
    io.stdout(`wrote ${path}\n`);
    return 0;
  },
};
