// The gateway's method table, the client-side refusals (capabilities, elicitation modes) and the
// per-session task ledger, as pure units: what is served, what is refused, and what is never forwarded.
import { ClientRequestSchema, ErrorCode, RELATED_TASK_META_KEY, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, test } from "bun:test";
import type { ConnectionRuntime } from "../../src/gateway/connection-runtime.ts";
import { clientRefusal } from "../../src/gateway/direct-answer.ts";
import type { Extra } from "../../src/gateway/request-extra.ts";
import { methodCheck, resourcesRefused, SERVED_METHODS, servedMethod } from "../../src/gateway/methods.ts";
import { mirrorCapabilities } from "../../src/gateway/proxy-session.ts";
import { MAX_TASKS_PER_SESSION, SessionTasks, taskOwner } from "../../src/gateway/session-tasks.ts";

/** Every method of the SDK's ClientRequestSchema (every request a client may send, all versions). */
function sdkClientMethods(): string[] {
  const union = ClientRequestSchema as unknown as { options: { shape: { method: { value: string } } }[] };
  return union.options.map((o) => o.shape.method.value).sort();
}

describe("the method table", () => {
  test("serves exactly the SDK's client requests, so a method the SDK adds is a decision, not a default", () => {
    expect(Object.keys(SERVED_METHODS).sort()).toEqual(sdkClientMethods());
  });

  test("anything else is -32601, including near misses and inherited names", () => {
    for (const method of ["foo/bar", "tasks/evil", "resources/unknown", "Tools/call", "tools/call ", "constructor", "__proto__", "toString", "sampling/createMessage", "roots/list", ""]) {
      expect(methodCheck(method), method).toBeNull();
      expect(() => servedMethod(method)).toThrow(expect.objectContaining({ code: ErrorCode.MethodNotFound, message: "Method not found" }));
    }
    expect(servedMethod("tasks/get")).toBe("task");
    expect(servedMethod("tools/call")).toBe("tool");
    expect(servedMethod("completion/complete")).toBe("resources");
    expect(servedMethod("ping")).toBe("session");
  });

  test("a caller without resources gets what a server without them answers", () => {
    expect(resourcesRefused("resources/list", {})).toEqual({ resources: [] });
    expect(resourcesRefused("resources/templates/list", {})).toEqual({ resourceTemplates: [] });
    expect(resourcesRefused("prompts/list", {})).toEqual({ prompts: [] });
    expect(resourcesRefused("completion/complete", {})).toEqual({ completion: { values: [], hasMore: false } });
    expect(() => resourcesRefused("prompts/get", { name: "greet" })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidParams, message: "Unknown prompt: greet" }));
    for (const method of ["resources/read", "resources/subscribe", "resources/unsubscribe"]) {
      expect(() => resourcesRefused(method, { uri: "x://y" })).toThrow(expect.objectContaining({ code: -32002, data: { uri: "x://y" } }));
    }
  });
});

describe("requests to the client", () => {
  const url = { method: "elicitation/create", params: { mode: "url", message: "m", url: "https://example.com", elicitationId: "e" } };
  const form = { method: "elicitation/create", params: { message: "m", requestedSchema: { type: "object", properties: {} } } };

  test("URL mode only to a client that declared url; form mode to one that declared form or nothing in particular", () => {
    for (const declared of [{}, { form: {} }]) {
      expect(clientRefusal(url, { elicitation: declared })).toEqual(expect.objectContaining({ code: ErrorCode.InvalidParams, message: "Client does not support URL-mode elicitation requests" }));
      expect(clientRefusal(form, { elicitation: declared })).toBeNull();
      expect(clientRefusal({ ...form, params: { ...form.params, mode: "form" } }, { elicitation: declared })).toBeNull();
    }
    expect(clientRefusal(url, { elicitation: { url: {} } })).toBeNull();
    expect(clientRefusal(form, { elicitation: { url: {} } })).toEqual(expect.objectContaining({ code: ErrorCode.InvalidParams }));
    expect(clientRefusal(url, { elicitation: { form: {}, url: {} } })).toBeNull();
    expect(clientRefusal({ ...url, params: { ...url.params, mode: "telepathy" } }, { elicitation: { form: {}, url: {} } })).toEqual(expect.objectContaining({ code: ErrorCode.InvalidParams }));
  });

  test("a capability never declared is refused, whatever the mode", () => {
    expect(clientRefusal(url, {})?.message).toContain("does not support elicitation");
    expect(clientRefusal({ method: "sampling/createMessage" }, { elicitation: {} })?.message).toContain("does not support sampling");
    expect(clientRefusal({ method: "roots/list" }, undefined)?.message).toContain("does not support listing roots");
    expect(clientRefusal({ method: "roots/list" }, { roots: {} })).toBeNull();
  });
});

const runtimeA = { name: "A" } as unknown as ConnectionRuntime;
const runtimeB = { name: "B" } as unknown as ConnectionRuntime;
const extra = {} as Extra;

function toolCall(options: { task: boolean } = { task: true }): JSONRPCRequest {
  return { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, ...(options.task ? { task: { ttl: 1000 } } : {}) } };
}

function created(taskId: string): Record<string, unknown> {
  return { task: { taskId, status: "working", ttl: 1000, createdAt: "", lastUpdatedAt: "" } };
}

describe("a session's tasks", () => {
  test("are recorded only from a task-augmented request's CreateTaskResult", () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    tasks.created(toolCall({ task: false }), created("plain"), runtimeA);
    tasks.created(toolCall(), { content: [] }, runtimeA);
    tasks.created(toolCall(), { task: { taskId: 7 } }, runtimeA);
    expect(tasks.size).toBe(0);
    const result = created("t1");
    expect(tasks.created(toolCall(), result, runtimeA)).toBe(result);
    expect(tasks.owns("t1")).toBe(true);
    expect(tasks.owns("plain")).toBe(false);
  });

  test("get, result and cancel of another id are 'not found' and are never forwarded", async () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    tasks.created(toolCall(), created("mine"), runtimeA);
    const forwarded: [ConnectionRuntime, string][] = [];
    const forward = async (runtime: ConnectionRuntime, request: JSONRPCRequest) => (forwarded.push([runtime, request.method]), { ok: true });
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      await expect(tasks.serve({ jsonrpc: "2.0", id: 2, method, params: { taskId: "theirs" } }, extra, forward)).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
      await expect(tasks.serve({ jsonrpc: "2.0", id: 2, method, params: { taskId: 42 } }, extra, forward)).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
      await expect(tasks.serve({ jsonrpc: "2.0", id: 2, method, params: { taskId: "mine" } }, extra, forward)).resolves.toEqual({ ok: true });
    }
    expect(forwarded).toEqual([
      [runtimeA, "tasks/get"],
      [runtimeA, "tasks/result"],
      [runtimeA, "tasks/cancel"],
    ]);
  });

  test("tasks/list reads every upstream page of each connection and keeps only the session's own", async () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    tasks.created(toolCall(), created("a1"), runtimeA);
    tasks.created(toolCall(), created("a2"), runtimeA);
    tasks.created(toolCall(), created("b1"), runtimeB);
    const pages: Record<string, Record<string, unknown>[]> = {
      A: [
        { tasks: [{ taskId: "x" }, { taskId: "a1" }], nextCursor: "p2" },
        { tasks: [{ taskId: "b1" }, { taskId: "y" }], nextCursor: "p3" },
        { tasks: [{ taskId: "a2" }, null, { taskId: 3 }] },
      ],
      B: [{ tasks: [{ taskId: "b1" }, { taskId: "a1" }] }],
    };
    const asked: string[] = [];
    const forward = async (runtime: ConnectionRuntime, request: JSONRPCRequest) => {
      const name = (runtime as unknown as { name: string }).name;
      const cursor = (request.params as { cursor?: string }).cursor;
      asked.push(`${name}:${cursor ?? "-"}`);
      return pages[name]![cursor ? Number(cursor.slice(1)) - 1 : 0]!;
    };
    const listed = await tasks.serve({ jsonrpc: "2.0", id: 3, method: "tasks/list", params: {} }, extra, forward);
    // b1 is listed by A's upstream too, but it lives on B: only B's listing of it counts.
    expect(listed).toEqual({ tasks: [{ taskId: "a1" }, { taskId: "a2" }, { taskId: "b1" }] });
    expect(asked).toEqual(["A:-", "A:p2", "A:p3", "B:-"]);
    await expect(tasks.serve({ jsonrpc: "2.0", id: 4, method: "tasks/list", params: { cursor: "p2" } }, extra, forward)).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
  });

  test("a session without tasks lists none without asking any upstream", async () => {
    const forward = async (): Promise<Record<string, unknown>> => {
      throw new Error("must not be asked");
    };
    expect(await new SessionTasks<ConnectionRuntime>().serve({ jsonrpc: "2.0", id: 1, method: "tasks/list" }, extra, forward)).toEqual({ tasks: [] });
  });

  test("bounded: past the cap the oldest are forgotten; clear() forgets all", () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    for (let i = 0; i < MAX_TASKS_PER_SESSION + 5; i++) tasks.created(toolCall(), created(`t${i}`), runtimeA);
    expect(tasks.size).toBe(MAX_TASKS_PER_SESSION);
    expect(tasks.owns("t4")).toBe(false);
    expect(tasks.owns("t5")).toBe(true);
    expect(tasks.owns(`t${MAX_TASKS_PER_SESSION + 4}`)).toBe(true);
    tasks.clear();
    expect(tasks.size).toBe(0);
  });

  test("a request naming another session's task in its related-task _meta is refused as an unknown task", () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    tasks.created(toolCall(), created("mine"), runtimeA);
    const naming = (taskId: unknown) => ({ method: "tools/call", params: { name: "t", _meta: { [RELATED_TASK_META_KEY]: { taskId } } } });
    expect(() => tasks.checkRequest(naming("theirs"))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidParams, message: "Task not found: theirs" }));
    expect(() => tasks.checkRequest(naming("mine"))).not.toThrow();
    expect(() => tasks.checkRequest({ method: "tools/call", params: { name: "t" } })).not.toThrow();
    // tasks/get names its task in params, which serve() decides; only _meta is checked here.
    expect(() => tasks.checkRequest({ method: "tasks/get", params: { taskId: "theirs" } })).not.toThrow();
  });

  test("messages about another session's task never reach this client", async () => {
    const tasks = new SessionTasks<ConnectionRuntime>();
    tasks.created(toolCall(), created("mine"), runtimeA);
    const related = (taskId: string) => ({ _meta: { [RELATED_TASK_META_KEY]: { taskId } } });
    expect(tasks.mayReceive({ method: "notifications/tasks/status", params: { taskId: "mine", status: "working" } })).toBe(true);
    expect(tasks.mayReceive({ method: "notifications/tasks/status", params: { taskId: "theirs", status: "working" } })).toBe(false);
    expect(tasks.mayReceive({ method: "notifications/progress", params: { progress: 1, ...related("theirs") } })).toBe(false);
    expect(tasks.mayReceive({ method: "notifications/message", params: { level: "info", data: "x" } })).toBe(true);

    const sent: string[] = [];
    const inner = {
      sendNotification: async (n: { method: string }) => void sent.push(n.method),
      sendRequest: async (r: { method: string }) => (sent.push(r.method), {}),
    } as unknown as Extra;
    const guarded = tasks.guard(inner, () => null);
    await guarded.sendNotification({ method: "notifications/tasks/status", params: { taskId: "theirs", status: "completed", ttl: null, createdAt: "", lastUpdatedAt: "" } });
    await expect(guarded.sendRequest({ method: "elicitation/create", params: { message: "m", requestedSchema: { type: "object", properties: {} }, ...related("theirs") } } as never, {} as never)).rejects.toMatchObject({ code: ErrorCode.InvalidRequest });
    await guarded.sendRequest({ method: "elicitation/create", params: { message: "m", requestedSchema: { type: "object", properties: {} }, ...related("mine") } } as never, {} as never);
    const refusing = tasks.guard(inner, () => new Error("no"));
    await expect(refusing.sendRequest({ method: "roots/list" } as never, {} as never)).rejects.toThrow("no");
    expect(sent).toEqual(["elicitation/create"]);
  });
});

describe("the owner of a task's messages", () => {
  test("is the session that created the task, whoever else is attached", () => {
    const alice = new SessionTasks<ConnectionRuntime>();
    const bob = new SessionTasks<ConnectionRuntime>();
    alice.created(toolCall(), created("a1"), runtimeA);
    bob.created(toolCall(), created("b1"), runtimeA);
    const sessions = [
      { name: "bob", ownsTask: (id: string) => bob.owns(id) },
      { name: "alice", ownsTask: (id: string) => alice.owns(id) },
    ];
    expect(taskOwner(sessions, { method: "notifications/tasks/status", params: { taskId: "a1" } })?.name).toBe("alice");
    expect(taskOwner(sessions, { method: "elicitation/create", params: { _meta: { [RELATED_TASK_META_KEY]: { taskId: "b1" } } } })?.name).toBe("bob");
    expect(taskOwner(sessions, { method: "notifications/tasks/status", params: { taskId: "nobody" } })).toBeUndefined();
    expect(taskOwner(sessions, { method: "roots/list" })).toBeUndefined();
  });
});

describe("the tasks capability clients are told", () => {
  test("is the upstream's, as far as the gateway carries it", () => {
    expect(mirrorCapabilities({ tools: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }).tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    // Only what the upstream offers; what the gateway does not carry (unknown keys, other request kinds) is left out.
    expect(mirrorCapabilities({ tasks: { cancel: {}, requests: { sampling: { createMessage: {} } }, future: {} } as never }).tasks).toEqual({ cancel: {} });
    expect(mirrorCapabilities({ tools: {} }).tasks).toBeUndefined();
  });
});
