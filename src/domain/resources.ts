// Which resources a key's permissions may name: connections and agents that exist now.
import type { Db } from "../db/client.ts";
import { agentExists } from "./agents/agents.ts";
import { connectionExists } from "./connections/connections.ts";
import { AGENT_ID, CONNECTION_ID } from "./access/permissions.ts";

/** Whether `resource` is the id of an existing connection or agent (the server and the CLI use this). */
export function resourceExistsIn(db: Db): (resource: string) => Promise<boolean> {
  return async (resource) =>
    (CONNECTION_ID.test(resource) && (await connectionExists(db, resource))) || (AGENT_ID.test(resource) && (await agentExists(db, resource)));
}
