// The Connections pages: the list with status, a connection's page (status, test, what it offers,
// stderr, settings form, delete) and the new-connection page, plus the fragments htmx swaps in (a test's
// result, the discovery section, the status that polls itself while the connection settles).
/** @jsxImportSource hono/jsx */
import { createHash } from "node:crypto";
import type { User } from "../src/domain/access/users.ts";
import type { ConnectionDetailView, ConnectionSummaryView, ConnectionView } from "../src/operations/connection-shapes.ts";
import { ClientConfigs, endpointUrls } from "./agent-clients.tsx";
import { Alert, type Message } from "./alert.tsx";
import { ConnectionForm, type ConnectionFormProps } from "./connection-form.tsx";
import { OAuthPanel, type OAuthPanelProps } from "./connection-oauth.tsx";
import { isoSecond } from "./format.ts";
import { AdminLayout } from "./layout.tsx";

export type TestOutcome = { ok: boolean; latency_ms: number; server: { name: string; version: string } | null; tools: number; resources: number; prompts: number; error?: string };

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

// The list is built from summaries (CONNECTION_LIST): it reads no secret, so it shows no header or env name.
export function ConnectionsPage(props: { viewer: User; connections: ConnectionSummaryView[]; message?: Message }) {
  const isAdmin = props.viewer.role === "admin";
  const empty = props.connections.length === 0;
  return (
    <AdminLayout title="Connections" user={props.viewer} active="connections">
      <p class="muted">
        Upstream MCP servers, reached over Streamable HTTP, SSE or stdio. Each one is served whole at <code>/mcp/&lt;id&gt;</code> to keys granted its tools.
        {isAdmin ? "" : " Only admins add, change or delete connections."}
      </p>
      <Alert message={props.message} />
      {isAdmin && !empty && <p><a class="button" href="/admin/connections/new">New connection</a></p>}
      {empty ? (
        <EmptyConnections isAdmin={isAdmin} />
      ) : (
        <div class="table-scroll">
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
                  <td><StatusBadge c={c} /> <OAuthBadge c={c} /></td>
                  <td>{c.discovery.tools}</td>
                  <td>{c.from_config ? <span class="badge" title="Declared in switchboard.toml">config</span> : "admin"}</td>
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
 * An OAuth connection's badge in the list: a shared account not (or no longer) authorized stands out;
 * a per-user one says so (each user's own state is on "Connected accounts").
 */
function OAuthBadge(props: { c: ConnectionSummaryView }) {
  const { oauth } = props.c;
  if (props.c.auth !== "oauth" || !oauth) return null;
  if (oauth.mode === "per_user") return <span class="badge" title="Each user connects their own account">OAuth · per user</span>;
  if (oauth.shared === null) return <span class="badge oauth-not_connected">needs authorization</span>;
  if (oauth.shared.state === "needs_reauth") return <span class="badge oauth-needs_reauth">needs re-authorization</span>;
  return <span class="badge" title="One account for every caller">OAuth</span>;
}

/** No connection yet: what one is, and how to get the first (an admin adds it; a member asks one). */
function EmptyConnections(props: { isAdmin: boolean }) {
  return (
    <section class="panel empty-state" id="no-connections">
      <h2>No connections yet</h2>
      <p>
        A connection is an MCP server Switchboard reaches for you: a URL (Streamable HTTP or the older SSE) or a command it runs on this
        host (stdio). Switchboard finds the tools it offers; you then group them into agents and hand them out with API keys or a
        browser sign-in.
      </p>
      {props.isAdmin ? (
        <p>
          <a class="button" href="/admin/connections/new">New connection</a>{" "}
          <span class="muted small">or declare one under <code>[[connections]]</code> in <code>switchboard.toml</code>.</span>
        </p>
      ) : (
        <p class="muted">Only admins can add connections: ask an admin of this Switchboard to add the servers you need.</p>
      )}
    </section>
  );
}

/** The result of CONNECTION_TEST, swapped into the result box beside the button that asked for it (which replaces what was there). */
export function TestResult(props: { result: TestOutcome }) {
  const r = props.result;
  return (
    <div class={`alert test-outcome ${r.ok ? "ok" : "error"}`} data-reveal="">
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
        <div class="table-scroll">
          <table class="compact">
            <tbody>
              {props.items.map((item) => (
                <tr><td><code>{item.name}</code>{(item.uri ?? item.uri_template) && <div class="muted small">{item.uri ?? item.uri_template}</div>}</td><td>{item.description ?? item.title ?? ""}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
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

/** Nothing discovered yet, nor a discovery error: what it offers is still to come. */
function undiscovered(c: ConnectionDetailView): boolean {
  return c.discovery.refreshed_at === null && c.discovery.error === null;
}

/** How long a page keeps polling a connection that stays in one unsettled state (the longest connect_timeout is 10 minutes). */
const SETTLE_POLL_MS = 15 * 60_000;

/**
 * Whether the connection is still settling: connecting, or connected (or idle) with discovery not yet
 * run. The page polls its status while this holds, and stops once it is connected with its tools, in
 * error, or disabled. A state held past SETTLE_POLL_MS, or one no runtime reports (no `since`), is not
 * waited for.
 */
export function settling(c: ConnectionDetailView, now: Date): boolean {
  if (!c.enabled || c.refused_by_policy !== null || c.status.since === null) return false;
  if (now.getTime() - Date.parse(c.status.since) > SETTLE_POLL_MS) return false;
  const { state } = c.status;
  return state === "connecting" || ((state === "connected" || state === "idle") && undiscovered(c));
}

/** A digest of what the status and discovery fragments show: a poll that finds it unchanged swaps nothing. */
export function liveFingerprint(c: ConnectionDetailView): string {
  const shown = [c.status.state, c.status.last_error, c.enabled, c.refused_by_policy, c.discovery, c.offers];
  return createHash("sha256").update(JSON.stringify(shown)).digest("base64url").slice(0, 16);
}

/** The polling interval of a settling connection's status. */
export const POLL_EVERY = "2s";

/**
 * The connection's status as it is now. While it settles it polls `/status` (which answers 204 while
 * nothing changed, so the live region around it speaks only of changes) and replaces itself; the
 * version without hx-trigger that a settled answer brings ends the polling.
 */
export function LiveStatus(props: { c: ConnectionDetailView; now: Date }) {
  const { c } = props;
  const polling = settling(c, props.now);
  const attrs = polling ? { "hx-get": `/admin/connections/${c.id}/status?seen=${liveFingerprint(c)}`, "hx-trigger": `every ${POLL_EVERY}`, "hx-swap": "outerHTML" } : {};
  return (
    <span class="live-status" data-settling={polling ? "" : undefined} {...attrs}>
      <StatusBadge c={c} /> {!c.enabled && <span class="badge">disabled</span>}
      {polling && <span class="muted small"> {c.status.state === "connecting" ? "starting; this page updates by itself" : "discovering tools…"}</span>}
    </span>
  );
}

/**
 * What a poll of `/status` answers: the status (the main swap, in place of the polling element) and,
 * as a partial, the discovery section, so the tools appear with "connected".
 */
export function LiveFragment(props: { c: ConnectionDetailView; now: Date; viewer: Pick<User, "role"> }) {
  return (
    <>
      <LiveStatus c={props.c} now={props.now} />
      <hx-partial hx-target="#discovery" hx-swap="outerHTML">
        <DiscoverySection c={props.c} viewer={props.viewer} />
      </hx-partial>
    </>
  );
}

/** What Refresh answers: the discovery section, and the status (as a partial) as it is after the refresh. */
export function RefreshedFragment(props: { c: ConnectionDetailView; now: Date; viewer: Pick<User, "role"> }) {
  return (
    <>
      <DiscoverySection c={props.c} viewer={props.viewer} />
      <hx-partial hx-target="#connection-state" hx-swap="innerHTML">
        <LiveStatus c={props.c} now={props.now} />
      </hx-partial>
    </>
  );
}

/**
 * What the connection offers, as last discovered; the unit "Refresh" replaces. A per-user connection's
 * resources, templates and prompts were read with an admin's own account: a member is shown only its
 * tools (CONNECTION_GET gives them no more), and told why.
 */
export function DiscoverySection(props: { c: ConnectionDetailView; viewer: Pick<User, "role">; message?: Message }) {
  const { c } = props;
  const perUser = c.oauth?.mode === "per_user";
  const toolsOnly = perUser && props.viewer.role !== "admin";
  const waiting = undiscovered(c) && c.enabled && c.refused_by_policy === null;
  return (
    <section id="discovery" class="panel">
      <div class="row spread">
        <h2 class="panel-title">What it offers</h2>
        <form class="inline" method="post" action={`/admin/connections/${c.id}/refresh`} hx-post={`/admin/connections/${c.id}/refresh`} hx-target="#discovery" hx-swap="outerHTML" data-busy="Refreshing…">
          <button class="secondary" type="submit" data-busy-label="Refreshing…">Refresh</button>
        </form>
      </div>
      <div class="discovery-result" aria-live="polite">
        <Alert message={props.message} reveal />
      </div>
      <p class="muted small">
        Last discovered: {isoSecond(c.discovery.refreshed_at)}
        {c.discovery.error && <span class="error-text"> · {c.discovery.error}</span>}
      </p>
      {waiting ? (
        <p class="muted">Not discovered yet: its tools, resources and prompts show here once Switchboard has reached it.</p>
      ) : (
        <>
          <DiscoveryWarnings warnings={c.discovery.warnings} />
          <SharedSessionNotice c={c} />
          <Offered title="Tools" items={c.offers.tools} />
          {perUser && (
            <p class="muted small account-lists">
              {toolsOnly
                ? "Its resources, resource templates and prompts are each account's own: your MCP client lists yours once you connect your account."
                : "Resources, resource templates and prompts below were read with the account of the admin who connected last: only admins see them here, and each user's MCP client lists their own."}
            </p>
          )}
          {!toolsOnly && (
            <>
              <Offered title="Resources" items={c.offers.resources} />
              <Offered title="Resource templates" items={c.offers.resource_templates} />
              <Offered title="Prompts" items={c.offers.prompts} />
            </>
          )}
        </>
      )}
    </section>
  );
}

function Settings(props: { c: ConnectionView }) {
  const { c } = props;
  const names = (table: Record<string, string>) => (Object.keys(table).length === 0 ? "none" : Object.keys(table).map((n) => `${n}: ${table[n]}`).join(", "));
  return (
    <dl class="kv connection-settings">
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
          {c.auth === "oauth" ? (
            <><dt>Authentication</dt><dd><a href="#oauth">OAuth</a> ({c.oauth?.mode === "per_user" ? "per user" : "shared account"})</dd></>
          ) : (
            <><dt>Bearer token</dt><dd>{c.token_set ? "set (hidden)" : "none"}</dd></>
          )}
          <dt>Headers</dt><dd><code>{names(c.headers)}</code></dd>
        </>
      )}
      <dt>Timeouts</dt><dd>connect {c.connect_timeout_ms === null ? "default" : `${c.connect_timeout_ms} ms`}, call {c.call_timeout_ms === null ? "default" : `${c.call_timeout_ms} ms`}</dd>
      <dt>MCP endpoint</dt><dd><code id="mcp-url">{c.mcp_url}</code> <button type="button" class="secondary small" data-copy="#mcp-url">Copy</button></dd>
      <dt>Updated</dt><dd>{isoSecond(c.updated_at)}</dd>
    </dl>
  );
}

/** Confirmations after a redirect, from a fixed flag in the query: the page writes the text itself. */
export type ConnectionNotice = "created" | "saved";

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
  /** When the page is drawn: whether a settling status still polls. */
  now: Date;
  notice?: ConnectionNotice;
  /** The outcome of "Test" (without JS), shown beside that button. */
  test?: TestOutcome;
  /** The outcome of the settings form (a refused save, "Test these settings" without JS), shown beside its buttons. */
  formResult?: { test?: TestOutcome; message?: Message };
  /** A refused delete, beside its button. */
  deleteMessage?: Message;
  /** Refresh without JS, in the discovery section. */
  discoveryMessage?: Message;
  /** The OAuth panel (connections with auth = "oauth"): the links the viewer may see, a notice or a refusal. */
  oauthPanel?: Pick<OAuthPanelProps, "links" | "notice" | "message">;
};

function noticeText(notice: ConnectionNotice, c: ConnectionDetailView): string {
  return notice === "created" ? `Connection ${c.title} created.` : "Saved.";
}

/** The result box of a form: what its last action answered, replaced whole by the next (htmx swaps its inside). */
export function ResultBox(props: { id: string; test?: TestOutcome; message?: Message }) {
  return (
    <div id={props.id} class="result-box" aria-live="polite">
      {props.test ? <TestResult result={props.test} /> : <Alert message={props.message} reveal />}
    </div>
  );
}

/** Each replica's own state of the connection (several replicas only: each runs its own stdio processes). */
function ReplicaStates(props: { replicas: NonNullable<ConnectionDetailView["replicas"]> }) {
  return (
    <section class="panel" id="replica-states">
      <h2 class="panel-title">On each replica</h2>
      <div class="table-scroll">
        <table class="compact">
          <thead><tr><th>Replica</th><th>State</th><th>Last error</th><th>Since</th></tr></thead>
          <tbody>
            {props.replicas.map((r) => (
              <tr>
                <td><code>{r.url}</code></td>
                <td><span class={`badge state-${r.state}`}>{r.state}</span></td>
                <td>{r.error ?? ""}</td>
                <td class="small">{r.updated_at}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ConnectionPage(props: ConnectionPageProps) {
  const { c, viewer } = props;
  const isAdmin = viewer.role === "admin";
  return (
    <AdminLayout title={c.title} user={viewer} active="connections">
      <p><a href="/admin/connections">← Connections</a></p>
      {props.notice && <Alert message={{ kind: "ok", text: noticeText(props.notice, c) }} />}
      <div class="panel connection-head">
        <div class="row spread">
          <div><code>{c.slug}</code> <span id="connection-state" aria-live="polite"><LiveStatus c={c} now={props.now} /></span></div>
          <form class="inline" method="post" action={`/admin/connections/${c.id}/test`} hx-post={`/admin/connections/${c.id}/test`} hx-target="#test-result" hx-swap="innerHTML" data-busy="Testing…">
            <button type="submit" data-busy-label="Testing…">Test</button>
          </form>
        </div>
        <div id="test-result" class="result-box" aria-live="polite">{props.test && <TestResult result={props.test} />}</div>
        {c.description && <p>{c.description}</p>}
        {c.secrets_unreadable && <div class="alert error">The stored secrets cannot be decrypted (was the server secret changed?). Set the token, headers or env again.</div>}
        <Settings c={c} />
      </div>
      <OAuthPanel c={c} viewer={viewer} links={props.oauthPanel?.links ?? []} notice={props.oauthPanel?.notice} message={props.oauthPanel?.message} />
      {c.replicas && c.replicas.length > 1 && <ReplicaStates replicas={c.replicas} />}
      <DiscoverySection c={c} viewer={viewer} message={props.discoveryMessage} />
      <ClientConfigs name={c.slug} urls={endpointUrls(props.publicUrl, { kind: "connection", id: c.id })} keyHref={`/admin/keys?grant=${c.id}#create-key`} what="connection" oauth={props.oauth} />
      {c.transport === "stdio" && (
        <section class="panel">
          <h2 class="panel-title">stderr</h2>
          {props.stderr === null ? (
            <p class="muted small">Shown to admins only (it may hold what the server prints about its environment).</p>
          ) : props.stderr.length === 0 ? (
            <p class="muted small">Nothing written yet.</p>
          ) : (
            <pre id="stderr" class="stderr">{props.stderr.join("\n")}</pre>
          )}
        </section>
      )}
      {c.from_config ? (
        <p class="muted">Declared in <code>switchboard.toml</code>: read-only here. Change or remove it in the file and restart.</p>
      ) : isAdmin && props.form ? (
        <>
          <ConnectionForm {...props.form} result={<ResultBox id="settings-result" {...props.formResult} />} />
          <form class="panel" method="post" action={`/admin/connections/${c.id}/delete`} data-busy="Deleting…">
            <h2 class="panel-title">Delete</h2>
            <p class="muted">Open sessions end and stdio processes are killed. Agents that select it lose its tools; keys keep their other permissions.</p>
            <label class="check"><input type="checkbox" name="confirm" value="yes" required /> Delete <code>{c.slug}</code> for good</label>
            <button class="danger" type="submit" data-busy-label="Deleting…">Delete connection</button>
            <div class="result-box" aria-live="polite"><Alert message={props.deleteMessage} reveal /></div>
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
      <ConnectionForm {...props.form} result={<ResultBox id="settings-result" test={props.test} message={props.message} />} />
    </AdminLayout>
  );
}
