// The audit rows of the config applied at start: one per connection or agent the file created, changed,
// took over (adopted) or removed, so changes made by editing switchboard.toml are in the log like any other.
import type { ConfigAgent, ConfigConnection } from "../../config/schema.ts";
import type { AgentSyncResult } from "../agents/config.ts";
import type { SyncResult } from "../connections/config.ts";
import { maskSecrets } from "./mask.ts";
import type { AuditRecord, AuditSink } from "./types.ts";

type Applied = { id: string; slug: string };

/** The rows for one kind of thing: created ones, rewritten ones (adopted if the admin had made it), removed ones. */
function rowsFor(
  noun: "CONNECTION" | "AGENT",
  result: { changed: Applied[]; created: string[]; removed: string[]; adopted: string[] },
  declared: readonly { slug: string }[],
  now: Date,
): AuditRecord[] {
  const base = { at: now, face: "config", actor: { userId: null, credentialKind: "config", credentialId: null }, address: null, outcome: "ok" } as const;
  const bySlug = new Map(declared.map((d) => [d.slug, d]));
  const rows: AuditRecord[] = result.changed.map((thing) => {
    const created = result.created.includes(thing.id);
    const event = created ? "created" : result.adopted.includes(thing.slug) ? "adopted" : "changed";
    // The declared entry as the file says it, its token, headers and env masked.
    return { ...base, action: `${noun}_${created ? "CREATE" : "UPDATE"}`, targetId: thing.id, change: { event, declared: maskSecrets(bySlug.get(thing.slug) ?? { slug: thing.slug }) } };
  });
  for (const id of result.removed) rows.push({ ...base, action: `${noun}_DELETE`, targetId: id, change: { event: "removed" } });
  return rows;
}

/** Writes one audit row per connection the config changed at this start (none when the file changed nothing). */
export function auditConfigConnections(audit: AuditSink, applied: SyncResult, declared: readonly ConfigConnection[], now = new Date()): number {
  const rows = rowsFor("CONNECTION", applied, declared, now);
  for (const row of rows) audit.record(row);
  return rows.length;
}

/** Writes one audit row per agent the config changed at this start. */
export function auditConfigAgents(audit: AuditSink, applied: AgentSyncResult, declared: readonly ConfigAgent[], now = new Date()): number {
  const rows = rowsFor("AGENT", applied, declared, now);
  for (const row of rows) audit.record(row);
  return rows.length;
}
