// Tasks belong to the session that created them, and every method is allowed or refused by name:
// two or three SDK clients of different keys on one shared stdio upstream (server-everything, whose
// simulate-research-query is a task tool) and through an agent over it, with the upstream's stdin
// recorded to prove what it never saw.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateTaskResultSchema, ElicitRequestSchema, ErrorCode, McpError, RELATED_TASK_META_KEY, ResultSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import { silentLogger } from "../../src/logger.ts";
import { GatewayHarness, makeCaller, recordedMessages, rpcMessages, stdioSpec, textOf, waitUntil, type GatewayCaller } from "../support/gateway-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";

setDefaultTimeout(60_000);

const tempDir = useTempDirs("session-tasks-");
const EVERYTHING = join(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const FAST_CLOCK = join(import.meta.dir, "../fixtures/fast-clock.ts");

/**
 * server-everything over stdio, one process for every session, behind `tee` so the test reads what it
 * was sent; its timers run ten times faster (a research task takes 0.4 s, not 4 s).
 */
function everythingSpec(logFile: string, overrides: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return stdioSpec({
    command: "/bin/sh",
    args: ["-c", 'tee -a "$SB_STDIN_LOG" | exec "$0" --preload "$1" "$2" stdio', process.execPath, FAST_CLOCK, EVERYTHING],
    env: { SB_STDIN_LOG: logFile },
    isolation: "shared",
    callTimeoutMs: 15_000,
    ...overrides,
  });
}

type Requested = { method: string; params?: Record<string, unknown> };

/** The requests the upstream received (not its answers to the gateway's requests). */
function upstreamRequests(logFile: string): Requested[] {
  return recordedMessages(logFile).filter((m): m is JSONRPCMessage & Requested => "method" in m) as Requested[];
}

/** The tasks/* requests the upstream received after the first `since`. */
function taskRequestsSince(logFile: string, since: number): Requested[] {
  return upstreamRequests(logFile)
    .slice(since)
    .filter((m) => m.method.startsWith("tasks/"));
}

/** The JSON-RPC error a request is rejected with. */
async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof McpError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("the request succeeded");
}

let harness: GatewayHarness | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
});

async function setUp(): Promise<{ spec: ConnectionSpec; log: string; alice: GatewayCaller; bob: GatewayCaller }> {
  const log = join(tempDir(), "stdin.jsonl");
  const spec = everythingSpec(log);
  harness = new GatewayHarness([spec]);
  // Alice may use everything on the connection; bob is a different key allowed only `echo`.
  const alice = makeCaller({ [spec.id]: ["*"] }, "key_alice");
  const bob = makeCaller({ [spec.id]: ["echo"] }, "key_bob");
  return { spec, log, alice, bob };
}

/** Starts a research task as `client` (task-augmented tools/call) and returns its id. */
async function startTask(client: Client, args: Record<string, unknown> = { topic: "tides" }): Promise<string> {
  const created = await client.request({ method: "tools/call", params: { name: "simulate-research-query", arguments: args, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
  return created.task.taskId;
}

describe("tasks on a shared stdio upstream", () => {
  test("the tasks capability reaches SDK clients, which run a task tool through callToolStream", async () => {
    const { spec, log, alice } = await setUp();
    const a = await harness!.connect(spec.id, { caller: alice });
    expect(a.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    await a.listTools();
    const kinds: string[] = [];
    let result: unknown = null;
    for await (const message of a.experimental.tasks.callToolStream({ name: "simulate-research-query", arguments: { topic: "tides" } })) {
      kinds.push(message.type);
      if (message.type === "result") result = message.result;
      if (message.type === "error") throw message.error;
    }
    expect(kinds[0]).toBe("taskCreated");
    expect(kinds.at(-1)).toBe("result");
    expect(textOf(result)).toContain("Research Report: tides");
    // The call went upstream task-augmented (without the capability, the SDK sends none and the tool refuses).
    expect(upstreamRequests(log).some((m) => m.method === "tools/call" && m.params?.task !== undefined)).toBe(true);
  });

  test("another key cannot list, get, read, cancel or answer a task: it reads as a made-up id, and the upstream never sees the attempt", async () => {
    const { spec, log, alice, bob } = await setUp();
    let aliceAsked = 0;
    let bobAsked = 0;
    const a = await harness!.connect(spec.id, {
      caller: alice,
      capabilities: { elicitation: { form: {} } },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, async () => {
          aliceAsked++;
          return { action: "accept", content: { interpretation: "historical" } };
        }),
    });
    const b = await harness!.connect(spec.id, {
      caller: bob,
      capabilities: { elicitation: { form: {} } },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, async () => {
          bobAsked++;
          return { action: "accept", content: { interpretation: "current" } };
        }),
    });
    // Alice's task is ambiguous: it asks for a clarification on the tasks/result stream.
    const taskId = await startTask(a, { topic: "tides", ambiguous: true });
    const madeUp = "00000000-0000-4000-8000-000000000000";
    const sentBefore = upstreamRequests(log).length;

    expect((await b.experimental.tasks.listTasks()).tasks).toEqual([]);
    for (const [call, method] of [
      [(id: string) => b.experimental.tasks.getTask(id), "tasks/get"],
      [(id: string) => b.experimental.tasks.getTaskResult(id, ResultSchema), "tasks/result"],
      [(id: string) => b.experimental.tasks.cancelTask(id), "tasks/cancel"],
    ] as const) {
      const theirs = await rejection(call(taskId));
      const none = await rejection(call(madeUp));
      expect(theirs.code, method).toBe(ErrorCode.InvalidParams);
      // Exactly the answer for a task that never existed, but for the id it names.
      expect(theirs.message.replace(taskId, "ID"), method).toBe(none.message.replace(madeUp, "ID"));
      expect(theirs.message, method).toContain("not found");
    }
    // None of bob's attempts reached the upstream (its list never left the gateway either). Only task
    // methods are counted: the gateway's own discovery may refresh meanwhile (list_changed at start-up).
    expect(taskRequestsSince(log, sentBefore)).toEqual([]);
    expect(bobAsked).toBe(0);

    // Alice still owns it: she lists it, it was not cancelled, and her answer lands in her result.
    expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([taskId]);
    expect((await a.experimental.tasks.getTask(taskId)).status).not.toBe("cancelled");
    const result = await a.experimental.tasks.getTaskResult(taskId, ResultSchema);
    expect(textOf(result)).toContain("historical");
    expect(aliceAsked).toBe(1);
    expect(bobAsked).toBe(0);
  });

  test("a request naming another key's task in its related-task _meta is refused, and nothing is queued into that task", async () => {
    const { spec, log, alice, bob } = await setUp();
    const a = await harness!.connect(spec.id, { caller: alice });
    const b = await harness!.connect(spec.id, { caller: bob });
    const taskId = await startTask(a);
    const madeUp = "00000000-0000-4000-8000-000000000000";
    // An SDK upstream would queue the answer to this call into alice's task, for her tasks/result to deliver.
    const inject = (id: string) => b.request({ method: "tools/call", params: { name: "echo", arguments: { message: "injected" }, _meta: { [RELATED_TASK_META_KEY]: { taskId: id } } } }, ResultSchema);
    expect(await rejection(inject(taskId))).toEqual({ code: ErrorCode.InvalidParams, message: `MCP error -32602: Task not found: ${taskId}` });
    expect(await rejection(inject(madeUp))).toEqual({ code: ErrorCode.InvalidParams, message: `MCP error -32602: Task not found: ${madeUp}` });
    expect(upstreamRequests(log).filter((m) => JSON.stringify(m).includes("injected"))).toEqual([]);
    // Bob's own calls still work, and alice's result is her own.
    expect(textOf(await b.callTool({ name: "echo", arguments: { message: "plain" } }))).toContain("plain");
    const result = await a.experimental.tasks.getTaskResult(taskId, ResultSchema);
    expect(textOf(result)).toContain("Research Report: tides");
    expect(JSON.stringify(result)).not.toContain("injected");
  });

  test("the owner can cancel its own task, and a third key still sees nothing of it", async () => {
    const { spec, alice, bob } = await setUp();
    const carol = makeCaller({ [spec.id]: ["*"] }, "key_carol");
    const a = await harness!.connect(spec.id, { caller: alice });
    const b = await harness!.connect(spec.id, { caller: bob });
    const c = await harness!.connect(spec.id, { caller: carol });
    const mine = await startTask(a);
    const carols = await startTask(c);
    expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([mine]);
    expect((await c.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([carols]);
    expect((await b.experimental.tasks.listTasks()).tasks).toEqual([]);
    // Carol, allowed every tool, is still not the owner of alice's task.
    expect((await rejection(c.experimental.tasks.cancelTask(mine))).code).toBe(ErrorCode.InvalidParams);
    expect((await a.experimental.tasks.cancelTask(mine)).status).toBe("cancelled");
    expect((await c.experimental.tasks.getTask(carols)).status).not.toBe("cancelled");
  });

  test("a task's status notifications never reach another session, even on its only request in flight", async () => {
    const { spec, alice } = await setUp();
    const bob = makeCaller({ [spec.id]: ["echo", "trigger-long-running-operation"] }, "key_bob");
    const seenByBob: { method: string; params?: unknown }[] = [];
    const a = await harness!.connect(spec.id, { caller: alice });
    const b = await harness!.connect(spec.id, {
      caller: bob,
      setup: (c) => {
        c.fallbackNotificationHandler = async (n) => void seenByBob.push(n);
      },
    });
    const taskId = await startTask(a);
    // Alice's task changes stage every (upstream) second for four seconds; bob's five-second call is
    // then the shared upstream's only request in flight, the one its status notifications used to follow.
    await b.callTool({ name: "trigger-long-running-operation", arguments: { duration: 5, steps: 5 } });
    expect((await a.experimental.tasks.getTask(taskId)).status).toBe("completed");
    expect(seenByBob.filter((n) => n.method === "notifications/tasks/status")).toEqual([]);
    expect(seenByBob.some((n) => JSON.stringify(n).includes(taskId))).toBe(false);
  });
});

describe("methods the gateway does not serve", () => {
  test("foo/bar, tasks/evil and resources/unknown are -32601 and never reach the upstream", async () => {
    const { spec, log, alice } = await setUp();
    const a = await harness!.connect(spec.id, { caller: alice });
    for (const method of ["foo/bar", "tasks/evil", "resources/unknown", "sampling/createMessage", "notifications/foo"]) {
      const refused = await rejection(a.request({ method, params: {} }, ResultSchema));
      expect(refused, method).toEqual({ code: ErrorCode.MethodNotFound, message: "MCP error -32601: Method not found" });
    }
    // A served method still reaches it, after the refused ones: the log is complete up to it.
    await a.callTool({ name: "echo", arguments: { message: "after" } });
    await waitUntil(() => upstreamRequests(log).some((m) => m.method === "tools/call"), "the echo call upstream");
    const methods = upstreamRequests(log).map((m) => m.method);
    for (const method of ["foo/bar", "tasks/evil", "resources/unknown", "sampling/createMessage", "notifications/foo"]) expect(methods).not.toContain(method);
  });

  test("refused on the direct path and through the SDK's transport alike (a batch)", async () => {
    const { spec, log, alice } = await setUp();
    const sessionId = await harness!.openRawSession(spec.id, alice);
    const single = await rpcMessages(await harness!.post(spec.id, alice, { jsonrpc: "2.0", id: 1, method: "tasks/evil", params: {} }, sessionId));
    expect(single).toEqual([{ jsonrpc: "2.0", id: 1, error: { code: ErrorCode.MethodNotFound, message: "Method not found" } }]);
    const batch = await harness!.post(spec.id, alice, [{ jsonrpc: "2.0", id: 2, method: "foo/bar", params: {} }], sessionId);
    const answered = await rpcMessages(batch);
    expect(answered).toEqual([{ jsonrpc: "2.0", id: 2, error: { code: ErrorCode.MethodNotFound, message: "Method not found" } }]);
    expect(upstreamRequests(log).map((m) => m.method)).not.toContain("tasks/evil");
    expect(upstreamRequests(log).map((m) => m.method)).not.toContain("foo/bar");
  });
});

describe("URL-mode elicitation", () => {
  // Shared: the upstream was told the gateway can do URL mode, so the request comes, and reaches the
  // client on its call's stream (DirectAnswers.ask), where it is refused. A process of its own is told
  // exactly what its client declared (form only), so it never offers the tool at all.
  test("a process of the session's own is told the client's modes: the URL tool is not offered, as the upstream decides", async () => {
    const log = join(tempDir(), "stdin.jsonl");
    const spec = everythingSpec(log, { isolation: "session", callTimeoutMs: 5_000 });
    harness = new GatewayHarness([spec]);
    const client = await harness.connect(spec.id, { caller: makeCaller({ [spec.id]: ["*"] }, "key_alice"), capabilities: { elicitation: { form: {} } } });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("trigger-elicitation-request");
    expect(names).not.toContain("trigger-url-elicitation");
    const refused = await client.callTool({ name: "trigger-url-elicitation", arguments: { url: "https://example.com/consent" } });
    // The upstream itself answers that it has no such tool for this client.
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain("trigger-url-elicitation not found");
  });

  for (const isolation of ["shared"] as const) {
    test(`never reaches a client that declared only form mode; the upstream gets -32602 (isolation ${isolation})`, async () => {
      const log = join(tempDir(), "stdin.jsonl");
      const spec = everythingSpec(log, { isolation, callTimeoutMs: 5_000 });
      harness = new GatewayHarness([spec]);
      const alice = makeCaller({ [spec.id]: ["*"] }, "key_alice");
      const init = await harness.post(spec.id, alice, {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: { elicitation: { form: {} } }, clientInfo: { name: "form-only", version: "1" } },
      });
      const sessionId = init.headers.get("mcp-session-id")!;
      await init.body?.cancel();
      await harness.post(spec.id, alice, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId);
      const messages = await rpcMessages(
        await harness.post(spec.id, alice, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "trigger-url-elicitation", arguments: { url: "https://example.com/consent" } } }, sessionId),
      );
      // Only the call's answer: no elicitation/create was sent down to this client.
      expect(messages.filter((m) => "method" in m)).toEqual([]);
      expect(messages).toHaveLength(1);
      // The upstream was answered with the SDK client's own refusal of an undeclared mode.
      const answers = recordedMessages(log).filter((m) => "error" in m) as { error: { code: number; message: string } }[];
      expect(answers.map((m) => m.error)).toContainEqual({ code: ErrorCode.InvalidParams, message: "Client does not support URL-mode elicitation requests" });
    });
  }
});

describe("tasks through an agent", () => {
  test("the task lives on its connection and belongs to the session that created it", async () => {
    const log = join(tempDir(), "stdin.jsonl");
    const everything = everythingSpec(log);
    const agentSpec: AgentSpec = {
      id: "agent_00000000-0000-4000-8000-0000000000a1",
      slug: "researcher",
      title: "researcher",
      description: "",
      instructions: "",
      enabled: true,
      prefixTools: false,
      connections: [{ connectionId: everything.id, tools: "all", resources: "none", prompts: "none" }],
      fromConfig: false,
    };
    const gateway = new Gateway({
      sessionIdleMs: 60_000,
      maxSessions: 100,
      stderrLines: 50,
      maxBodyBytes: 4 << 20,
      logger: silentLogger,
      lookup: async (id) => (id === everything.id ? everything : null),
      lookupAgent: async (id) => (id === agentSpec.id || id === agentSpec.slug ? agentSpec : null),
    });
    const clients: Client[] = [];
    const connect = async (caller: GatewayCaller): Promise<Client> => {
      const client = new Client({ name: "agent-tasks", version: "1" });
      clients.push(client);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`http://localhost/mcp/agent/${agentSpec.slug}`), {
          fetch: (url, init) => gateway.handleAgent(new Request(url, init), agentSpec, caller),
        }),
      );
      return client;
    };
    try {
      await gateway.refresh(everything.id);
      const a = await connect(makeCaller({ [agentSpec.id]: ["*"] }, "key_alice"));
      const b = await connect(makeCaller({ [agentSpec.id]: ["echo"] }, "key_bob"));
      const taskId = await startTask(a);
      const sentBefore = upstreamRequests(log).length;
      expect((await b.experimental.tasks.listTasks()).tasks).toEqual([]);
      expect(await rejection(b.experimental.tasks.getTask(taskId))).toEqual({ code: ErrorCode.InvalidParams, message: "MCP error -32602: Failed to retrieve task: Task not found" });
      expect(await rejection(b.experimental.tasks.cancelTask(taskId))).toEqual({ code: ErrorCode.InvalidParams, message: `MCP error -32602: Task not found: ${taskId}` });
      expect(taskRequestsSince(log, sentBefore)).toEqual([]);
      expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([taskId]);
      expect(textOf(await a.experimental.tasks.getTaskResult(taskId, ResultSchema))).toContain("Research Report: tides");
      expect((await rejection(a.request({ method: "tasks/evil", params: {} }, ResultSchema))).code).toBe(ErrorCode.MethodNotFound);
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await gateway.close();
    }
  });
});
