// README.md and switchboard.example.toml must say what the code does: their generated parts are
// compared with what the schema and the commands produce now.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { configReference } from "../../src/config/describe.ts";
import { COMMANDS } from "../../src/cli/main.ts";
import { managementToolsMarkdown, renderExampleConfig, renderReadme } from "../../scripts/readme-sections.ts";
import { OPERATIONS } from "../../src/operations/index.ts";

const root = new URL("../../", import.meta.url).pathname;
const readme = await Bun.file(`${root}README.md`).text();
const example = await Bun.file(`${root}switchboard.example.toml`).text();

describe("README.md", () => {
  test("its generated sections match the schema and the commands (run `bun run docs`)", () => {
    expect(readme).toBe(renderReadme(readme));
  });

  test("documents every config key and every command", () => {
    for (const field of configReference()) expect(readme).toContain(`\`${field.section}.${field.key}\``);
    for (const command of COMMANDS) expect(readme).toContain(`### \`switchboard ${command.name}\``);
  });

  test("lists every management tool once, with who may use it and its REST route", () => {
    const section = readme.slice(readme.indexOf("<!-- management-tools:start -->"), readme.indexOf("<!-- management-tools:end -->"));
    const rows = section.split("\n").filter((line) => line.startsWith("| `"));
    expect(rows).toHaveLength(OPERATIONS.length);
    for (const op of OPERATIONS) {
      const row = rows.find((line) => line.startsWith(`| \`${op.name}\` |`));
      expect(row).toContain(op.forMembers ? "| everyone" : "| admins |");
      expect(row).toContain(`\`${op.rest.method} /api/v1`);
    }
    // A table written from one operation fewer is not what the README holds.
    expect(section).not.toContain(managementToolsMarkdown(OPERATIONS.slice(1)));
  });

  test("has exactly two set-up commands: install-and-start, then bun test", () => {
    const quickStart = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## The single executable"));
    const blocks = [...quickStart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(blocks).toEqual(["npm install -g bun@1.4.5 && bun install --frozen-lockfile && bun run start", "bun test"]);
    expect(`bun@${Bun.version}`).toBe("bun@1.4.5");
  });
});

describe("switchboard.example.toml", () => {
  test("is what `switchboard init` writes (run `bun run docs`)", () => {
    expect(example).toBe(renderExampleConfig());
  });

  test("is a valid config once SWITCHBOARD_SECRET is set, and names it when not", () => {
    const raw = Bun.TOML.parse(example);
    const config = parseConfig(raw, { source: "example", env: { SWITCHBOARD_SECRET: "s".repeat(40) }, baseDir: "/srv" });
    expect(config.security.secret).toBe("s".repeat(40));
    expect(() => parseConfig(raw, { source: "example", env: {}, baseDir: "/srv" })).toThrow("SWITCHBOARD_SECRET");
  });
});
