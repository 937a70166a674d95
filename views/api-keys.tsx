// The API keys page: the list (grants by name, linked), the create form (which agent first), and the
// one-time token dialog after a create or a rotation.
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { User } from "../src/domain/access/users.ts";
import { Alert, type Message } from "./alert.tsx";
import { isoMinute } from "./format.ts";
import { GrantBuilder, GrantList, type GrantTargets, type Permissions } from "./key-grants.tsx";
import { AdminLayout } from "./layout.tsx";
import { TokenDialog, type IssuedToken } from "./token-dialog.tsx";

export type { GrantTarget, GrantTargets } from "./key-grants.tsx";
export type { IssuedToken } from "./token-dialog.tsx";

export type KeyRow = {
  id: string;
  name: string;
  prefix: string;
  owner: { id: string; email: string };
  permissions: Permissions;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  previous_token_expires_at: string | null;
  /** Unusual activity in the last day (a new address, a new client, an error rate jump), from MONITORING_KEY_ACTIVITY. */
  flags?: string[];
};

export type KeysProps = {
  viewer: User;
  keys: KeyRow[];
  /** Management tools the viewer may grant. */
  grantableTools: string[];
  /** Admins pick the owner. */
  users: { id: string; email: string }[];
  /** The agents and connections grants may name, with their tools. */
  targets: GrantTargets;
  /** An agent or connection whose "all" box starts ticked (from its page's "create a key for this …"). */
  preselect?: string;
  issued?: IssuedToken;
  /** The connection and agent tools could not be listed: the picker is empty, raw JSON still works. */
  pickerFailed?: boolean;
  /** What happened to a key of the list (rotated, revoked), shown above it. */
  message?: Message;
  /** Why the create form was refused, shown beside it. */
  formMessage?: Message;
  /** What the refused create form held. */
  form?: { name?: string; raw?: string; permissions?: Permissions; expiresIn?: string; ownerId?: string };
};

/** "2026-01-02 03:04", or a dash. */
export const EXPIRY_CHOICES: [string, string][] = [["7d", "in 7 days"], ["30d", "in 30 days"], ["90d", "in 90 days"], ["365d", "in a year"]];

function CreateForm(props: KeysProps): Child {
  const isAdmin = props.viewer.role === "admin";
  const owner = props.form?.ownerId ?? props.viewer.id;
  return (
    <form class="panel create-key" id="create-key" method="post" action="/admin/keys" hx-post="/admin/keys" hx-target="#keys-section" hx-swap="outerHTML" data-busy="Creating…">
      <h2>Create an API key</h2>
      <div class="row">
        <div><label for="key-name">Name</label><input id="key-name" name="name" type="text" required maxlength={100} placeholder="CI deploy bot" value={props.form?.name ?? ""} /></div>
        <div>
          <label for="key-expires">Expires</label>
          <select id="key-expires" name="expires_in">
            <option value="">never</option>
            {EXPIRY_CHOICES.map(([value, label]) => <option value={value} selected={props.form?.expiresIn === value}>{label}</option>)}
          </select>
        </div>
        {isAdmin && (
          <div>
            <label for="key-owner">Owner</label>
            <select id="key-owner" name="owner_id">
              {props.users.map((u) => <option value={u.id} selected={u.id === owner}>{u.email}</option>)}
            </select>
          </div>
        )}
      </div>
      <GrantBuilder isAdmin={isAdmin} grantableTools={props.grantableTools} targets={props.targets} pickerFailed={props.pickerFailed} chosen={props.form?.permissions} raw={props.form?.raw} preselect={props.preselect} />
      <div id="create-key-message" aria-live="polite"><Alert message={props.formMessage} reveal={true} /></div>
      <div><button type="submit">Create key</button></div>
    </form>
  );
}

/** What a key is for, and where to start, when there is none yet. */
function EmptyState(): Child {
  return (
    <div class="panel empty-keys" id="keys-empty">
      <h2>No API keys yet</h2>
      <p>
        A key lets a script, a CI job or an MCP client (Claude Code, Cursor, VS Code, …) reach an agent with a header instead of a
        browser sign-in. It holds only what you grant it, can expire, and its token is shown once.
      </p>
      <p>
        <a href="#create-key">Create one below</a>, or open an <a href="/admin/agents">agent</a> and follow "create a key for this agent"
        to start with it chosen.
      </p>
    </div>
  );
}

function KeyTable(props: KeysProps): Child {
  const isAdmin = props.viewer.role === "admin";
  return (
    <div class="table-scroll">
      <table class="keys">
        <thead>
          <tr><th>Name</th>{isAdmin && <th>Owner</th>}<th>Grants</th><th>Last used</th><th>Expires</th><th><span class="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          {props.keys.map((key) => (
            <tr id={`key-${key.id}`}>
              <td>
                <a class="key-name" href={`/admin/keys/${key.id}`}>{key.name}</a>
                {key.flags && key.flags.length > 0 && <> <a class="badge flagged" href={`/admin/keys/${key.id}#activity`} title={key.flags.join(" ")} data-flagged="">unusual activity</a></>}
                <div class="muted small"><code>{key.prefix}…</code> · created {isoMinute(key.created_at)}</div>
              </td>
              {isAdmin && <td>{key.owner.email}</td>}
              <td><GrantList permissions={key.permissions} targets={props.targets} /></td>
              <td>{key.last_used_at ? isoMinute(key.last_used_at) : "never"}</td>
              <td>{key.expires_at ? isoMinute(key.expires_at) : "never"}{key.previous_token_expires_at && <div class="muted small">old token until {isoMinute(key.previous_token_expires_at)}</div>}</td>
              <td class="actions">
                <form class="inline" method="post" action={`/admin/keys/${key.id}/rotate`} hx-post={`/admin/keys/${key.id}/rotate`} hx-target="#keys-section" hx-swap="outerHTML" hx-confirm={`Rotate "${key.name}"? A new token replaces the current one at once (open the key for a grace period).`} data-busy="Rotating…">
                  <button class="secondary" type="submit" aria-label={`Rotate ${key.name}`}>Rotate</button>
                </form>
                <form class="inline" method="post" action={`/admin/keys/${key.id}/delete`} hx-post={`/admin/keys/${key.id}/delete`} hx-target="#keys-section" hx-swap="outerHTML" hx-confirm={`Revoke "${key.name}"? Anything using it stops working at once.`} data-busy="Revoking…">
                  <button class="danger" type="submit" aria-label={`Revoke ${key.name}`}>Revoke</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The list, the create form and the message slot: the unit htmx replaces after every change. */
export function KeysSection(props: KeysProps) {
  return (
    <section id="keys-section">
      {props.issued && <TokenDialog issued={props.issued} />}
      <div id="keys-message" aria-live="polite"><Alert message={props.message} reveal={true} /></div>
      {props.keys.length === 0 ? <EmptyState /> : <KeyTable {...props} />}
      <CreateForm {...props} />
    </section>
  );
}

export function KeysPage(props: KeysProps) {
  return (
    <AdminLayout title="API keys" user={props.viewer} active="keys">
      <p class="muted">
        Keys let scripts, CI and MCP clients reach Switchboard with <code>Authorization: Bearer mcp_key_…</code>.
        {props.viewer.role === "admin" ? " You see every user's keys." : " You see your own keys."}
      </p>
      <KeysSection {...props} />
    </AdminLayout>
  );
}

/** The one-time token alone: shown when the rest of the page fails after a key was issued, so it is never lost. */
export function IssuedTokenSection(props: { issued: IssuedToken }) {
  return (
    <section id="keys-section">
      <TokenDialog issued={props.issued} />
      <div id="keys-message">
        <div class="alert error" role="alert">The key is saved, but the rest of this page could not be shown. Copy the token now, then reload the page.</div>
      </div>
      <p><a href="/admin/keys">Reload the API keys page</a></p>
    </section>
  );
}

export function IssuedTokenPage(props: { viewer: User; issued: IssuedToken }) {
  return (
    <AdminLayout title="API keys" user={props.viewer} active="keys">
      <IssuedTokenSection issued={props.issued} />
    </AdminLayout>
  );
}
