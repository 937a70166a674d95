// `switchboard check-config`: validates the config and prints the effective values, secrets masked.
import { renderEffectiveConfig } from "../../config/describe.ts";
import { parseFlags } from "../args.ts";
import type { Command } from "../io.ts";
import { CONFIG_FLAG, CONFIG_HELP, EXIT_CONFIG, loadConfigOrReport } from "../shared.ts";

export const checkConfigCommand: Command = {
  name: "check-config",
  summary: "Validate the config file and print the effective configuration",
  help: `Usage: switchboard check-config [--config FILE]

Validates switchboard.toml (unknown keys, wrong types, unset \${VAR}s, the shape of database.url)
and prints the effective configuration, defaults included, with secrets (and the database URL's
password) masked. Exit code 0 when valid, 2 when not (one line per problem, naming the key). It
does not connect to the database.

Options:
${CONFIG_HELP}
  -h, --help          show this help`,
  async run(args, io) {
    const { values } = parseFlags(args, CONFIG_FLAG);
    const config = loadConfigOrReport(values.config, io);
    if (!config) return EXIT_CONFIG;
    const secretSource = config.security.secret ? "set in the config" : "generated into the data dir at first start";
    io.stdout(renderEffectiveConfig(config, { secretSource }));
    return 0;
  },
};
