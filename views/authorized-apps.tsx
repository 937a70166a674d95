// The "Authorized apps" page: the OAuth apps people approved (their own; admins everyone's) with a
// Revoke button, and for admins the registered clients with Delete; plus the section htmx swaps.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { OAuthClientView, OAuthGrantView } from "../src/operations/oauth-shapes.ts";
import { Alert } from "./alert.tsx";
import { AdminLayout } from "./layout.tsx";

export type AppsProps = {
  viewer: User;
  grants: OAuthGrantView[];
  /** The registered clients: only for those who may list them (admins), else null. */
  clients: OAuthClientView[] | null;
  /** Whether the viewer may delete clients (follows the registry). */
  mayDeleteClients: boolean;
  message?: { kind: "ok" | "error"; text: string };
};

function minute(iso: string | null): string {
  return iso === null ? "never" : iso.slice(0, 16).replace("T", " ");
}

const KIND_LABEL = { dcr: "registered", cimd: "metadata document" } as const;

/** The agent or connection, linked to its admin page; its id when it no longer exists. */
function ResourceCell(props: { resource: OAuthGrantView["resource"] }) {
  const r = props.resource;
  if (r.slug === null) return <span class="muted">{r.kind} {r.id} (deleted)</span>;
  const href = r.kind === "agent" ? `/admin/agents/${r.id}` : `/admin/connections/${r.id}`;
  return (
    <span>
      <span class="muted small">{r.kind}</span> <a href={href}>{r.title}</a> <code>{r.slug}</code>
    </span>
  );
}

function GrantsTable(props: AppsProps) {
  const everyone = props.viewer.role === "admin";
  if (props.grants.length === 0) return <p class="muted" id="no-grants">No authorized apps yet. When you connect an MCP client with its URL alone and approve it in the browser, it shows here.</p>;
  return (
    <div class="table-scroll"><table id="grants">
      <thead>
        <tr>{everyone && <th>User</th>}<th>App</th><th>Reaches</th><th>Approved</th><th>Last used</th><th>Actions</th></tr>
      </thead>
      <tbody>
        {props.grants.map((g) => (
          <tr id={`grant-${g.id}`}>
            {everyone && <td>{g.user.email}{g.user.id === props.viewer.id && <span class="muted"> (you)</span>}</td>}
            <td>
              {g.client.name} <div class="muted small">{KIND_LABEL[g.client.kind]} · <code>{g.client.id}</code></div>
            </td>
            <td><ResourceCell resource={g.resource} /></td>
            <td>{minute(g.created_at)}</td>
            <td>{minute(g.last_used_at)}{g.last_used_at && <div class="small"><a href={`/admin/keys/${g.id}/activity`}>Activity</a></div>}</td>
            <td class="actions">
              <form class="inline" method="post" action={`/admin/apps/${g.id}/revoke`} hx-post={`/admin/apps/${g.id}/revoke`} hx-target="#apps-section" hx-swap="outerHTML" hx-confirm={`Revoke "${g.client.name}"? It stops working at once and must be approved again.`}>
                <button class="danger" type="submit">Revoke</button>
              </form>
            </td>
          </tr>
        ))}
      </tbody>
    </table></div>
  );
}

function ClientsTable(props: { clients: OAuthClientView[]; mayDelete: boolean }) {
  return (
    <div id="clients">
      <h2>Registered clients</h2>
      <p class="muted">
        Every OAuth client Switchboard knows: those that registered themselves, and those named by a metadata document's URL.
        Names are what the clients say of themselves. Deleting a client revokes every approval of it.
      </p>
      {props.clients.length === 0 ? (
        <p class="muted" id="no-clients">No clients yet.</p>
      ) : (
        <div class="table-scroll"><table>
          <thead>
            <tr><th>Name</th><th>Kind</th><th>Redirect URIs</th><th>Created</th><th>Last used</th>{props.mayDelete && <th>Actions</th>}</tr>
          </thead>
          <tbody>
            {props.clients.map((cl) => (
              <tr class="client-row">
                <td>{cl.name}<div class="muted small"><code>{cl.id}</code></div></td>
                <td>{KIND_LABEL[cl.kind]}</td>
                <td>{cl.redirect_uris.map((uri) => <div><code>{uri}</code></div>)}</td>
                <td>{minute(cl.created_at)}</td>
                <td>{minute(cl.last_used_at)}</td>
                {props.mayDelete && (
                  <td class="actions">
                    {/* The id may be a URL: it travels in the form, not in the path. */}
                    <form class="inline" method="post" action="/admin/apps/clients/delete" hx-post="/admin/apps/clients/delete" hx-target="#apps-section" hx-swap="outerHTML" hx-confirm={`Delete the client "${cl.name}"? Everyone's approvals of it are revoked.`}>
                      <input type="hidden" name="id" value={cl.id} />
                      <button class="danger" type="submit">Delete</button>
                    </form>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
    </div>
  );
}

/** The grants, the clients (admins) and the message slot: the unit htmx replaces after every change. */
export function AppsSection(props: AppsProps) {
  return (
    <section id="apps-section">
      <div id="apps-message">
        <Alert message={props.message} reveal />
      </div>
      <GrantsTable {...props} />
      {props.clients !== null && <ClientsTable clients={props.clients} mayDelete={props.mayDeleteClients} />}
    </section>
  );
}

export function AppsPage(props: AppsProps) {
  return (
    <AdminLayout title="Authorized apps" user={props.viewer} active="apps">
      <p class="muted">
        MCP clients (Claude, ChatGPT, Cursor, VS Code…) that were approved in the browser to reach an agent or a connection.
        {props.viewer.role === "admin" ? " You see everyone's." : " You see your own."} Revoking one stops its tokens on the next request.
      </p>
      <AppsSection {...props} />
    </AdminLayout>
  );
}
