// The proxy path of the gateway, for a stdio, a Streamable HTTP and a legacy HTTP+SSE upstream of the
// fixture server: what passes through (tools, resources, prompts, errors, progress, cancellation,
// server-to-client requests, list changes, subscriptions), what each caller's permissions let
// through, and how sessions behave.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ListRootsRequestSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import { rejectionOf } from "../support/errors.ts";
import {
  GatewayHarness,
  httpSpec,
  isAlive,
  makeCaller,
  PROTOCOL_VERSION,
  recordedMessages,
  recordedStdioSpec,
  rpcMessages,
  startHttpFixture,
  startRecordingForwarder,
  stdioSpec,
  textOf,
  waitUntil,
  whoami,
  within,
  type HttpFixture,
  type RpcError,
} from "../support/gateway-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";

// Every wait inside has its own, shorter deadline; this only keeps a stuck test from hanging.
setDefaultTimeout(20_000);

const FIXTURE_TOOLS = ["echo", "add", "whoami", "slow", "fail", "crash", "garbage", "big", "sample", "roots", "log", "add_tool", "touch"];

let httpFixture: HttpFixture;
let sseFixture: HttpFixture;
let harness: GatewayHarness | null = null;
const tempDir = useTempDirs("switchboard-gateway-");

beforeAll(async () => {
  httpFixture = await startHttpFixture();
  sseFixture = await startHttpFixture("sse");
});
afterAll(async () => {
  await httpFixture.stop();
  await sseFixture.stop();
});
afterEach(async () => {
  await harness?.close();
  harness = null;
});

function start(...specs: ConnectionSpec[]): GatewayHarness {
  harness = new GatewayHarness(specs);
  return harness;
}

/** The JSON-RPC answer to request `id` among `messages`. */
function answerTo(messages: JSONRPCMessage[], id: number): { result?: Record<string, unknown>; error?: RpcError } {
  const found = messages.find((m) => "id" in m && m.id === id && ("result" in m || "error" in m));
  if (!found) throw new Error(`no answer to request ${id} in ${JSON.stringify(messages)}`);
  return found as { result?: Record<string, unknown>; error?: RpcError };
}

/** What the fixture itself sends for a failing call, asked directly (no gateway in between). */
async function fixtureFailError(): Promise<RpcError> {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const init = await fetch(httpFixture.url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "direct", version: "1" } } }),
  });
  const session = init.headers.get("mcp-session-id")!;
  await init.body?.cancel();
  const call = await fetch(httpFixture.url, {
    method: "POST",
    headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "fail", arguments: {} } }),
  });
  return answerTo(await rpcMessages(call), 1).error!;
}

const UPSTREAMS = [
  { transport: "stdio", spec: (o: Partial<ConnectionSpec> = {}) => stdioSpec(o) },
  { transport: "http", spec: (o: Partial<ConnectionSpec> = {}) => httpSpec(httpFixture.url, o) },
  { transport: "sse", spec: (o: Partial<ConnectionSpec> = {}) => httpSpec(sseFixture.url, { transport: "sse", ...o }) },
] as const;

for (const upstream of UPSTREAMS) {
  // A shared stdio process serves every session on one upstream session; http and sse give each
  // downstream session an upstream session of its own (its state is its own, as the upstream keeps it).
  const shared = upstream.transport === "stdio";
  describe(`${upstream.transport} upstream`, () => {
    test("tools/list and tools/call pass through", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id);
      expect(client.getServerVersion()).toMatchObject({ name: "fixture", version: "1.0.0" });
      expect(client.getInstructions()).toBe("fixture instructions");
      const tools = (await client.listTools()).tools;
      expect(tools.map((t) => t.name)).toEqual(FIXTURE_TOOLS);
      expect(tools.find((t) => t.name === "add")?.inputSchema.required).toEqual(["a", "b"]);
      expect(await client.callTool({ name: "echo", arguments: { text: "héllo" } })).toEqual({ content: [{ type: "text", text: "héllo" }] });
      expect(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toBe("5");
    });

    for (const [label, permissions] of [
      ["the connection", (id: string): Permissions => ({ [id]: ["echo"] })],
      ['"*"', (): Permissions => ({ "*": ["echo"] })],
    ] as const) {
      test(`a key granted only echo on ${label} sees and calls only echo`, async () => {
        const spec = upstream.spec();
        const h = start(spec);
        const caller = makeCaller(permissions(spec.id));
        const client = await h.connect(spec.id, { caller });
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
        expect(textOf(await client.callTool({ name: "echo", arguments: { text: "ok" } }))).toBe("ok");
        const err = (await rejectionOf(client.callTool({ name: "add", arguments: { a: 1, b: 2 } }))) as RpcError;
        expect(err.code).toBe(-32602);
        // The SDK client adds "MCP error <code>: " once; the gateway adds nothing.
        expect(err.message).toBe("MCP error -32602: Unknown tool: add");

        // On the wire: exactly the message, no prefix, and nothing of the tool's result.
        const session = await h.openRawSession(spec.id, caller);
        const raw = await h.post(spec.id, caller, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "add", arguments: { a: 1, b: 2 } } }, session);
        const answer = answerTo(await rpcMessages(raw), 7);
        expect(answer.error).toEqual({ code: -32602, message: "Unknown tool: add" });
        expect(answer.result).toBeUndefined();
      });
    }

    test('resources and prompts need "*": without it lists are empty and reads fail', async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id, { caller: makeCaller({ [spec.id]: ["echo", "add", "touch"], "*": ["echo"] }) });
      expect((await client.listResources()).resources).toEqual([]);
      expect((await client.listResourceTemplates()).resourceTemplates).toEqual([]);
      expect((await client.listPrompts()).prompts).toEqual([]);
      const read = (await rejectionOf(client.readResource({ uri: "fixture://counter" }))) as RpcError;
      expect(read.code).toBe(-32002);
      expect(read.message).not.toContain("1");
      const prompt = (await rejectionOf(client.getPrompt({ name: "greet", arguments: { who: "Ada" } }))) as RpcError;
      expect(prompt.message).toBe("MCP error -32602: Unknown prompt: greet");
      expect(((await rejectionOf(client.subscribeResource({ uri: "fixture://counter" }))) as RpcError).code).toBe(-32002);
      // Tools granted by name still work.
      expect(textOf(await client.callTool({ name: "add", arguments: { a: 1, b: 1 } }))).toBe("2");
    });

    for (const [label, permissions] of [
      ["the connection", (id: string): Permissions => ({ [id]: ["*"] })],
      ['"*"', (): Permissions => ({ "*": ["*"] })],
    ] as const) {
      test(`resources and prompts work with "*" on ${label}`, async () => {
        const spec = upstream.spec();
        const h = start(spec);
        const client = await h.connect(spec.id, { caller: makeCaller(permissions(spec.id)) });
        expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["fixture://counter"]);
        expect((await client.readResource({ uri: "fixture://counter" })).contents).toEqual([{ uri: "fixture://counter", text: "1" }]);
        expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(["greet"]);
        expect((await client.getPrompt({ name: "greet", arguments: { who: "Ada" } })).messages).toEqual([
          { role: "user", content: { type: "text", text: "Hello, Ada" } },
        ]);
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(FIXTURE_TOOLS);
      });
    }

    test("an upstream error keeps its code, message and data", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id);
      const err = (await rejectionOf(client.callTool({ name: "fail", arguments: {} }))) as RpcError;
      expect(err.code).toBe(-32042);
      expect(err.data).toEqual({ reason: "asked to fail" });

      const direct = await fixtureFailError();
      expect(direct).toEqual({ code: -32042, message: "MCP error -32042: the fixture refuses", data: { reason: "asked to fail" } });
      const caller = makeCaller({ "*": ["*"] });
      const session = await h.openRawSession(spec.id, caller);
      const raw = await h.post(spec.id, caller, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "fail", arguments: {} } }, session);
      // Byte for byte what the upstream sent: the gateway neither strips nor adds a prefix.
      expect(answerTo(await rpcMessages(raw), 3).error).toEqual(direct);
    });

    test("every progress notification arrives, under the client's token, before the result", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id);
      for (let round = 0; round < 10; round++) {
        const seen: { progress: number; total?: number }[] = [];
        const result = await client.callTool({ name: "slow", arguments: { ms: 30, steps: 3 } }, undefined, { onprogress: (p) => seen.push(p) });
        expect(textOf(result)).toBe("done");
        // The SDK drops progress that comes after the response, so all three here means all three before it.
        expect(seen.map((p) => [p.progress, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
      }

      const caller = makeCaller({ "*": ["*"] });
      const session = await h.openRawSession(spec.id, caller);
      const raw = await h.post(
        spec.id,
        caller,
        { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "slow", arguments: { ms: 30, steps: 3 }, _meta: { progressToken: "client-token-9" } } },
        session,
      );
      const messages = await rpcMessages(raw);
      expect(messages.map((m) => ("method" in m ? m.method : "answer"))).toEqual(["notifications/progress", "notifications/progress", "notifications/progress", "answer"]);
      for (const m of messages.slice(0, 3)) expect((m as unknown as { params: { progressToken: unknown } }).params.progressToken).toBe("client-token-9");
    });

    test("cancelling a call rejects it at once and the upstream is told", async () => {
      let seen: () => JSONRPCMessage[];
      let spec: ConnectionSpec;
      let stop = () => {};
      if (upstream.transport === "stdio") {
        const log = join(tempDir(), "stdin.jsonl");
        spec = recordedStdioSpec(log);
        seen = () => recordedMessages(log);
      } else {
        const forwarder = startRecordingForwarder(httpFixture.url);
        spec = httpSpec(forwarder.url);
        seen = () => forwarder.seen;
        stop = forwarder.stop;
      }
      try {
        const h = start(spec);
        const client = await h.connect(spec.id);
        const before = await whoami(client);
        const controller = new AbortController();
        let started!: () => void;
        const inUpstream = new Promise<void>((resolve) => (started = resolve));
        const call = client.callTool({ name: "slow", arguments: { ms: 20_000, steps: 200 } }, undefined, { signal: controller.signal, onprogress: () => started() });
        const outcome = rejectionOf(call);
        await within(inUpstream, 5000, "the first progress of the slow call");
        controller.abort("changed my mind");
        const err = await within(outcome, 1000, "the rejection of the cancelled call");
        expect(String(err)).toContain("changed my mind");

        // The upstream got notifications/cancelled for the very request it was running.
        const cancelled = await waitUntil(() => {
          const messages = seen();
          const slow = messages.find((m) => "method" in m && m.method === "tools/call" && (m.params as { name?: string }).name === "slow") as { id: number } | undefined;
          return messages.find((m) => "method" in m && m.method === "notifications/cancelled" && slow && (m.params as { requestId?: unknown }).requestId === slow.id);
        }, "notifications/cancelled to reach the upstream", 5000);
        expect(cancelled).toBeDefined();

        // The same upstream (no restart) goes on serving.
        expect(textOf(await client.callTool({ name: "slow", arguments: { ms: 30, steps: 1 } }))).toBe("done");
        expect((await whoami(client)).pid).toBe(before.pid);
      } finally {
        stop();
      }
    });

    test("a call the upstream does not answer in callTimeoutMs fails with -32001 and others go on", async () => {
      const spec = upstream.spec({ callTimeoutMs: 500 });
      const h = start(spec);
      const client = await h.connect(spec.id);
      const started = Date.now();
      const err = (await rejectionOf(client.callTool({ name: "slow", arguments: { ms: 5000, steps: 1 } }))) as RpcError;
      expect(Date.now() - started).toBeLessThan(500 + 2000);
      expect(err.code).toBe(-32001);
      expect(err.message).toBe("MCP error -32001: Request timed out");
      expect(textOf(await client.callTool({ name: "echo", arguments: { text: "still here" } }))).toBe("still here");
    });

    test("sampling and roots requests of the upstream reach the client that called", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id, {
        capabilities: { sampling: {}, roots: {} },
        setup: (c) => {
          c.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
            role: "assistant",
            model: "test-model",
            content: { type: "text", text: `answer to ${(req.params.messages[0]!.content as { text: string }).text}` },
          }));
          c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///a" }, { uri: "file:///b" }] }));
        },
      });
      expect(textOf(await client.callTool({ name: "sample", arguments: { prompt: "q1" } }))).toBe("model said: answer to q1");
      const roots = await client.callTool({ name: "roots", arguments: {} });
      if (shared) {
        // A shared upstream session is offered no roots (the server would keep one client's for all):
        // asked anyway, the gateway answers none, and the client is never asked.
        expect(textOf(roots)).toBe("");
      } else {
        expect(textOf(roots)).toBe("file:///a,file:///b");
      }
    });

    test("a client without sampling gets a clear error for the upstream's sampling request, not a hang", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id);
      const result = await within(client.callTool({ name: "sample", arguments: { prompt: "q" } }), 5000, "the answer to sample");
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("Client does not support sampling");
      expect(textOf(result)).not.toContain("model said");
    });

    test("two sessions sampling at once: each gets its own answer or a refusal, never the other's", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const asked = { A: 0, B: 0 };
      const connect = (who: "A" | "B") =>
        h.connect(spec.id, {
          caller: makeCaller({ "*": ["*"] }, `key_${who}`),
          capabilities: { sampling: {} },
          setup: (c) =>
            c.setRequestHandler(CreateMessageRequestSchema, async () => {
              asked[who]++;
              return { role: "assistant", model: "m", content: { type: "text", text: `I am ${who}` } };
            }),
        });
      const [a, b] = await Promise.all([connect("A"), connect("B")]);
      const own = { A: 0, B: 0 };
      for (let round = 0; round < 5; round++) {
        const [ra, rb] = await Promise.all([
          a.callTool({ name: "sample", arguments: { prompt: "a" } }),
          b.callTool({ name: "sample", arguments: { prompt: "b" } }),
        ]);
        for (const [who, r] of [["A", ra], ["B", rb]] as const) {
          if (r.isError) expect(textOf(r)).toContain("cannot tell which client");
          else {
            expect(textOf(r)).toBe(`model said: I am ${who}`);
            own[who]++;
          }
        }
      }
      expect(asked).toEqual(own);

      // Deterministically ambiguous: A has a call in flight when B's call asks for sampling.
      const controller = new AbortController();
      let started!: () => void;
      const inUpstream = new Promise<void>((resolve) => (started = resolve));
      const pending = rejectionOf(a.callTool({ name: "slow", arguments: { ms: 20_000, steps: 200 } }, undefined, { signal: controller.signal, onprogress: () => started() }));
      await within(inUpstream, 5000, "A's slow call reaching the upstream");
      const askedBefore = { ...asked };
      const answered = await b.callTool({ name: "sample", arguments: { prompt: "b" } });
      if (shared) {
        // One upstream session for both: B's request cannot be told from A's, so it is refused.
        expect(answered.isError).toBe(true);
        expect(textOf(answered)).toContain("cannot tell which client");
        expect(asked).toEqual(askedBefore);
      } else {
        // B's own upstream session asked: it reaches B, whatever A is doing.
        expect(textOf(answered)).toBe("model said: I am B");
        expect(asked).toEqual({ A: askedBefore.A, B: askedBefore.B + 1 });
      }
      controller.abort();
      await pending;
    });

    test("list_changed reaches the client and the discovery cache follows", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      let changed!: () => void;
      const listChanged = new Promise<void>((resolve) => (changed = resolve));
      const client = await h.connect(spec.id, { setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => changed()) });
      await h.gateway.refresh(spec.id);
      expect(h.gateway.discovery(spec.id).tools.map((t) => t.name)).toEqual(FIXTURE_TOOLS);
      expect(textOf(await client.callTool({ name: "add_tool", arguments: { name: "added_later" } }))).toBe("added added_later");
      await within(listChanged, 5000, "notifications/tools/list_changed");
      expect((await client.listTools()).tools.map((t) => t.name)).toContain("added_later");
      if (shared) {
        // The gateway refreshes on its own; no explicit refresh here.
        await waitUntil(() => h.gateway.discovery(spec.id).tools.some((t) => t.name === "added_later"), "the discovery to list added_later", 5000);
        expect((await h.gateway.refresh(spec.id)).tools.map((t) => t.name)).toEqual([...FIXTURE_TOOLS, "added_later"]);
      } else {
        // The tool was added in the client's own upstream session: neither discovery's session nor
        // another client's sees it.
        const other = await h.connect(spec.id);
        expect((await other.listTools()).tools.map((t) => t.name)).toEqual(FIXTURE_TOOLS);
        expect((await h.gateway.refresh(spec.id)).tools.map((t) => t.name)).toEqual(FIXTURE_TOOLS);
      }
    });

    // Only a shared upstream session lets a client change what discovery reads.
    test.skipIf(!shared)("a list change during a discovery refresh is not lost", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const client = await h.connect(spec.id);
      await h.gateway.refresh(spec.id);
      // The refresh reads tools first, then resources, templates and prompts; the tool is added in between.
      const refreshing = h.gateway.refresh(spec.id);
      await client.callTool({ name: "add_tool", arguments: { name: "added_mid_refresh" } });
      await refreshing;
      await waitUntil(() => h.gateway.discovery(spec.id).tools.some((t) => t.name === "added_mid_refresh"), "the discovery to list added_mid_refresh", 5000);
    });

    test("resources/updated reaches subscribed sessions only, and stops after unsubscribe", async () => {
      const spec = upstream.spec();
      const h = start(spec);
      const updates = { A: 0, B: 0 };
      const connect = (who: "A" | "B") =>
        h.connect(spec.id, {
          setup: (c) =>
            c.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
              expect(n.params.uri).toBe("fixture://counter");
              updates[who]++;
            }),
        });
      const [a, b] = await Promise.all([connect("A"), connect("B")]);
      /** Touches, then waits until `expected` holds (no update may arrive late: the bounded wait covers that). */
      const touchAndSee = async (expected: typeof updates) => {
        await a.callTool({ name: "touch", arguments: {} });
        await waitUntil(() => updates.A === expected.A && updates.B === expected.B, `updates ${JSON.stringify(expected)}, got ${JSON.stringify(updates)}`, 3000);
        // A bounded wait for an update that must not come: a wrong one would go out with the right ones,
        // which arrive over loopback within milliseconds (the wait above saw them), so 100 ms covers it.
        await Bun.sleep(100);
        expect(updates).toEqual(expected);
      };

      // Nobody subscribed: nobody hears.
      await touchAndSee({ A: 0, B: 0 });
      await a.subscribeResource({ uri: "fixture://counter" });
      await touchAndSee({ A: 1, B: 0 });
      await b.subscribeResource({ uri: "fixture://counter" });
      if (shared) {
        // One upstream resource for both: B hears A's touch.
        await touchAndSee({ A: 2, B: 1 });
        // A leaves; B (still subscribed) goes on hearing, A does not.
        await a.unsubscribeResource({ uri: "fixture://counter" });
        await touchAndSee({ A: 2, B: 2 });
        await b.unsubscribeResource({ uri: "fixture://counter" });
        await touchAndSee({ A: 2, B: 2 });
      } else {
        // Each session's counter is its own upstream session's: B hears only its own touches.
        await touchAndSee({ A: 2, B: 0 });
        await b.callTool({ name: "touch", arguments: {} });
        await waitUntil(() => updates.B === 1, "B's own update", 3000);
        await a.unsubscribeResource({ uri: "fixture://counter" });
        await touchAndSee({ A: 2, B: 1 });
      }
    });

    test("gateway.test on a good upstream reports the server and what it offers", async () => {
      const spec = upstream.spec();
      const h = start();
      const result = await h.gateway.test(spec);
      expect(result).toMatchObject({ ok: true, server: { name: "fixture", version: "1.0.0" }, resources: 1, prompts: 1 });
      expect(result.tools).toBeGreaterThanOrEqual(FIXTURE_TOOLS.length);
      expect(result.error).toBeUndefined();
      expect(result.latency_ms).toBeGreaterThanOrEqual(0);
    });
  });
}

describe("downstream sessions", () => {
  const caller = makeCaller({ "*": ["*"] }, "key_a");
  const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };

  test("an unknown session id is 404", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const res = await h.post(spec.id, caller, listTools, crypto.randomUUID());
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: RpcError }).error.message).toBe("Session not found");
  });

  test("a request other than initialize without a session id is 400", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const res = await h.post(spec.id, caller, listTools);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: RpcError }).error.message).toContain("Mcp-Session-Id");
    const get = await h.fetch(spec.id, caller, `http://localhost/mcp/${spec.id}`, { method: "GET", headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(400);
    await get.body?.cancel();
  });

  test("a session is only good for the key that opened it, on its own connection", async () => {
    const spec = stdioSpec();
    const other = stdioSpec();
    const h = start(spec, other);
    const session = await h.openRawSession(spec.id, caller);
    const mine = await h.post(spec.id, caller, listTools, session);
    expect(mine.status).toBe(200);
    expect(answerTo(await rpcMessages(mine), 1).result?.tools).toBeArray();

    const keyB = makeCaller({ "*": ["*"] }, "key_b");
    const theirs = await h.post(spec.id, keyB, listTools, session);
    expect(theirs.status).toBe(404);
    expect(JSON.stringify(await theirs.json())).not.toContain("echo");
    const elsewhere = await h.post(other.id, caller, listTools, session);
    expect(elsewhere.status).toBe(404);
    await elsewhere.body?.cancel();
  });

  test("a shared stdio upstream serves every session from one process", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const [a, b] = await Promise.all([h.connect(spec.id), h.connect(spec.id)]);
    const [wa, wb] = await Promise.all([whoami(a), whoami(b)]);
    expect(wa.pid).toBe(wb.pid);
    expect(wa.pid).not.toBe(process.pid);
  });

  test('isolation "session": one process per session, ended with its session', async () => {
    const spec = stdioSpec({ isolation: "session" });
    const h = start(spec);
    const [a, b] = await Promise.all([h.connect(spec.id), h.connect(spec.id)]);
    const [wa, wb] = await Promise.all([whoami(a), whoami(b)]);
    expect(wa.pid).not.toBe(wb.pid);
    expect(isAlive(wa.pid) && isAlive(wb.pid)).toBe(true);
    await (a.transport as StreamableHTTPClientTransport).terminateSession();
    await waitUntil(() => !isAlive(wa.pid), "the closed session's process to end", 5000);
    expect(isAlive(wb.pid)).toBe(true);
    expect((await whoami(b)).pid).toBe(wb.pid);
  });

  test('isolation "session" is capped at maxProcesses with a clear error (503: capacity, not a failing upstream)', async () => {
    const spec = stdioSpec({ isolation: "session", maxProcesses: 1 });
    const h = start(spec);
    const a = await h.connect(spec.id);
    const first = await whoami(a);
    const res = await h.post(spec.id, caller, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "extra", version: "1" } },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get("mcp-session-id")).toBeNull();
    expect(((await res.json()) as { error: RpcError }).error.message).toContain("maximum of 1 processes");
    expect(h.gateway.sessionCount).toBe(1);

    // When the first session ends its slot is free again.
    await (a.transport as StreamableHTTPClientTransport).terminateSession();
    await waitUntil(() => !isAlive(first.pid), "the first process to end", 5000);
    const b = await waitUntil(() => h.connect(spec.id), "a new session to open", 5000);
    expect((await whoami(b)).pid).not.toBe(first.pid);
  });

  test("idle sessions are reaped, and their own processes with them", async () => {
    const spec = stdioSpec({ isolation: "session" });
    harness = new GatewayHarness([spec], { sessionIdleMs: 300 });
    const client = await harness.connect(spec.id);
    const { pid } = await whoami(client);
    await waitUntil(() => harness!.gateway.sessionCount === 0 && !isAlive(pid), "the idle session and its process to be reaped", 10_000);
  });

  test('isolation "session": each session\'s sampling requests reach its own client, even at once', async () => {
    const spec = stdioSpec({ isolation: "session" });
    const h = start(spec);
    const connect = (who: string) =>
      h.connect(spec.id, {
        capabilities: { sampling: {} },
        setup: (c) => c.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "m", content: { type: "text", text: `I am ${who}` } })),
      });
    const [a, b] = await Promise.all([connect("A"), connect("B")]);
    for (let round = 0; round < 5; round++) {
      const [ra, rb] = await Promise.all([a.callTool({ name: "sample", arguments: { prompt: "a" } }), b.callTool({ name: "sample", arguments: { prompt: "b" } })]);
      // With a process per session nothing is ambiguous: never a refusal, never the other's answer.
      expect([textOf(ra), textOf(rb)]).toEqual(["model said: I am A", "model said: I am B"]);
    }
  });

  test("a stdio server sees only the connection's env plus PATH (and the tag that marks its processes)", async () => {
    const leak = `SWITCHBOARD_LEAK_CHECK_${process.pid}`;
    process.env[leak] = "must-not-reach-the-upstream";
    try {
      const spec = stdioSpec({ env: { SB_ALPHA: "1", SB_BETA: "two" } });
      const h = start(spec);
      const client = await h.connect(spec.id);
      const { env } = await whoami(client);
      expect(env).not.toContain(leak);
      expect(env).not.toContain("HOME");
      expect(env).toEqual(["PATH", "SB_ALPHA", "SB_BETA", "SWITCHBOARD_PROCESS_TAG"]);
    } finally {
      delete process.env[leak];
    }
  });
});

describe("requests on an established session, at the HTTP edge", () => {
  const caller = makeCaller({ "*": ["*"] });
  const call = (id: number | string, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
  });

  test("a call is answered with one event-stream body holding the response", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const session = await h.openRawSession(spec.id, caller);
    const res = await h.post(spec.id, caller, call(1, "echo", { text: "hi" }), session);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("mcp-session-id")).toBe(session);
    expect(await rpcMessages(res)).toEqual([{ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "hi" }] } } as JSONRPCMessage]);
  });

  test("progress streams ahead of the response, under the client's token", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const session = await h.openRawSession(spec.id, caller);
    const res = await h.post(spec.id, caller, call("p", "slow", { ms: 60, steps: 2 }, { progressToken: "mine" }), session);
    const messages = await rpcMessages(res);
    expect(messages.map((m) => ("method" in m ? `${m.method}:${(m.params as { progressToken?: string }).progressToken}` : "response"))).toEqual([
      "notifications/progress:mine",
      "notifications/progress:mine",
      "response",
    ]);
  });

  test("headers the transport refuses get the SDK's own errors (406, 415, 400)", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const session = await h.openRawSession(spec.id, caller);
    const send = (headers: Record<string, string>) =>
      h.fetch(spec.id, caller, `http://localhost/mcp/${spec.id}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session, ...headers },
        body: JSON.stringify(call(1, "echo", { text: "x" })),
      });
    expect((await send({ accept: "application/json" })).status).toBe(406);
    expect((await send({ "content-type": "text/plain" })).status).toBe(415);
    const badVersion = await send({ "mcp-protocol-version": "1999-01-01" });
    expect(badVersion.status).toBe(400);
    expect(await badVersion.text()).toContain("Unsupported protocol version");
  });

  test("a batch is answered whole by the SDK's transport", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const session = await h.openRawSession(spec.id, caller);
    const res = await h.post(spec.id, caller, [call(1, "echo", { text: "a" }), call(2, "add", { a: 1, b: 2 })], session);
    const byId = new Map((await rpcMessages(res)).map((m) => [(m as { id: number }).id, m]));
    expect(textOf((byId.get(1) as { result: unknown }).result)).toBe("a");
    expect(textOf((byId.get(2) as { result: unknown }).result)).toBe("3");
  });

  test("notifications/cancelled ends a running call at once, with no response", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const session = await h.openRawSession(spec.id, caller);
    const running = h.post(spec.id, caller, call(9, "slow", { ms: 10_000, steps: 1 }), session);
    await waitUntil(async () => [...(await h.runtime(spec.id)).sessions].some((s) => (s as unknown as { busy: boolean }).busy), "the call to be running");
    const cancel = await h.post(spec.id, caller, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9, reason: "changed my mind" } }, session);
    expect(cancel.status).toBe(202);
    const res = await within(running, 3000, "the cancelled call to end");
    expect(await rpcMessages(res)).toEqual([]);
    // The session goes on.
    expect(await rpcMessages(await h.post(spec.id, caller, call(10, "echo", { text: "still here" }), session))).toHaveLength(1);
  });

  test("a sampling request of the upstream goes out on the call's stream; the client's answer comes back by POST", async () => {
    const spec = stdioSpec();
    const h = start(spec);
    const init = await h.post(spec.id, caller, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: { sampling: {} }, clientInfo: { name: "raw", version: "1" } },
    });
    const session = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    await h.post(spec.id, caller, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
    const res = await h.post(spec.id, caller, call(3, "sample", { prompt: "hello?" }), session);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const asked = JSON.parse(first.slice(first.indexOf("data: ") + 6)) as { id: string; method: string };
    expect(asked.method).toBe("sampling/createMessage");
    const answer = await h.post(spec.id, caller, { jsonrpc: "2.0", id: asked.id, result: { role: "assistant", model: "m", content: { type: "text", text: "yes" } } }, session);
    expect(answer.status).toBe(202);
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain("model said: yes");
  });
});
