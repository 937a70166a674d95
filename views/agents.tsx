// The Agents pages: the list, an agent's page (endpoint, client configurations, health, the tools it
// exposes, "Try it" from views/try-it.tsx, delete) and the editor pages.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { AgentDetailView, AgentView } from "../src/operations/agent-shapes.ts";
import { ClientConfigs, endpointUrls } from "./agent-clients.tsx";
import { AgentEditor, type AgentEditorProps } from "./agent-editor.tsx";
import { Alert, type Message } from "./alert.tsx";
import { AdminLayout } from "./layout.tsx";
import { TryIt, type TryOutcome } from "./try-it.tsx";

export type { Message };


function when(iso: string | null): string {
  return iso === null ? "—" : iso.slice(0, 19).replace("T", " ");
}

export function AgentsPage(props: { viewer: User; agents: AgentView[]; message?: Message }) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <AdminLayout title="Agents" user={props.viewer} active="agents">
      <p class="muted">
        An agent is one MCP endpoint, <code>/mcp/agent/&lt;id or slug&gt;</code>, exposing exactly the tools chosen for it from one or more connections.
        {isAdmin ? "" : " Only admins create, change or delete agents."}
      </p>
      <Alert message={props.message} />
      {isAdmin && <p><a class="button" href="/admin/agents/new">New agent</a></p>}
      {props.agents.length === 0 ? (
        <p class="muted">No agents yet.</p>
      ) : (
        <table>
          <thead><tr><th>Agent</th><th>Connections</th><th>Tools</th><th>Status</th><th>Source</th></tr></thead>
          <tbody>
            {props.agents.map((a) => (
              <tr id={`agent-${a.id}`}>
                <td><a href={`/admin/agents/${a.id}`}>{a.title}</a> <div class="muted small"><code>{a.slug}</code></div></td>
                <td>{a.connections.map((s) => <code>{s.connection_slug ?? s.connection_id}</code>).map((el, i) => <>{i > 0 && ", "}{el}</>)}</td>
                <td>{a.tool_count}</td>
                <td>{a.enabled ? <span class="badge state-connected">enabled</span> : <span class="badge state-disabled">disabled</span>}</td>
                <td>{a.from_config ? <span class="badge" title="Declared in switchboard.toml">config</span> : "admin"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </AdminLayout>
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
        <div class="alert error"><code>{h.connection_slug ?? h.connection_id}</code> could not be reached ({when(h.at)}): {h.error}. Its tools are left out of the agent's list until it answers.</div>
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

export type AgentPageProps = { viewer: User; a: AgentDetailView; publicUrl: string; oauth: boolean; outcome?: TryOutcome; message?: Message };

export function AgentPage(props: AgentPageProps) {
  const { a, viewer } = props;
  const isAdmin = viewer.role === "admin";
  return (
    <AdminLayout title={a.title} user={viewer} active="agents">
      <p><a href="/admin/agents">← Agents</a></p>
      <Alert message={props.message} />
      <div class="panel">
        <div class="row spread">
          <div><code>{a.slug}</code> {a.enabled ? <span class="badge state-connected">enabled</span> : <span class="badge state-disabled">disabled</span>} {a.prefix_tools && <span class="badge">prefixed names</span>}</div>
          {isAdmin && !a.from_config && <a class="button" href={`/admin/agents/${a.id}/edit`}>Edit</a>}
        </div>
        {a.description && <p>{a.description}</p>}
        <dl class="kv">
          <dt>Id</dt><dd><code>{a.id}</code></dd>
          <dt>MCP endpoint</dt><dd><code id="agent-url">{a.endpoint}</code> <button type="button" class="secondary small" data-copy="#agent-url">Copy</button></dd>
          <dt>Instructions</dt><dd>{a.instructions || <span class="muted">none</span>}</dd>
          <dt>Updated</dt><dd>{when(a.updated_at)}</dd>
        </dl>
        {a.from_config && <p class="muted">Declared in <code>switchboard.toml</code>: read-only here. Change or remove it in the file and restart.</p>}
      </div>
      <Health a={a} />
      <Tools a={a} />
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
