#!/usr/bin/env bun
// Entry point of the switchboard executable.
import { runCli } from "./cli/main.ts";
import { processIo } from "./cli/io.ts";

try {
  const code = await runCli(process.argv.slice(2), processIo());
  process.exit(code);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
