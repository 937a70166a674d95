// The Connections pages: the list with status, a connection's page (status, test, what it offers,
// stderr, settings form, delete) and the new-connection page, plus the fragments htmx swaps in.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { ConnectionDetailView, ConnectionSummaryView, ConnectionView } from "../src/operations/connection-shapes.ts";
import { ClientConfigs, endpointUrls } from "./agent-clients.tsx";
import { ConnectionForm, type ConnectionFormProps } from "./connection-form.tsx";
import { AdminLayout } from "./layout.tsx";

export type TestOutcome = { ok: boolean; latency_ms: number; server: { name: string; version: string } | null; tools: number; resources: number; prompts: number; error?: string };
export type Message = { kind: "ok" | "error"; text: string };

function when(iso: string | null): string {
  return iso === null ? "—" : iso.slice(0, 19).replace("T", " ");
}

/** The status badge: connected, error (with the last error), disabled, idle or connecting. */
export function StatusBadge(props: { c: Pick<ConnectionSummaryView, "status" | "refused_by_policy"> }) {
  const { state, last_error } = props.c.status;
  return (
    <span>
      <span class={`badge state-${state}`}>{state}</span>
      {props.c.refused_by_policy && <div class="muted small">blocked: {props.c.refused_by_policy}</div>}
      {state === "error" && last_error && <div class="error-text small">{last_error}</div>}
    </span>
  );
}

function target(c: Pick<ConnectionSummaryView, "transport" | "command" | "args" | "url">): string {
  return c.transport === "stdio" ? [c.command ?? "", ...c.args].join(" ") : (c.url ?? "");
}

function Alert(props: { message?: Message }) {
  return props.message ? <div class={`alert ${props.message.kind}`} role={props.message.kind === "error" ? "alert" : "status"}>{props.message.text}</div> : null;
}

// The list is built from summaries (CONNECTION_LIST): it reads no secret, so it shows no header or env name.
export function ConnectionsPage(props: { viewer: User; connections: ConnectionSummaryView[]; message?: Message }) {
  const isAdmin = props.viewer.role === "admin";
  return (
    <AdminLayout title="Connections" user={props.viewer} active="connections">
      <p class="muted">
        Upstream MCP servers, reached over Streamable HTTP, SSE or stdio. Each one is served whole at <code>/mcp/&lt;id&gt;</code> to keys granted its tools.
        {isAdmin ? "" : " Only admins add, change or delete connections."}
      </p>
      <Alert message={props.message} />
      {isAdmin && <p><a class="button" href="/admin/connections/new">New connection</a></p>}
      {props.connections.length === 0 ? (
        <p class="muted">No connections yet.</p>
      ) : (
        <table>
          <thead>
            <tr><th>Connection</th><th>Transport</th><th>Target</th><th>Status</th><th>Tools</th><th>Source</th></tr>
          </thead>
          <tbody>
            {props.connections.map((c) => (
              <tr id={`connection-${c.id}`}>
                <td><a href={`/admin/connections/${c.id}`}>{c.title}</a> <div class="muted small"><code>{c.slug}</code></div></td>
                <td><span class="badge">{c.transport}</span></td>
                <td><code class="clip">{target(c)}</code></td>
                <td><StatusBadge c={c} /></td>
                <td>{c.discovery.tools}</td>
                <td>{c.from_config ? <span class="badge" title="Declared in switchboard.toml">config</span> : "admin"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </AdminLayout>
  );
}

/** The result of CONNECTION_TEST, swapped into #test-result. */
export function TestResult(props: { result: TestOutcome }) {
  const r = props.result;
  return (
    <div class={`alert ${r.ok ? "ok" : "error"}`} role="status" id="test-outcome">
      {r.ok ? (
        <span>
          Connected in {r.latency_ms} ms to <strong>{r.server?.name ?? "?"}</strong> {r.server?.version ?? ""}: {r.tools} tools, {r.resources} resources, {r.prompts} prompts.
        </span>
      ) : (
        <span>Test failed after {r.latency_ms} ms: {r.error ?? "unknown error"}</span>
      )}
    </div>
  );
}

function Offered(props: { title: string; items: { name: string; title?: string; description?: string; uri?: string; uri_template?: string }[] }) {
  return (
    <div>
      <h3>{props.title} ({props.items.length})</h3>
      {props.items.length === 0 ? (
        <p class="muted small">None discovered.</p>
      ) : (
        <table class="compact">
          <tbody>
            {props.items.map((item) => (
              <tr><td><code>{item.name}</code>{(item.uri ?? item.uri_template) && <div class="muted small">{item.uri ?? item.uri_template}</div>}</td><td>{item.description ?? item.title ?? ""}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** What the last discovery dropped from the upstream's lists, and why (the upstream's own text, escaped). */
function DiscoveryWarnings(props: { warnings: string[] }) {
  if (props.warnings.length === 0) return null;
  return (
    <div class="alert error small" role="status">
      Discovery dropped {props.warnings.length === 1 ? "an entry" : `${props.warnings.length} entries`} this upstream sent malformed; they are not offered to anyone:
      <ul>
        {props.warnings.map((w) => (
          <li>{w}</li>
        ))}
      </ul>
    </div>
  );
}

/**
 * A shared stdio process keeps one session for every client: what its server keeps per session is
 * then shared (or, for roots, not offered). Said where an admin decides the isolation.
 */
function SharedSessionNotice(props: { c: ConnectionDetailView }) {
  const { c } = props;
  if (c.transport !== "stdio" || c.isolation !== "shared" || c.discovery.per_session.length === 0) return null;
  return (
    <div class="alert small" role="status">
      This server keeps {c.discovery.per_session.join(", ")} per client session, and with isolation "shared" every client shares its one
      process: Switchboard keeps each client to its own log level, subscriptions and tasks, but the server's own state is shared, and it
      is offered no roots. For exact per-client behaviour, set isolation to "session" (a process per client).
    </div>
  );
}

/** What the connection offers, as last discovered; the unit "Refresh" replaces. */
export function DiscoverySection(props: { c: ConnectionDetailView }) {
  const { c } = props;
  return (
    <section id="discovery" class="panel">
      <div class="row spread">
        <h2 style="margin:0">What it offers</h2>
        <form class="inline" method="post" action={`/admin/connections/${c.id}/refresh`} hx-post={`/admin/connections/${c.id}/refresh`} hx-target="#discovery" hx-swap="outerHTML">
          <button class="secondary" type="submit">Refresh</button>
        </form>
      </div>
      <p class="muted small">
        Last discovered: {when(c.discovery.refreshed_at)}
        {c.discovery.error && <span class="error-text"> · {c.discovery.error}</span>}
      </p>
      <DiscoveryWarnings warnings={c.discovery.warnings} />
      <SharedSessionNotice c={c} />
      <Offered title="Tools" items={c.offers.tools} />
      <Offered title="Resources" items={c.offers.resources} />
      <Offered title="Resource templates" items={c.offers.resource_templates} />
      <Offered title="Prompts" items={c.offers.prompts} />
    </section>
  );
}

function Settings(props: { c: ConnectionView }) {
  const { c } = props;
  const names = (table: Record<string, string>) => (Object.keys(table).length === 0 ? "none" : Object.keys(table).map((n) => `${n}: ${table[n]}`).join(", "));
  return (
    <dl class="kv">
      <dt>Id</dt><dd><code>{c.id}</code></dd>
      <dt>Transport</dt><dd>{c.transport}</dd>
      {c.transport === "stdio" ? (
        <>
          <dt>Command</dt><dd><code>{target(c)}</code></dd>
          <dt>Working directory</dt><dd>{c.cwd ?? "Switchboard's"}</dd>
          <dt>Environment</dt><dd><code>{names(c.env)}</code></dd>
          <dt>Isolation</dt><dd>{c.isolation}{c.isolation === "session" && ` (at most ${c.max_processes ?? "the default number of"} processes)`}</dd>
        </>
      ) : (
        <>
          <dt>URL</dt><dd><code>{c.url}</code></dd>
          <dt>Bearer token</dt><dd>{c.token_set ? "set (hidden)" : "none"}</dd>
          <dt>Headers</dt><dd><code>{names(c.headers)}</code></dd>
        </>
      )}
      <dt>Timeouts</dt><dd>connect {c.connect_timeout_ms === null ? "default" : `${c.connect_timeout_ms} ms`}, call {c.call_timeout_ms === null ? "default" : `${c.call_timeout_ms} ms`}</dd>
      <dt>MCP endpoint</dt><dd><code id="mcp-url">{c.mcp_url}</code> <button type="button" class="secondary small" data-copy="#mcp-url">Copy</button></dd>
      <dt>Updated</dt><dd>{when(c.updated_at)}</dd>
    </dl>
  );
}

export type ConnectionPageProps = {
  viewer: User;
  c: ConnectionDetailView;
  /** The stdio server's recent stderr (admins only). */
  stderr: string[] | null;
  /** Where clients reach Switchboard: the snippets' URLs. */
  publicUrl: string;
  /** Whether the browser sign-in (OAuth) is on: its snippets come first. */
  oauth: boolean;
  form: ConnectionFormProps | null;
  test?: TestOutcome;
  message?: Message;
};

export function ConnectionPage(props: ConnectionPageProps) {
  const { c, viewer } = props;
  const isAdmin = viewer.role === "admin";
  return (
    <AdminLayout title={c.title} user={viewer} active="connections">
      <p><a href="/admin/connections">← Connections</a></p>
      <Alert message={props.message} />
      <div class="panel">
        <div class="row spread">
          <div><code>{c.slug}</code> <StatusBadge c={c} /> {!c.enabled && <span class="badge">disabled</span>}</div>
          <form class="inline" method="post" action={`/admin/connections/${c.id}/test`} hx-post={`/admin/connections/${c.id}/test`} hx-target="#test-result" hx-swap="innerHTML">
            <button type="submit">Test</button>
          </form>
        </div>
        {c.description && <p>{c.description}</p>}
        <div id="test-result">{props.test && <TestResult result={props.test} />}</div>
        {c.secrets_unreadable && <div class="alert error">The stored secrets cannot be decrypted (was the server secret changed?). Set the token, headers or env again.</div>}
        <Settings c={c} />
      </div>
      <DiscoverySection c={c} />
      <ClientConfigs name={c.slug} urls={endpointUrls(props.publicUrl, { kind: "connection", id: c.id })} keyHref={`/admin/keys?grant=${c.id}#create-key`} what="connection" oauth={props.oauth} />
      {c.transport === "stdio" && (
        <section class="panel">
          <h2 style="margin-top:0">stderr</h2>
          {props.stderr === null ? (
            <p class="muted small">Shown to admins only (it may hold what the server prints about its environment).</p>
          ) : props.stderr.length === 0 ? (
            <p class="muted small">Nothing written yet.</p>
          ) : (
            <pre id="stderr">{props.stderr.join("\n")}</pre>
          )}
        </section>
      )}
      {c.from_config ? (
        <p class="muted">Declared in <code>switchboard.toml</code>: read-only here. Change or remove it in the file and restart.</p>
      ) : isAdmin && props.form ? (
        <>
          <ConnectionForm {...props.form} />
          <form class="panel" method="post" action={`/admin/connections/${c.id}/delete`}>
            <h2 style="margin-top:0">Delete</h2>
            <p class="muted">Open sessions end and stdio processes are killed. Agents that select it lose its tools; keys keep their other permissions.</p>
            <label class="check"><input type="checkbox" name="confirm" value="yes" required /> Delete <code>{c.slug}</code> for good</label>
            <button class="danger" type="submit">Delete connection</button>
          </form>
        </>
      ) : (
        <p class="muted">Only admins change or delete connections.</p>
      )}
    </AdminLayout>
  );
}

export function NewConnectionPage(props: { viewer: User; form: ConnectionFormProps; test?: TestOutcome; message?: Message }) {
  return (
    <AdminLayout title="New connection" user={props.viewer} active="connections">
      <p><a href="/admin/connections">← Connections</a></p>
      <Alert message={props.message} />
      <div id="test-result">{props.test && <TestResult result={props.test} />}</div>
      <ConnectionForm {...props.form} />
    </AdminLayout>
  );
}
