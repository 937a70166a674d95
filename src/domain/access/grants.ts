// Grants that outlive their target: when a connection or agent is deleted (through any face, or by
// removal from switchboard.toml), every key loses its entry for it in the same transaction. Config ids
// derive from slugs, so a different server declared later under the old slug would otherwise silently
// inherit every grant made on the old one. OAuth grants (and codes not yet exchanged) for it go too.
import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { tables } from "../../db/store.ts";

/**
 * Removes `resource` (a conn_… or agent_… id) from every key's permissions, and deletes the OAuth grants
 * and codes for it; returns the ids of the keys changed. A key left with no permissions at all is kept,
 * as `{}`: it grants nothing, and its owner still sees it (and may re-grant or revoke it) rather than
 * finding it gone.
 */
export async function removeGrantsOn(db: Db, resource: string, now = new Date()): Promise<string[]> {
  const { apiKeys, oauthCodes, oauthGrants } = tables(db);
  // The JSON text names the id in quotes wherever it is a key; the exact check is done below. LIKE on
  // the column cast to text reads the same on both engines (SQLite's JSON text, PostgreSQL's jsonb
  // printed); SQLite's LIKE ignores ASCII case, which only lets more candidates through.
  const candidates = await db
    .select({ id: apiKeys.id, permissions: apiKeys.permissions })
    .from(apiKeys)
    .where(sql`cast(${apiKeys.permissions} as text) like ${`%${likeEscaped(JSON.stringify(resource))}%`} escape '!'`);
  const changed: string[] = [];
  for (const key of candidates) {
    if (!Object.hasOwn(key.permissions, resource)) continue;
    const { [resource]: _removed, ...kept } = key.permissions;
    await db.update(apiKeys).set({ permissions: kept, updatedAt: now }).where(eq(apiKeys.id, key.id));
    changed.push(key.id);
  }
  // An OAuth grant names exactly one resource, so it cannot be narrowed: it ends, with its tokens.
  await db.delete(oauthGrants).where(eq(oauthGrants.resource, resource));
  await db.delete(oauthCodes).where(eq(oauthCodes.resource, resource));
  return changed;
}

/** `text` with LIKE's wildcards and its escape character escaped (`!` is the escape: no quoting rules differ for it). */
function likeEscaped(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}
