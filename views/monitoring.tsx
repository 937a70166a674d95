// The Monitoring page (filters, charts, the log) and the fragment htmx swaps when a filter changes or
// the page refreshes itself, one recorded call's detail, and one key's activity.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { RANGE_NAMES } from "../src/domain/monitoring/types.ts";
import { BarList, CallsChart, formatMs, formatStamp, LatencyChart, type BarEntry, type SeriesPoint } from "./charts.tsx";
import { AdminLayout } from "./layout.tsx";

/** A choice of a filter's select: the id sent, the name shown. */
export type Option = { id: string; label: string };

/** The filters as the query string carries them (as typed: the operations check them). */
export type MonitoringFilters = Partial<Record<(typeof FILTER_FIELDS)[number], string>>;
export const FILTER_FIELDS = ["range", "from", "to", "agent_id", "connection_id", "credential_id", "user_id", "name", "outcome", "face"] as const;

const OUTCOMES = ["ok", "tool_error", "error", "refused", "timeout"] as const;
/** Where calls came from: MCP clients of connections and agents, or the management faces (whose reads this page's own are). */
const FACES: Option[] = [
  { id: "mcp", label: "MCP clients" },
  { id: "api", label: "REST API" },
  { id: "admin", label: "Admin pages" },
  { id: "cli", label: "CLI" },
  { id: "config", label: "Config at start" },
];

type Top = { id: string; calls: number; errors: number }[];
type Series = { start: string; calls: number; errors: number; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null }[];

/** MONITORING_STATS' output, as the page reads it. */
export type StatsView = {
  from: string;
  to: string;
  totals: { calls: number; errors: number; error_rate: number; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null };
  series: Series;
  top: { tools: Top; agents: Top; connections: Top; credentials: Top; users: Top };
  errors: { outcome: string; code: string | null; count: number }[];
};

/** A row of MONITORING_LOGS_LIST, as the page reads it. */
export type LogRow = {
  id: string;
  at: string;
  duration_ms: number;
  face: string;
  target: { kind: string; id: string | null; slug: string | null };
  method: string;
  name: string | null;
  upstream_name: string | null;
  connection_id: string | null;
  outcome: string;
  error_code: string | null;
  error_message: string | null;
  actor: { user_id: string | null; credential_kind: string; credential_id: string | null };
  session_id: string | null;
  client: { name: string | null; version: string | null };
  address: string | null;
  request_bytes: number;
  response_bytes: number;
};

export type LogDetail = LogRow & { payload: { arguments?: unknown; result?: unknown; truncated?: boolean } | null };

export type MonitoringProps = {
  user: User;
  /** Admins filter by user too; members see only their own calls anyway. */
  isAdmin: boolean;
  filters: MonitoringFilters;
  options: { agents: Option[]; connections: Option[]; credentials: Option[]; users: Option[] };
  /** The figures and the log; null when the filters were refused. */
  stats: StatsView | null;
  log: { rows: LogRow[]; next_cursor: string | null } | null;
  /** Why the filters were refused (a bad date, a window too wide). */
  refusal: string | null;
  /** The current query string (filters and cursor), for the refresh and the export links. */
  query: string;
};

/** The series with Dates, as the charts take it. */
export function seriesPoints(series: Series): SeriesPoint[] {
  return series.map((p) => ({ start: new Date(p.start), calls: p.calls, errors: p.errors, p50: p.p50_ms, p95: p.p95_ms, p99: p.p99_ms }));
}

/** Top entries with names instead of ids (an id no longer listed is shown as is), linked when `href` says where. */
export function barEntries(top: Top, options: Option[], href?: (id: string) => string): BarEntry[] {
  const names = new Map(options.map((o) => [o.id, o.label]));
  return top.map((e) => ({ label: names.get(e.id) ?? e.id, value: e.calls, errors: e.errors, ...(href ? { href: href(e.id) } : {}) }));
}

/** The query string of these filters (empty ones left out), plus extra pairs. */
export function filterQuery(filters: MonitoringFilters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const field of FILTER_FIELDS) if (filters[field]) params.set(field, filters[field]!);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params.toString();
}

function Select(props: { name: string; label: string; value?: string; options: Option[]; any: string }) {
  return (
    <div>
      <label for={`f-${props.name}`}>{props.label}</label>
      <select id={`f-${props.name}`} name={props.name}>
        <option value="">{props.any}</option>
        {props.options.map((o) => <option value={o.id} selected={o.id === props.value}>{o.label}</option>)}
      </select>
    </div>
  );
}

/** The filters: one GET form; htmx swaps the results and pushes the URL, so a view can be shared. */
function Filters(props: MonitoringProps) {
  const f = props.filters;
  const custom = Boolean(f.from || f.to);
  return (
    <form id="monitor-filters" class="panel monitor-filters" method="get" action="/admin/monitoring"
      hx-get="/admin/monitoring" hx-target="#monitor-results" hx-swap="outerHTML" hx-push-url="true" hx-trigger="change, submit">
      <div class="row">
        <div>
          <label for="f-range">Range</label>
          <select id="f-range" name="range">
            {RANGE_NAMES.map((r) => <option value={r} selected={!custom && (f.range ?? "24h") === r}>Last {r}</option>)}
          </select>
        </div>
        <div>
          <label for="f-from">From (UTC)</label>
          <input id="f-from" name="from" type="datetime-local" value={localValue(f.from)} />
        </div>
        <div>
          <label for="f-to">To (UTC)</label>
          <input id="f-to" name="to" type="datetime-local" value={localValue(f.to)} />
        </div>
      </div>
      <div class="row">
        <Select name="agent_id" label="Agent" value={f.agent_id} options={props.options.agents} any="Any agent" />
        <Select name="connection_id" label="Connection" value={f.connection_id} options={props.options.connections} any="Any connection" />
        <Select name="credential_id" label="Key" value={f.credential_id} options={props.options.credentials} any="Any key" />
        {props.isAdmin && <Select name="user_id" label="User" value={f.user_id} options={props.options.users} any="Any user" />}
        <div>
          <label for="f-name">Tool</label>
          <input id="f-name" name="name" type="text" value={f.name ?? ""} placeholder="any" />
        </div>
        <div>
          <label for="f-outcome">Outcome</label>
          <select id="f-outcome" name="outcome">
            <option value="">Any outcome</option>
            {OUTCOMES.map((o) => <option value={o} selected={f.outcome === o}>{o}</option>)}
          </select>
        </div>
        <Select name="face" label="Through" value={f.face} options={FACES} any="Any face" />
      </div>
      <div class="row" style="margin-top:10px">
        <button type="submit">Apply</button>
        <a href="/admin/monitoring">Reset</a>
        <span class="muted small">From/To override the range. Times are UTC.</span>
      </div>
    </form>
  );
}

/** An ISO time as a datetime-local input shows it (UTC, minutes). */
function localValue(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16);
}

function ErrorBreakdown(props: { errors: StatsView["errors"] }) {
  const entries = props.errors.map((e) => ({ label: e.code ? `${e.outcome} ${e.code}` : e.outcome, value: e.count, errors: e.count }));
  return <BarList title="Errors by outcome and code" entries={entries} empty="No errors in this range." />;
}

function target(row: LogRow): string {
  return row.target.kind === "self" ? "management" : `${row.target.kind} ${row.target.slug ?? row.target.id ?? "?"}`;
}

/** The charts and the log: what the filters change and what refreshes itself every 10 s while the tab is shown. */
export function MonitoringResults(props: MonitoringProps) {
  // Refused filters are not asked for again every 10 s (and a section without a trigger would get htmx's
  // default, a click): the refusal stands until the form changes.
  const poll = props.refusal === null ? { "hx-get": `/admin/monitoring?${props.query}`, "hx-trigger": "every 10s", "hx-swap": "outerHTML", "data-pause-hidden": "" } : {};
  return (
    <section id="monitor-results" {...poll}>
      {props.refusal !== null && <div class="alert error" role="alert">{props.refusal}</div>}
      {props.stats && <Charts {...props} stats={props.stats} />}
      {props.log && <Log {...props} log={props.log} />}
    </section>
  );
}

function Charts(props: MonitoringProps & { stats: StatsView }) {
  const s = props.stats;
  const from = new Date(s.from), to = new Date(s.to);
  const series = seriesPoints(s.series);
  const byFilter = (field: string) => (id: string) => `/admin/monitoring?${filterQuery({ ...props.filters, [field]: id })}`;
  return (
    <div>
      <div class="cards">
        <div class="card"><div class="label">Calls</div><div class="value" data-figure="calls">{s.totals.calls}</div></div>
        <div class="card"><div class="label">Errors</div><div class="value" data-figure="errors">{s.totals.errors} <small class="muted">({(s.totals.error_rate * 100).toFixed(1)}%)</small></div></div>
        <div class="card"><div class="label">Latency p50 / p95 / p99</div><div class="value small">{formatMs(s.totals.p50_ms)} / {formatMs(s.totals.p95_ms)} / {formatMs(s.totals.p99_ms)}</div></div>
        <div class="card"><div class="label">Window</div><div class="value small">{formatStamp(from)}<br />{formatStamp(to)}</div></div>
      </div>
      <div class="charts">
        <CallsChart title="Calls and errors" series={series} from={from} to={to} />
        <LatencyChart title="Latency" series={series} from={from} to={to} />
        <BarList title="Top tools" entries={barEntries(s.top.tools, [], byFilter("name"))} />
        <BarList title="Top agents" entries={barEntries(s.top.agents, props.options.agents, byFilter("agent_id"))} />
        <BarList title="Top connections" entries={barEntries(s.top.connections, props.options.connections, byFilter("connection_id"))} />
        <BarList title="Top keys" entries={barEntries(s.top.credentials, props.options.credentials, byFilter("credential_id"))} />
        {props.isAdmin && <BarList title="Top users" entries={barEntries(s.top.users, props.options.users, byFilter("user_id"))} />}
        <ErrorBreakdown errors={s.errors} />
      </div>
    </div>
  );
}

function Log(props: MonitoringProps & { log: { rows: LogRow[]; next_cursor: string | null } }) {
  const credentials = new Map(props.options.credentials.map((o) => [o.id, o.label]));
  const users = new Map(props.options.users.map((o) => [o.id, o.label]));
  return (
    <div class="panel">
      <div class="row spread">
        <h2 style="margin:0">Calls</h2>
        <span class="small">
          Export: <a href={`/admin/monitoring/export?${filterQuery(props.filters, { format: "csv" })}`}>CSV</a> ·{" "}
          <a href={`/admin/monitoring/export?${filterQuery(props.filters, { format: "json" })}`}>JSON</a>
        </span>
      </div>
      {props.log.rows.length === 0 ? (
        <p class="muted">No calls in this range.</p>
      ) : (
        <div class="table-scroll"><table class="log">
          <thead>
            <tr><th>Time (UTC)</th><th>Target</th><th>Method</th><th>Name</th><th>Outcome</th><th>Duration</th><th>Caller</th>{props.isAdmin && <th>User</th>}<th>Client</th></tr>
          </thead>
          <tbody>
            {props.log.rows.map((row) => (
              <tr data-row={row.id}>
                <td><a href={`/admin/monitoring/logs/${encodeURIComponent(row.id)}`}>{row.at.slice(0, 19).replace("T", " ")}</a></td>
                <td>{target(row)}</td>
                <td><code>{row.method}</code></td>
                <td>{row.name ?? "—"}</td>
                <td><span class={`badge outcome-${row.outcome}`}>{row.outcome}</span>{row.error_code && <span class="muted small"> {row.error_code}</span>}</td>
                <td>{formatMs(row.duration_ms)}</td>
                <td>{row.actor.credential_id ? credentials.get(row.actor.credential_id) ?? row.actor.credential_kind : row.actor.credential_kind}</td>
                {props.isAdmin && <td>{row.actor.user_id ? users.get(row.actor.user_id) ?? row.actor.user_id : "—"}</td>}
                <td>{row.client.name ? `${row.client.name} ${row.client.version ?? ""}` : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
      {props.log.next_cursor && (
        <p>
          <a href={`/admin/monitoring?${filterQuery(props.filters, { cursor: props.log.next_cursor })}`}
            hx-get={`/admin/monitoring?${filterQuery(props.filters, { cursor: props.log.next_cursor })}`} hx-target="#monitor-results" hx-swap="outerHTML" hx-push-url="true">
            Older calls →
          </a>
        </p>
      )}
    </div>
  );
}

/** The whole Monitoring page. */
export function MonitoringPage(props: MonitoringProps) {
  return (
    <AdminLayout title="Monitoring" user={props.user} active="monitoring">
      <p class="muted">{props.isAdmin ? "Every recorded call: MCP requests to connections and agents, and management operations." : "Your calls: those made with your keys, your authorized apps and your admin sessions."}</p>
      <Filters {...props} />
      <MonitoringResults {...props} />
    </AdminLayout>
  );
}

function Json(props: { value: unknown }) {
  return <pre>{JSON.stringify(props.value, null, 2)}</pre>;
}

/** One recorded call: every field, and its arguments and result if they were stored. */
export function LogDetailPage(props: { user: User; row: LogDetail }) {
  const r = props.row;
  return (
    <AdminLayout title="Recorded call" user={props.user} active="monitoring">
      <p><a href="/admin/monitoring">← Monitoring</a></p>
      <div class="panel">
        <dl class="kv">
          <dt>Id</dt><dd><code>{r.id}</code></dd>
          <dt>Time</dt><dd>{r.at}</dd>
          <dt>Duration</dt><dd>{formatMs(r.duration_ms)}</dd>
          <dt>Face</dt><dd>{r.face}</dd>
          <dt>Target</dt><dd>{target(r)} {r.target.id && <code>{r.target.id}</code>}</dd>
          <dt>Method</dt><dd><code>{r.method}</code></dd>
          <dt>Name</dt><dd>{r.name ?? "—"}</dd>
          <dt>Upstream name</dt><dd>{r.upstream_name ?? "—"}</dd>
          <dt>Connection</dt><dd>{r.connection_id ? <a href={`/admin/connections/${encodeURIComponent(r.connection_id)}`}><code>{r.connection_id}</code></a> : "—"}</dd>
          <dt>Outcome</dt><dd><span class={`badge outcome-${r.outcome}`}>{r.outcome}</span></dd>
          <dt>Error code</dt><dd>{r.error_code ?? "—"}</dd>
          <dt>Error message</dt><dd>{r.error_message ?? "—"}</dd>
          <dt>User</dt><dd>{r.actor.user_id ?? "—"}</dd>
          <dt>Credential</dt><dd>{r.actor.credential_kind}{r.actor.credential_id && <> <a href={`/admin/keys/${encodeURIComponent(r.actor.credential_id)}/activity`}><code>{r.actor.credential_id}</code></a></>}</dd>
          <dt>MCP session</dt><dd>{r.session_id ? <code>{r.session_id}</code> : "—"}</dd>
          <dt>Client</dt><dd>{r.client.name ?? "—"} {r.client.version ?? ""}</dd>
          <dt>Address</dt><dd>{r.address ?? "—"}</dd>
          <dt>Request size</dt><dd>{r.request_bytes} bytes</dd>
          <dt>Response size</dt><dd>{r.response_bytes} bytes</dd>
        </dl>
      </div>
      <h2>Arguments and result</h2>
      {r.payload === null ? (
        <p class="muted">Not stored: arguments and results are recorded only for a connection or agent that opts in.</p>
      ) : (
        <div>
          {r.payload.truncated && <div class="alert error">Cut at the recording limit.</div>}
          <h3>Arguments</h3>
          <Json value={r.payload.arguments ?? null} />
          <h3>Result</h3>
          <Json value={r.payload.result ?? null} />
        </div>
      )}
    </AdminLayout>
  );
}

/** MONITORING_KEY_ACTIVITY's output, as the page reads it. */
export type ActivityView = {
  credential_id: string;
  from: string;
  to: string;
  first_use: string | null;
  last_use: string | null;
  calls: number;
  errors: number;
  error_rate: number;
  series: Series;
  tools: Top;
  clients: { name: string | null; version: string | null; first_seen: string; last_seen: string; calls: number }[];
  addresses: { address: string; first_seen: string; last_seen: string; calls: number }[];
  flags: { kind: string; message: string }[];
};

/** A stored time as the admin shows it, or "never". */
export const stamp = (iso: string | null): string => (iso === null ? "never" : formatStamp(new Date(iso)));

/**
 * One key's (or authorized app's) activity over its range: flags first, then use over time, tools,
 * clients and addresses; `level` is the heading level of the clients and addresses parts.
 */
export function ActivityDetails(props: { activity: ActivityView; level: 2 | 3 }) {
  const a = props.activity;
  const Heading = (p: { children: string }) => (props.level === 2 ? <h2>{p.children}</h2> : <h3>{p.children}</h3>);
  return (
    <>
      {a.flags.length > 0 && (
        <div class="alert error flag" role="alert" data-flags="">
          <strong>Unusual activity</strong>
          <ul>{a.flags.map((f) => <li data-flag={f.kind}>{f.message}</li>)}</ul>
        </div>
      )}
      <div class="cards">
        <div class="card"><div class="label">Calls</div><div class="value" data-calls="">{a.calls}</div></div>
        <div class="card"><div class="label">Error rate</div><div class="value">{(a.error_rate * 100).toFixed(1)}%</div></div>
        <div class="card"><div class="label">First use</div><div class="value small">{stamp(a.first_use)}</div></div>
        <div class="card"><div class="label">Last use</div><div class="value small">{stamp(a.last_use)}</div></div>
      </div>
      <div class="charts">
        <CallsChart title="Calls and errors" series={seriesPoints(a.series)} from={new Date(a.from)} to={new Date(a.to)} />
        <BarList title="Tools used" entries={barEntries(a.tools, [])} />
      </div>
      <Heading>Clients</Heading>
      {a.clients.length === 0 ? <p class="muted">None in this range.</p> : (
        <div class="table-scroll"><table class="compact">
          <thead><tr><th>Client</th><th>Version</th><th>First seen</th><th>Last seen</th><th>Calls</th></tr></thead>
          <tbody>{a.clients.map((c) => <tr><td>{c.name ?? "—"}</td><td>{c.version ?? "—"}</td><td>{stamp(c.first_seen)}</td><td>{stamp(c.last_seen)}</td><td>{c.calls}</td></tr>)}</tbody>
        </table></div>
      )}
      <Heading>Addresses</Heading>
      {a.addresses.length === 0 ? <p class="muted">None in this range.</p> : (
        <div class="table-scroll"><table class="compact">
          <thead><tr><th>Address</th><th>First seen</th><th>Last seen</th><th>Calls</th></tr></thead>
          <tbody>{a.addresses.map((x) => <tr><td><code>{x.address}</code></td><td>{stamp(x.first_seen)}</td><td>{stamp(x.last_seen)}</td><td>{x.calls}</td></tr>)}</tbody>
        </table></div>
      )}
    </>
  );
}

/** The page of one key's (or authorized app's) activity. */
export function KeyActivityPage(props: { user: User; name: string; activity: ActivityView; range: string }) {
  const a = props.activity;
  const base = `/admin/keys/${encodeURIComponent(a.credential_id)}/activity`;
  return (
    <AdminLayout title={`Activity of ${props.name}`} user={props.user} active="keys">
      <p><a href="/admin/keys">← API keys</a> · <a href={`/admin/monitoring?${filterQuery({ credential_id: a.credential_id, range: props.range })}`}>Its calls in Monitoring</a></p>
      <p class="row">
        {RANGE_NAMES.map((r) => (r === props.range ? <strong>Last {r}</strong> : <a href={`${base}?range=${r}`}>Last {r}</a>))}
      </p>
      <ActivityDetails activity={a} level={2} />
    </AdminLayout>
  );
}
