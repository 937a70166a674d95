// How the CLI runs management operations: the same registry as /mcp/self, /api/v1 and the admin, with
// the database it opened, no running gateway, and the secret read only by an operation that needs it.
import type { z } from "zod";
import type { Config } from "../config/load.ts";
import type { DbHandle } from "../db/client.ts";
import { resourceExistsIn } from "../domain/resources.ts";
import { silentLogger } from "../logger.ts";
import { OFFLINE_AGENTS } from "../operations/agents.ts";
import { OFFLINE_GATEWAY } from "../operations/connections.ts";
import { CATALOG } from "../operations/index.ts";
import type { Caller } from "../domain/access/caller.ts";
import { hostCaller, runOperation, type ObjectSchema, type Operation, type OperationDeps } from "../operations/registry.ts";
import { deriveKeys, type ServerKeys } from "../security/keys.ts";
import { loadOrCreateSecret } from "../security/secret.ts";

/** Runs operations for the CLI; `caller` defaults to the host (an admin's powers, see hostCaller). */
export type HostRunner = <I extends ObjectSchema, O extends ObjectSchema>(op: Operation<I, O>, input: unknown, caller?: Caller) => Promise<z.output<O>>;

export function hostRunner(config: Config, handle: DbHandle): HostRunner {
  let keys: ServerKeys | undefined;
  const deps: OperationDeps = {
    db: handle.db,
    // Listing or revoking keys needs no secret: it is read (or created, on a fresh data directory) only
    // when an operation mints a token, as before operations served the CLI.
    get keys(): ServerKeys {
      keys ??= deriveKeys(loadOrCreateSecret({ configured: config.security.secret, dataDir: config.dataDir }));
      return keys;
    },
    config,
    logger: silentLogger,
    catalog: CATALOG,
    resourceExists: resourceExistsIn(handle.db),
    gateway: OFFLINE_GATEWAY,
    agents: OFFLINE_AGENTS,
  };
  return (op, input, caller = hostCaller(CATALOG)) => runOperation(op, { deps, caller, now: new Date() }, input);
}
