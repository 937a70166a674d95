// This replica as one of several (issue 15): its registry and session directory, and the decision, for
// each MCP request carrying a session id, to serve it here, forward it to its owner, or answer 404.
import { AppError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { rpcErrorResponse } from "../direct-answer.ts";
import { checkForwarded, forwardRequest } from "./forward.ts";
import type { ReplicaConnectionState } from "../types.ts";
import type { ReplicaRegistry, SessionOwner } from "./registry.ts";

/** What to do with a request: answer it with `response`, or serve it here (for `client`, when another replica forwarded it). */
export type Admission = { response: Response } | { serveHere: true; forwardedClient: string | null };

/**
 * The cluster as the gateway sees it: told when a session of this replica begins and ends, and when a
 * connection's state here changes; asked for every replica's state of a connection.
 */
export interface SessionDirectory {
  sessionOpened(sessionId: string): Promise<void>;
  sessionClosed(sessionId: string): Promise<void>;
  connectionState(connectionId: string, state: string, error: string | null): Promise<void>;
  connectionStates(connectionId: string): Promise<ReplicaConnectionState[]>;
}

/** The JSON-RPC answer the /mcp endpoints give for an unknown session, so the client re-initialises. */
function sessionNotFound(): Response {
  return rpcErrorResponse(404, -32001, "Session not found");
}

export class ClusterNode implements SessionDirectory {
  private ready: Promise<void> | null = null;

  constructor(
    readonly registry: ReplicaRegistry,
    private readonly key: Buffer,
    private readonly logger: Logger,
  ) {}

  /**
   * Registers this replica and starts its heartbeat; every other method waits for it. A failed
   * registration (the database down at start) is forgotten, so the next use tries again rather than
   * failing forever; the heartbeat, already running, registers the replica meanwhile.
   */
  start(): Promise<void> {
    this.ready ??= this.registry.start().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  /** A clean stop: deregistered, so the others answer 404 for its sessions at once. */
  async stop(): Promise<void> {
    await this.ready?.catch(() => undefined);
    await this.registry.deregister();
  }

  async sessionOpened(sessionId: string): Promise<void> {
    await this.start();
    await this.registry.sessionOpened(sessionId);
  }

  async sessionClosed(sessionId: string): Promise<void> {
    await this.start();
    await this.registry.sessionClosed(sessionId);
  }

  async connectionState(connectionId: string, state: string, error: string | null): Promise<void> {
    await this.start();
    await this.registry.connectionState(connectionId, state, error);
  }

  async connectionStates(connectionId: string): Promise<ReplicaConnectionState[]> {
    await this.start();
    return this.registry.connectionStates(connectionId);
  }

  /**
   * Decides where a request to an MCP endpoint is served. A request signed by another replica is served
   * here, never forwarded again (no loops); a forged or stale signature is refused (403) before anything
   * else. A session this replica does not hold is forwarded to its owner when that one is alive, and
   * answered 404 when it is dead; a session nobody knows is left to the endpoint (its own 404).
   */
  async admit(request: Request, options: { holds: (sessionId: string) => boolean; client: () => string | null }): Promise<Admission> {
    const check = checkForwarded(request, this.key);
    if (check.kind === "forged") return { response: rpcErrorResponse(403, -32000, "Forbidden: invalid replica signature") };
    if (check.kind === "valid") return { serveHere: true, forwardedClient: check.client };
    const sessionId = request.headers.get("mcp-session-id");
    if (!sessionId || options.holds(sessionId)) return { serveHere: true, forwardedClient: null };
    let owner: SessionOwner | null;
    try {
      await this.start();
      owner = await this.registry.ownerOf(sessionId);
    } catch (err) {
      // Whom the session belongs to cannot be told: refused for now (503, as the bearer check does), never a 500.
      this.logger.error("cannot look up the replica holding a session: the database is unreachable", { error: (err as Error).message });
      throw new AppError("UNAVAILABLE", "The database cannot be reached; try again shortly.", { cause: err });
    }
    if (!owner || owner.replicaId === this.registry.id) return { serveHere: true, forwardedClient: null };
    if (!owner.alive) return { response: sessionNotFound() };
    try {
      return { response: await forwardRequest(request, { ownerUrl: owner.url, sessionId, client: options.client(), key: this.key }) };
    } catch (err) {
      if (request.signal.aborted) throw err;
      // The owner cannot be reached (it died between heartbeats): the client re-initialises here.
      this.logger.warn("cannot forward to the replica holding the session", { replica: owner.replicaId, error: (err as Error).message });
      return { response: sessionNotFound() };
    }
  }
}
