// The `switchboard` command line: dispatches to one command, prints help, maps failures to exit codes.
import { backupCommand } from "./commands/backup.ts";
import { checkConfigCommand } from "./commands/check-config.ts";
import { dbCommand } from "./commands/db.ts";
import { initCommand } from "./commands/init.ts";
import { keyCommand } from "./commands/key.ts";
import { serveCommand } from "./commands/serve.ts";
import { userCommand } from "./commands/user.ts";
import { versionCommand } from "./commands/version.ts";
import { UsageError, type CliIo, type Command } from "./io.ts";

export const COMMANDS: Command[] = [serveCommand, initCommand, checkConfigCommand, userCommand, keyCommand, backupCommand, dbCommand, versionCommand];

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Switchboard — a self-hosted MCP gateway in one executable.

Usage: switchboard [COMMAND] [OPTIONS]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}
  help [COMMAND]  Show help for a command

With no command, runs "serve". Run "switchboard COMMAND --help" for a command's options.`;
}

/** Runs the CLI with `argv` (without the program name); returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "-h" || first === "--help" || (first === "help" && rest.length === 0)) {
    io.stdout(mainHelp() + "\n");
    return 0;
  }
  if (first === "help") {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    if (!command) return unknown(rest[0]!, io);
    io.stdout(command.help + "\n");
    return 0;
  }
  if (first === "--version" || first === "-v") return versionCommand.run([], io);
  const command = first === undefined || first.startsWith("-") ? serveCommand : COMMANDS.find((c) => c.name === first);
  if (!command) return unknown(first!, io);
  const args = command === serveCommand && first !== "serve" ? argv : rest;
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout(command.help + "\n");
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\nRun "switchboard ${command.name} --help" for usage.\n`);
      return 2;
    }
    throw err;
  }
}

function unknown(name: string, io: CliIo): number {
  io.stderr(`error: unknown command ${JSON.stringify(name)}\n\n${mainHelp()}\n`);
  return 2;
}
