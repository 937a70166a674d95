// "Connected accounts": the signed-in user's own account on every per-user OAuth connection, each row
// anchored by the connection's id (the gateway's "connect your account" error links to
// /admin/connected-accounts#<id>), with Connect / Reconnect / Disconnect. Only the user's own links.
// Also the two pages around the authorization server: the step that sends the browser there, and the
// callback's refusal.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { Alert, type Message } from "./alert.tsx";
import { isoMinute } from "./format.ts";
import { DisconnectButton, LinkBadge, noticeMessage, StartButton, type OAuthNotice } from "./connection-oauth.tsx";
import { AdminLayout, BareLayout } from "./layout.tsx";

/** One row of OAUTH_ACCOUNTS_LIST. */
export type AccountView = {
  connection_id: string;
  slug: string;
  title: string;
  state: "not_connected" | "connected" | "needs_reauth";
  account: string | null;
  expires_at: string | null;
  last_error: string | null;
};

export type ConnectedAccountsProps = {
  viewer: User;
  accounts: AccountView[];
  /** After a redirect back: which connection, and what happened (a fixed flag). */
  notice?: { connectionId: string; kind: OAuthNotice };
  /** Why an authorization could not start, beside that connection's buttons. */
  refusal?: { connectionId: string; message: Message };
};

function Row(props: { a: AccountView; message?: Message }) {
  const { a } = props;
  const base = `/admin/connected-accounts/${a.connection_id}`;
  return (
    <tr id={a.connection_id}>
      <td><a href={`/admin/connections/${a.connection_id}`}>{a.title}</a> <div class="muted small"><code>{a.slug}</code></div></td>
      <td>
        <LinkBadge state={a.state} />
        {a.state === "needs_reauth" && (
          <div class="alert warning small" role="alert">Needs re-authorization{a.last_error ? `: ${a.last_error}` : ": its authorization was revoked or expired"}.</div>
        )}
      </td>
      <td>{a.account ?? "—"}</td>
      <td class="small">{isoMinute(a.expires_at)}</td>
      <td>
        <div class="oauth-actions">
          <StartButton action={`${base}/connect`} label={a.state === "not_connected" ? "Connect" : "Reconnect"} />
          {a.state !== "not_connected" && <DisconnectButton action={`${base}/disconnect`} />}
        </div>
        <div class="result-box" aria-live="polite"><Alert message={props.message} reveal /></div>
      </td>
    </tr>
  );
}

export function ConnectedAccountsPage(props: ConnectedAccountsProps) {
  const noticed = props.notice ? props.accounts.find((a) => a.connection_id === props.notice?.connectionId) : undefined;
  const notice = props.notice && noticed ? noticeMessage(props.notice.kind, noticed.state === "not_connected" ? null : noticed) : undefined;
  return (
    <AdminLayout title="Connected accounts" user={props.viewer} active="connected-accounts">
      <p class="muted">
        Some connections act as each user: Switchboard calls them with your own account there, authorized by you. Connect your account
        once; Switchboard keeps it fresh. Calls you make through such a connection (with your API keys, or apps you signed in to) fail
        until you do.
      </p>
      <Alert message={notice} />
      {props.accounts.length === 0 ? (
        <section class="panel empty-state" id="no-accounts">
          <h2>Nothing to connect</h2>
          <p>
            No connection here asks for your own account: every connection either needs no sign-in or uses one account an admin
            authorized for everyone. When an admin adds a connection with OAuth "per user", it shows here.
          </p>
        </section>
      ) : (
        <div class="table-scroll oauth-panel">
          <table class="accounts-table">
            <thead><tr><th>Connection</th><th>State</th><th>Connected as</th><th>Expires</th><th></th></tr></thead>
            <tbody>
              {props.accounts.map((a) => (
                <Row a={a} message={props.refusal?.connectionId === a.connection_id ? props.refusal.message : undefined} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </AdminLayout>
  );
}

/** Where a refused callback sends the user back to (a page of the admin, never the URL's text). */
export type BackLink = { href: string; label: string };

/** The callback refused (or could not finish) an authorization: why, in words a person can act on, and the way back. */
export function AuthorizationFailedPage(props: { viewer: User; message: string; back: BackLink }) {
  return (
    <AdminLayout title="Authorization not completed" user={props.viewer} active="connected-accounts">
      <div class="alert error" role="alert">{props.message}</div>
      <p>Nothing was stored. <a href={props.back.href}>{props.back.label}</a> to try again.</p>
    </AdminLayout>
  );
}

/**
 * The step between the Authorize button and the authorization server. A 303 from the form post would
 * be blocked by the admin's Content-Security-Policy (form-action 'self' also governs where a form
 * submission is redirected), so this page sends the browser on (a refresh, or the link) instead.
 */
export function AuthorizeRedirectPage(props: { url: string }) {
  const host = new URL(props.url).host;
  return (
    <BareLayout title="Continue to sign in" refresh={props.url}>
      <h1>Continue to sign in</h1>
      <p>Sign in at <strong>{host}</strong> and allow Switchboard to use your account there.</p>
      <p><a class="button" id="continue" href={props.url}>Continue to {host}</a></p>
    </BareLayout>
  );
}
