// GET /metrics: Prometheus text exposition format 0.0.4. Calls and latencies come from counters kept
// in memory since start (no database query per call series), plus the gateway's live state and the
// usage recorder's queue. Protected by [metrics] token (Bearer) or, without one, loopback clients only.
import { Hono, type Context } from "hono";
import { listConnectionSummaries } from "../../domain/connections/connections.ts";
import { DURATION_BUCKETS } from "../../domain/monitoring/call-metrics.ts";
import { AppError } from "../../errors.ts";
import { sameSecret } from "../../security/compare.ts";
import { VERSION } from "../../version.ts";
import { clientIp } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import type { HttpRequestCounter } from "../middleware/http-metrics.ts";

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value as the format requires: backslash, double quote and line feed escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Writes metric families: HELP, TYPE, then each sample. */
class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: [suffix: string, labels: Record<string, string>, value: number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [suffix, l, value] of samples) this.lines.push(`${name}${suffix}${labels(l)} ${formatValue(value)}`);
  }
  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

/** Whether an address is the loopback (IPv4 127/8, IPv6 ::1, or IPv4 loopback mapped into IPv6). */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === "::1" || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address);
}

/** Refuses the scrape unless the token is presented or, with no token configured, the client is on loopback. */
function authorize(c: Context<AppEnv>, deps: AppDeps): void {
  const token = deps.config.metrics.token;
  if (token !== undefined) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match || !sameSecret(match[1]!, token)) {
      c.header("WWW-Authenticate", 'Bearer realm="metrics"');
      throw new AppError("UNAUTHENTICATED", "Send the metrics token: Authorization: Bearer <token>.");
    }
    return;
  }
  // The socket's peer, or what a trusted proxy says: anyone else's X-Forwarded-For is not believed.
  if (!isLoopback(clientIp(c, deps.config.server.trusted_proxies))) {
    throw new AppError("FORBIDDEN", "Metrics are served to loopback clients only; set [metrics] token to scrape from elsewhere.");
  }
}

/** The whole exposition for one scrape. */
export async function renderMetrics(deps: AppDeps, http: HttpRequestCounter): Promise<string> {
  const out = new Exposition();
  const { callMetrics, gateway, usageRecorder } = deps;
  out.family("switchboard_build_info", "gauge", "The running build (always 1).", [["", { version: VERSION }, 1]]);
  out.family(
    "switchboard_calls_total",
    "counter",
    "MCP requests to connections and agents and management operations, by target, method and outcome, since start.",
    callMetrics.callSeries().map((s) => ["", { target_kind: s.targetKind, target: s.target, method: s.method, outcome: s.outcome }, s.count]),
  );
  const histogram: [string, Record<string, string>, number][] = [];
  for (const s of callMetrics.durationSeries()) {
    const base = { target_kind: s.targetKind, target: s.target };
    DURATION_BUCKETS.forEach((le, i) => histogram.push(["_bucket", { ...base, le: String(le) }, s.buckets[i]!]));
    histogram.push(["_bucket", { ...base, le: "+Inf" }, s.count], ["_sum", base, s.sum], ["_count", base, s.count]);
  }
  out.family("switchboard_call_duration_seconds", "histogram", "How long calls took, by target, since start.", histogram);
  out.family(
    "switchboard_upstream_up",
    "gauge",
    "1 when the connection's upstream is connected, 0 otherwise (idle, connecting, in error or disabled).",
    await Promise.all((await listConnectionSummaries(deps.db)).map(async (c): Promise<[string, Record<string, string>, number]> => ["", { connection: c.slug }, (await gateway.status(c.id)).state === "connected" ? 1 : 0])),
  );
  out.family("switchboard_mcp_sessions", "gauge", "Downstream MCP sessions open now.", [["", {}, gateway.sessionCount]]);
  out.family("switchboard_stdio_processes", "gauge", "Stdio server processes running now.", [["", {}, gateway.stdioProcessCount]]);
  const counters = usageRecorder.counters;
  out.family("switchboard_usage_dropped_total", "counter", "Usage records dropped because the write queue was full, since start.", [["", {}, counters.dropped]]);
  out.family("switchboard_usage_queue", "gauge", "Usage records waiting to be written.", [["", {}, counters.queued]]);
  out.family(
    "switchboard_http_requests_total",
    "counter",
    "HTTP requests answered, by route pattern and status, since start.",
    http.series().map((s) => ["", { route: s.route, status: String(s.status) }, s.count]),
  );
  return out.text();
}

export function metricsRoutes(deps: AppDeps, http: HttpRequestCounter): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    if (!deps.config.metrics.enabled) throw new AppError("NOT_FOUND");
    authorize(c, deps);
    c.header("Cache-Control", "no-store");
    return c.body(await renderMetrics(deps, http), 200, { "Content-Type": CONTENT_TYPE });
  });
  return app;
}
