// `switchboard key create|list|revoke`: API keys from the shell, for bootstrapping scripts and CI.
import { findUserByEmail } from "../../domain/access/users.ts";
import { apiKeyCreate, apiKeyDelete, apiKeyList } from "../../operations/api-keys.ts";
import { CATALOG } from "../../operations/index.ts";
import { sessionCaller } from "../../operations/registry.ts";
import { parseFlags } from "../args.ts";
import { hostRunner } from "../host.ts";
import { UsageError, type Command } from "../io.ts";
import { CONFIG_FLAG, CONFIG_HELP, EXIT_CONFIG, loadConfigOrReport, withDatabase } from "../shared.ts";

const HELP = `Usage:
  switchboard key create --name NAME --owner EMAIL --permissions JSON [--expires DURATION] [--json]
  switchboard key list [--owner EMAIL] [--json]
  switchboard key revoke ID

create  creates an API key owned by the user with EMAIL and prints only the token on stdout
        (shown this once; --json prints the key record and the token as JSON instead). The key
        can never exceed its owner: a member's key gets no admin-only management tools.
list    lists keys (id, name, prefix, owner, permissions, last used, expiry); never tokens
revoke  deletes the key; its token stops working on the very next request

Permissions are JSON, {resource: [actions]}:
  '{"self": ["*"]}'                     every management tool the owner may use
  '{"self": ["WHOAMI", "API_KEY_LIST"]}' just these management tools

Examples:
  TOKEN=$(switchboard key create --name ci --owner admin@example.com --permissions '{"self":["WHOAMI"]}' --expires 30d)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8787/api/v1/whoami

Options:
  -n, --name NAME           what the key is for
  -o, --owner EMAIL         the user who owns the key
  -p, --permissions JSON    the key's permissions
  -e, --expires DURATION    lifetime, e.g. 30d or 12h (default: never expires)
      --json                print JSON
${CONFIG_HELP}
  -h, --help                show this help`;

export const keyCommand: Command = {
  name: "key",
  summary: "Create, list or revoke API keys",
  help: HELP,
  async run(args, io) {
    const [action, ...rest] = args;
    if (action === undefined) {
      io.stderr(HELP + "\n");
      return 2;
    }
    if (action !== "create" && action !== "list" && action !== "revoke") throw new UsageError(`unknown action ${JSON.stringify(action)} (expected create, list or revoke)`);
    const { values, positionals } = parseFlags(
      rest,
      {
        ...CONFIG_FLAG,
        name: { type: "string", short: "n" },
        owner: { type: "string", short: "o" },
        permissions: { type: "string", short: "p" },
        expires: { type: "string", short: "e" },
        json: { type: "boolean" },
      },
      action === "revoke" ? 1 : 0,
    );
    let permissions: unknown;
    if (action === "create") {
      if (!values.name) throw new UsageError("--name is required");
      if (!values.owner) throw new UsageError("--owner is required");
      if (!values.permissions) throw new UsageError("--permissions is required");
      try {
        permissions = JSON.parse(values.permissions);
      } catch {
        throw new UsageError("--permissions is not valid JSON");
      }
    }
    if (action === "revoke" && !positionals[0]) throw new UsageError("the key ID is required");

    const config = loadConfigOrReport(values.config, io);
    if (!config) return EXIT_CONFIG;
    return withDatabase(config, io, async (handle) => {
      const owner = values.owner ? await findUserByEmail(handle.db, values.owner) : null;
      if (values.owner && !owner) {
        io.stderr(`error: no user with email ${values.owner}\n`);
        return 1;
      }
      const run = hostRunner(config, handle);
      if (action === "create") {
        // The owner is the caller: the key is capped by what the owner's role may grant.
        const result = await run(apiKeyCreate, { name: values.name, permissions, ...(values.expires ? { expires_in: values.expires } : {}) }, sessionCaller(owner!, CATALOG));
        io.stdout(values.json ? JSON.stringify(result, null, 2) + "\n" : `${result.token}\n`);
      } else if (action === "list") {
        const { keys } = await run(apiKeyList, owner ? { owner_id: owner.id } : {});
        if (values.json) io.stdout(JSON.stringify({ keys }, null, 2) + "\n");
        else if (keys.length === 0) io.stdout("no API keys\n");
        else {
          for (const k of keys) {
            io.stdout(
              `${k.id}  ${k.prefix}…  ${JSON.stringify(k.name)}  owner=${k.owner.email}  permissions=${JSON.stringify(k.permissions)}  ` +
                `last_used=${k.last_used_at ?? "never"}  expires=${k.expires_at ?? "never"}\n`,
            );
          }
        }
      } else {
        await run(apiKeyDelete, { id: positionals[0] });
        io.stdout(`revoked ${positionals[0]}\n`);
      }
      return 0;
    });
  },
};
