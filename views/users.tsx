// The Users page and the section htmx swaps after every change: the list, pending invites, the invite
// form with its one-time link, and (folded, secondary) adding a user with a password.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { InviteView } from "../src/operations/users.ts";
import type { UserView } from "../src/operations/shapes.ts";
import { Alert, type Message } from "./alert.tsx";
import { isoDay } from "./format.ts";
import { AdminLayout } from "./layout.tsx";

/** Which form a message answers: it is shown beside that form. */
export type MessageSource = "table" | "invites" | "invite" | "add";

/** An invite just created: its link, shown this once. */
export type IssuedInvite = { email: string; role: string; url: string; expiresAt: string };

export type SectionProps = {
  users: UserView[];
  /** Pending invites; null for a viewer who may not list them. */
  invites: InviteView[] | null;
  viewer: User;
  message?: Message & { source: MessageSource };
  issued?: IssuedInvite;
  /** After a refused invite or add: what was typed (never a password). */
  values?: { email?: string; role?: string };
};

function messageFor(props: SectionProps, source: MessageSource): Message | undefined {
  return props.message?.source === source ? props.message : undefined;
}

function RoleSelect(props: { id: string; selected?: string }) {
  return (
    <select id={props.id} name="role">
      <option value="member">member</option>
      <option value="admin" selected={props.selected === "admin"}>admin</option>
    </select>
  );
}

/** The one-time link of an invite just created, with a copy button; it is never shown again. */
function IssuedInvitePanel(props: { issued: IssuedInvite }) {
  return (
    <div class="panel invite-issued" id="invite-issued" role="region" data-reveal aria-labelledby="invite-issued-title">
      <h3 id="invite-issued-title">Invite link for {props.issued.email} ({props.issued.role})</h3>
      <p>Send this link to them. <strong>It is shown only now</strong>, works once, and expires on {isoDay(props.issued.expiresAt)}.</p>
      <div class="row invite-link-row">
        <code id="invite-link" class="token">{props.issued.url}</code>
        <button type="button" class="secondary" data-copy="#invite-link">Copy link</button>
      </div>
    </div>
  );
}

function UsersTable(props: SectionProps) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <div class="table-scroll">
      <table>
        <thead>
          <tr><th>Email</th><th>Role</th><th>Created</th>{isAdmin && <th>Actions</th>}</tr>
        </thead>
        <tbody>
          {props.users.map((user) => (
            <tr id={`user-${user.id}`}>
              <td>{user.email}{user.id === props.viewer.id && <span class="muted"> (you)</span>}</td>
              <td>
                {isAdmin ? (
                  <form class="inline" method="post" action={`/admin/users/${user.id}/role`} hx-post={`/admin/users/${user.id}/role`} hx-target="#users-section" hx-swap="outerHTML" data-busy="Saving…">
                    <select name="role" aria-label={`Role of ${user.email}`}>
                      <option value="admin" selected={user.role === "admin"}>admin</option>
                      <option value="member" selected={user.role === "member"}>member</option>
                    </select>
                    <button class="secondary" type="submit">Save</button>
                  </form>
                ) : (
                  <span class={`badge ${user.role}`}>{user.role}</span>
                )}
              </td>
              <td>{isoDay(user.created_at)}</td>
              {isAdmin && (
                <td>
                  <form class="inline" method="post" action={`/admin/users/${user.id}/delete`} hx-post={`/admin/users/${user.id}/delete`} hx-target="#users-section" hx-swap="outerHTML" hx-confirm={`Remove ${user.email}? Their sessions end at once.`} data-busy="Removing…">
                    <button class="danger" type="submit">Remove</button>
                  </form>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PendingInvites(props: { invites: InviteView[] }) {
  if (props.invites.length === 0) return <p class="muted" id="no-invites">No pending invites.</p>;
  return (
    <div class="table-scroll">
      <table id="pending-invites">
        <thead>
          <tr><th>Email</th><th>Role</th><th>Invited by</th><th>Expires</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {props.invites.map((invite) => (
            <tr id={`invite-${invite.id}`}>
              <td>{invite.email}</td>
              <td><span class={`badge ${invite.role}`}>{invite.role}</span></td>
              <td>{invite.invited_by?.email ?? "—"}</td>
              <td>{isoDay(invite.expires_at)}</td>
              <td>
                <form class="inline" method="post" action={`/admin/users/invites/${invite.id}/revoke`} hx-post={`/admin/users/invites/${invite.id}/revoke`} hx-target="#users-section" hx-swap="outerHTML" hx-confirm={`Revoke the invite for ${invite.email}? Its link stops working at once.`} data-busy="Revoking…">
                  <button class="danger" type="submit">Revoke</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The invite form (the primary way to add someone) and, beside it, the link of the invite just made. */
function InviteForm(props: SectionProps) {
  const values = props.message?.source === "invite" ? props.values : undefined;
  return (
    <form class="panel invite-form" method="post" action="/admin/users/invites" hx-post="/admin/users/invites" hx-target="#users-section" hx-swap="outerHTML" data-busy="Creating…">
      <h2>Invite a user</h2>
      <p class="muted">They get a one-time link, valid 7 days, where they choose their own password.</p>
      <div id="invite-message" aria-live="polite"><Alert message={messageFor(props, "invite")} reveal /></div>
      <div class="row">
        <div><label for="invite-email">Email</label><input id="invite-email" name="email" type="email" value={values?.email ?? ""} required /></div>
        <div><label for="invite-role">Role</label><RoleSelect id="invite-role" selected={values?.role} /></div>
        <div><button type="submit">Create invite link</button></div>
      </div>
      {props.issued && <IssuedInvitePanel issued={props.issued} />}
    </form>
  );
}

/** Adding a user with a password typed by the admin: kept for admins, folded, after the invite. */
function AddWithPassword(props: SectionProps) {
  const message = messageFor(props, "add");
  const values = message ? props.values : undefined;
  return (
    <details class="panel add-user" open={message !== undefined}>
      <summary>Add a user with a password</summary>
      <p class="muted">For when an invite link cannot be sent: you choose their password and tell it to them.</p>
      <form method="post" action="/admin/users" hx-post="/admin/users" hx-target="#users-section" hx-swap="outerHTML" data-busy="Adding…">
        <div id="users-add-message" aria-live="polite"><Alert message={message} reveal /></div>
        <div class="row">
          <div><label for="new-email">Email</label><input id="new-email" name="email" type="email" value={values?.email ?? ""} required /></div>
          <div><label for="new-role">Role</label><RoleSelect id="new-role" selected={values?.role} /></div>
          <div><label for="new-password">Password (10+ characters)</label><input id="new-password" name="password" type="password" autocomplete="new-password" minlength={10} required /></div>
          <div><button type="submit">Add user</button></div>
        </div>
      </form>
    </details>
  );
}

/** The list with its actions (for admins), pending invites, the invite and add forms; the unit htmx replaces. */
export function UsersSection(props: SectionProps) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <section id="users-section">
      <div id="users-message" aria-live="polite"><Alert message={messageFor(props, "table")} reveal /></div>
      <UsersTable {...props} />
      {isAdmin && props.invites !== null && (
        <>
          <h2>Pending invites</h2>
          <div id="invites-message" aria-live="polite"><Alert message={messageFor(props, "invites")} reveal /></div>
          <PendingInvites invites={props.invites} />
        </>
      )}
      {isAdmin && <InviteForm {...props} />}
      {isAdmin && <AddWithPassword {...props} />}
      {!isAdmin && <p class="muted">Only admins can invite, add, remove or change the role of users.</p>}
    </section>
  );
}

export function UsersPage(props: SectionProps) {
  return (
    <AdminLayout title="Users" user={props.viewer} active="users">
      <UsersSection {...props} />
    </AdminLayout>
  );
}
