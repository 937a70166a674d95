// What a connection's runtime sees of the downstream sessions attached to it, and what their upstream
// sessions are told the client can do: the contract between the runtime and the session classes.
import type { ClientCapabilities, JSONRPCRequest, LoggingLevel, Notification } from "@modelcontextprotocol/sdk/types.js";

/** What the runtime needs from a downstream session. */
export interface AttachedSession {
  readonly id: string;
  /** The user the session acts for (its key's owner, OAuth grant's user or signed-in admin): whose upstream OAuth token its requests carry in per-user mode. */
  readonly userId: string;
  readonly subscriptions: Set<string>;
  /** What the client declared it can do (initialize), told to its own upstream sessions. */
  readonly clientCapabilities: ClientCapabilities | undefined;
  /** The level the client asked for with logging/setLevel, or null. */
  readonly logLevel: LoggingLevel | null;
  /** Whether this session created the task (tasks belong to the session that created them). */
  ownsTask(taskId: string): boolean;
  /** Whether the client holds its own GET stream open (its upstream sessions then hold theirs). */
  readonly listening: boolean;
  /** Whether a log message of `level` is for this client on a shared upstream (its level, else "info" and above). */
  wantsLogs(level: string): boolean;
  /** Sends a notification to this session's client. */
  notify(notification: Notification): Promise<void>;
  /** Sends a request to this session's client, outside any request of its own. */
  ask(request: JSONRPCRequest, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** A downstream request being served by an upstream: how to reach back to the client that sent it. */
export type InflightCall = {
  session: AttachedSession;
  notify: (notification: Notification) => Promise<void>;
  ask: (request: JSONRPCRequest, signal: AbortSignal) => Promise<Record<string, unknown>>;
};

/**
 * What a shared upstream session (one process, many clients) is told its client can do: requests made
 * within a call go to that call's client, but roots are state the server keeps for the session, so one
 * client's roots would become every client's: a shared upstream is offered no roots at all.
 */
export const SHARED_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} } };

/** The capabilities an upstream session serving one client declares: that client's, as far as the gateway carries them. */
export function carriedCapabilities(client: ClientCapabilities | undefined): ClientCapabilities {
  const caps: ClientCapabilities = {};
  if (client?.sampling) caps.sampling = client.sampling;
  if (client?.elicitation) caps.elicitation = client.elicitation;
  if (client?.roots) caps.roots = client.roots;
  return caps;
}
