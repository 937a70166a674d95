// The Users page and the section htmx swaps after every change (add, change role, remove).
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { UserView } from "../src/operations/shapes.ts";
import { AdminLayout } from "./layout.tsx";

type SectionProps = {
  users: UserView[];
  viewer: User;
  message?: { kind: "ok" | "error"; text: string };
  /** After a refused add: what was typed (never the password). */
  values?: { email?: string; role?: string };
};

/** The list with its actions (for admins) and the add form; the unit htmx replaces. */
export function UsersSection(props: SectionProps) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <section id="users-section">
      <div id="users-message">
        {props.message && <div class={`alert ${props.message.kind}`} role={props.message.kind === "error" ? "alert" : "status"}>{props.message.text}</div>}
      </div>
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
                  <form class="inline" method="post" action={`/admin/users/${user.id}/role`} hx-post={`/admin/users/${user.id}/role`} hx-target="#users-section" hx-swap="outerHTML">
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
              <td>{user.created_at.slice(0, 10)}</td>
              {isAdmin && (
                <td>
                  <form class="inline" method="post" action={`/admin/users/${user.id}/delete`} hx-post={`/admin/users/${user.id}/delete`} hx-target="#users-section" hx-swap="outerHTML" hx-confirm={`Remove ${user.email}? Their sessions end at once.`}>
                    <button class="danger" type="submit">Remove</button>
                  </form>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {isAdmin && (
        <form class="panel" method="post" action="/admin/users" hx-post="/admin/users" hx-target="#users-section" hx-swap="outerHTML" style="margin-top:18px">
          <h2 style="margin-top:0">Add a user</h2>
          <div class="row">
            <div><label for="new-email">Email</label><input id="new-email" name="email" type="email" value={props.values?.email ?? ""} required /></div>
            <div><label for="new-role">Role</label>
              <select id="new-role" name="role"><option value="member">member</option><option value="admin" selected={props.values?.role === "admin"}>admin</option></select>
            </div>
            <div><label for="new-password">Password (10+ characters)</label><input id="new-password" name="password" type="password" autocomplete="new-password" minlength={10} required /></div>
            <div><button type="submit">Add user</button></div>
          </div>
        </form>
      )}
      {!isAdmin && <p class="muted">Only admins can add, remove or change the role of users.</p>}
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
