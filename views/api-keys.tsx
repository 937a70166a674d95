// The API keys page: the list, the create form with its permission builder, and the one-time token dialog.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { TOOL_NAME } from "../src/domain/agents/tools.ts";
import { AdminLayout } from "./layout.tsx";

export type KeyRow = {
  id: string;
  name: string;
  prefix: string;
  owner: { id: string; email: string };
  permissions: Record<string, string[]>;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  previous_token_expires_at: string | null;
  /** Unusual activity in the last day (a new address, a new client, an error rate jump), from MONITORING_KEY_ACTIVITY. */
  flags?: string[];
};

/**
 * Whether a name may become a checkbox: a checkbox's value is stored as a permission action, so a name
 * outside MCP's tool name rule ("*" above all, which grants everything) never becomes one, whatever
 * an upstream or an agent lists.
 */
function grantable(name: unknown): name is string {
  return typeof name === "string" && TOOL_NAME.test(name);
}

/** A connection in the permission builder: its tools as last discovered (empty until it connects). */
export type GrantableConnection = { id: string; slug: string; title: string; tools: string[] };

/** An agent in the permission builder: the tools it exposes now, by exposed name. */
export type GrantableAgent = { id: string; slug: string; title: string; tools: string[] };

/** A token just issued: shown this once, with a ready-to-paste MCP client configuration. */
export type IssuedToken = { keyName: string; token: string; endpoint: string; rotated: boolean };

export type KeysProps = {
  viewer: User;
  keys: KeyRow[];
  /** Management tools the viewer may grant. */
  grantableTools: string[];
  /** Admins pick the owner. */
  users: { id: string; email: string }[];
  /** Connections whose tools may be granted, with the tool names discovered so far. */
  connections: GrantableConnection[];
  /** Agents whose tools may be granted, with the names they expose. */
  agents: GrantableAgent[];
  /** An agent or connection whose "all" box starts ticked (from its page's "create a key for this …"). */
  preselect?: string;
  issued?: IssuedToken;
  /** The connection and agent tools could not be listed: the picker is empty, raw JSON still works. */
  pickerFailed?: boolean;
  message?: { kind: "ok" | "error"; text: string };
  form?: { name?: string; raw?: string };
};

function day(iso: string | null): string {
  return iso === null ? "—" : iso.slice(0, 16).replace("T", " ");
}

/** "self: WHOAMI, API_KEY_LIST · *: *", short enough for a table cell. */
export function summarizePermissions(p: Record<string, string[]>): string {
  const parts = Object.entries(p).map(([resource, actions]) => `${resource}: ${actions.length > 4 ? `${actions.slice(0, 4).join(", ")} +${actions.length - 4}` : actions.join(", ")}`);
  return parts.length === 0 ? "nothing" : parts.join(" · ");
}

export function clientConfig(issued: IssuedToken): string {
  return JSON.stringify({ mcpServers: { switchboard: { url: issued.endpoint, headers: { Authorization: `Bearer ${issued.token}` } } } }, null, 2);
}

function TokenDialog(props: { issued: IssuedToken }) {
  return (
    <dialog open id="token-dialog" class="panel" aria-labelledby="token-title">
      <h2 id="token-title" style="margin-top:0">{props.issued.rotated ? "New token for" : "API key created:"} {props.issued.keyName}</h2>
      <p>Copy the token now. <strong>It will not be shown again.</strong></p>
      <div class="row">
        <code id="new-token" class="token">{props.issued.token}</code>
        <button type="button" class="secondary" data-copy="#new-token">Copy token</button>
      </div>
      <h2>MCP client configuration</h2>
      <p class="muted">Paste into your client's MCP settings (Cursor <code>mcp.json</code>, Claude Desktop, VS Code), or use the header from a script.</p>
      <pre id="client-config">{clientConfig(props.issued)}</pre>
      <div class="row">
        <button type="button" class="secondary" data-copy="#client-config">Copy configuration</button>
        <button type="button" data-close-dialog>Done</button>
      </div>
    </dialog>
  );
}

/** Per connection: "all tools" (["*"]) or a choice of its discovered tools; grants {"conn_<id>": [...]}. */
function ConnectionGrants(props: { connections: GrantableConnection[]; preselect?: string }) {
  return (
    <fieldset class="builder">
      <legend>Connections</legend>
      {props.connections.length === 0 ? (
        <p class="muted">No connections yet; once there are, their tools can be granted here.</p>
      ) : (
        props.connections.map((c) => {
          const tools = c.tools.filter(grantable);
          return (
          <div class="grant" id={`grant-${c.id}`}>
            <label class="check">
              <input type="checkbox" name="grant_all" value={c.id} checked={c.id === props.preselect} /> <strong>{c.title}</strong> <code>{c.slug}</code>: all tools, resources and prompts (<code>"*"</code>)
            </label>
            {tools.length === 0 ? (
              <p class="muted small">No tools discovered yet (test or refresh the connection to list them); "all" grants whatever it offers.</p>
            ) : (
              <div class="checks">
                {tools.map((tool) => (
                  <label class="check"><input type="checkbox" name={`grant_${c.id}`} value={tool} /> <code>{tool}</code></label>
                ))}
              </div>
            )}
          </div>
          );
        })
      )}
    </fieldset>
  );
}

/** Per agent: "all tools" (["*"]) or a choice of the names it exposes; grants {"agent_<id>": [...]}. */
function AgentGrants(props: { agents: GrantableAgent[]; preselect?: string }) {
  return (
    <fieldset class="builder">
      <legend>Agents</legend>
      {props.agents.length === 0 ? (
        <p class="muted">No agents yet; once there are, their tools can be granted here.</p>
      ) : (
        props.agents.map((a) => {
          const tools = a.tools.filter(grantable);
          return (
          <div class="grant" id={`grant-${a.id}`}>
            <label class="check">
              <input type="checkbox" name="grant_all" value={a.id} checked={a.id === props.preselect} /> <strong>{a.title}</strong> <code>{a.slug}</code>: everything it exposes (<code>"*"</code>)
            </label>
            {tools.length === 0 ? (
              <p class="muted small">It exposes no tools yet.</p>
            ) : (
              <div class="checks">
                {tools.map((tool) => (
                  <label class="check"><input type="checkbox" name={`grant_${a.id}`} value={tool} /> <code>{tool}</code></label>
                ))}
              </div>
            )}
          </div>
          );
        })
      )}
    </fieldset>
  );
}

function CreateForm(props: KeysProps) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <form class="panel create-key" id="create-key" method="post" action="/admin/keys" hx-post="/admin/keys" hx-target="#keys-section" hx-swap="outerHTML">
      <h2 style="margin-top:0">Create an API key</h2>
      <div class="row">
        <div><label for="key-name">Name</label><input id="key-name" name="name" type="text" required maxlength={100} placeholder="CI deploy bot" value={props.form?.name ?? ""} /></div>
        <div>
          <label for="key-expires">Expires</label>
          <select id="key-expires" name="expires_in">
            <option value="">never</option>
            <option value="7d">in 7 days</option>
            <option value="30d">in 30 days</option>
            <option value="90d">in 90 days</option>
            <option value="365d">in a year</option>
          </select>
        </div>
        {isAdmin && (
          <div>
            <label for="key-owner">Owner</label>
            <select id="key-owner" name="owner_id">
              {props.users.map((u) => <option value={u.id} selected={u.id === props.viewer.id}>{u.email}</option>)}
            </select>
          </div>
        )}
      </div>
      <fieldset class="builder">
        <legend>Management tools (<code>self</code>)</legend>
        {isAdmin && (
          <label class="check"><input type="checkbox" name="self_all" value="1" /> All management tools (<code>"*"</code>)</label>
        )}
        <div class="checks">
          {props.grantableTools.map((tool) => (
            <label class="check"><input type="checkbox" name="self" value={tool} /> <code>{tool}</code></label>
          ))}
        </div>
      </fieldset>
      {props.pickerFailed && (
        <div class="alert error" role="alert" id="picker-failed">The tools of connections and agents could not be listed just now; grant them with the raw JSON below.</div>
      )}
      <ConnectionGrants connections={props.connections} preselect={props.preselect} />
      <AgentGrants agents={props.agents} preselect={props.preselect} />
      <details open={props.form?.raw ? true : undefined}>
        <summary>Raw permissions JSON (overrides the choices above)</summary>
        <textarea name="permissions_json" rows={4} placeholder='{"self": ["WHOAMI"]}' aria-label="Raw permissions JSON">{props.form?.raw ?? ""}</textarea>
      </details>
      <div><button type="submit">Create key</button></div>
    </form>
  );
}

/** The list, the create form and the message slot: the unit htmx replaces after every change. */
export function KeysSection(props: KeysProps) {
  return (
    <section id="keys-section">
      {props.issued && <TokenDialog issued={props.issued} />}
      <div id="keys-message">
        {props.message && <div class={`alert ${props.message.kind}`} role={props.message.kind === "error" ? "alert" : "status"}>{props.message.text}</div>}
      </div>
      {props.keys.length === 0 ? (
        <p class="muted">No API keys yet.</p>
      ) : (
        <table>
          <thead>
            <tr><th>Name</th><th>Prefix</th>{props.viewer.role === "admin" && <th>Owner</th>}<th>Permissions</th><th>Created</th><th>Last used</th><th>Expires</th><th>Actions</th></tr>
          </thead>
          <tbody>
            {props.keys.map((key) => (
              <tr id={`key-${key.id}`}>
                <td>
                  <a href={`/admin/keys/${key.id}/activity`} title="Activity">{key.name}</a>
                  {key.flags && key.flags.length > 0 && <> <a class="badge flagged" href={`/admin/keys/${key.id}/activity`} title={key.flags.join(" ")} data-flagged="">unusual activity</a></>}
                </td>
                <td><code>{key.prefix}…</code></td>
                {props.viewer.role === "admin" && <td>{key.owner.email}</td>}
                <td><code>{summarizePermissions(key.permissions)}</code></td>
                <td>{day(key.created_at)}</td>
                <td>{key.last_used_at ? day(key.last_used_at) : "never"}</td>
                <td>{key.expires_at ? day(key.expires_at) : "never"}{key.previous_token_expires_at && <div class="muted">old token until {day(key.previous_token_expires_at)}</div>}</td>
                <td class="actions">
                  <form class="inline" method="post" action={`/admin/keys/${key.id}/rotate`} hx-post={`/admin/keys/${key.id}/rotate`} hx-target="#keys-section" hx-swap="outerHTML" hx-confirm={`Rotate "${key.name}"? A new token replaces the current one.`}>
                    <select name="grace_period" aria-label={`When the old token of ${key.name} stops`}>
                      <option value="">old stops now</option>
                      <option value="1h">old works 1h more</option>
                      <option value="24h">old works 1d more</option>
                    </select>
                    <button class="secondary" type="submit">Rotate</button>
                  </form>
                  <form class="inline" method="post" action={`/admin/keys/${key.id}/delete`} hx-post={`/admin/keys/${key.id}/delete`} hx-target="#keys-section" hx-swap="outerHTML" hx-confirm={`Revoke "${key.name}"? Anything using it stops working at once.`}>
                    <button class="danger" type="submit">Revoke</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
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
