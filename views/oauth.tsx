// The authorization server's pages: the consent page (approve or deny a client's access to one agent
// or connection) and the error page for a request that cannot be sent back to its client.
/** @jsxImportSource hono/jsx */
import { BareLayout } from "./layout.tsx";

/** The hidden fields the consent form posts back; the server checks them all again. */
export type ConsentFields = {
  client_id: string;
  redirect_uri: string;
  response_type: string;
  code_challenge: string;
  code_challenge_method: string;
  resource: string;
  scope: string;
  state: string | null;
};

export type ConsentProps = {
  client: { name: string; kind: "dcr" | "cimd"; id: string };
  /** The host (or, for a private-use scheme, the scheme) the browser is sent back to. */
  redirectHost: string;
  resource: { kind: "agent" | "connection"; title: string; slug: string; url: string };
  /** The tools the agent or connection exposes now, by name. */
  tools: string[];
  userEmail: string;
  fields: ConsentFields;
};

/** The identity a client shows: a document client is vouched for by its host; a registered one only says its name. */
function ClientIdentity(props: { client: ConsentProps["client"] }) {
  if (props.client.kind === "cimd") {
    return <p class="muted small">Identified by its metadata document at <strong>{new URL(props.client.id).host}</strong>.</p>;
  }
  return <p class="muted small">Name given by the app itself, not verified.</p>;
}

export function ConsentPage(props: ConsentProps) {
  const what = props.resource.kind === "agent" ? "agent" : "connection";
  return (
    <BareLayout title="Authorize an app">
      <h1>Authorize {props.client.name}?</h1>
      <div class="panel consent">
        <p><strong>{props.client.name}</strong> asks to use the {what} <strong>{props.resource.title}</strong> (<code>{props.resource.slug}</code>) as you.</p>
        <ClientIdentity client={props.client} />
        <p>After you approve, you are sent back to <strong>{props.redirectHost}</strong>.</p>
        <p>It will be able to call {props.tools.length === 0 ? "the tools this " + what + " exposes (none are discovered right now)" : `these ${props.tools.length} tool${props.tools.length === 1 ? "" : "s"}`}, within what you may use yourself:</p>
        {props.tools.length > 0 && (
          <ul class="consent-tools">
            {props.tools.map((name) => <li><code>{name}</code></li>)}
          </ul>
        )}
        <p class="muted small">Until you revoke it under Authorized apps. It cannot manage Switchboard.</p>
        <form method="post" action="/oauth/authorize">
          {Object.entries(props.fields).map(([name, value]) => (value === null ? null : <input type="hidden" name={name} value={value} />))}
          <button type="submit" name="decision" value="approve">Approve</button>
          <button type="submit" class="secondary" name="decision" value="deny">Deny</button>
        </form>
      </div>
      <form method="post" action="/admin/logout" class="muted small">
        Signed in as <strong>{props.userEmail}</strong>. Not you?{" "}
        <input type="hidden" name="next" value={`/oauth/authorize?${new URLSearchParams(Object.entries(props.fields).filter((e): e is [string, string] => e[1] !== null)).toString()}`} />
        <button class="link" type="submit">Sign out</button>
      </form>
    </BareLayout>
  );
}

/** A request Switchboard refuses without sending the browser anywhere (an unknown client or redirect URI). */
export function OAuthErrorPage(props: { error: string; description: string }) {
  return (
    <BareLayout title="Authorization failed">
      <h1>This sign-in request cannot continue</h1>
      <div class="alert error" role="alert" data-code={props.error}>{props.description}</div>
      <p class="muted">Go back to the application and try connecting again. If it keeps failing, remove and add the server there.</p>
      <p><a href="/admin">Open the admin</a></p>
    </BareLayout>
  );
}
