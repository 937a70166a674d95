// /mcp/self against a real listening server: the SDK Client over Streamable HTTP, the MCP Inspector
// CLI, and bad input of every kind (credentials, bodies, JSON-RPC, arguments, permissions), none a 500.
// Also: a demoted or removed owner's key changes on the very next request, no key mints a bigger key,
// and last_used_at is recorded.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { deleteApiKey, generateToken, getApiKey } from "../../src/domain/access/api-keys.ts";
import type { User } from "../../src/domain/access/users.ts";
import { CATALOG, OPERATIONS } from "../../src/operations/index.ts";
import type { RunningServer } from "../../src/server.ts";
import { PUBLIC_URL, startTestServer, type TestServer } from "../support/app.ts";
import { MCP_ACCEPT, mintKey, TOKEN_PATTERN, type JsonRpcResponse } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

const MAX_BODY = 64 * 1024;
const INSPECTOR_BUILD = join(import.meta.dir, "../../node_modules/@modelcontextprotocol/inspector-cli/build");
const ALL_TOOLS = OPERATIONS.map((op) => op.name);
const MEMBER_TOOLS = [...CATALOG.forMembers];

let running: TestServer;
let server: RunningServer;
let admin: User;
let endpoint: string;

beforeAll(async () => {
  running = await startTestServer({ overrides: { server: { public_url: PUBLIC_URL, max_body_size: `${MAX_BODY / 1024}KiB` } } });
  server = running.server;
  admin = await insertUser(server.deps, "admin", "root@example.com");
  endpoint = `${server.url}/mcp/self`;
});

afterAll(() => running.cleanup());

/** A key straight from the domain: permissions not checked against anyone. */
async function key(owner: User, permissions: Record<string, string[]>, options: { expiresAt?: Date } = {}): Promise<{ id: string; token: string }> {
  const { key: k, token } = await mintKey(server.deps, owner, permissions, options);
  return { id: k.id, token };
}

function post(body: string, headers: Record<string, string> = {}, path = "/mcp/self"): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", accept: MCP_ACCEPT, ...headers }, body });
}

let nextId = 0;
async function rpc(token: string, method: string, params: Record<string, unknown> = {}): Promise<JsonRpcResponse> {
  const res = await post(JSON.stringify({ jsonrpc: "2.0", id: ++nextId, method, params }), { authorization: `Bearer ${token}` });
  expect(res.status).toBe(200);
  return (await res.json()) as JsonRpcResponse;
}

async function tools(token: string): Promise<string[]> {
  return (await rpc(token, "tools/list")).result!.tools!.map((t) => t.name);
}

function call(token: string, name: string, args: Record<string, unknown> = {}): Promise<JsonRpcResponse> {
  return rpc(token, "tools/call", { name, arguments: args });
}

function text(answer: JsonRpcResponse): string {
  return answer.result?.content?.[0]?.text ?? "";
}

async function connect(token: string, onFetch?: (method: string, res: Response) => void): Promise<Client> {
  const client = new Client({ name: "switchboard-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      onFetch?.(init?.method ?? "GET", res);
      return res;
    },
  });
  await client.connect(transport);
  return client;
}

describe("the SDK Client over Streamable HTTP", () => {
  test("lists every tool for an admin's {self:[*]} key and calls WHOAMI", async () => {
    const k = await key(admin, { self: ["*"] });
    const client = await connect(k.token);
    try {
      expect(client.getServerVersion()?.name).toBe("switchboard-self");
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toEqual(ALL_TOOLS);
      for (const tool of listed.tools) {
        expect(tool.description?.length ?? 0).toBeGreaterThan(20);
        expect(tool.inputSchema.type).toBe("object");
      }
      const who = await client.callTool({ name: "WHOAMI", arguments: {} });
      expect(who.isError).toBeUndefined();
      expect(who.structuredContent).toMatchObject({
        user: { id: admin.id, email: "root@example.com", role: "admin" },
        key: { id: k.id },
        permissions: { self: ["*"] },
        management_tools: ALL_TOOLS,
      });
      expect(JSON.stringify(who)).not.toContain(k.token);
    } finally {
      await client.close();
    }
  });

  test("the instructions name every tool the key may call and none it may not", async () => {
    const all = await connect((await key(admin, { self: ["*"] })).token);
    const narrow = await connect((await key(admin, { self: ["WHOAMI", "CONNECTION_LIST"] })).token);
    try {
      // The list after "may call:", in the registry's order.
      const named = (instructions: string | undefined): string[] => instructions?.split("may call: ")[1]?.replace(/\.$/, "").split(", ") ?? [];
      expect(named(all.getInstructions())).toEqual(ALL_TOOLS);
      expect(ALL_TOOLS).toContain("AGENT_CREATE");
      expect(named(narrow.getInstructions())).toEqual(ALL_TOOLS.filter((n) => n === "WHOAMI" || n === "CONNECTION_LIST"));
      expect(narrow.getInstructions()).not.toContain("API_KEY_CREATE");
    } finally {
      await all.close();
      await narrow.close();
    }
  });

  test("creates a key with API_KEY_CREATE that works at once, and API_KEY_LIST shows it without any token", async () => {
    const k = await key(admin, { self: ["*"] });
    const client = await connect(k.token);
    let created: { key: { id: string; prefix: string }; token: string };
    try {
      const result = await client.callTool({ name: "API_KEY_CREATE", arguments: { name: "from the SDK", permissions: { self: ["WHOAMI", "API_KEY_LIST"] }, expires_in: "1d" } });
      expect(result.isError).toBeUndefined();
      created = result.structuredContent as typeof created;
      expect(created.token).toMatch(TOKEN_PATTERN);
      expect(created.key.prefix).toBe(created.token.slice(0, created.key.prefix.length));
      expect(created.key).toMatchObject({ name: "from the SDK", owner: { id: admin.id }, permissions: { self: ["WHOAMI", "API_KEY_LIST"] } });

      const list = await client.callTool({ name: "API_KEY_LIST", arguments: {} });
      const listed = list.structuredContent as { keys: { id: string }[] };
      expect(listed.keys.map((x) => x.id)).toContain(created.key.id);
      expect(listed.keys.map((x) => x.id)).toContain(k.id);
      const raw = JSON.stringify(list);
      expect(raw).not.toMatch(/mcp_key_[0-9A-Za-z]{49}/);
      expect(raw).not.toContain(created.token);
      expect(raw).not.toContain("token_hash");
      expect(raw).not.toContain("tokenHash");
    } finally {
      await client.close();
    }

    const narrow = await connect(created.token);
    try {
      expect((await narrow.listTools()).tools.map((t) => t.name)).toEqual(["WHOAMI", "API_KEY_LIST"]);
      const who = await narrow.callTool({ name: "WHOAMI", arguments: {} });
      expect(who.structuredContent).toMatchObject({ key: { id: created.key.id }, management_tools: ["WHOAMI", "API_KEY_LIST"] });
    } finally {
      await narrow.close();
    }
  });

  test("a tool the key may not use is an Unknown tool error, like one that does not exist", async () => {
    const k = await key(admin, { self: ["WHOAMI"] });
    const client = await connect(k.token);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["WHOAMI"]);
      for (const name of ["USER_LIST", "NO_SUCH_TOOL"]) {
        const err = await client.callTool({ name, arguments: {} }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(McpError);
        expect((err as McpError).code).toBe(ErrorCode.InvalidParams);
        expect((err as McpError).message).toContain(`Unknown tool: ${name}`);
      }
    } finally {
      await client.close();
    }
  });

  test("the client's standalone GET stream is refused with 405 (stateless), so it does not reconnect-poll", async () => {
    const k = await key(admin, { self: ["WHOAMI"] });
    let sawGet!: (res: Response) => void;
    const get = new Promise<Response>((resolve) => (sawGet = resolve));
    const client = await connect(k.token, (method, res) => {
      if (method === "GET") sawGet(res);
    });
    try {
      const res = await get;
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(res.headers.get("content-type")).not.toContain("text/event-stream");
      // The session still works after the refused stream.
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["WHOAMI"]);
    } finally {
      await client.close();
    }
  });

  test("an unknown token fails the connection with 401 and does not reveal anything", async () => {
    const client = new Client({ name: "switchboard-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { Authorization: `Bearer ${generateToken()}` } } });
    const err = await client.connect(transport).then(
      () => null,
      (e: unknown) => e,
    );
    expect(String(err)).toContain("UNAUTHENTICATED");
    expect(String(err)).not.toContain("WHOAMI");
    await client.close();
  });
});

describe("the MCP Inspector CLI", () => {
  /**
   * Runs the inspector's CLI mode with Node. Its build reads its own package.json through a path it
   * checks relative to the working directory, so it runs from its build directory.
   */
  async function inspector(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = Bun.spawn(["node", join(INSPECTOR_BUILD, "index.js"), ...args], { cwd: INSPECTOR_BUILD, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  }

  test("tools/list prints exactly the key's tools as JSON", async () => {
    const k = await key(admin, { self: ["WHOAMI", "API_KEY_LIST"] });
    const run = await inspector([endpoint, "--transport", "http", "--header", `Authorization: Bearer ${k.token}`, "--method", "tools/list"]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const out = JSON.parse(run.stdout) as { tools: { name: string; inputSchema: { type: string } }[] };
    expect(out.tools.map((t) => t.name)).toEqual(["WHOAMI", "API_KEY_LIST"]);
    expect(run.stdout).not.toContain("USER_CREATE");
    expect(out.tools[0]!.inputSchema.type).toBe("object");
  });

  test("tools/call WHOAMI prints the caller as JSON", async () => {
    const k = await key(admin, { self: ["WHOAMI"] });
    const run = await inspector([endpoint, "--transport", "http", "--header", `Authorization: Bearer ${k.token}`, "--method", "tools/call", "--tool-name", "WHOAMI"]);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { isError?: boolean; structuredContent: { key: { id: string }; user: { email: string }; management_tools: string[] } };
    expect(out.isError).toBeUndefined();
    expect(out.structuredContent.key.id).toBe(k.id);
    expect(out.structuredContent.user.email).toBe("root@example.com");
    expect(out.structuredContent.management_tools).toEqual(["WHOAMI"]);
    expect(run.stdout).not.toContain(k.token);
  });
});

describe("credentials", () => {
  const RESOURCE_METADATA = `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/self"`;
  const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });

  test("no Authorization header: 401 pointing at the resource metadata, without an error code", async () => {
    const res = await post(initialize);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer ${RESOURCE_METADATA}`);
    expect(res.headers.get("www-authenticate")).not.toContain("error=");
    const body = (await res.json()) as JsonRpcResponse;
    expect(body.error?.message).toBe("Missing or invalid bearer token.");
    expect(body.result).toBeUndefined();
  });

  test("the resource metadata it points at is served, for this resource, header-only", async () => {
    const res = await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/self`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resource: `${PUBLIC_URL}/mcp/self`, bearer_methods_supported: ["header"] });
  });

  const noToken: [string, Record<string, string>, string][] = [
    ["Basic credentials", { authorization: "Basic dXNlcjpwYXNz" }, ""],
    ["Bearer with no token", { authorization: "Bearer" }, ""],
    ["Bearer and a space", { authorization: "Bearer " }, ""],
    ["a token in the query string only", {}, "?token="],
    ["a token in the query string as access_token", {}, "?access_token="],
  ];
  for (const [name, headers, query] of noToken) {
    test(`${name}: 401, no error code (no bearer token was presented)`, async () => {
      const k = await key(admin, { self: ["*"] });
      const res = await post(initialize, headers, `/mcp/self${query ? `${query}${k.token}` : ""}`);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(`Bearer ${RESOURCE_METADATA}`);
      expect(await res.text()).not.toContain('"result"');
      // The same key works when sent properly, so the refusal is about where it was sent.
      expect(await tools(k.token)).toEqual(ALL_TOOLS);
    });
  }

  test("bad checksum, unknown, revoked and expired tokens all get the identical 401", async () => {
    const live = await key(admin, { self: ["*"] });
    const last = live.token.at(-1) === "A" ? "B" : "A";
    const badChecksum = `${live.token.slice(0, -1)}${last}`;
    const revoked = await key(admin, { self: ["*"] });
    await deleteApiKey(server.deps.db, revoked.id);
    const expired = await key(admin, { self: ["*"] }, { expiresAt: new Date(Date.now() - 60_000) });
    const answers = await Promise.all(
      [badChecksum, generateToken(), revoked.token, expired.token].map(async (token) => {
        const res = await post(initialize, { authorization: `Bearer ${token}` });
        return { status: res.status, wwwAuthenticate: res.headers.get("www-authenticate"), body: await res.text() };
      }),
    );
    expect(answers[0]!.status).toBe(401);
    expect(answers[0]!.wwwAuthenticate).toBe(`Bearer error="invalid_token", ${RESOURCE_METADATA}`);
    for (const answer of answers) expect(answer).toEqual(answers[0]!);
    expect(answers[0]!.body).not.toMatch(/revoked|expired|checksum|unknown/i);
    // The live key next to them still works.
    expect(await tools(live.token)).toEqual(ALL_TOOLS);
  });

  test("a key with no management permission at all is refused with 403", async () => {
    const k = await key(admin, { "*": ["*"] });
    const res = await post(initialize, { authorization: `Bearer ${k.token}` });
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain("FORBIDDEN");
    expect(body).not.toContain("WHOAMI");
  });
});

describe("bad requests", () => {
  let token: string;
  beforeAll(async () => {
    token = (await key(admin, { self: ["*"] })).token;
  });
  const auth = () => ({ authorization: `Bearer ${token}` });

  test("a body over server.max_body_size is 413", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { pad: "x".repeat(MAX_BODY) } });
    const res = await post(body, auth());
    expect(res.status).toBe(413);
    expect(await res.text()).not.toContain('"tools"');
  });

  test("a body just under the limit is served", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { pad: "x".repeat(MAX_BODY - 200) } } });
    expect(body.length).toBeLessThan(MAX_BODY);
    const res = await post(body, auth());
    expect(res.status).toBe(200);
  });

  test("invalid JSON is a JSON-RPC parse error", async () => {
    const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ', auth());
    expect(res.status).toBe(400);
    const body = (await res.json()) as JsonRpcResponse;
    expect(body.error?.code).toBe(-32700);
    expect(body.result).toBeUndefined();
  });

  test("a JSON-RPC batch is answered per request, with the same permission decisions", async () => {
    const narrow = (await key(admin, { self: ["WHOAMI"] })).token;
    const res = await post(
      JSON.stringify([
        { jsonrpc: "2.0", id: "a", method: "tools/list", params: {} },
        { jsonrpc: "2.0", id: "b", method: "tools/call", params: { name: "USER_LIST", arguments: {} } },
      ]),
      { authorization: `Bearer ${narrow}` },
    );
    expect(res.status).toBe(200);
    const answers = (await res.json()) as JsonRpcResponse[];
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get("a")?.result?.tools?.map((t) => t.name)).toEqual(["WHOAMI"]);
    expect(byId.get("b")?.error?.message).toContain("Unknown tool: USER_LIST");
    expect(byId.get("b")?.result).toBeUndefined();
  });

  test("an unknown method is method-not-found (-32601)", async () => {
    const answer = await rpc(token, "switchboard/secrets");
    expect(answer.error?.code).toBe(-32601);
    expect(answer.result).toBeUndefined();
  });

  const wrongTypes: [string, string, Record<string, unknown>, string][] = [
    ["a number for an id", "API_KEY_GET", { id: 42 }, "id"],
    ["a malformed id", "API_KEY_DELETE", { id: "key_nope" }, "id: expected an API key id"],
    ["a number for a name", "API_KEY_CREATE", { name: 5, permissions: { self: ["WHOAMI"] } }, "name"],
    ["an unknown role", "USER_CREATE", { email: "x@example.com", role: "root", password: "long enough password" }, "role"],
    ["a bad duration", "API_KEY_CREATE", { name: "x", permissions: { self: ["WHOAMI"] }, expires_in: "soon" }, "expires_in"],
    ["missing required fields", "API_KEY_CREATE", {}, "name"],
  ];
  for (const [name, tool, args, field] of wrongTypes) {
    test(`tools/call with ${name}: a tool error naming the field, not a protocol error`, async () => {
      const answer = await call(token, tool, args);
      expect(answer.error).toBeUndefined();
      expect(answer.result?.isError).toBe(true);
      expect(text(answer)).toStartWith("VALIDATION_FAILED: ");
      expect(text(answer)).toContain(field);
      expect(text(answer)).not.toContain("INTERNAL");
      expect(answer.result?.structuredContent).toBeUndefined();
    });
  }

  const badPermissions: [string, unknown, string][] = [
    ["an array", ["self", "*"], "permissions: expected an object of resource"],
    ["string values", { self: "*" }, "permissions.self: expected a list of actions"],
    ["an empty action list", { self: [] }, "permissions.self: expected at least one action"],
    ["an unknown resource", { bogus: ["*"] }, "bogus: unknown resource"],
    ["an unknown tool", { self: ["NOPE"] }, 'self: unknown management tool "NOPE"'],
    ["a connection that does not exist", { "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70": ["echo"] }, "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70: no such connection"],
  ];
  for (const [name, permissions, message] of badPermissions) {
    test(`API_KEY_CREATE with permissions of ${name}: refused naming the entry, nothing created`, async () => {
      const before = ((await call(token, "API_KEY_LIST")).result?.structuredContent as { keys: unknown[] }).keys.length;
      const answer = await call(token, "API_KEY_CREATE", { name: `bad ${name}`, permissions });
      expect(answer.result?.isError).toBe(true);
      expect(text(answer)).toContain(message);
      expect(text(answer)).not.toMatch(/mcp_key_[0-9A-Za-z]{49}/);
      const after = ((await call(token, "API_KEY_LIST")).result?.structuredContent as { keys: { name: string }[] }).keys;
      expect(after.length).toBe(before);
      expect(after.map((k) => k.name)).not.toContain(`bad ${name}`);
    });
  }
});

describe("owners and ceilings", () => {
  test("a demoted owner's key loses admin-only tools on the very next request, and regains them", async () => {
    const owner = await insertUser(server.deps, "admin");
    const theirs = (await key(owner, { self: ["*"] })).token;
    const root = (await key(admin, { self: ["*"] })).token;
    expect(await tools(theirs)).toEqual(ALL_TOOLS);

    const demoted = await call(root, "USER_UPDATE", { id: owner.id, role: "member" });
    expect(demoted.result?.structuredContent).toMatchObject({ id: owner.id, role: "member" });

    expect(await tools(theirs)).toEqual(MEMBER_TOOLS);
    expect(await tools(theirs)).not.toContain("USER_CREATE");
    const refused = await call(theirs, "USER_CREATE", { email: "sneaky@example.com", role: "admin", password: "a long enough password" });
    expect(refused.error?.message).toContain("Unknown tool: USER_CREATE");
    expect(refused.result).toBeUndefined();
    const who = await call(theirs, "WHOAMI");
    expect(who.result?.structuredContent).toMatchObject({ user: { role: "member" }, management_tools: MEMBER_TOOLS });

    await call(root, "USER_UPDATE", { id: owner.id, role: "admin" });
    expect(await tools(theirs)).toEqual(ALL_TOOLS);
  });

  test("a removed owner's key gets 401 on the very next request", async () => {
    const owner = await insertUser(server.deps, "member");
    const theirs = (await key(owner, { self: ["WHOAMI"] })).token;
    const root = (await key(admin, { self: ["*"] })).token;
    expect(await tools(theirs)).toEqual(["WHOAMI"]);
    const removed = await call(root, "USER_DELETE", { id: owner.id });
    expect(removed.result?.structuredContent).toEqual({ id: owner.id, deleted: true });
    const res = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }), { authorization: `Bearer ${theirs}` });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain("WHOAMI");
  });

  test("a key with {self:[API_KEY_CREATE]} cannot mint a bigger key", async () => {
    const creator = (await key(admin, { self: ["API_KEY_CREATE"] })).token;
    const escalate = await call(creator, "API_KEY_CREATE", { name: "escalated", permissions: { self: ["*"] } });
    expect(escalate.result?.isError).toBe(true);
    expect(text(escalate)).toStartWith("FORBIDDEN: A key may only grant permissions within its own");
    expect(text(escalate)).toContain('self: "*" is more than the calling key may grant');
    expect(text(escalate)).not.toMatch(/mcp_key_[0-9A-Za-z]{49}/);

    const sideways = await call(creator, "API_KEY_CREATE", { name: "sideways", permissions: { self: ["WHOAMI"] } });
    expect(text(sideways)).toContain('self: "WHOAMI" is more than the calling key may grant');

    const anyConnection = await call(creator, "API_KEY_CREATE", { name: "wide", permissions: { "*": ["*"] } });
    expect(text(anyConnection)).toContain('*: "*" is more than the calling key may grant');

    const same = await call(creator, "API_KEY_CREATE", { name: "same", permissions: { self: ["API_KEY_CREATE"] } });
    expect(same.result?.isError).toBeUndefined();
    expect((same.result?.structuredContent as { token: string }).token).toMatch(TOKEN_PATTERN);
  });

  test("a member's {self:[*]} key cannot mint admin-only tools, and cannot pick another owner", async () => {
    const member = await insertUser(server.deps, "member");
    const theirs = (await key(member, { self: ["*"] })).token;
    const admins = await call(theirs, "API_KEY_CREATE", { name: "x", permissions: { self: ["USER_CREATE"] } });
    expect(text(admins)).toContain('self: "USER_CREATE" is more than the calling key may grant');
    const wildcard = await call(theirs, "API_KEY_CREATE", { name: "x", permissions: { self: ["*"] } });
    expect(wildcard.result?.isError).toBe(true);
    expect(text(wildcard)).toContain('self: "*" is more than');
    const forAdmin = await call(theirs, "API_KEY_CREATE", { name: "x", permissions: { self: ["WHOAMI"] }, owner_id: admin.id });
    expect(text(forAdmin)).toStartWith("FORBIDDEN: ");
    const list = await call(theirs, "API_KEY_LIST");
    expect((list.result?.structuredContent as { keys: { owner: { id: string } }[] }).keys.every((k) => k.owner.id === member.id)).toBe(true);
  });

  test("an admin's key cannot mint admin-only tools for a member owner", async () => {
    const member = await insertUser(server.deps, "member");
    const root = (await key(admin, { self: ["*"] })).token;
    const answer = await call(root, "API_KEY_CREATE", { name: "x", permissions: { self: ["USER_DELETE"] }, owner_id: member.id });
    expect(answer.result?.isError).toBe(true);
    expect(text(answer)).toContain('self: "USER_DELETE" is more than the owner (a member) may grant');
  });

  test("a member never sees another user's key: it reads as API_KEY_NOT_FOUND", async () => {
    const member = await insertUser(server.deps, "member");
    const theirs = (await key(member, { self: ["*"] })).token;
    const adminKey = await key(admin, { self: ["WHOAMI"] });
    for (const tool of ["API_KEY_GET", "API_KEY_ROTATE", "API_KEY_DELETE", "API_KEY_UPDATE"]) {
      const answer = await call(theirs, tool, { id: adminKey.id });
      expect(text(answer)).toBe("API_KEY_NOT_FOUND: No such API key.");
      expect(text(answer)).not.toContain(admin.email);
    }
    expect(await tools(adminKey.token)).toEqual(["WHOAMI"]);
  });
});

describe("last_used_at", () => {
  test("is recorded for the key used, after a flush", async () => {
    const used = await key(admin, { self: ["WHOAMI"] });
    const idle = await key(admin, { self: ["WHOAMI"] });
    expect((await getApiKey(server.deps.db, used.id))?.lastUsedAt).toBeNull();
    const before = Date.now();
    await call(used.token, "WHOAMI");
    const after = Date.now();
    await server.deps.lastUsed.flush();
    const at = (await getApiKey(server.deps.db, used.id))?.lastUsedAt?.getTime();
    expect(at).toBeNumber();
    expect(at!).toBeGreaterThanOrEqual(before);
    expect(at!).toBeLessThanOrEqual(after);
    expect((await getApiKey(server.deps.db, idle.id))?.lastUsedAt).toBeNull();
  });

  test("is not recorded for a refused token", async () => {
    const k = await key(admin, { self: ["WHOAMI"] }, { expiresAt: new Date(Date.now() - 1000) });
    const res = await post("{}", { authorization: `Bearer ${k.token}` });
    expect(res.status).toBe(401);
    await server.deps.lastUsed.flush();
    expect((await getApiKey(server.deps.db, k.id))?.lastUsedAt).toBeNull();
  });
});
