// GET /metrics: the Prometheus text format (checked by a Prometheus text parser and by a strict line
// grammar of our own), counters that move with calls and requests, bounded labels (route patterns,
// never raw paths), and who may scrape: the token, loopback only without one, 404 when disabled.
import { describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import type { AppEnv } from "../../src/http/context.ts";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { escapeLabel, isLoopback } from "../../src/http/routes/metrics.ts";
import { FakeGateway } from "../support/connection-harness.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { apiRequest, mintKey, useHarness } from "../support/key-harness.ts";
import { createTestApp, useFresh, type ConfigOverrides } from "../support/app.ts";

// A module name in a variable: typecheck passes before the package is installed; the test does not.
const PROMETHEUS_PARSER = "parse-prometheus-text-format";
const TOKEN = "metrics-token-0123456789abcdef";
const withFake = async (overrides: ConfigOverrides = {}) => {
  const gateway = new FakeGateway();
  return { ...(await createTestApp({ overrides, gateway })), gateway };
};
const fresh = useFresh(withFake);
const harness = useHarness();

type App = { app: Hono<AppEnv> };

/** A scrape from `address` as the socket's peer (what Bun.serve's requestIP reports). */
function scrape(t: App, options: { address?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const env = { requestIP: () => ({ address: options.address ?? "127.0.0.1" }) };
  return Promise.resolve(t.app.request("http://switchboard.test/metrics", { headers: options.headers }, env));
}

function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    at: new Date(),
    durationMs: 42,
    face: "mcp",
    target: { kind: "connection", id: "conn_1", slug: "github" },
    method: "tools/call",
    name: "search",
    upstreamName: "search",
    connectionId: "conn_1",
    outcome: "ok",
    errorCode: null,
    errorMessage: null,
    actor: { userId: "user_1", credentialKind: "api_key", credentialId: "key_1" },
    sessionId: null,
    client: { name: null, version: null },
    address: "127.0.0.1",
    requestBytes: 10,
    responseBytes: 20,
    payload: null,
    ...overrides,
  };
}

type Sample = { name: string; labels: Record<string, string>; value: number };

/**
 * Our own strict reading of text format 0.0.4: every line is a HELP, a TYPE or a sample; label values
 * escape only \\, \" and \n; each sample belongs to a family whose TYPE came first; names are valid.
 */
function strictParse(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
  const sampleLine = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (-?[0-9.e+]+|NaN|\\+Inf|-Inf)$`);
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      expect(line).toMatch(new RegExp(`^# HELP ${NAME} [^\\n]*$`));
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!)).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = sampleLine.exec(line);
    if (!m) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(family)).toBe(true);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe("the exposition", () => {
  test("parses with a Prometheus text parser, with every family the brief names", async () => {
    const t = await fresh();
    t.deps.callMetrics.record(record());
    // The parser the lead installs (npm: parse-prometheus-text-format); this test fails until it is.
    const { default: parse } = (await import(PROMETHEUS_PARSER)) as { default: (text: string) => { name: string; type: string; metrics: unknown[] }[] };
    const families = parse(await (await scrape(t)).text());
    const names = families.map((f) => f.name);
    for (const name of [
      "switchboard_build_info", "switchboard_calls_total", "switchboard_call_duration_seconds", "switchboard_upstream_up", "switchboard_mcp_sessions",
      "switchboard_stdio_processes", "switchboard_usage_dropped_total", "switchboard_usage_queue", "switchboard_http_requests_total",
    ]) expect(names).toContain(name);
    expect(families.find((f) => f.name === "switchboard_call_duration_seconds")?.type).toBe("HISTOGRAM");
  });

  test("passes the strict line grammar; content type 0.0.4; histograms cumulative up to +Inf = count", async () => {
    const t = await fresh();
    t.deps.callMetrics.record(record({ durationMs: 3 }));
    t.deps.callMetrics.record(record({ durationMs: 700 }));
    t.deps.callMetrics.record(record({ durationMs: 500_000 }));
    const res = await scrape(t);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const { samples, types } = strictParse(await res.text());
    expect(types.get("switchboard_calls_total")).toBe("counter");
    expect(types.get("switchboard_call_duration_seconds")).toBe("histogram");
    const buckets = samples.filter((s) => s.name === "switchboard_call_duration_seconds_bucket" && s.labels.target === "github");
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.find((b) => b.labels.le === "0.005")?.value).toBe(1);
    expect(buckets.find((b) => b.labels.le === "1")?.value).toBe(2);
    // 500 s is past the last finite bucket: only +Inf (and the count) hold it.
    expect(buckets.find((b) => b.labels.le === "120")?.value).toBe(2);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: "+Inf" }, value: 3 });
    expect(value(samples, "switchboard_call_duration_seconds_count", { target: "github" })).toBe(3);
    expect(value(samples, "switchboard_call_duration_seconds_sum", { target: "github" })).toBeCloseTo(500.703, 6);
    expect(value(samples, "switchboard_build_info")).toBe(1);
  });

  test("label values are escaped per the format: a backslash, a quote and a line feed survive the round trip", async () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const t = await fresh();
    const slug = 'we"ird\\slug\nx';
    t.deps.callMetrics.record(record({ target: { kind: "connection", id: null, slug } }));
    const { samples } = strictParse(await (await scrape(t)).text());
    expect(value(samples, "switchboard_calls_total", { target: slug })).toBe(1);
  });
});

describe("counters move", () => {
  test("calls by target, method and outcome; an unknown method is 'other'", async () => {
    const t = await fresh();
    t.deps.callMetrics.record(record());
    t.deps.callMetrics.record(record());
    t.deps.callMetrics.record(record({ outcome: "refused", method: "evil/method-1" }));
    t.deps.callMetrics.record(record({ target: { kind: "agent", id: "agent_1", slug: "helper" }, outcome: "tool_error" }));
    const { samples } = strictParse(await (await scrape(t)).text());
    expect(value(samples, "switchboard_calls_total", { target_kind: "connection", target: "github", method: "tools/call", outcome: "ok" })).toBe(2);
    expect(value(samples, "switchboard_calls_total", { target_kind: "connection", target: "github", method: "other", outcome: "refused" })).toBe(1);
    expect(value(samples, "switchboard_calls_total", { target_kind: "agent", target: "helper", outcome: "tool_error" })).toBe(1);
    expect(samples.some((s) => s.labels.method === "evil/method-1")).toBe(false);
  });

  test("the app's one usage sink feeds the counters and the recorder's queue: what capture points record shows at once", async () => {
    const t = await fresh();
    t.deps.usage.record(record({ target: { kind: "agent", id: "agent_9", slug: "wired" } }));
    t.deps.usage.record(record({ target: { kind: "self", id: null, slug: null }, method: "operation", face: "api", outcome: "refused" }));
    const { samples } = strictParse(await (await scrape(t)).text());
    expect(value(samples, "switchboard_calls_total", { target_kind: "agent", target: "wired", method: "tools/call", outcome: "ok" })).toBe(1);
    expect(value(samples, "switchboard_calls_total", { target_kind: "self", target: "self", method: "operation", outcome: "refused" })).toBe(1);
    expect(value(samples, "switchboard_usage_queue")).toBe(t.deps.usageRecorder.counters.queued);
    expect(value(samples, "switchboard_usage_dropped_total")).toBe(t.deps.usageRecorder.counters.dropped);
    await t.deps.usageRecorder.flush();
    const after = strictParse(await (await scrape(t)).text()).samples;
    expect(value(after, "switchboard_usage_queue")).toBe(0);
    // Counted since start, not read from the database: still there after the rows are written.
    expect(value(after, "switchboard_calls_total", { target: "wired" })).toBe(1);
  });

  test("upstream state, sessions and stdio processes come from the gateway", async () => {
    const t = await fresh();
    const up = await createConnection(connectionStore(t.deps), newConnectionFields({ slug: "up", transport: "http", url: "https://mcp.example.com/mcp" }));
    await createConnection(connectionStore(t.deps), newConnectionFields({ slug: "down", transport: "http", url: "https://mcp.example.com/mcp" }));
    t.gateway.statuses.set(up.id, { state: "connected", lastError: null, since: new Date() });
    t.gateway.sessionCount = 3;
    t.gateway.stdioProcessCount = 2;
    const { samples } = strictParse(await (await scrape(t)).text());
    expect(value(samples, "switchboard_upstream_up", { connection: "up" })).toBe(1);
    expect(value(samples, "switchboard_upstream_up", { connection: "down" })).toBe(0);
    expect(value(samples, "switchboard_mcp_sessions")).toBe(3);
    expect(value(samples, "switchboard_stdio_processes")).toBe(2);
  });

  test("HTTP requests are counted by route pattern and status, never by raw path", async () => {
    const t = await fresh();
    const probe = "no-such-path-7f3a";
    await t.request(`/api/v1/connections/conn_${probe}`);
    await t.request(`/${probe}`);
    await t.request("/healthz");
    await scrape(t);
    const text = await (await scrape(t)).text();
    expect(text).not.toContain(probe);
    const { samples } = strictParse(text);
    expect(value(samples, "switchboard_http_requests_total", { route: "/healthz", status: "200" })).toBe(1);
    expect(value(samples, "switchboard_http_requests_total", { route: "/metrics", status: "200" })).toBe(1);
    // The bearer check answered for /api/v1/*: its pattern, not the path asked for.
    expect(value(samples, "switchboard_http_requests_total", { route: "/api/v1/*", status: "401" })).toBe(1);
    expect(value(samples, "switchboard_http_requests_total", { route: "unmatched", status: "404" })).toBeGreaterThanOrEqual(1);
  });

  test("a key's REST call counts under its route pattern", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    await apiRequest(h.app, "GET", "/connections", { token });
    const { samples } = strictParse(await (await scrape(h)).text());
    expect(value(samples, "switchboard_http_requests_total", { route: "/api/v1/connections", status: "200" })).toBe(1);
  });
});

describe("who may scrape", () => {
  test("no token configured: loopback peers only (IPv4, IPv6); others 403 with nothing of the metrics", async () => {
    const t = await fresh();
    t.deps.callMetrics.record(record());
    expect((await scrape(t, { address: "127.0.0.1" })).status).toBe(200);
    expect((await scrape(t, { address: "::1" })).status).toBe(200);
    expect((await scrape(t, { address: "::ffff:127.0.0.1" })).status).toBe(200);
    for (const address of ["10.0.0.5", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1"]) {
      const res = await scrape(t, { address });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain("switchboard_calls_total");
    }
  });

  test("X-Forwarded-For is not believed from an untrusted peer, and a trusted proxy's forwarded client decides", async () => {
    const t = await fresh();
    expect((await scrape(t, { address: "10.0.0.5", headers: { "x-forwarded-for": "127.0.0.1" } })).status).toBe(403);
    const proxied = await fresh({ server: { trusted_proxies: ["127.0.0.1"] } });
    // The loopback peer is a trusted proxy: the client it names is outside, so no metrics.
    expect((await scrape(proxied, { address: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(403);
    expect((await scrape(proxied, { address: "127.0.0.1" })).status).toBe(200);
  });

  test("a token configured: the Bearer token is required, from anywhere, loopback included", async () => {
    const t = await fresh({ metrics: { token: TOKEN } });
    const none = await scrape(t, { address: "127.0.0.1" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
    expect(await none.text()).not.toContain("switchboard_");
    for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, "Bearer "]) {
      expect((await scrape(t, { address: "127.0.0.1", headers: { authorization: auth } })).status).toBe(401);
    }
    expect((await scrape(t, { address: "203.0.113.9", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  test("enabled = false: 404 for everyone, the token's holder included", async () => {
    const t = await fresh({ metrics: { enabled: false, token: TOKEN } });
    expect((await scrape(t, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await scrape(await fresh({ metrics: { enabled: false } }))).status).toBe(404);
  });

  test("isLoopback: only 127/8, ::1 and IPv4-mapped loopback", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "::FFFF:127.0.0.1"].every(isLoopback)).toBe(true);
    expect(["128.0.0.1", "0.0.0.0", "::", "::2", "1127.0.0.1", "127.0.0.1.evil", "unknown"].some(isLoopback)).toBe(false);
  });
});
