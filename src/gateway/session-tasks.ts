// Tasks (MCP 2025-11-25) belong to the downstream session that created them. Upstreams are often
// shared by many sessions of different keys, and an upstream's task ids are valid for anyone on its
// session: the gateway records the ids each session created and answers every other id, its own
// made-up ones included, exactly as an unknown task, without asking the upstream.
import { ErrorCode, McpError, RELATED_TASK_META_KEY, type JSONRPCRequest, type Notification } from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../errors.ts";
import type { Extra } from "./request-extra.ts";
import { everyPage } from "./discovery.ts";

/** Most task ids remembered per session: past it, the oldest are forgotten (and then read as unknown). */
export const MAX_TASKS_PER_SESSION = 1000;

/** Sends a request to the upstream a task lives on (`Runtime`: the connection runtime, opaque here). */
export type Forward<Runtime> = (runtime: Runtime, request: JSONRPCRequest, extra: Extra) => Promise<Record<string, unknown>>;

type Message = { method: string; params?: unknown };

/** The task a server-to-client message is about: `notifications/tasks/status`'s, or the related-task `_meta`'s. */
export function taskOf(message: Message): string | undefined {
  const params = message.params as { taskId?: unknown; _meta?: Record<string, unknown> } | undefined;
  if (message.method === "notifications/tasks/status" && typeof params?.taskId === "string") return params.taskId;
  const related = params?._meta?.[RELATED_TASK_META_KEY] as { taskId?: unknown } | undefined;
  return typeof related?.taskId === "string" ? related.taskId : undefined;
}

/**
 * The session a server-to-client message about a task belongs to (undefined when it names no task, or
 * a task no session owns). For the runtime's routing: a shared upstream sends a task's status
 * notifications and its input requests (elicitation, sampling) outside any request of the owner's, so
 * "the one request in flight" is not who they are for.
 */
export function taskOwner<S extends { ownsTask(taskId: string): boolean }>(sessions: Iterable<S>, message: Message): S | undefined {
  const taskId = taskOf(message);
  if (taskId === undefined) return undefined;
  for (const session of sessions) if (session.ownsTask(taskId)) return session;
  return undefined;
}

/**
 * The answer to a task this session does not own, worded as the SDK's own task handlers word an
 * unknown task (-32602, the spec's error for an invalid or nonexistent taskId), so another session's
 * task cannot be told apart from one that never existed.
 */
export function taskNotFound(method: string, taskId: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, method === "tasks/get" ? "Failed to retrieve task: Task not found" : `Task not found: ${taskId}`);
}

/**
 * The tasks one downstream session created, and where each lives (agents: which connection). The
 * runtime is a type parameter, only stored and handed back to `forward`, so the ledger does not
 * import the connection runtime that imports it.
 */
export class SessionTasks<Runtime> {
  /** Task id → the runtime it was created on, oldest first (a Map keeps insertion order). */
  private readonly owned = new Map<string, Runtime>();

  get size(): number {
    return this.owned.size;
  }

  owns(taskId: string): boolean {
    return this.owned.has(taskId);
  }

  /**
   * Notes the task that a task-augmented request of this session created (its answer is a
   * CreateTaskResult, `{ task: { taskId, … } }`), and returns the result unchanged.
   */
  created(request: JSONRPCRequest, result: Record<string, unknown>, runtime: Runtime): Record<string, unknown> {
    const task = (request.params as { task?: unknown } | undefined)?.task;
    const taskId = (result.task as { taskId?: unknown } | undefined)?.taskId;
    if (typeof task !== "object" || task === null || typeof taskId !== "string") return result;
    this.owned.delete(taskId);
    this.owned.set(taskId, runtime);
    // Bounded memory: a session that creates tasks without end forgets its oldest.
    if (this.owned.size > MAX_TASKS_PER_SESSION) this.owned.delete(this.owned.keys().next().value!);
    return result;
  }

  /** The session ended: its tasks are forgotten (they then read as unknown to everyone). */
  clear(): void {
    this.owned.clear();
  }

  /**
   * Refuses, as the SDK refuses an unknown one, a request of this client that names another session's
   * task in its related-task `_meta`: an SDK upstream queues the answer to such a request into that
   * task's messages, which its owner's tasks/result then delivers (and the request's own answer is lost).
   */
  checkRequest(request: Message): void {
    const taskId = taskOf(request);
    if (taskId !== undefined && !this.owned.has(taskId)) throw new JsonRpcError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
  }

  /** Whether a message from an upstream may reach this session's client: never one about another session's task. */
  mayReceive(message: Message): boolean {
    const taskId = taskOf(message);
    return taskId === undefined || this.owned.has(taskId);
  }

  /**
   * `extra` for one request of this session, through which nothing about another session's task
   * reaches this client (a shared upstream may send it on whichever request is in flight), and no
   * request the client cannot answer is sent to it (`refuse`, see direct-answer.ts).
   */
  guard(extra: Extra, refuse: (request: Message) => Error | null): Extra {
    return {
      ...extra,
      sendNotification: (n) => (this.mayReceive(n) ? extra.sendNotification(n) : Promise.resolve()),
      sendRequest: ((request: Message, schema: unknown, options?: unknown) => {
        const refused = this.mayReceive(request) ? refuse(request) : otherSessionsTask();
        if (refused) return Promise.reject(refused);
        return (extra.sendRequest as (r: Message, s: unknown, o?: unknown) => Promise<unknown>)(request, schema, options);
      }) as Extra["sendRequest"],
    };
  }

  /** Answers tasks/get, tasks/result, tasks/cancel and tasks/list for this session alone. */
  async serve(request: JSONRPCRequest, extra: Extra, forward: Forward<Runtime>): Promise<Record<string, unknown>> {
    const params = (request.params ?? {}) as Record<string, unknown>;
    if (request.method === "tasks/list") return this.list(params, extra, forward);
    const taskId = params.taskId;
    if (typeof taskId !== "string") throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid params: taskId must be a string");
    const runtime = this.owned.get(taskId);
    // Not this session's: never asked upstream, so its existence, status and result stay unknown here.
    if (!runtime) throw taskNotFound(request.method, taskId);
    return forward(runtime, request, extra);
  }

  /**
   * This session's tasks: every upstream page of each connection it has tasks on, filtered to its
   * own. They fit one answer (at most MAX_TASKS_PER_SESSION), so no cursor is given, and one that is
   * sent is not one of ours.
   */
  private async list(params: Record<string, unknown>, extra: Extra, forward: Forward<Runtime>): Promise<Record<string, unknown>> {
    if (params.cursor !== undefined) throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid cursor");
    const tasks: unknown[] = [];
    for (const runtime of new Set(this.owned.values())) {
      const mine = (t: unknown): boolean => {
        const id = (t as { taskId?: unknown } | null)?.taskId;
        return typeof id === "string" && this.owned.get(id) === runtime;
      };
      const theirs = await everyPage("tasks/list", "tasks", (params) => forward(runtime, { jsonrpc: "2.0", id: 0, method: "tasks/list", params }, extra));
      tasks.push(...theirs.filter(mine));
    }
    return { tasks };
  }
}

/** What an upstream is answered when it sends a request about another session's task to this one. */
export function otherSessionsTask(): Error {
  return new McpError(ErrorCode.InvalidRequest, "This request belongs to a task of another client; Switchboard does not send it here.");
}
