// The upstream address policy on live connections, over loopback only: a denied address (by IP, or by
// a name that resolves to it) is never sent a byte, and the refusal reaches the caller (JSON-RPC), the
// connection's status, and CONNECTION_TEST; the HTTP/1.1 pool connects to the address that was
// checked; the connection operations refuse a denied IP literal at once with a field error.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AddressPolicy } from "../../src/gateway/upstream/address-policy.ts";
import { Http1Pool } from "../../src/gateway/upstream/http1.ts";
import { GatewayHarness, httpSpec, makeCaller, PROTOCOL_VERSION, startHttpFixture, textOf, type HttpFixture } from "../support/gateway-harness.ts";
import { useConnectionHarness } from "../support/connection-harness.ts";
import { apiRequest, mintKey } from "../support/key-harness.ts";

setDefaultTimeout(30_000);

const caller = makeCaller({ "*": ["*"] });
const INITIALIZE = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "address", version: "1" } } };
const policy = (deny: string[], allow: string[] = []) => new AddressPolicy({ upstream_deny: deny, upstream_allow: allow });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback HTTP server that counts the requests it gets (and answers none of them as MCP). */
function countingServer(): { port: number; count: () => number } {
  let count = 0;
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (count++, new Response("no", { status: 500 })) });
  cleanups.push(() => server.stop(true));
  return { port: server.port!, count: () => count };
}

function harnessOf(...args: ConstructorParameters<typeof GatewayHarness>): GatewayHarness {
  const h = new GatewayHarness(...args);
  cleanups.push(() => h.close());
  return h;
}

async function fixture(): Promise<HttpFixture> {
  const f = await startHttpFixture();
  cleanups.push(() => f.stop());
  return f;
}

describe("connect-time checks", () => {
  test('upstream_deny = ["127.0.0.0/8"] refuses a loopback upstream by IP and by the name localhost; nothing is sent', async () => {
    const counter = countingServer();
    for (const host of ["127.0.0.1", "localhost"]) {
      const spec = httpSpec(`http://${host}:${counter.port}/mcp`);
      const h = harnessOf([spec], { addressPolicy: policy(["127.0.0.0/8", "::1/128"]) });
      const res = await h.post(spec.id, caller, INITIALIZE);
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(-32603);
      expect(body.error.message).toMatch(/(127\.0\.0\.1|::1) is denied by gateway\.upstream_deny/);
      expect(await h.gateway.status(spec.id)).toMatchObject({ state: "error", lastError: expect.stringContaining("is denied by gateway.upstream_deny") });
      const tested = await h.gateway.test(spec);
      expect(tested.ok).toBe(false);
      expect(tested.error ?? "").toContain(host === "localhost" ? "localhost resolves to" : "127.0.0.1 is denied by gateway.upstream_deny");
    }
    expect(counter.count()).toBe(0);
    // Control: without the deny, the same upstream is reached (the test above could fail).
    const spec = httpSpec(`http://localhost:${counter.port}/mcp`);
    const open = harnessOf([spec]);
    expect((await open.gateway.test(spec)).ok).toBe(false);
    expect(counter.count()).toBeGreaterThan(0);
  });

  test('upstream_allow = ["127.0.0.2/32"] refuses 127.0.0.1; allowing it serves the real fixture', async () => {
    const f = await fixture();
    const spec = httpSpec(f.url);
    const narrow = harnessOf([spec], { addressPolicy: policy([], ["127.0.0.2/32"]) });
    const refused = await narrow.gateway.test(spec);
    expect(refused).toMatchObject({ ok: false, server: null, error: expect.stringContaining("127.0.0.1 is outside gateway.upstream_allow") });
    const res = await narrow.post(spec.id, caller, INITIALIZE);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("127.0.0.1 is outside gateway.upstream_allow");

    const allowed = harnessOf([spec], { addressPolicy: policy([], ["127.0.0.1/32"]) });
    expect(await allowed.gateway.test(spec)).toMatchObject({ ok: true, server: { name: "fixture" } });
    const client = await allowed.connect(spec.id);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "through" } }))).toBe("through");
  });

  test("the legacy SSE transport is checked too", async () => {
    const f = await startHttpFixture("sse");
    cleanups.push(() => f.stop());
    const spec = httpSpec(f.url, { transport: "sse" });
    const h = harnessOf([spec], { addressPolicy: policy(["127.0.0.1"]) });
    expect(await h.gateway.test(spec)).toMatchObject({ ok: false, error: expect.stringContaining("127.0.0.1 is denied by gateway.upstream_deny") });
    const open = harnessOf([spec]);
    expect(await open.gateway.test(spec)).toMatchObject({ ok: true });
  });

  test("the HTTP/1.1 pool connects to the checked address, not to the name again", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`host=${req.headers.get("host")}`) });
    cleanups.push(() => server.stop(true));
    const looked: string[] = [];
    // "pinned.invalid" cannot resolve: the socket can only reach the server through the pinned address.
    const pool = new Http1Pool(new URL(`http://pinned.invalid:${server.port}/`), { maxSockets: 1, addressOf: async (hostname) => {
      looked.push(hostname);
      return "127.0.0.1";
    } });
    cleanups.push(() => pool.close());
    const res = await pool.request("/", { method: "GET", headers: {} });
    expect(await res.text()).toBe(`host=pinned.invalid:${server.port}`);
    expect(looked).toEqual(["pinned.invalid"]);
    const denying = new Http1Pool(new URL(`http://127.0.0.1:${server.port}/`), { maxSockets: 1, addressOf: (hostname) => policy(["127.0.0.1"]).resolve(hostname) });
    cleanups.push(() => denying.close());
    expect(denying.request("/", { method: "GET", headers: {} })).rejects.toThrow("127.0.0.1 is denied by gateway.upstream_deny");
  });
});

describe("the connection operations", () => {
  const harness = useConnectionHarness();

  test("refuse a denied IP literal at once with a field error; a name is accepted (checked at connect time)", async () => {
    const h = await harness({ gateway: { upstream_deny: ["127.0.0.0/8"] } });
    const token = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
    const send = async (method: string, path: string, json: unknown) => {
      const res = await apiRequest(h.app, method, path, { token, json });
      return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; fields?: Record<string, string> } } };
    };
    expect(await send("POST", "/connections", { slug: "meta", transport: "http", url: "http://169.254.169.254/mcp" })).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_FAILED", message: expect.stringContaining("url: 169.254.169.254 is denied by gateway.upstream_deny"), fields: { url: expect.stringContaining("built in") } } },
    });
    expect(await send("POST", "/connections", { slug: "v6", transport: "sse", url: "http://[::ffff:169.254.169.254]/sse" })).toMatchObject({ status: 400, body: { error: { fields: { url: expect.stringContaining("is denied") } } } });
    expect(await send("POST", "/connections", { slug: "loop", transport: "http", url: "http://127.0.0.1:9/mcp" })).toMatchObject({ status: 400, body: { error: { fields: { url: "127.0.0.1 is denied by gateway.upstream_deny" } } } });
    expect(await send("POST", "/connections", { slug: "named", transport: "http", url: "http://localhost:9/mcp" })).toMatchObject({ status: 201 });
    expect(await send("PATCH", "/connections/named", { url: "http://127.0.0.2:9/mcp" })).toMatchObject({ status: 400, body: { error: { fields: { url: expect.stringContaining("127.0.0.2 is denied") } } } });
    expect(await send("POST", "/connections/test", { connection: { transport: "http", url: "http://169.254.169.254/" } })).toMatchObject({
      status: 400,
      body: { error: { fields: { "connection.url": expect.stringContaining("is denied") } } },
    });
    // Nothing refused reached the gateway.
    expect(h.gateway.applied.map((s) => s.url)).toEqual(["http://localhost:9/mcp"]);
    expect(h.gateway.tested).toEqual([]);
  });
});
