// The server secret: taken from the config, else generated once into the data dir and reused.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const SECRET_FILE = "secret";

/** Returns the configured secret, else the one in `<dataDir>/secret`, creating it (mode 0600) on first use. */
export function loadOrCreateSecret(options: { configured?: string; dataDir: string }): string {
  if (options.configured) return options.configured;
  const path = join(options.dataDir, SECRET_FILE);
  try {
    // "wx" fails if the file exists, so two processes starting at once cannot overwrite each other's secret.
    const fd = openSync(path, "wx", 0o600);
    try {
      writeSync(fd, randomBytes(32).toString("base64url") + "\n");
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new Error(`cannot write the server secret to ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const secret = readFileSync(path, "utf8").trim();
  if (secret.length < 32) throw new Error(`the server secret in ${path} is shorter than 32 characters; delete it to generate a new one`);
  return secret;
}
