// The OAuth panel of a connection's page (#oauth): whose account it uses, how Switchboard is registered
// at the upstream's authorization server, and the state of the shared account or of each user's; the
// buttons that start an authorization (plain form posts: the browser leaves for the server) and
// disconnect. Never a token: only "connected as …, expires …". Members see no other user's identity.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { ConnectionView } from "../src/operations/connection-shapes.ts";
import { Alert, type Message } from "./alert.tsx";
import { isoMinute } from "./format.ts";

/** A link as CONNECTION_OAUTH_LINKS shows it (never a token). */
export type OAuthLinkView = {
  subject: string;
  user: { id: string; email: string } | null;
  state: "connected" | "needs_reauth";
  account: string | null;
  expires_at: string | null;
  last_error: string | null;
  connected_at: string;
};

/** A connection's OAuth settings and state, as CONNECTION_GET returns them. */
export type OAuthView = NonNullable<ConnectionView["oauth"]>;

/** What a redirect back to the page says, from a fixed flag (`?oauth=connected|disconnected`), never from the URL's text. */
export type OAuthNotice = "connected" | "disconnected";

const METHODS: Record<string, string> = {
  cimd: "client metadata document",
  dcr: "dynamic registration",
  manual: "client id entered here",
};

/** "Connected as alice, expires 2026-01-02 03:04" (or the parts known). */
export function connectedAs(link: { account: string | null; expires_at: string | null }): string {
  const who = link.account ? `Connected as ${link.account}` : "Connected";
  return link.expires_at ? `${who}, expires ${isoMinute(link.expires_at)} UTC` : who;
}

/** A link's state as a badge: connected, needs re-authorization, or not connected. */
export function LinkBadge(props: { state: "connected" | "needs_reauth" | "not_connected" }) {
  const text = props.state === "connected" ? "connected" : props.state === "needs_reauth" ? "needs re-authorization" : "not connected";
  return <span class={`badge oauth-${props.state}`}>{text}</span>;
}

/** The line confirming a redirect back: who the account is connected as, read from the link itself. */
export function noticeMessage(notice: OAuthNotice | undefined, link: { account: string | null } | null): Message | undefined {
  if (notice === "disconnected") return { kind: "ok", text: "Disconnected." };
  if (notice === "connected" && link) return { kind: "ok", text: link.account ? `Connected as ${link.account}.` : "Connected." };
  return undefined;
}

/** A plain form post (no htmx): the answer takes the browser to the authorization server. */
export function StartButton(props: { action: string; label: string; fields?: Record<string, string> }) {
  return (
    <form class="inline" method="post" action={props.action} data-busy="Redirecting…">
      {Object.entries(props.fields ?? {}).map(([name, value]) => <input type="hidden" name={name} value={value} />)}
      <button type="submit" data-busy-label="Redirecting…">{props.label}</button>
    </form>
  );
}

export function DisconnectButton(props: { action: string; fields?: Record<string, string>; label?: string }) {
  return (
    <form class="inline" method="post" action={props.action} data-busy="Disconnecting…">
      {Object.entries(props.fields ?? {}).map(([name, value]) => <input type="hidden" name={name} value={value} />)}
      <button class="secondary" type="submit" data-busy-label="Disconnecting…">{props.label ?? "Disconnect"}</button>
    </form>
  );
}

/** A link that needs someone to authorize again: a visible warning, read out (role="alert"). */
function NeedsReauth(props: { who: string; lastError: string | null }) {
  return (
    <div class="alert warning" role="alert">
      {props.who} needs re-authorization: its authorization was revoked or expired{props.lastError ? ` (${props.lastError})` : ""}.
    </div>
  );
}

function SharedState(props: { c: ConnectionView; link: OAuthLinkView | null; isAdmin: boolean }) {
  const { c, link, isAdmin } = props;
  const base = `/admin/connections/${c.id}/oauth`;
  return (
    <div id="oauth-shared">
      {link === null ? (
        <p><LinkBadge state="not_connected" /> Not authorized yet: calls through this connection fail until an admin authorizes it.</p>
      ) : link.state === "needs_reauth" ? (
        <NeedsReauth who="The shared account" lastError={link.last_error} />
      ) : (
        <p><LinkBadge state="connected" /> {connectedAs(link)}</p>
      )}
      {isAdmin ? (
        <div class="oauth-actions">
          <StartButton action={`${base}/authorize`} label={link === null ? "Authorize" : "Re-authorize"} />
          {link !== null && <DisconnectButton action={`${base}/disconnect`} fields={{ subject: "shared" }} />}
        </div>
      ) : (
        <p class="muted small">An admin authorizes the shared account.</p>
      )}
    </div>
  );
}

function PerUserState(props: { c: ConnectionView; viewer: User; links: OAuthLinkView[]; isAdmin: boolean }) {
  const { c, viewer, links, isAdmin } = props;
  const mine = links.find((l) => l.user?.id === viewer.id) ?? null;
  const others = links.filter((l) => l.user !== null && l.user.id !== viewer.id);
  const connect = `/admin/connected-accounts/${c.id}`;
  return (
    <div id="oauth-users">
      <h3>Your account</h3>
      {mine === null ? (
        <p><LinkBadge state="not_connected" /> You have not connected your account: your calls through this connection fail until you do.</p>
      ) : mine.state === "needs_reauth" ? (
        <NeedsReauth who="Your account" lastError={mine.last_error} />
      ) : (
        <p><LinkBadge state="connected" /> {connectedAs(mine)}</p>
      )}
      <div class="oauth-actions">
        <StartButton action={`${connect}/connect`} label={mine === null ? "Connect your account" : "Reconnect"} fields={{ from: "connection" }} />
        {mine !== null && <DisconnectButton action={`${connect}/disconnect`} fields={{ from: "connection" }} />}
      </div>
      {isAdmin ? (
        <>
          <h3>Users' accounts</h3>
          {others.length === 0 ? (
            <p class="muted small">No other user has connected an account yet.</p>
          ) : (
            <div class="table-scroll">
              <table class="compact">
                <thead><tr><th>User</th><th>Connected as</th><th>State</th><th>Expires</th><th></th></tr></thead>
                <tbody>
                  {others.map((l) => (
                    <tr>
                      <td>{l.user?.email}</td>
                      <td>{l.account ?? "—"}</td>
                      <td><LinkBadge state={l.state} />{l.last_error && <div class="muted small">{l.last_error}</div>}</td>
                      <td class="small">{isoMinute(l.expires_at)}</td>
                      <td><DisconnectButton action={`/admin/connections/${c.id}/oauth/disconnect`} fields={{ subject: l.subject }} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : (
        c.oauth && <p class="muted small">{c.oauth.users.connected} connected, {c.oauth.users.needs_reauth} needing re-authorization.</p>
      )}
    </div>
  );
}

export type OAuthPanelProps = {
  c: ConnectionView;
  viewer: User;
  /** CONNECTION_OAUTH_LINKS for the viewer: every link for an admin, the shared one and their own for a member. */
  links: OAuthLinkView[];
  notice?: OAuthNotice;
  /** Why an authorization could not start (discovery refused, no way to register), beside its button. */
  message?: Message;
};

/** The panel; nothing for a connection without OAuth. */
export function OAuthPanel(props: OAuthPanelProps) {
  const { c, viewer, links } = props;
  const oauth = c.oauth;
  // A refusal for a connection without OAuth (a stale page posted after the settings changed) is still said.
  if (c.auth !== "oauth" || !oauth) return props.message ? <section class="panel" id="oauth"><Alert message={props.message} /></section> : null;
  const isAdmin = viewer.role === "admin";
  const shared = links.find((l) => l.subject === "shared") ?? null;
  const mine = links.find((l) => l.user?.id === viewer.id) ?? null;
  const reg = oauth.registration;
  return (
    <section class="panel oauth-panel" id="oauth">
      <h2 class="panel-title">OAuth</h2>
      <Alert message={noticeMessage(props.notice, oauth.mode === "shared" ? shared : mine)} />
      <dl class="kv">
        <dt>Whose account</dt>
        <dd>{oauth.mode === "shared" ? "Shared: one account, authorized by an admin, for every caller" : "Per user: each user connects their own account"}</dd>
        <dt>Registration</dt>
        <dd>
          {reg ? (
            <>{METHODS[reg.method] ?? reg.method} at <code>{reg.issuer}</code></>
          ) : (
            <span class="muted">Not yet discovered: the first authorization finds the server and registers Switchboard there.</span>
          )}
        </dd>
      </dl>
      {oauth.mode === "shared" ? <SharedState c={c} link={shared} isAdmin={isAdmin} /> : <PerUserState c={c} viewer={viewer} links={links} isAdmin={isAdmin} />}
      <div class="result-box" aria-live="polite"><Alert message={props.message} reveal /></div>
    </section>
  );
}
