// The parts of README.md generated from the code: the configuration reference, every command's
// --help and the management tools (from the operation registry). `bun run readme` rewrites them; test/unit/readme.test.ts fails when they drift.
import { configReferenceMarkdown } from "../src/config/describe.ts";
import { COMMANDS, mainHelp } from "../src/cli/main.ts";
import { renderInitialConfig } from "../src/cli/commands/init.ts";
import { OPERATIONS } from "../src/operations/index.ts";
import { audienceOf, type Operation } from "../src/operations/registry.ts";

/** The management tools as a Markdown table: tool, what it does, who may use it, REST route. */
export function managementToolsMarkdown(operations: readonly Operation[] = OPERATIONS): string {
  const rows = operations.map((op) => {
    const path = op.rest.path.replace(/:(\w+)/g, "{$1}");
    return `| \`${op.name}\` | ${op.title} | ${audienceOf(op)} | \`${op.rest.method} /api/v1${path}\` |`;
  });
  return ["| tool | what it does | who | REST |", "|---|---|---|---|", ...rows].join("\n");
}

/** switchboard.example.toml: what `switchboard init` writes, with the secret read from the environment. */
export function renderExampleConfig(): string {
  return renderInitialConfig("${SWITCHBOARD_SECRET}");
}

export const GENERATED_SECTIONS: Record<string, () => string> = {
  "management-tools": () => managementToolsMarkdown(),
  "config-reference": configReferenceMarkdown,
  "cli-reference": () =>
    [
      "```text\n$ switchboard --help\n" + mainHelp() + "\n```",
      ...COMMANDS.map((c) => `### \`switchboard ${c.name}\`\n\n\`\`\`text\n${c.help}\n\`\`\``),
    ].join("\n\n"),
};

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` with the generated text. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, generate] of Object.entries(GENERATED_SECTIONS)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md lacks the ${start} … ${end} markers`);
    out = out.slice(0, from + start.length) + "\n" + generate() + "\n" + out.slice(to);
  }
  return out;
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url).pathname;
  await Bun.write(path, renderReadme(await Bun.file(path).text()));
  await Bun.write(new URL("../switchboard.example.toml", import.meta.url).pathname, renderExampleConfig());
  console.log("README.md sections and switchboard.example.toml regenerated");
}
