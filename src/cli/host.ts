// How the CLI runs management operations: the same registry as /mcp/self, /api/v1 and the admin, over
// the dependencies the composition root builds for the host (no running gateway, the secret read only
// by an operation that needs it).
import type { z } from "zod";
import type { Config } from "../config/load.ts";
import type { DbHandle } from "../db/client.ts";
import { buildHostDeps } from "../compose.ts";
import { CATALOG } from "../operations/index.ts";
import type { Caller } from "../domain/access/caller.ts";
import type { AuditRecord } from "../domain/monitoring/types.ts";
import { hostCaller, runOperation, type ObjectSchema, type Operation } from "../operations/registry.ts";

/** Runs operations for the CLI; `caller` defaults to the host (an admin's powers, see hostCaller). */
export type HostRunner = <I extends ObjectSchema, O extends ObjectSchema>(op: Operation<I, O>, input: unknown, caller?: Caller) => Promise<z.output<O>>;

/**
 * Records a change the host made without an operation (`user reset-password`): face "cli", the host as
 * actor, no address. Written to the same database the server reads.
 */
export function recordHostChange(config: Config, handle: DbHandle, change: Pick<AuditRecord, "action" | "targetId" | "change" | "outcome">): void {
  buildHostDeps(config, handle).audit.record({ at: new Date(), face: "cli", actor: { userId: null, credentialKind: "host", credentialId: null }, address: null, ...change });
}

export function hostRunner(config: Config, handle: DbHandle): HostRunner {
  const deps = buildHostDeps(config, handle);
  return (op, input, caller = hostCaller(CATALOG)) => runOperation(op, { deps, caller, now: new Date(), origin: { face: "cli", address: null } }, input);
}
