// How the CLI runs management operations: the same registry as /mcp/self, /api/v1 and the admin, over
// the dependencies the composition root builds for the host (no running gateway, the secret read only
// by an operation that needs it).
import type { z } from "zod";
import type { Config } from "../config/load.ts";
import type { DbHandle } from "../db/client.ts";
import { buildHostDeps } from "../compose.ts";
import { CATALOG } from "../operations/index.ts";
import type { Caller } from "../domain/access/caller.ts";
import { hostCaller, runOperation, type ObjectSchema, type Operation } from "../operations/registry.ts";

/** Runs operations for the CLI; `caller` defaults to the host (an admin's powers, see hostCaller). */
export type HostRunner = <I extends ObjectSchema, O extends ObjectSchema>(op: Operation<I, O>, input: unknown, caller?: Caller) => Promise<z.output<O>>;

export function hostRunner(config: Config, handle: DbHandle): HostRunner {
  const deps = buildHostDeps(config, handle);
  return (op, input, caller = hostCaller(CATALOG)) => runOperation(op, { deps, caller, now: new Date() }, input);
}
