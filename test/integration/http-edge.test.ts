// Bad input at the HTTP edge: control characters and broken percent-encoding in any path are a 400
// (never a 500 with a stack in the log), WWW-Authenticate names only the canonical encoded path (a
// quote in the path cannot add a parameter), and an oversized chunked body is a 413 in the log too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createLogger } from "../../src/logger.ts";
import { createTestApp, PUBLIC_URL, startTestServer, type TestApp } from "../support/app.ts";
import { MCP_ACCEPT, mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

/** A logger that keeps every line it is given, parsed. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

const log = capturingLogger();
let t: TestApp;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp({ logger: log.logger });
  const admin = await insertUser(t.deps, "admin", "admin@example.com");
  tokens.all = (await mintKey(t.deps, admin, { self: ["*"], "*": ["*"] })).token;
});
afterAll(() => t.close());

const FAMILIES = ["/mcp/", "/mcp/agent/", "/mcp/self/", "/api/v1/", "/api/v1/keys/", "/admin/", "/admin/keys/", "/.well-known/oauth-protected-resource/mcp/", "/"];
const BAD = ["%0d", "a%0ab", "%00", "%0D%0Aset-cookie:x=1", "%7f", "%c2%85", "%e2%80%ae", "%zz", "%", "x%2", "%ff", "%c3"];

describe("a path with control characters or broken percent-encoding", () => {
  for (const withKey of [false, true]) {
    test(`is a 400 with a clear body, no stack and no unhandled error (${withKey ? "with" : "without"} a key)`, async () => {
      const headers: Record<string, string> = { accept: MCP_ACCEPT };
      if (withKey) headers.authorization = `Bearer ${tokens.all}`;
      const before = log.lines.length;
      for (const family of FAMILIES) {
        for (const bad of BAD) {
          for (const method of ["GET", "POST"]) {
            const res = await t.request(`${family}${bad}`, { method, headers });
            const text = await res.text();
            expect({ path: `${family}${bad}`, method, status: res.status }).toEqual({ path: `${family}${bad}`, method, status: 400 });
            expect(text).not.toContain("    at ");
            expect(text).not.toContain("INTERNAL");
            expect(res.headers.get("www-authenticate")).toBeNull();
            expect(res.headers.get("set-cookie")).toBeNull();
          }
        }
      }
      const logged = log.lines.slice(before);
      expect(logged.filter((l) => l.msg === "unhandled error")).toEqual([]);
      expect(logged.filter((l) => l.msg === "request" && l.status !== 400)).toEqual([]);
    });
  }

  test("is logged as sent, percent-encoded: no decoded control or bidi character reaches the log", async () => {
    const before = log.lines.length;
    await t.request("/mcp/a%e2%80%aeb%0d%0ac");
    const line = log.lines.slice(before).find((l) => l.msg === "request");
    expect(line?.path).toBe("/mcp/a%e2%80%aeb%0d%0ac");
    expect(JSON.stringify(log.lines.slice(before))).not.toMatch(/[\u202e\r\n]/);
  });

  test("says why in the form the route speaks: JSON-RPC on /mcp, JSON on /api, a page on /admin", async () => {
    const mcp = await t.request("/mcp/a%0db", { method: "POST", headers: { accept: MCP_ACCEPT } });
    expect(await mcp.json()).toEqual({ jsonrpc: "2.0", error: { code: -32000, message: "The request path holds control characters.", data: { code: "BAD_REQUEST" } }, id: null });
    const api = await t.request("/api/v1/connections/%zz");
    expect(await api.json()).toEqual({ error: { code: "BAD_REQUEST", message: "The request path has an invalid percent-encoding." } });
    const admin = await t.request("/admin/%00");
    expect(admin.headers.get("content-type")).toContain("text/html");
    expect(await admin.text()).toContain("control characters");
  });

  test("valid encoded paths still reach their routes", async () => {
    // A percent-encoded space or quote is not a control character: the route answers (401/404), not the guard.
    expect((await t.request("/mcp/some%20thing")).status).toBe(401);
    expect((await t.request("/api/v1/connections/%22x%22", { headers: { authorization: `Bearer ${tokens.all}` } })).status).toBe(404);
    expect((await t.request("/healthz")).status).toBe(200);
  });
});

describe("WWW-Authenticate", () => {
  const INJECTED = ['/mcp/x%22,resource_metadata=%22https:evil.example', '/mcp/agent/x%22,%20error=%22x', '/api/v1/connections/%22%5C%22', "/mcp/self/%22"];
  // One Bearer challenge with one quoted resource_metadata (and at most the RFC 6750 error), nothing else.
  const ONE_CHALLENGE = /^Bearer (error="invalid_token", )?resource_metadata="http:\/\/switchboard\.test\/\.well-known\/oauth-protected-resource\/[A-Za-z0-9\-_.!~*'()%/]*"$/;

  for (const auth of [undefined, "Bearer mcp_key_wrong", "Basic eDp5"]) {
    test(`holds only the canonical encoded path when the path holds a quote (${auth ?? "no credentials"})`, async () => {
      for (const path of INJECTED) {
        const res = await t.request(path, auth ? { headers: { authorization: auth } } : {});
        expect(res.status).toBe(401);
        const header = res.headers.get("www-authenticate") ?? "";
        expect(header).toMatch(ONE_CHALLENGE);
        expect(header.match(/resource_metadata=/g)?.length).toBe(1);
        expect(header.split('"').length).toBe(auth === "Bearer mcp_key_wrong" ? 5 : 3);
      }
    });
  }

  test("a path with characters outside ASCII (an emoji) gets a 401 with an ASCII header, not a 500", async () => {
    for (const path of ["/mcp/%F0%9F%98%80", "/api/v1/%C3%A9t%C3%A9", "/mcp/agent/%E6%97%A5"]) {
      const res = await t.request(path);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(ONE_CHALLENGE);
    }
    expect((await t.request("/mcp/%F0%9F%98%80")).headers.get("www-authenticate")).toContain("/mcp/%F0%9F%98%80\"");
  });

  test("names the path as it was sent when it is plain", async () => {
    const res = await t.request("/mcp/conn_123");
    expect(res.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/conn_123"`);
  });

  test("with a valid key: no challenge at all, and never a 500", async () => {
    for (const path of INJECTED) {
      const res = await t.request(path, { headers: { authorization: `Bearer ${tokens.all}`, accept: MCP_ACCEPT } });
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get("www-authenticate")).toBeNull();
    }
  });

  test("the resource metadata it points to names the same canonical resource", async () => {
    const res = await t.request("/.well-known/oauth-protected-resource/mcp/x%22,y");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { resource: string }).resource).toBe(`${PUBLIC_URL}/mcp/x%22%2Cy`);
  });
});

describe("an oversized body", () => {
  test("sent chunked to a real server is answered and logged as 413, with no stack", async () => {
    const captured = capturingLogger();
    const server = await startTestServer({ logger: captured.logger, overrides: { server: { max_body_size: "64KiB" } } });
    try {
      const chunk = new Uint8Array(16 * 1024).fill(0x20);
      const body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 16; i++) controller.enqueue(chunk);
          controller.close();
        },
      });
      const res = await fetch(`${server.url}/api/v1/connections`, { method: "POST", body, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit);
      expect(res.status).toBe(413);
      await res.arrayBuffer();
      // The server still answers.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.cleanup();
    }
    const requests = captured.lines.filter((l) => l.msg === "request" && l.path === "/api/v1/connections");
    expect(requests.map((l) => l.status)).toEqual([413]);
    expect(captured.lines.filter((l) => l.level === "error")).toEqual([]);
    expect(JSON.stringify(captured.lines)).not.toContain("stack");
  });

  test("sent chunked through the app (Hono's reader) is a 413 and no unhandled error", async () => {
    const captured = capturingLogger();
    const small = await createTestApp({ logger: captured.logger, overrides: { server: { max_body_size: "1KiB" } } });
    try {
      const body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512).fill(0x20));
          controller.close();
        },
      });
      const res = await small.request("/mcp/self", { method: "POST", body, headers: { "content-type": "application/json", accept: MCP_ACCEPT }, duplex: "half" } as RequestInit);
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { data: unknown } }).error.data).toEqual({ code: "PAYLOAD_TOO_LARGE" });
      // A chunked body under the limit still arrives whole.
      const ok = await small.request("/mcp/self", {
        method: "POST",
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0",'));
            controller.enqueue(new TextEncoder().encode('"id":1,"method":"ping"}'));
            controller.close();
          },
        }),
        headers: { "content-type": "application/json", accept: MCP_ACCEPT },
        duplex: "half",
      } as RequestInit);
      expect(ok.status).toBe(401);
    } finally {
      small.close();
    }
    expect(captured.lines.filter((l) => l.msg === "unhandled error")).toEqual([]);
  });
});

describe("a request target that is not a path", () => {
  /** Sends raw bytes to the server and returns what it answers (until it closes). */
  function sendRaw(port: number, bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
      let received = "";
      socket.on("data", (data) => (received += data.toString("latin1")));
      socket.on("end", () => resolve(received));
      socket.on("error", reject);
    });
  }

  test("CONNECT * or OPTIONS * with a body is a 400, not an unhandled error", async () => {
    const captured = capturingLogger();
    const server = await startTestServer({ logger: captured.logger });
    try {
      for (const method of ["CONNECT", "OPTIONS", "POST"]) {
        const answer = await sendRaw(server.server.port, `${method} * HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`);
        expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(answer).not.toContain("    at ");
      }
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.cleanup();
    }
    expect(captured.lines.filter((l) => l.msg === "unhandled error")).toEqual([]);
    expect(captured.lines.filter((l) => l.msg === "request" && Number(l.status) >= 500)).toEqual([]);
  });
});
