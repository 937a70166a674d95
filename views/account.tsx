// The account page of the signed-in user: who they are, and changing their own password.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { Alert, type Message } from "./alert.tsx";
import { AdminLayout } from "./layout.tsx";

export function AccountPage(props: { user: User; message?: Message }) {
  return (
    <AdminLayout title="Your account" user={props.user} active="account">
      <div class="panel">
        <dl class="kv">
          <dt>Email</dt><dd id="account-email">{props.user.email}</dd>
          <dt>Role</dt><dd><span class={`badge ${props.user.role}`}>{props.user.role}</span></dd>
        </dl>
      </div>
      <form class="panel account-password" method="post" action="/admin/account/password" data-busy="Changing…">
        <h2>Change your password</h2>
        <p class="muted">Your other sessions end when it changes; this browser stays signed in.</p>
        {/* A password change is no revocation: say where to end the access that outlives it. */}
        <p class="muted" id="password-not-revoking">
          Apps you authorized over OAuth and your API keys keep working: revoke them under <a href="/admin/apps">Authorized apps</a> and <a href="/admin/keys">API keys</a>.
        </p>
        <div id="password-message" aria-live="polite"><Alert message={props.message} reveal /></div>
        {/* For password managers: the account the new password belongs to. */}
        <input type="email" name="username" autocomplete="username" value={props.user.email} hidden readonly />
        <label for="current-password">Current password</label>
        <input id="current-password" name="current" type="password" autocomplete="current-password" required />
        <label for="new-password">New password (at least 10 characters)</label>
        <input id="new-password" name="password" type="password" autocomplete="new-password" minlength={10} required />
        <label for="confirm-password">Repeat the new password</label>
        <input id="confirm-password" name="confirm" type="password" autocomplete="new-password" minlength={10} required data-same-as="#new-password" />
        <div class="form-actions"><button type="submit">Change password</button></div>
      </form>
    </AdminLayout>
  );
}
