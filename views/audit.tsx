// The Audit page: every change through any face, newest first, with filters htmx applies without a
// reload, "Older" pages by cursor, and each row's masked change; plus the section htmx swaps.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { AuditRowView } from "../src/operations/audit.ts";
import { AdminLayout } from "./layout.tsx";

/** The filters as the form and the URL carry them (strings, "" for none). */
export type AuditFilters = { action: string; user_id: string; face: string; range: string };

export type AuditProps = {
  viewer: User;
  rows: AuditRowView[];
  filters: AuditFilters;
  /** The cursor of the next (older) page, or null at the end. */
  nextCursor: string | null;
  /** Whether this page was reached through "Older" (so "Newest" is offered). */
  paged: boolean;
  /** People to filter by: admins only (a member's rows are their own anyway), else null. */
  users: { id: string; email: string }[] | null;
};

const FACE_LABEL: Record<string, string> = { mcp: "MCP", api: "REST", admin: "admin", cli: "CLI", config: "config" };
const OUTCOME_CLASS: Record<string, string> = { ok: "state-connected", refused: "state-connecting", error: "state-error" };
const RANGES = [["", "All time"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]] as const;

/** The page's URL for these filters (and a cursor): what "Older" links to and what htmx pushes. */
export function auditUrl(filters: AuditFilters, cursor?: string | null): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value !== "") query.set(name, value);
  if (cursor) query.set("cursor", cursor);
  const text = query.toString();
  return text === "" ? "/admin/audit" : `/admin/audit?${text}`;
}

/** Where a target's admin page is, by its id's prefix. */
function targetHref(id: string): string | null {
  if (id.startsWith("conn_")) return `/admin/connections/${encodeURIComponent(id)}`;
  if (id.startsWith("agent_")) return `/admin/agents/${encodeURIComponent(id)}`;
  if (id.startsWith("key_")) return "/admin/keys";
  if (id.startsWith("user_")) return "/admin/users";
  if (id.startsWith("grant_")) return "/admin/apps";
  return null;
}

function Who(props: { row: AuditRowView }) {
  const a = props.row.actor;
  const person = a.credential_kind === "config" ? "config file" : a.user_id === null ? (a.credential_kind === "host" ? "host (CLI)" : "unknown") : (a.user_email ?? a.user_id);
  return (
    <span>
      {person}
      {a.credential_id !== null && <div class="muted small">{a.credential_kind === "oauth" ? "app" : "key"} <code>{a.credential_id}</code></div>}
    </span>
  );
}

function Target(props: { id: string | null; exists: boolean | null }) {
  if (props.id === null) return <span class="muted">—</span>;
  const href = props.exists === true ? targetHref(props.id) : null;
  return href ? <a href={href}><code>{props.id}</code></a> : <code>{props.id}</code>;
}

function Filters(props: AuditProps) {
  const f = props.filters;
  return (
    <form class="panel row" id="audit-filters" method="get" action="/admin/audit" hx-get="/admin/audit" hx-target="#audit-section" hx-swap="outerHTML" hx-push-url="true" hx-trigger="submit, change">
      <div>
        <label for="audit-action">Action</label>
        <input id="audit-action" name="action" value={f.action} placeholder="CONNECTION_UPDATE" />
      </div>
      {props.users && (
        <div>
          <label for="audit-user">User</label>
          <select id="audit-user" name="user_id">
            <option value="">Everyone</option>
            {props.users.map((u) => <option value={u.id} selected={u.id === f.user_id}>{u.email}</option>)}
          </select>
        </div>
      )}
      <div>
        <label for="audit-face">Through</label>
        <select id="audit-face" name="face">
          <option value="">Any face</option>
          {Object.entries(FACE_LABEL).map(([value, label]) => <option value={value} selected={value === f.face}>{label}</option>)}
        </select>
      </div>
      <div>
        <label for="audit-range">When</label>
        <select id="audit-range" name="range">
          {RANGES.map(([value, label]) => <option value={value} selected={value === f.range}>{label}</option>)}
        </select>
      </div>
      <div>
        <button type="submit">Filter</button>
      </div>
    </form>
  );
}

/** The table and its paging: what the filters and "Older" swap. */
export function AuditSection(props: AuditProps) {
  return (
    <div id="audit-section">
      {props.rows.length === 0 ? (
        <p class="muted" id="no-audit">No changes recorded{props.paged ? " past this point" : " for these filters"}.</p>
      ) : (
        <div class="table-scroll"><table id="audit" class="compact">
          <thead>
            <tr><th>When</th><th>Who</th><th>Through</th><th>Action</th><th>Target</th><th>Outcome</th><th>From</th><th>Change</th></tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr id={`audit-${r.id}`}>
                <td><time datetime={r.at}>{r.at.slice(0, 19).replace("T", " ")}</time></td>
                <td><Who row={r} /></td>
                <td>{FACE_LABEL[r.face] ?? r.face}</td>
                <td><code>{r.action}</code></td>
                <td><Target id={r.target_id} exists={r.target_exists} /></td>
                <td><span class={`badge ${OUTCOME_CLASS[r.outcome] ?? ""}`}>{r.outcome}</span></td>
                <td>{r.address ?? <span class="muted">—</span>}</td>
                <td>
                  <details class="snippet">
                    <summary>change</summary>
                    <pre>{JSON.stringify(r.change, null, 2)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
      <p class="row">
        {props.paged && <a href={auditUrl(props.filters)} hx-get={auditUrl(props.filters)} hx-target="#audit-section" hx-swap="outerHTML" hx-push-url="true">Newest</a>}
        {props.nextCursor && (
          <a id="audit-older" href={auditUrl(props.filters, props.nextCursor)} hx-get={auditUrl(props.filters, props.nextCursor)} hx-target="#audit-section" hx-swap="outerHTML" hx-push-url="true">
            Older
          </a>
        )}
      </p>
    </div>
  );
}

export function AuditPage(props: AuditProps) {
  return (
    <AdminLayout title="Audit log" user={props.viewer} active="audit">
      <p class="muted">
        Every change through the admin, MCP, REST, the CLI and the config file, with who made it and from where. Secret values
        are masked. {props.viewer.role === "admin" ? "You see everyone's changes." : "You see the changes you made."}
      </p>
      <Filters {...props} />
      <AuditSection {...props} />
    </AdminLayout>
  );
}
