// The Agents pages: the list, an agent's page (endpoint, client configurations, health, the tools it
// exposes, "Try it" from views/try-it.tsx, delete) and the editor pages.
/** @jsxImportSource hono/jsx */
import type { AgentReach } from "../src/domain/access/agent-reach.ts";
import type { User } from "../src/domain/access/users.ts";
import type { AgentDetailView, AgentView } from "../src/operations/agent-shapes.ts";
import { ClientConfigs, endpointUrls } from "./agent-clients.tsx";
import { AgentEditor, type AgentEditorProps } from "./agent-editor.tsx";
import { Alert, type Message } from "./alert.tsx";
import { isoSecond } from "./format.ts";
import { AdminLayout } from "./layout.tsx";
import { TryIt, type TryOutcome } from "./try-it.tsx";

export type { Message };


/** Whether an agent would greet its clients with an empty tool list: enabled, yet exposing nothing now. */
function exposesNothing(a: AgentView): boolean {
  return a.enabled && a.tool_count === 0;
}

/** Enabled (green), disabled, or enabled with no tools: a warning, since clients would connect and find nothing. */
function StatusBadge(props: { a: AgentView }) {
  if (!props.a.enabled) return <span class="badge state-disabled">disabled</span>;
  if (exposesNothing(props.a)) return <span class="badge state-warning">enabled, no tools</span>;
  return <span class="badge state-connected">enabled</span>;
}

export function AgentsPage(props: { viewer: User; agents: AgentView[]; message?: Message }) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <AdminLayout title="Agents" user={props.viewer} active="agents">
      <p class="muted">
        An agent is one MCP endpoint, <code>/mcp/agent/&lt;id or slug&gt;</code>, exposing exactly the tools chosen for it from one or more connections.
        {isAdmin ? "" : " Only admins create, change or delete agents."}
      </p>
      <Alert message={props.message} reveal />
      {isAdmin && props.agents.length > 0 && <p><a class="button" href="/admin/agents/new">New agent</a></p>}
      {props.agents.length === 0 ? (
        <div class="panel empty-state" id="agents-empty">
          <h2 style="margin-top:0">No agents yet</h2>
          <p>
            An agent is what MCP clients (Cursor, Claude, VS Code, scripts) connect to: one endpoint that exposes the tools you pick from your
            connections, under the names you choose, with instructions for the model. Keys and sign-ins are granted per agent.
          </p>
          {isAdmin ? (
            <p><a class="button" href="/admin/agents/new">New agent</a></p>
          ) : (
            <p class="muted">Only admins create agents: ask an admin of this Switchboard to build one, then it appears here.</p>
          )}
        </div>
      ) : (
        <div class="table-scroll">
          <table>
            <thead><tr><th>Agent</th><th>Connections</th><th>Tools</th><th>Status</th><th>Source</th></tr></thead>
            <tbody>
              {props.agents.map((a) => (
                <tr id={`agent-${a.id}`}>
                  <td><a href={`/admin/agents/${a.id}`}>{a.title}</a> <div class="muted small"><code>{a.slug}</code></div></td>
                  <td>{a.connections.map((s) => <code>{s.connection_slug ?? s.connection_id}</code>).map((el, i) => <>{i > 0 && ", "}{el}</>)}</td>
                  <td>{a.tool_count}</td>
                  <td>
                    <StatusBadge a={a} />
                    {exposesNothing(a) && <div class="muted small no-tools-hint">Clients will see no tools: edit it and pick tools, or test its connections.</div>}
                  </td>
                  <td>{a.from_config ? <span class="badge" title="Declared in switchboard.toml">config</span> : "admin"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </AdminLayout>
  );
}

/**
 * The warning of an enabled agent that exposes no tool: what a client would see, and the way out that
 * fits the cause (nothing selected, or selected tools its connections do not offer now).
 */
function NoTools(props: { a: AgentDetailView; canEdit: boolean }) {
  const { a } = props;
  if (!exposesNothing(a)) return null;
  const edit = props.canEdit ? <a href={`/admin/agents/${a.id}/edit`}>edit the agent</a> : "ask an admin to edit the agent";
  const connections = a.connections.filter((s) => s.connection_slug !== null);
  return (
    <div class="alert warning" id="agent-no-tools" role="status">
      <strong>Clients will see no tools.</strong> This agent is enabled but exposes no tool now, so anyone who connects gets an empty list.{" "}
      {connections.length === 0 ? (
        <>It takes nothing from any connection: {edit} and pick tools.</>
      ) : (
        <>
          Its connections do not offer the selected tools now: test them ({connections.map((s) => <a href={`/admin/connections/${s.connection_id}`}>{s.connection_slug}</a>).map((el, i) => <>{i > 0 && ", "}{el}</>)}) so their tools are
          discovered, or {edit} and pick tools they offer.
        </>
      )}
    </div>
  );
}

function Health(props: { a: AgentDetailView }) {
  const failing = props.a.health.filter((h) => h.error !== null);
  const missing = props.a.tools.filter((t) => t.missing);
  if (failing.length === 0 && missing.length === 0 && props.a.collisions.length === 0) return null;
  return (
    <section class="panel" id="agent-health">
      <h2 style="margin-top:0">Needs attention</h2>
      {failing.map((h) => (
        <div class="alert error"><code>{h.connection_slug ?? h.connection_id}</code> could not be reached ({isoSecond(h.at)}): {h.error}. Its tools are left out of the agent's list until it answers.</div>
      ))}
      {props.a.collisions.map((line) => <div class="alert error">{line}. The later tool is hidden until this is fixed.</div>)}
      {missing.length > 0 && (
        <p>Selected but not offered by the upstream now (absent from <code>tools/list</code>): {missing.map((t) => <code>{t.connection_slug}/{t.upstream}</code>).map((el, i) => <>{i > 0 && ", "}{el}</>)}</p>
      )}
    </section>
  );
}

function Tools(props: { a: AgentDetailView }) {
  return (
    <section class="panel" id="agent-tools">
      <h2 style="margin-top:0">Tools ({props.a.tools.filter((t) => !t.missing).length})</h2>
      {props.a.tools.length === 0 ? (
        <p class="muted">No tools yet{props.a.connections.length === 0 ? ": no connection is selected." : " (the connections may not be discovered yet)."}</p>
      ) : (
        <div class="table-scroll">
        <table class="compact">
          <thead><tr><th>Exposed as</th><th>From</th><th>Description</th></tr></thead>
          <tbody>
            {props.a.tools.map((t) => (
              <tr>
                <td><code>{t.name}</code> {t.missing && <span class="badge state-error">missing</span>}</td>
                <td><code>{t.connection_slug}/{t.upstream}</code></td>
                <td>{t.description ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <h3>Resources and prompts</h3>
      <ul class="small">
        {props.a.connections.map((s) => (
          <li><code>{s.connection_slug ?? s.connection_id}</code>: resources {Array.isArray(s.resources) ? s.resources.join(", ") : s.resources}; prompts {Array.isArray(s.prompts) ? s.prompts.join(", ") : s.prompts}</li>
        ))}
      </ul>
    </section>
  );
}

/** A key that reaches the agent, as its page lists it (see agentReach for what "reaches" means). */
export type AgentKey = {
  id: string;
  name: string;
  owner_email: string;
  reach: AgentReach;
  last_used_at: string | null;
  expires_at: string | null;
  /** Past its expiry: it authorizes nothing until its expiry is moved. */
  expired: boolean;
};

function KeyTools(props: { reach: AgentReach }) {
  const { reach } = props;
  const names = reach.tools === "all" ? <strong>all</strong> : reach.tools.length === 0 ? <span class="muted">none now</span> : reach.tools.map((t) => <code>{t}</code>).map((el, i) => <>{i > 0 && ", "}{el}</>);
  return (
    <>
      {names}
      {reach.everything ? (
        <> <span class="badge" title={'Holds "*" on "*": every tool of every connection, so every agent'}>all resources</span></>
      ) : (
        <>
          {reach.via.includes("any") && <> <span class="badge" title={'Granted on "*" (any connection) by the upstream name'}>any connection</span></>}
          {reach.via.includes("connection") && <> <span class="badge" title="Granted on this agent's connections by the upstream name">through its connections</span></>}
        </>
      )}
      {reach.resources && <div class="muted small">and its resources and prompts</div>}
      {reach.stale.length > 0 && <div class="muted small">also names {reach.stale.join(", ")} (not exposed now)</div>}
    </>
  );
}

/** The keys whose permissions let them call this agent: everyone's for an admin, a member's own otherwise. */
function Keys(props: { a: AgentDetailView; keys: AgentKey[]; isAdmin: boolean }) {
  const { keys } = props;
  return (
    <section class="panel" id="agent-keys">
      <h2 style="margin-top:0">Keys ({keys.length})</h2>
      <p class="muted small">
        API keys that may call this agent's tools: granted on the agent itself, on the connections its tools come from, or on every connection.
        {props.isAdmin ? " Everyone's keys are listed." : " Only your own keys are listed."}
      </p>
      {keys.length === 0 ? (
        <p class="muted" id="agent-keys-empty">{props.isAdmin ? "No key reaches this agent yet." : "None of your keys reaches this agent yet."}</p>
      ) : (
        <div class="table-scroll">
          <table class="compact">
            <thead><tr><th>Key</th><th>Owner</th><th>Tools</th><th>Last used</th><th>Expires</th></tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr id={`agent-key-${k.id}`}>
                  <td><a href={`/admin/keys/${k.id}`}>{k.name}</a></td>
                  <td>{k.owner_email}</td>
                  <td><KeyTools reach={k.reach} /></td>
                  <td>{k.last_used_at === null ? <span class="muted">never</span> : isoSecond(k.last_used_at)}</td>
                  <td>{k.expires_at === null ? <span class="muted">never</span> : isoSecond(k.expires_at)} {k.expired && <span class="badge state-error">expired</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p><a class="button secondary" href={`/admin/keys?grant=${props.a.id}#create-key`}>Create a key for this agent</a></p>
    </section>
  );
}

export type AgentPageProps = {
  viewer: User;
  a: AgentDetailView;
  keys: AgentKey[];
  publicUrl: string;
  oauth: boolean;
  outcome?: TryOutcome;
  message?: Message;
};

export function AgentPage(props: AgentPageProps) {
  const { a, viewer } = props;
  const isAdmin = viewer.role === "admin";
  return (
    <AdminLayout title={a.title} user={viewer} active="agents">
      <p><a href="/admin/agents">← Agents</a></p>
      <Alert message={props.message} reveal />
      <NoTools a={a} canEdit={isAdmin && !a.from_config} />
      <div class="panel agent-summary">
        <div class="row spread">
          <div><code>{a.slug}</code> <StatusBadge a={a} /> {a.prefix_tools && <span class="badge">prefixed names</span>}</div>
          {isAdmin && !a.from_config && <a class="button" href={`/admin/agents/${a.id}/edit`}>Edit</a>}
        </div>
        {a.description && <p>{a.description}</p>}
        <dl class="kv">
          <dt>Id</dt><dd><code>{a.id}</code></dd>
          <dt>MCP endpoint</dt><dd><code id="agent-url">{a.endpoint}</code> <button type="button" class="secondary small" data-copy="#agent-url">Copy</button></dd>
          <dt>Instructions</dt><dd>{a.instructions || <span class="muted">none</span>}</dd>
          <dt>Updated</dt><dd>{isoSecond(a.updated_at)}</dd>
        </dl>
        {a.from_config && <p class="muted">Declared in <code>switchboard.toml</code>: read-only here. Change or remove it in the file and restart.</p>}
      </div>
      <Health a={a} />
      <Tools a={a} />
      <Keys a={a} keys={props.keys} isAdmin={isAdmin} />
      <ClientConfigs name={a.slug} urls={endpointUrls(props.publicUrl, { kind: "agent", id: a.id })} keyHref={`/admin/keys?grant=${a.id}#create-key`} what="agent" oauth={props.oauth} />
      <TryIt a={a} outcome={props.outcome} />
      {isAdmin && !a.from_config && (
        <form class="panel" method="post" action={`/admin/agents/${a.id}/delete`}>
          <h2 style="margin-top:0">Delete</h2>
          <p class="muted">Open sessions end. Keys keep their other permissions.</p>
          <label class="check"><input type="checkbox" name="confirm" value="yes" required /> Delete <code>{a.slug}</code> for good</label>
          <button class="danger" type="submit">Delete agent</button>
        </form>
      )}
    </AdminLayout>
  );
}

/** The new-agent and edit-agent pages around the editor. */
export function AgentEditorPage(props: { viewer: User; title: string; back: string; editor: AgentEditorProps; message?: Message }) {
  return (
    <AdminLayout title={props.title} user={props.viewer} active="agents">
      <p><a href={props.back}>← Back</a></p>
      <Alert message={props.message} />
      <AgentEditor {...props.editor} />
    </AdminLayout>
  );
}
