// Connections declared in switchboard.toml ([[connections]]): written to the database at every start
// with an id derived from the slug, so keys granted on them survive restarts, a fresh database and a
// second server with the same file; removed from the database when removed from the file.
import { eq } from "drizzle-orm";
import { tables, transaction } from "../../db/store.ts";
import type { ConfigConnection } from "../../config/schema.ts";
import { nameBasedUuid } from "../derived-id.ts";
import {
  createConnection,
  deleteConnection,
  getConnection,
  newConnectionFields,
  updateConnection,
  type Connection,
  type ConnectionFields,
  type ConnectionStore,
} from "./connections.ts";

/** The id of the connection the config declares with this slug: conn_ + a UUID (version 8) from SHA-256. */
export function configConnectionId(slug: string): string {
  return `conn_${nameBasedUuid(`switchboard/config-connection/${slug}`)}`;
}

function fieldsOf(c: ConfigConnection): ConnectionFields {
  return newConnectionFields({
    slug: c.slug,
    title: c.title ?? c.slug,
    description: c.description,
    transport: c.transport,
    enabled: c.enabled,
    url: c.url ?? null,
    token: c.token ?? null,
    headers: c.headers,
    command: c.command ?? null,
    args: c.args,
    cwd: c.cwd ?? null,
    env: c.env,
    isolation: c.isolation,
    maxProcesses: c.max_processes ?? null,
    connectTimeoutMs: c.connect_timeout ?? null,
    callTimeoutMs: c.call_timeout ?? null,
    recordPayloads: c.record_payloads,
    auth: c.auth,
    oauthMode: c.oauth_mode ?? "shared",
    oauthClientId: c.oauth_client_id || null,
    oauthClientSecret: c.oauth_client_secret || null,
    oauthScopes: c.oauth_scopes || null,
  });
}

const COMPARED: (keyof ConnectionFields)[] = [
  "title", "description", "transport", "enabled", "url", "token", "headers", "command", "args", "cwd", "env",
  "isolation", "maxProcesses", "connectTimeoutMs", "callTimeoutMs", "recordPayloads",
  "auth", "oauthMode", "oauthClientId", "oauthClientSecret", "oauthScopes",
];

function differs(current: Connection, next: ConnectionFields): boolean {
  // By value, key order aside: PostgreSQL's jsonb stores an object's keys in an order of its own.
  return current.secretsUnreadable || COMPARED.some((key) => !Bun.deepEquals(current[key], next[key]));
}

export type SyncResult = {
  /** Connections created or changed: the gateway should apply them. */
  changed: Connection[];
  /** Ids of the connections among `changed` that did not exist before (the others were rewritten). */
  created: string[];
  /** Ids of connections the file no longer declares, now deleted. */
  removed: string[];
  /** Slugs that belonged to a connection made in the admin, now taken over by the file. */
  adopted: string[];
  /** Keys that lost their grant on a removed connection (a later one under its slug inherits nothing). */
  keysChanged: string[];
};

/**
 * Makes the database match the file: creates or rewrites each declared connection (from_config) and
 * deletes declared ones the file dropped. A connection made in the admin whose slug the file now
 * declares is taken over (keeping its id, so its keys keep working). One transaction.
 */
export async function syncConfigConnections(store: ConnectionStore, declared: readonly ConfigConnection[], now = new Date()): Promise<SyncResult> {
  const result: SyncResult = { changed: [], created: [], removed: [], adopted: [], keysChanged: [] };
  await transaction(store.db, async (tx) => {
    const { connections } = tables(tx);
    const txStore = { ...store, db: tx };
    const slugs = new Set(declared.map((c) => c.slug));
    for (const row of await tx.select({ id: connections.id, slug: connections.slug }).from(connections).where(eq(connections.fromConfig, true))) {
      if (!slugs.has(row.slug)) {
        result.keysChanged.push(...(await deleteConnection(txStore, row.id, { fromConfig: true })).keysChanged);
        result.removed.push(row.id);
      }
    }
    for (const declaredConnection of declared) {
      const fields = fieldsOf(declaredConnection);
      const current = await getConnection(txStore, fields.slug);
      if (!current) {
        result.changed.push(await createConnection(txStore, fields, { now, id: configConnectionId(fields.slug), fromConfig: true }));
        result.created.push(configConnectionId(fields.slug));
      } else if (!current.fromConfig || differs(current, fields)) {
        if (!current.fromConfig) result.adopted.push(fields.slug);
        result.changed.push(await updateConnection(txStore, current.id, fields, { now, fromConfig: true }));
      }
    }
  });
  return result;
}
