// `switchboard user create|reset-password`: manage admin users from the shell (passwords from stdin).
import { resetPassword } from "../../domain/access/users.ts";
import { userCreate } from "../../operations/users.ts";
import { parseFlags } from "../args.ts";
import { recordHostChange, hostRunner } from "../host.ts";
import { UsageError, type Command, type CliIo } from "../io.ts";
import { CONFIG_FLAG, CONFIG_HELP, EXIT_CONFIG, loadConfigOrReport, withDatabase } from "../shared.ts";

const HELP = `Usage:
  switchboard user create --email EMAIL --role admin|member --password-stdin [--config FILE]
  switchboard user reset-password --email EMAIL --password-stdin [--config FILE]

create          adds a user who signs in to the admin with EMAIL and the password read from stdin
reset-password  sets a new password (read from stdin) and ends all of the user's sessions

The password is read from standard input (one line; at least 10 characters), never from an
argument, so it stays out of shell history and process lists:
  printf '%s' "$PASSWORD" | switchboard user create --email me@example.com --role admin --password-stdin

Options:
  -e, --email EMAIL     the user's email
  -r, --role ROLE       admin or member (create only)
      --password-stdin  read the password from stdin (required)
${CONFIG_HELP}
  -h, --help            show this help`;

async function readPassword(io: CliIo): Promise<string> {
  const text = await io.readStdin();
  return text.replace(/\r?\n$/, "");
}

export const userCommand: Command = {
  name: "user",
  summary: "Create a user or reset a password",
  help: HELP,
  async run(args, io) {
    const [action, ...rest] = args;
    if (action === undefined || action === "-h" || action === "--help") {
      io.stdout(HELP + "\n");
      return action === undefined ? 2 : 0;
    }
    if (action !== "create" && action !== "reset-password") throw new UsageError(`unknown action ${JSON.stringify(action)} (expected create or reset-password)`);
    const { values } = parseFlags(rest, {
      ...CONFIG_FLAG,
      email: { type: "string", short: "e" },
      role: { type: "string", short: "r" },
      "password-stdin": { type: "boolean" },
    });
    if (values.help) {
      io.stdout(HELP + "\n");
      return 0;
    }
    if (!values.email) throw new UsageError("--email is required");
    if (!values["password-stdin"]) throw new UsageError("--password-stdin is required (passwords are never taken as arguments)");
    if (action === "create" && !values.role) throw new UsageError("--role is required (admin or member)");
    if (action === "reset-password" && values.role) throw new UsageError("--role is not used by reset-password");

    const config = loadConfigOrReport(values.config, io);
    if (!config) return EXIT_CONFIG;
    const password = await readPassword(io);
    const email = values.email;
    return withDatabase(config, io, async (handle) => {
      if (action === "create") {
        const user = await hostRunner(config, handle)(userCreate, { email, role: values.role, password });
        io.stdout(`created ${user.role} ${user.email} (${user.id})\n`);
      } else {
        // No operation resets a password (no face but the host's may): the domain is called directly.
        let user: Awaited<ReturnType<typeof resetPassword>>;
        try {
          user = await resetPassword(handle.db, email, password);
        } catch (err) {
          // A refused reset (no such user, a short password) is in the log too: someone tried it on the host.
          recordHostChange(config, handle, { action: "USER_RESET_PASSWORD", targetId: null, change: { email }, outcome: "error" });
          throw err;
        }
        recordHostChange(config, handle, { action: "USER_RESET_PASSWORD", targetId: user.id, change: { email }, outcome: "ok" });
        io.stdout(`password reset for ${user.email}; their sessions have ended\n`);
      }
      return 0;
    });
  },
};
