// Secrets through error text: an upstream that echoes its request headers in its error bodies, and a
// stdio server that prints an env secret to stderr. The connection's token, header and env values (and
// their encoded forms) must reach no caller, no member, no page and no log line; stderr is admins' only.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createLogger } from "../../src/logger.ts";
import { MAX_ERROR_TEXT, redact, REDACTED, secretsOf } from "../../src/gateway/redact.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { startHttpFixture, waitUntil } from "../support/gateway-harness.ts";
import { apiRequest, mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

setDefaultTimeout(30_000);

const TOKEN = "tok-Echoed-S3cret-0001";
const HEADER = "hdr-Echoed-S3cret-0002";
const ENV = "env-Printed-S3cret-0003";
const b64 = (text: string) => Buffer.from(text).toString("base64");
/** Every form of a secret that must not appear anywhere. */
const FORBIDDEN = [TOKEN, HEADER, ENV, b64(TOKEN), b64(`Bearer ${TOKEN}`).slice(0, 20), b64(HEADER), encodeURIComponent(`a+${TOKEN}`)].filter(Boolean);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The request's secret-bearing headers, echoed as upstreams that "help debugging" do: plain, base64, URL-encoded. */
function echo(req: Request): string {
  const auth = req.headers.get("authorization") ?? "";
  const key = req.headers.get("x-api-key") ?? "";
  return `rejected: authorization=${auth} x-api-key=${key} b64=${b64(key)} token64=${b64(auth.replace(/^Bearer /, ""))} url=${encodeURIComponent(`a+${auth.replace(/^Bearer /, "")}`)}`;
}

type World = { t: TestApp; logs: string[]; adminKey: string; memberKey: string; admin: Awaited<ReturnType<typeof insertUser>>; member: Awaited<ReturnType<typeof insertUser>> };

async function world(): Promise<World> {
  const logs: string[] = [];
  const t = await createTestApp({ logger: createLogger({ level: "debug", write: (line) => logs.push(line) }) });
  cleanups.push(async () => {
    await t.deps.gateway.close();
    t.close();
  });
  const admin = await insertUser(t.deps, "admin");
  const member = await insertUser(t.deps, "member");
  return { t, logs, admin, member, adminKey: (await mintKey(t.deps, admin, { self: ["*"], "*": ["*"] })).token, memberKey: (await mintKey(t.deps, member, { self: ["*"], "*": ["*"] })).token };
}

async function json(res: Response | Promise<Response>): Promise<Record<string, unknown>> {
  return (await (await res).json()) as Record<string, unknown>;
}

function expectClean(where: string, text: string): void {
  for (const secret of FORBIDDEN) if (text.includes(secret)) throw new Error(`${where} shows a secret (${secret}): ${text.slice(0, 400)}`);
}

describe("redact()", () => {
  test("replaces every form of every secret and caps the text", () => {
    const secrets = secretsOf({ token: TOKEN, headers: { "X-Api-Key": HEADER, Short: "on" }, env: { KEY: ENV } });
    const text = `a ${TOKEN} b ${b64(HEADER)} c ${encodeURIComponent(`${ENV}/x`)} d ${JSON.stringify(`"${TOKEN}"`)} on`;
    const out = redact(text, secrets);
    expectClean("redact()", out);
    expect(out).toContain(`a ${REDACTED} b ${REDACTED}`);
    expect(out).toEndWith(" on"); // a value too short to be a secret is left alone
    const long = redact(`${"x".repeat(MAX_ERROR_TEXT * 2)}`, secrets);
    expect(long.length).toBe(MAX_ERROR_TEXT);
    expect(long).toEndWith("…");
    // A secret straddling the cap is replaced before the cut, so no prefix of it survives.
    const straddling = redact(`${"y".repeat(MAX_ERROR_TEXT - 5)}${TOKEN}`, secrets);
    expect(straddling).not.toContain(TOKEN.slice(0, 5));
  });
});

describe("an upstream that echoes its request headers in error bodies", () => {
  test("at initialize: not in last_error, CONNECTION_TEST, CONNECTION_GET, the admin page, the log, or the caller's JSON-RPC error", async () => {
    const upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(echo(req), { status: 500 }) });
    cleanups.push(() => upstream.stop(true));
    const w = await world();
    const created = await json(apiRequest(w.t.app, "POST", "/connections", { token: w.adminKey, json: { slug: "echo", transport: "http", url: `http://127.0.0.1:${upstream.port}/mcp`, token: TOKEN, headers: { "X-Api-Key": HEADER } } }));
    const id = String(created.id);

    const proxied = await w.t.request(`/mcp/${id}`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.memberKey}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    const rpc = await proxied.text();
    expect(proxied.status).toBe(502);
    expect(rpc).toContain(REDACTED); // the echo reached the error, and was redacted
    expectClean("the caller's JSON-RPC error", rpc);

    for (const key of [w.memberKey, w.adminKey]) {
      const tested = await json(apiRequest(w.t.app, "POST", "/connections/test", { token: key, json: { id } }));
      expect(tested).toMatchObject({ ok: false });
      expect(String(tested.error)).toContain(REDACTED);
      expectClean("CONNECTION_TEST", JSON.stringify(tested));
      const got = await json(apiRequest(w.t.app, "GET", `/connections/${id}`, { token: key }));
      expect(String((got.status as { last_error: string }).last_error)).toContain(REDACTED);
      expectClean("CONNECTION_GET", JSON.stringify(got));
    }
    for (const user of [w.member, w.admin]) {
      const page = await w.t.request(`/admin/connections/${id}`, { headers: { cookie: await w.t.cookieFor(user) } });
      expect(page.status).toBe(200);
      expectClean(`the admin page (${user.role})`, await page.text());
    }
    expect(w.logs.some((line) => line.includes("upstream failed"))).toBe(true);
    expectClean("the log", w.logs.join("\n"));
  });

  test("on a call: the caller's JSON-RPC error carries no secret", async () => {
    const fixture = await startHttpFixture();
    cleanups.push(() => fixture.stop());
    // Passes everything to the real fixture, except tools/call, which it refuses echoing the headers.
    const forwarder = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(req) {
        const body = req.method === "POST" ? await req.text() : undefined;
        if (body?.includes('"tools/call"')) return new Response(echo(req), { status: 500 });
        const headers = new Headers(req.headers);
        headers.delete("host");
        return fetch(fixture.url, { method: req.method, headers, body, signal: req.signal });
      },
    });
    cleanups.push(() => forwarder.stop(true));
    const w = await world();
    const created = await json(apiRequest(w.t.app, "POST", "/connections", { token: w.adminKey, json: { slug: "fwd", transport: "http", url: `http://127.0.0.1:${forwarder.port}/mcp`, token: TOKEN, headers: { "X-Api-Key": HEADER } } }));
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const client = new Client({ name: "t", version: "1" });
    cleanups.push(() => client.close());
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${w.t.config.server.public_url}/mcp/${String(created.id)}`), {
        requestInit: { headers: { authorization: `Bearer ${w.memberKey}` } },
        fetch: (url, init) => w.t.request(String(url), init),
      }),
    );
    const err = await client.callTool({ name: "echo", arguments: { text: "x" } }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(REDACTED);
    expectClean("the call's error", err!.message);
    expectClean("the log", w.logs.join("\n"));
  });
});

describe("a stdio server printing an env secret to stderr", () => {
  test("a member's CONNECTION_TEST shows no stderr; an admin's shows it redacted; the page shows stderr to admins only, redacted", async () => {
    const w = await world();
    // Octal escapes: the words it prints ("starting with key") are not in its arguments, which members see.
    const script = 'printf "\\163tarting with key %s\\n" "$SB_SECRET_VALUE" >&2; exit 3';
    const created = await json(apiRequest(w.t.app, "POST", "/connections", { token: w.adminKey, json: { slug: "leaky", transport: "stdio", command: "/bin/sh", args: ["-c", script], env: { SB_SECRET_VALUE: ENV } } }));
    const id = String(created.id);

    const asMember = await json(apiRequest(w.t.app, "POST", "/connections/test", { token: w.memberKey, json: { id } }));
    expect(asMember).toMatchObject({ ok: false });
    expect(String(asMember.error)).not.toContain("stderr");
    expect(String(asMember.error)).not.toContain("starting with key");
    expectClean("a member's CONNECTION_TEST", JSON.stringify(asMember));

    const asAdmin = await json(apiRequest(w.t.app, "POST", "/connections/test", { token: w.adminKey, json: { id } }));
    expect(String(asAdmin.error)).toContain(`(stderr: starting with key ${REDACTED}`);
    expectClean("an admin's CONNECTION_TEST", JSON.stringify(asAdmin));

    // The connection's own runtime tried to start it at creation: its stderr ring has the line.
    await waitUntil(() => w.t.deps.gateway.stderr(id).some((line) => line.includes("starting with key")), "the runtime's stderr");
    const adminPage = await (await w.t.request(`/admin/connections/${id}`, { headers: { cookie: await w.t.cookieFor(w.admin) } })).text();
    expect(adminPage).toContain(`starting with key ${REDACTED}`);
    expectClean("the admin's page", adminPage);
    const memberPage = await (await w.t.request(`/admin/connections/${id}`, { headers: { cookie: await w.t.cookieFor(w.member) } })).text();
    expect(memberPage).not.toContain("starting with key");
    expectClean("the member's page", memberPage);

    // A changed secret: the lines kept from before are redacted with the old value, new ones with the new.
    const ROTATED = "env-Rotated-S3cret-0004";
    expect((await apiRequest(w.t.app, "PATCH", `/connections/${id}`, { token: w.adminKey, json: { env: { SB_SECRET_VALUE: ROTATED } } })).status).toBe(200);
    await waitUntil(() => w.t.deps.gateway.stderr(id).filter((line) => line.includes("starting with key")).length >= 2, "the restarted server's stderr");
    const after = w.t.deps.gateway.stderr(id).join("\n");
    expectClean("stderr after the env changed", after);
    expect(after).not.toContain(ROTATED);
    expectClean("the log", w.logs.join("\n"));
  });
});
