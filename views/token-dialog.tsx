// The one-time token dialog: the token on lines that are never cut, and per endpoint the key grants
// the same client snippets as an agent's page, named after that agent (or connection), token filled in.
// keys.js.txt makes it modal (showModal: focus inside, Tab kept in, Esc closes, focus given back).
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { curlSnippet, endpointUrls, keySnippets, Snippets, type EndpointUrls } from "./agent-clients.tsx";
import type { GrantTargets, Permissions } from "./key-grants.tsx";

/** One endpoint a new key reaches, and the server name its snippets use (the agent's or connection's slug). */
export type SnippetSet = { label: string; name: string; urls: EndpointUrls };

/** A token just issued: shown this once, with the snippets of every endpoint it reaches. */
export type IssuedToken = {
  keyId: string;
  keyName: string;
  token: string;
  rotated: boolean;
  sets: SnippetSet[];
  /** Reaches any connection ("*"): no one endpoint to name. */
  anyConnection: boolean;
  /** Where focus goes when the dialog closes (a CSS selector). */
  returnFocus: string;
};

/** The server name of the management endpoint, apart from any agent's slug. */
export const SELF_SERVER_NAME = "switchboard-self";

/**
 * The endpoints a key reaches, each named so that two keys pasted into one client file do not
 * collide: one set per agent (its slug), per connection (its slug), and the management endpoint.
 */
export function snippetSets(permissions: Permissions, targets: GrantTargets, publicUrl: string): SnippetSet[] {
  const sets: SnippetSet[] = [];
  for (const resource of Object.keys(permissions)) {
    const agent = targets.agents.find((a) => a.id === resource);
    if (agent) sets.push({ label: `agent ${agent.title}`, name: agent.slug, urls: endpointUrls(publicUrl, { kind: "agent", id: agent.id }) });
  }
  for (const resource of Object.keys(permissions)) {
    const connection = targets.connections.find((c) => c.id === resource);
    if (connection) sets.push({ label: `connection ${connection.title}`, name: connection.slug, urls: endpointUrls(publicUrl, { kind: "connection", id: connection.id }) });
  }
  if (permissions.self) {
    // /mcp/self offers no OAuth discovery: the one URL serves keys.
    const url = `${publicUrl}/mcp/self`;
    sets.push({ label: "the management API", name: SELF_SERVER_NAME, urls: { url, keyUrl: url } });
  }
  return sets;
}

export function TokenDialog(props: { issued: IssuedToken }): Child {
  const { issued } = props;
  return (
    <dialog open id="token-dialog" class="panel" data-modal="" data-return-focus={issued.returnFocus} aria-labelledby="token-title" aria-describedby="token-once">
      <h2 id="token-title">{issued.rotated ? "New token for" : "API key created:"} {issued.keyName}</h2>
      <p id="token-once">Copy the token now. <strong>It will not be shown again.</strong></p>
      <div class="token-row">
        <code id="new-token" class="token">{issued.token}</code>
        <button type="button" class="secondary" data-copy="#new-token" autofocus>Copy token</button>
      </div>
      {issued.sets.length > 0 && <h3>Connect a client</h3>}
      {issued.sets.map((set, i) => (
        <section class="snippet-set" data-server={set.name}>
          <h4>
            For {set.label}, as <code>{set.name}</code>
          </h4>
          <p class="muted small url">{set.urls.url}</p>
          <Snippets snippets={[...keySnippets(set.name, set.urls, issued.token), curlSnippet(set.urls.url, issued.token)]} prefix={`token-${i}-`} openFirst={i === 0} />
        </section>
      ))}
      {issued.anyConnection && (
        <p class="muted">
          It reaches every connection: use <code>/mcp/&lt;connection id&gt;</code> with the header <code>Authorization: Bearer …</code>.
        </p>
      )}
      <div class="row">
        <button type="button" data-close-modal="">Done</button>
      </div>
    </dialog>
  );
}
