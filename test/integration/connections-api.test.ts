// The connection operations over REST (and /mcp/self): a guest, a wrong-permission and a happy row
// per route, members refused the admin-only ones, secrets never in a response, validation naming the
// field, the [stdio] policy, config-declared connections read-only, the gateway told of every change,
// and key permissions that name connections checked against the ones that exist.
import { describe, expect, spyOn, test } from "bun:test";
import { getConnection } from "../../src/domain/connections/connections.ts";
import { OPERATIONS } from "../../src/operations/index.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import * as cipher from "../../src/security/cipher.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import type { ConfigOverrides } from "../support/app.ts";
import { discoveryOf, useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { apiRequest, callTool, mintKey, resultText } from "../support/key-harness.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const TOKEN = "tok-Api-S3cret-0001";
const HEADER = "hdr-Api-S3cret-0002";
const ENV = "env-Api-S3cret-0003";
const SECRETS = [TOKEN, HEADER, ENV];
const UNKNOWN = "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";

const harness = useConnectionHarness();

type Ctx = { h: ConnectionHarness; remoteId: string; localId: string; keys: Partial<Record<"happy" | "wrong" | "member", string>> };

/** An app with an http and a stdio connection (both with secrets) and keys for the row kinds. */
async function setup(op: string, overrides: ConfigOverrides = {}): Promise<Ctx> {
  const h = await harness(overrides);
  const remote = await h.store({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Key": HEADER } });
  const local = await h.store({ slug: "local", transport: "stdio", command: "node", args: ["server.js"], env: { API_KEY: ENV } });
  h.gateway.discoveries.set(remote.id, discoveryOf({ search: "Search things", fetch: "Fetch one" }));
  const others = OPERATIONS.map((o) => o.name).filter((name) => name !== op);
  return {
    h,
    remoteId: remote.id,
    localId: local.id,
    keys: {
      happy: (await mintKey(h.deps, h.admin, { self: [op] })).token,
      wrong: (await mintKey(h.deps, h.admin, { self: others, "*": ["*"] })).token,
      member: (await mintKey(h.deps, h.member, { self: ["*"] })).token,
    },
  };
}

const auth = (kind: "happy" | "wrong" | "member") => (ctx: Ctx) => ({ authorization: `Bearer ${ctx.keys[kind]}`, "content-type": "application/json" });

type Route = {
  op: string;
  method: string;
  url: (ctx: Ctx) => string;
  body?: (ctx: Ctx) => unknown;
  status: number;
  expected: string[];
  notExpected?: string[];
  after?: Scenario<Ctx>["after"];
};

const ROUTES: Route[] = [
  // The list is a summary: whether each secret is stored, never the header or env names (CONNECTION_GET has those).
  {
    op: "CONNECTION_LIST", method: "GET", url: () => "/connections", status: 200,
    expected: ['"slug":"local"', '"slug":"remote"', '"token_set":true', '"headers_set":true', '"env_set":true'],
    notExpected: ["X-Key", "API_KEY", '"headers":', '"env":', "secrets_unreadable"],
  },
  {
    op: "CONNECTION_GET", method: "GET", url: (c) => `/connections/${c.remoteId}`, status: 200,
    expected: ['"name":"search"', '"description":"Search things"', '"tools":2', '"headers":{"X-Key":"********"}', '"secrets_unreadable":false'],
    notExpected: ['"headers_set"'],
  },
  {
    op: "CONNECTION_CREATE", method: "POST", url: () => "/connections", status: 201, expected: ['"slug":"made"', '"token_set":true'],
    body: () => ({ slug: "made", transport: "http", url: "https://made.example/mcp", token: TOKEN }),
    after: async ({ h }) => {
      expect((await getConnection(connectionStore(h.deps), "made"))?.token).toBe(TOKEN);
      expect(h.gateway.applied.map((s) => [s.slug, s.token])).toEqual([["made", TOKEN]]);
    },
  },
  {
    op: "CONNECTION_UPDATE", method: "PATCH", url: (c) => `/connections/${c.remoteId}`, status: 200, expected: ['"title":"Renamed"'],
    body: () => ({ title: "Renamed", headers: { "X-Key": "********" } }),
    after: async ({ h }) => {
      expect(await getConnection(connectionStore(h.deps), "remote")).toMatchObject({ title: "Renamed", token: TOKEN, headers: { "X-Key": HEADER } });
      expect(h.gateway.applied.map((s) => [s.title, s.headers])).toEqual([["Renamed", { "X-Key": HEADER }]]);
    },
  },
  {
    op: "CONNECTION_DELETE", method: "DELETE", url: (c) => `/connections/${c.localId}`, status: 200, expected: ['"deleted":true'],
    after: async ({ h, localId }) => {
      expect(await getConnection(connectionStore(h.deps), localId)).toBeNull();
      expect(h.gateway.removed).toEqual([localId]);
    },
  },
  {
    op: "CONNECTION_TEST", method: "POST", url: () => "/connections/test", status: 200, expected: ['"ok":true', '"name":"fake-upstream"'],
    body: (c) => ({ id: c.remoteId }),
    after: ({ h }) => expect(h.gateway.tested.map((s) => [s.slug, s.token])).toEqual([["remote", TOKEN]]),
  },
  {
    op: "CONNECTION_REFRESH", method: "POST", url: (c) => `/connections/${c.remoteId}/refresh`, status: 200, expected: ['"name":"fetch"'],
    after: ({ h, remoteId }) => expect(h.gateway.refreshed).toEqual([remoteId]),
  },
];

const nothingChanged: Scenario<Ctx>["after"] = async ({ h }) => {
  expect((await rawRows(h.deps, "SELECT slug, title FROM connections ORDER BY slug"))).toEqual([{ slug: "local", title: "local" }, { slug: "remote", title: "remote" }]);
  expect([h.gateway.applied, h.gateway.removed, h.gateway.tested, h.gateway.refreshed]).toEqual([[], [], [], []]);
};

test("the table covers every connection operation", () => {
  // The OAuth link operations need users with links, not these secrets: their REST rows (guest included)
  // are in api.test.ts, their permission rows in permission-matrix.test.ts, and who may see or disconnect
  // which link in upstream-oauth-operations.test.ts.
  const covered = OPERATIONS.filter((o) => o.name.startsWith("CONNECTION_") && !o.name.startsWith("CONNECTION_OAUTH_"));
  expect(ROUTES.map((r) => r.op).sort()).toEqual(covered.map((o) => o.name).sort());
});

for (const route of ROUTES) {
  describe(route.op, () => {
    const rows: Scenario<Ctx>[] = [
      { name: "guest", expectedStatus: 401, expectedContent: ['"UNAUTHENTICATED"'], after: nothingChanged, url: "" },
      { name: "wrong permission", headers: auth("wrong"), expectedStatus: 403, expectedContent: ['"FORBIDDEN"'], notExpectedContent: ['"slug"'], after: nothingChanged, url: "" },
      { name: "happy", headers: auth("happy"), expectedStatus: route.status, expectedContent: route.expected, notExpectedContent: route.notExpected, after: route.after, url: "" },
    ];
    for (const row of rows) {
      test(`${row.name}: ${row.expectedStatus}, and no secret in the response`, async () => {
        const ctx = await setup(route.op);
        const body = route.body?.(ctx);
        await runScenario(
          { ...row, method: route.method, url: route.url(ctx), body: body === undefined ? undefined : JSON.stringify(body), notExpectedContent: [...(row.notExpectedContent ?? []), ...SECRETS, "_sealed"] },
          ctx,
          (url, init) => Promise.resolve(ctx.h.app.request(`/api/v1${url}`, init)),
        );
      });
    }
  });
}

describe("members", () => {
  test.each([
    ["create an http connection", "POST", "/connections", { slug: "mine", transport: "http", url: "https://x/mcp" }],
    ["create a stdio connection", "POST", "/connections", { slug: "mine", transport: "stdio", command: "bash", args: ["-c", "id"] }],
    ["update one", "PATCH", "/connections/remote", { url: "https://evil.example/mcp" }],
    ["turn one into stdio", "PATCH", "/connections/remote", { transport: "stdio", command: "bash", url: null, token: null, headers: {} }],
    ["delete one", "DELETE", "/connections/remote", undefined],
    ["test unsaved settings", "POST", "/connections/test", { connection: { transport: "stdio", command: "bash" } }],
    ["test changes to a stored one", "POST", "/connections/test", { id: "remote", connection: { url: "https://evil.example/mcp" } }],
  ])("may not %s (403) even with {self: [*]}", async (_label, method, path, json) => {
    const ctx = await setup("WHOAMI");
    const res = await apiRequest(ctx.h.app, method, path, { token: ctx.keys.member, json });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    nothingChanged(ctx, res, "");
  });

  test("may list, read, test and refresh, seeing secrets masked", async () => {
    const ctx = await setup("WHOAMI");
    for (const [method, path, json] of [["GET", "/connections"], ["GET", "/connections/remote"], ["POST", "/connections/test", { id: "remote" }], ["POST", "/connections/remote/refresh"]] as const) {
      const res = await apiRequest(ctx.h.app, method, path, { token: ctx.keys.member, json });
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
  });
});

/** An app with no connections, for policies that would refuse await setup()'s stdio connection. */
async function bare(overrides: ConfigOverrides): Promise<Ctx> {
  return { h: await harness(overrides), remoteId: "", localId: "", keys: {} };
}

describe("errors", () => {
  async function send(ctx: Ctx, method: string, path: string, json?: unknown) {
    const token = (await mintKey(ctx.h.deps, ctx.h.admin, { self: ["*"] })).token;
    const res = await apiRequest(ctx.h.app, method, path, { token, json });
    return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; fields?: Record<string, string> } } };
  }

  test("invalid and transport-specific fields are named", async () => {
    const ctx = await setup("WHOAMI");
    expect(await send(ctx, "POST", "/connections", { slug: "Nope!", transport: "http", url: "ftp://x" })).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_FAILED", fields: { slug: expect.stringContaining("lowercase"), url: expect.stringContaining("http(s) URL") } } },
    });
    expect(await send(ctx, "POST", "/connections", { slug: "x", transport: "sse" })).toMatchObject({ status: 400, body: { error: { fields: { url: "expected a URL for an sse connection" } } } });
    expect(await send(ctx, "POST", "/connections", { slug: "x", transport: "http", url: "https://u:p@x/mcp" })).toMatchObject({ status: 400, body: { error: { fields: { url: expect.stringContaining("credentials") } } } });
    expect(await send(ctx, "POST", "/connections", { slug: "remote", transport: "http", url: "https://x/mcp" })).toMatchObject({ status: 409, body: { error: { code: "CONNECTION_SLUG_TAKEN", fields: { slug: expect.any(String) } } } });
    expect(await send(ctx, "GET", "/connections/nope")).toMatchObject({ status: 404, body: { error: { code: "CONNECTION_NOT_FOUND" } } });
    expect(await send(ctx, "POST", "/connections/test", {})).toMatchObject({ status: 400, body: { error: { fields: { id: "give id, connection, or both" } } } });
  });

  test("the stdio policy: disabled, or a command not allowed, for admins too; the gateway never hears of it", async () => {
    const off = await bare({ stdio: { enabled: false } });
    expect(await send(off, "POST", "/connections", { slug: "s", transport: "stdio", command: "npx" })).toMatchObject({ status: 403, body: { error: { code: "STDIO_DISABLED" } } });
    expect(await send(off, "POST", "/connections", { slug: "h", transport: "http", url: "https://h/mcp" })).toMatchObject({ status: 201 });
    const narrow = await bare({ stdio: { allowed_commands: ["npx"] } });
    expect(await send(narrow, "POST", "/connections", { slug: "s", transport: "stdio", command: "bash" })).toMatchObject({ status: 403, body: { error: { code: "STDIO_COMMAND_NOT_ALLOWED" } } });
    expect(await send(narrow, "POST", "/connections/test", { connection: { transport: "stdio", command: "/bin/bash" } })).toMatchObject({ status: 403, body: { error: { code: "STDIO_COMMAND_NOT_ALLOWED" } } });
    expect(await send(narrow, "POST", "/connections", { slug: "s", transport: "stdio", command: "npx" })).toMatchObject({ status: 201 });
    expect(narrow.h.gateway.tested).toEqual([]);
    expect(narrow.h.gateway.applied.map((s) => s.command)).toEqual(["npx"]);
  });

  test("config-declared connections are read-only: CONNECTION_READ_ONLY (409)", async () => {
    const ctx = await setup("WHOAMI", { connections: [{ slug: "declared", url: "https://d/mcp", token: TOKEN }] });
    expect(await send(ctx, "PATCH", "/connections/declared", { title: "x" })).toMatchObject({ status: 409, body: { error: { code: "CONNECTION_READ_ONLY" } } });
    expect(await send(ctx, "DELETE", "/connections/declared")).toMatchObject({ status: 409, body: { error: { code: "CONNECTION_READ_ONLY" } } });
    const listed = await apiRequest(ctx.h.app, "GET", "/connections/declared", { token: ctx.keys.member });
    const text = await listed.text();
    expect(JSON.parse(text)).toMatchObject({ from_config: true, token_set: true });
    expect(text).not.toContain(TOKEN);
  });
});

describe("testing unsaved settings", () => {
  test("an admin tests changes to a stored connection: stored secrets are used, nothing is saved", async () => {
    const ctx = await setup("CONNECTION_TEST");
    const res = await apiRequest(ctx.h.app, "POST", "/connections/test", { token: ctx.keys.happy, json: { id: "remote", connection: { url: "https://moved.example/mcp", headers: { "X-Key": "********", Extra: "1" } } } });
    expect(res.status).toBe(200);
    expect(ctx.h.gateway.tested).toMatchObject([{ id: ctx.remoteId, url: "https://moved.example/mcp", token: TOKEN, headers: { "X-Key": HEADER, Extra: "1" } }]);
    expect((await getConnection(connectionStore(ctx.h.deps), "remote"))?.url).toBe("https://mcp.example.com/mcp");
  });

  test("an admin tests a connection not yet created; a failure comes back as ok: false with the error", async () => {
    const ctx = await setup("CONNECTION_TEST");
    ctx.h.gateway.testResult = { ok: false, latency_ms: 3, server: null, tools: 0, resources: 0, prompts: 0, error: "connect ECONNREFUSED" };
    const res = await apiRequest(ctx.h.app, "POST", "/connections/test", { token: ctx.keys.happy, json: { connection: { transport: "http", url: "https://new.example/mcp" } } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: false, latency_ms: 3, server: null, tools: 0, resources: 0, prompts: 0, error: "connect ECONNREFUSED" });
    expect(ctx.h.gateway.tested).toMatchObject([{ url: "https://new.example/mcp", enabled: true }]);
    expect((await rawRow(ctx.h.deps, "SELECT count(*) AS n FROM connections"))).toEqual({ n: 2 });
  });
});

describe("key permissions name connections", () => {
  test("an unknown conn_ id is refused; an existing one is accepted; a deleted one is unknown again", async () => {
    const ctx = await setup("WHOAMI");
    const token = (await mintKey(ctx.h.deps, ctx.h.admin, { self: ["*"], "*": ["*"] })).token;
    const unknown = await apiRequest(ctx.h.app, "POST", "/keys", { token, json: { name: "k", permissions: { [UNKNOWN]: ["search"] } } });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: "INVALID_PERMISSIONS", message: `Invalid permissions: ${UNKNOWN}: no such connection` } });
    const known = await apiRequest(ctx.h.app, "POST", "/keys", { token, json: { name: "k", permissions: { [ctx.remoteId]: ["search"], [ctx.localId]: ["*"] } } });
    expect(known.status).toBe(201);
    await apiRequest(ctx.h.app, "DELETE", `/connections/${ctx.localId}`, { token });
    const gone = await apiRequest(ctx.h.app, "POST", "/keys", { token, json: { name: "k", permissions: { [ctx.localId]: ["*"] } } });
    expect(((await gone.json()) as { error: { message: string } }).error.message).toContain(`${ctx.localId}: no such connection`);
  });
});

test("over /mcp/self, CONNECTION_LIST answers the same masked connections", async () => {
  const ctx = await setup("CONNECTION_LIST");
  const answer = await callTool(ctx.h.app, ctx.keys.happy!, "CONNECTION_LIST", {});
  const text = resultText(answer);
  expect((answer.result?.structuredContent as { connections: { slug: string }[] }).connections.map((c) => c.slug)).toEqual(["local", "remote"]);
  for (const secret of SECRETS) expect(JSON.stringify(answer)).not.toContain(secret);
  expect(text).toContain('"token_set": true');
});

describe("CONNECTION_LIST is a summary that decrypts nothing", () => {
  type Listed = { slug: string; token_set: boolean; headers_set: boolean; env_set: boolean } & Record<string, unknown>;

  /** Runs `read` with the cipher's decrypt watched, and returns what it returned and how often it decrypted. */
  async function watchingDecrypt<T>(read: () => Promise<T>): Promise<{ out: T; decrypted: number }> {
    const decrypt = spyOn(cipher, "decryptSecret");
    try {
      const out = await read();
      return { out, decrypted: decrypt.mock.calls.length };
    } finally {
      decrypt.mockRestore();
    }
  }

  /** The setup's two connections with secrets, and one with none (every flag false). */
  async function withBare(): Promise<Ctx> {
    const ctx = await setup("CONNECTION_LIST");
    await ctx.h.store({ slug: "bare", transport: "http", url: "https://bare.example/mcp" });
    return ctx;
  }

  const flags = (listed: Listed[]) => listed.map((c) => [c.slug, c.token_set, c.headers_set, c.env_set]);
  const EXPECTED_FLAGS = [
    ["bare", false, false, false],
    ["local", false, false, true],
    ["remote", true, true, false],
  ];

  function expectNoNames(listed: Listed[], raw: string): void {
    for (const c of listed) for (const field of ["headers", "env", "secrets_unreadable"]) expect(Object.keys(c)).not.toContain(field);
    for (const unwanted of ["X-Key", "API_KEY", ...SECRETS]) expect(raw).not.toContain(unwanted);
  }

  test("over REST: the flags, no header or env names, and not one decryption (CONNECTION_GET, watched the same way, decrypts)", async () => {
    const ctx = await withBare();
    const token = ctx.keys.happy!;
    const get = (await mintKey(ctx.h.deps, ctx.h.admin, { self: ["CONNECTION_GET"] })).token;
    // The spy sees this path: the full read decrypts, so a list that decrypted would be noticed.
    const detail = await watchingDecrypt(async () => (await apiRequest(ctx.h.app, "GET", `/connections/${ctx.remoteId}`, { token: get })).text());
    expect(detail.decrypted).toBeGreaterThan(0);
    expect(detail.out).toContain('"headers":{"X-Key":"********"}');
    const { out, decrypted } = await watchingDecrypt(async () => {
      const res = await apiRequest(ctx.h.app, "GET", "/connections", { token });
      return { status: res.status, raw: await res.text() };
    });
    expect(out.status).toBe(200);
    expect(decrypted).toBe(0);
    const listed = (JSON.parse(out.raw) as { connections: Listed[] }).connections;
    expect(flags(listed)).toEqual(EXPECTED_FLAGS);
    expectNoNames(listed, out.raw);
  });

  test("over /mcp/self: the same flags, no names, no decryption", async () => {
    const ctx = await withBare();
    const { out, decrypted } = await watchingDecrypt(() => callTool(ctx.h.app, ctx.keys.happy!, "CONNECTION_LIST", {}));
    expect(decrypted).toBe(0);
    const listed = (out.result?.structuredContent as { connections: Listed[] }).connections;
    expect(flags(listed)).toEqual(EXPECTED_FLAGS);
    expectNoNames(listed, JSON.stringify(out));
  });

  test("its tool description sends a model to CONNECTION_GET for the names", () => {
    const list = OPERATIONS.find((o) => o.name === "CONNECTION_LIST")!;
    expect(list.description).toContain("names of headers and env are in CONNECTION_GET");
    expect(list.description).not.toContain("header and env names only");
  });

  test("the OpenAPI document describes the list with the flags and without names, CONNECTION_GET with the masked names", async () => {
    const ctx = await setup("CONNECTION_LIST");
    type Schema = { properties: Record<string, Schema & { type?: string }>; items?: Schema; required?: string[] };
    const doc = (await (await ctx.h.app.request("/api/v1/openapi.json")).json()) as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: Schema }> }> } }>;
    };
    const body = (path: string) => doc.paths[path]!.get.responses["200"]!.content["application/json"]!.schema;
    const item = body("/connections").properties.connections!.items!;
    expect(item.properties.headers_set?.type).toBe("boolean");
    expect(item.properties.env_set?.type).toBe("boolean");
    expect(item.required).toEqual(expect.arrayContaining(["token_set", "headers_set", "env_set"]));
    for (const gone of ["headers", "env", "secrets_unreadable"]) expect(Object.keys(item.properties)).not.toContain(gone);
    const detail = body("/connections/{id}");
    for (const kept of ["headers", "env", "secrets_unreadable", "token_set"]) expect(Object.keys(detail.properties)).toContain(kept);
  });

  test("a stored secret that no longer decrypts still counts as set in the list; CONNECTION_GET says it is unreadable", async () => {
    const ctx = await setup("CONNECTION_LIST");
    // What a changed server secret leaves behind: a sealed token the current key cannot open.
    await rawRun(ctx.h.deps, "UPDATE connections SET token_sealed = 'v1.garbage' WHERE slug = 'remote'");
    const listed = (await (await apiRequest(ctx.h.app, "GET", "/connections", { token: ctx.keys.happy! })).json()) as { connections: Listed[] };
    expect(listed.connections.find((c) => c.slug === "remote")).toMatchObject({ token_set: true });
    const get = (await mintKey(ctx.h.deps, ctx.h.admin, { self: ["CONNECTION_GET"] })).token;
    const detail = await (await apiRequest(ctx.h.app, "GET", "/connections/remote", { token: get })).json();
    expect(detail).toMatchObject({ slug: "remote", token_set: false, secrets_unreadable: true });
  });
});
