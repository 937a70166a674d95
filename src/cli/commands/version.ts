// `switchboard version`: prints the version of this build.
import { VERSION } from "../../version.ts";
import { parseFlags } from "../args.ts";
import type { Command } from "../io.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "Print the version",
  help: `Usage: switchboard version

Prints the version of this Switchboard build and of the Bun runtime inside it.`,
  async run(args, io) {
    parseFlags(args, {});
    io.stdout(`switchboard ${VERSION} (bun ${Bun.version})\n`);
    return 0;
  },
};
