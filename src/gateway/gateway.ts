// The gateway: one runtime per connection, the downstream sessions of /mcp/:connectionId, idle
// reaping, connection tests, and the GatewayControl the connection operations use.
import { isInitializeRequest, type ClientCapabilities, type JSONRPCMessage, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import { CapacityError, JsonRpcError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Caller } from "../domain/access/caller.ts";
import { ConnectionRuntime, type RuntimeSettings } from "./connection-runtime.ts";
import type { AddressPolicy } from "./upstream/address-policy.ts";
import type { AgentSpec } from "../domain/agents/tools.ts";
import { AgentSession, type AgentRuntimes } from "./agent-session.ts";
import type { DownstreamSession } from "./downstream-session.ts";
import { directHeaders, directRequest, rpcErrorResponse } from "./direct-answer.ts";
import { ProxySession } from "./proxy-session.ts";
import { ConnectionTests } from "./connection-tests.ts";
import { redactFor } from "./redact.ts";
import { killAllStdioProcesses } from "./upstream/stdio-process.ts";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import { NO_DISCOVERY, type ReplicaConnectionState, type ConnectionStatus, type ConnectionTestResult, type Discovery } from "./types.ts";
import type { AddressOf, KeyCaller, McpTarget, RunningGateway } from "./serving.ts";

/** No address known (tests, internal callers). */
const NO_ADDRESS: AddressOf = () => null;
import { callerActor } from "../domain/monitoring/actor.ts";
import type { UsageSink } from "../domain/monitoring/types.ts";
import { SessionUsage, type UsagePolicy, type UsageTarget } from "./usage-capture.ts";
import { secretsOf } from "./redact.ts";
import type { SessionDirectory } from "./cluster/cluster.ts";
import type { UpstreamCredentials } from "./upstream/oauth/types.ts";

export type GatewaySettings = {
  sessionIdleMs: number;
  maxSessions: number;
  stderrLines: number;
  maxBodyBytes: number;
  logger: Logger;
  /** Finds a connection's spec by id or slug (the database and config are the truth). */
  lookup: (idOrSlug: string) => Promise<ConnectionSpec | null>;
  /** Finds an agent's spec by id or slug. */
  lookupAgent?: (idOrSlug: string) => Promise<AgentSpec | null>;
  /** Which addresses http and sse upstreams may reach (gateway.upstream_deny / upstream_allow). */
  addressPolicy?: AddressPolicy;
  /** Most connection tests running at once (gateway.max_concurrent_tests; default 4). */
  maxConcurrentTests?: number;
  /** The SSE `retry` (ms) priming events tell clients to wait before resuming (default RESUME_RETRY_MS; tests inject a small one). */
  resumeRetryMs?: number;
  /** Where every MCP request to a connection or agent is recorded (absent: nothing is recorded). */
  usage?: UsageSettings;
  /** With several replicas: where each session's replica is recorded (absent on a single replica, which pays no write per session). */
  directory?: SessionDirectory;
  /**
   * The database's change probe: when it moves, a connection another replica (or the CLI) changed is
   * applied here too before the next request uses it. Absent: only this process's apply() changes a runtime.
   */
  changes?: () => string | Promise<string>;
  /** The bearer tokens of OAuth connections (absent: they cannot be reached). */
  credentials?: UpstreamCredentials;
};

export type UsageSettings = {
  sink: UsageSink;
  /** monitoring.payload_max_size, for connections and agents that record payloads. */
  payloadMaxBytes: number;
  /** monitoring.redact_patterns. */
  redactPatterns: readonly string[];
};

/** The client's name and version from its initialize's clientInfo (bounded: it is the client's text). */
function clientOf(info: { name?: unknown; version?: unknown } | undefined): { name: string | null; version: string | null } {
  return { name: typeof info?.name === "string" ? info.name.slice(0, 200) : null, version: typeof info?.version === "string" ? info.version.slice(0, 100) : null };
}

/** The requests (a method and an id) of a POST's body, one or a batch; notifications and responses are not requests. */
function requestsIn(body: unknown): { id: string | number; method: string; params?: unknown }[] {
  const messages = Array.isArray(body) ? body : [body];
  return messages.filter((m): m is { id: string | number; method: string; params?: unknown } => {
    if (typeof m !== "object" || m === null) return false;
    const { id, method } = m as { id?: unknown; method?: unknown };
    return typeof method === "string" && (typeof id === "string" || typeof id === "number");
  });
}


export class Gateway implements RunningGateway {
  private readonly runtimes = new Map<string, ConnectionRuntime>();
  /** The change probe's value when the runtimes' specs were last compared with the database (followChanges). */
  private specsSeen: string | null = null;
  private specsFollowing: Promise<void> | null = null;
  /** Per agent and connection: the last failure to list it (shown on the agent's page). */
  private readonly agentFailures = new Map<string, Map<string, { error: string | null; at: Date }>>();
  private readonly agentRuntimes: AgentRuntimes = {
    // Sessions find their runtimes synchronously: those of an agent's connections are loaded before it is served.
    runtime: (id) => this.loaded(id),
    reportFailure: (agentId, connectionId, error) => {
      const failures = this.agentFailures.get(agentId) ?? new Map<string, { error: string | null; at: Date }>();
      const before = failures.get(connectionId)?.error ?? null;
      if (error !== null && error !== before) this.settings.logger.warn("agent could not list a connection", { agent: agentId, connection: connectionId, error });
      failures.set(connectionId, { error, at: new Date() });
      this.agentFailures.set(agentId, failures);
    },
  };
  private readonly sessions = new Map<string, DownstreamSession>();
  private readonly reaper: ReturnType<typeof setInterval>;

  private readonly tests: ConnectionTests;
  /** monitoring.redact_patterns, compiled once. */
  private readonly redactPatterns: readonly RegExp[];

  constructor(private readonly settings: GatewaySettings) {
    this.tests = new ConnectionTests({
      maxConcurrent: settings.maxConcurrentTests ?? 4,
      addressPolicy: settings.addressPolicy,
      processesOf: (id) => this.runtimes.get(id)?.processCount ?? 0,
      credentials: settings.credentials,
    });
    this.redactPatterns = (settings.usage?.redactPatterns ?? []).map((p) => new RegExp(p, "g"));
    this.reaper = setInterval(() => this.reapIdle(), Math.max(1000, Math.min(60_000, settings.sessionIdleMs / 4)));
    this.reaper.unref();
  }

  private runtimeSettings(): RuntimeSettings {
    const directory = this.settings.directory;
    return {
      stderrLines: this.settings.stderrLines,
      logger: this.settings.logger,
      addressPolicy: this.settings.addressPolicy,
      credentials: this.settings.credentials,
      onStatus: directory
        ? (connectionId, status) => void directory.connectionState(connectionId, status.state, status.lastError).catch((err: unknown) => this.settings.logger.warn("cannot record the connection's state on this replica", { error: (err as Error).message }))
        : undefined,
    };
  }

  /** The live runtime of a connection, created from its spec on first use. */
  async runtime(idOrSlug: string): Promise<ConnectionRuntime | null> {
    await this.followChanges();
    return this.runtimeAsStored(idOrSlug);
  }

  /** runtime() without first following the change feed (what following it uses: no wait on itself). */
  private async runtimeAsStored(idOrSlug: string): Promise<ConnectionRuntime | null> {
    const existing = this.loaded(idOrSlug);
    if (existing) return existing;
    const spec = await this.settings.lookup(idOrSlug);
    if (!spec) return null;
    // Another request (or apply) may have made it while the spec was read: there is one runtime per connection.
    const made = this.runtimes.get(spec.id);
    if (made) return made;
    const runtime = new ConnectionRuntime(spec, this.runtimeSettings());
    this.runtimes.set(spec.id, runtime);
    return runtime;
  }

  /**
   * Brings the loaded runtimes in line with the database when the change probe has moved since they
   * were last compared: a connection changed elsewhere is applied, one removed elsewhere is closed.
   * Callers arriving while a comparison runs wait for it, then look again (their change may be newer).
   */
  private async followChanges(): Promise<void> {
    const probe = this.settings.changes;
    if (!probe) return;
    for (;;) {
      let version: string;
      try {
        version = await probe();
      } catch (err) {
        // The key verifier refuses while the database is unreachable; the runtimes stay as they are.
        this.settings.logger.warn("cannot read the change probe; connections kept as loaded", { error: (err as Error).message });
        return;
      }
      if (version === this.specsSeen) return;
      if (this.specsFollowing) {
        await this.specsFollowing;
        continue;
      }
      this.specsFollowing = this.reloadSpecs()
        .then(() => void (this.specsSeen = version))
        .finally(() => (this.specsFollowing = null));
      return this.specsFollowing;
    }
  }

  /**
   * Re-reads the spec of every loaded runtime: applies the ones that differ, closes the ones gone.
   * Then the same for every agent with sessions open here: an agent narrowed, disabled or removed on
   * another replica no longer lists or runs, in these sessions, what it took away.
   */
  private async reloadSpecs(): Promise<void> {
    for (const [id, runtime] of [...this.runtimes]) {
      const spec = await this.settings.lookup(id);
      if (!spec) await this.closeRuntime(id);
      else if (JSON.stringify(spec) !== JSON.stringify(runtime.spec)) await this.apply(spec);
    }
    const applied = new Map<string, AgentSpec>();
    for (const session of this.sessions.values()) if (session instanceof AgentSession) applied.set(session.targetId, session.spec);
    for (const [id, old] of applied) {
      const spec = await this.agent(id);
      if (spec && JSON.stringify(spec) === JSON.stringify(old)) continue;
      if (spec) for (const selection of spec.connections) await this.runtimeAsStored(selection.connectionId);
      await this.applyAgent(id, spec);
    }
  }

  /** The runtime of a connection already in use, or null (no database read). */
  private loaded(idOrSlug: string): ConnectionRuntime | null {
    return this.runtimes.get(idOrSlug) ?? [...this.runtimes.values()].find((r) => r.spec.slug === idOrSlug) ?? null;
  }

  /** Makes the runtimes of an agent's connections, so that its sessions (and its usage policy) find them without a read. */
  private async load(agent: AgentSpec): Promise<void> {
    for (const selection of agent.connections) await this.runtime(selection.connectionId);
  }

  /** Every replica's state of a connection; null on a single replica. */
  async replicaStates(connectionId: string): Promise<ReplicaConnectionState[] | null> {
    return this.settings.directory ? this.settings.directory.connectionStates(connectionId) : null;
  }

  /** Whether this replica holds the session (with several replicas, another may). */
  holds(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get stdioProcessCount(): number {
    let n = 0;
    for (const runtime of this.runtimes.values()) n += runtime.processCount;
    return n;
  }

  /** Serves one HTTP request to /mcp/:connection for an authenticated caller. */
  handle(request: Request, runtime: ConnectionRuntime, caller: KeyCaller, address: AddressOf = NO_ADDRESS): Promise<Response> {
    const target: UsageTarget = { kind: "connection", id: runtime.spec.id, slug: runtime.spec.slug };
    return this.serve(request, target, caller, address, () => new ProxySession(runtime, caller.key.id, caller));
  }

  /** Serves one HTTP request to /mcp/agent/:agent for an authenticated caller. */
  async handleAgent(request: Request, agent: AgentSpec, caller: KeyCaller, address: AddressOf = NO_ADDRESS): Promise<Response> {
    const target: UsageTarget = { kind: "agent", id: agent.id, slug: agent.slug };
    await this.load(agent);
    return this.serve(request, target, caller, address, () => new AgentSession(agent, this.agentRuntimes, caller.key.id, caller));
  }

  /** How a session's records mask text and whether they keep payloads. */
  private usagePolicy(target: UsageTarget, agent: AgentSpec | null): UsagePolicy {
    // A served target always exists, its runtimes loaded; a refused one may name nothing (null id): no secrets of its own.
    const specs = target.kind === "connection" ? [target.id === null ? undefined : this.loaded(target.id)?.spec] : (agent?.connections ?? []).map((s) => this.loaded(s.connectionId)?.spec);
    const secretsNow = (): string[] => [...new Set(specs.flatMap((spec) => (spec ? secretsOf(spec) : [])))].sort((a, b) => b.length - a.length);
    const optedIn = target.kind === "connection" ? specs[0]?.recordPayloads === true : agent?.recordPayloads === true;
    const payloadMaxBytes = optedIn && this.settings.usage ? this.settings.usage.payloadMaxBytes : null;
    if (!specs.some((spec) => spec?.oauth)) return { secrets: secretsNow(), patterns: this.redactPatterns, payloadMaxBytes };
    // OAuth: the tokens sent change as they are refreshed (and per user), so each record asks for the list of that moment.
    return {
      get secrets(): string[] {
        return secretsNow();
      },
      patterns: this.redactPatterns,
      payloadMaxBytes,
    };
  }

  /**
   * Records the requests of a POST refused before any session (the route's 403: no grant on the
   * target at all). The body is read only when recording, and only to name what was asked.
   */
  async refused(request: Request, target: McpTarget, caller: Caller, address: AddressOf, reason: string): Promise<void> {
    const usage = this.settings.usage;
    if (!usage || request.method !== "POST") return;
    let text: string;
    let body: unknown;
    try {
      text = await request.text();
      body = JSON.parse(text);
    } catch {
      return;
    }
    this.unserved(target, body, Buffer.byteLength(text), caller, address(), { code: "FORBIDDEN", message: reason, refused: true });
  }

  /**
   * Records the requests of a POST answered before any session took them: refused (the route's 403,
   * no room for another session, a process limit) or failed (the upstream could not be reached).
   */
  private unserved(target: UsageTarget, body: unknown, bytes: number, caller: Caller, address: string | null, answer: { code: string | number; message: string; refused: boolean }): void {
    const usage = this.settings.usage;
    if (!usage) return;
    const recorder = new SessionUsage(usage.sink, target, () => "", { secrets: [], patterns: this.redactPatterns, payloadMaxBytes: null });
    const info = requestsIn(body).find((m) => m.method === "initialize")?.params as { clientInfo?: { name?: unknown; version?: unknown } } | undefined;
    recorder.client = clientOf(info?.clientInfo);
    this.begin(recorder, body, bytes, caller, address);
    for (const message of requestsIn(body)) {
      if (answer.refused) recorder.note(message.id, { refused: answer.message });
      recorder.answered({ id: message.id, error: { code: answer.code, message: answer.message } }, "");
    }
  }

  private async serve(request: Request, target: UsageTarget, caller: KeyCaller, address: AddressOf, create: () => DownstreamSession): Promise<Response> {
    const targetId = target.id;
    const sessionId = request.headers.get("mcp-session-id");
    let parsedBody: unknown;
    let bodyBytes = 0;
    if (request.method === "POST") {
      try {
        // The text is read once: its length is the request's size, and it is parsed here.
        const text = await request.text();
        bodyBytes = this.settings.usage ? Buffer.byteLength(text) : 0;
        parsedBody = JSON.parse(text);
      } catch {
        return rpcErrorResponse(400, -32700, "Parse error: the body is not valid JSON");
      }
    }
    if (sessionId) {
      const session = this.sessions.get(sessionId);
      // Another key's session reads as unknown: sessions are not shared between credentials.
      if (!session || session.keyId !== caller.key.id || session.targetId !== targetId) {
        return rpcErrorResponse(404, -32001, "Session not found");
      }
      session.caller = caller;
      session.lastActive = Date.now();
      const begun = session.usage && parsedBody !== undefined ? this.begin(session.usage, parsedBody, bodyBytes, caller, (session.clientAddress ??= address())) : [];
      // A stream answered directly is resumed there; the SDK's transport resumes its own.
      const resumed = session.direct.resume(request);
      if (resumed) return resumed;
      if (request.method === "POST" && directHeaders(request)) {
        const direct = directRequest(parsedBody);
        if (direct) return session.direct.answer(direct, request.headers.get("mcp-protocol-version"));
        // Responses to, and cancellations of, what was answered directly; the rest goes to the SDK.
        const messages = Array.isArray(parsedBody) ? parsedBody : [parsedBody];
        const rest = session.direct.takeFromClient(messages);
        if (rest.length === 0) return new Response(null, { status: 202 });
        if (rest.length < messages.length) parsedBody = Array.isArray(parsedBody) ? rest : rest[0];
      }
      if (request.method === "GET") return session.serveStream(request);
      const answer = await session.transport.handleRequest(request, { parsedBody });
      // An HTTP error is the transport refusing the POST before any request of it ran.
      if (answer.status >= 400 && begun.length > 0) session.usage?.rejected(begun, answer.status);
      return answer;
    }
    if (request.method !== "POST") return rpcErrorResponse(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const messages = (Array.isArray(parsedBody) ? parsedBody : [parsedBody]) as JSONRPCMessage[];
    const initialize = messages.find((m) => isInitializeRequest(m)) as { params?: { capabilities?: ClientCapabilities } } | undefined;
    if (!initialize) {
      return rpcErrorResponse(400, -32000, "Bad Request: Mcp-Session-Id header is required (send initialize first)");
    }
    if (this.sessions.size >= this.settings.maxSessions) {
      this.unserved(target, parsedBody, bodyBytes, caller, address(), { code: -32000, message: "Too many open sessions", refused: true });
      return rpcErrorResponse(503, -32000, "Too many open sessions; try again later");
    }
    const session = create();
    // Its upstream sessions declare what this client declared (roots, sampling, elicitation).
    session.clientCapabilities = initialize.params?.capabilities;
    if (this.settings.usage) {
      const usage = new SessionUsage(this.settings.usage.sink, target, () => session.id, this.usagePolicy(target, session instanceof AgentSession ? session.spec : null));
      usage.client = clientOf((initialize.params as { clientInfo?: { name?: unknown; version?: unknown } } | undefined)?.clientInfo);
      session.usage = usage;
      session.direct.events.onAnswer = (message, text) => usage.answered(message, text);
      this.begin(usage, parsedBody, bodyBytes, caller, (session.clientAddress ??= address()));
    }
    try {
      await session.open({
        maxBodyBytes: this.settings.maxBodyBytes,
        resumeRetryMs: this.settings.resumeRetryMs,
        onInitialized: (s) => {
          this.sessions.set(s.id, s);
          for (const runtime of s.runtimes()) runtime.attach(s);
        },
        onClosed: (s) => void this.forget(s),
      });
    } catch (err) {
      // The session's recorder began the initialize; it is recorded below, as answered here.
      session.usage = null;
      await this.forget(session);
      const message = err instanceof Error ? err.message : String(err);
      // At capacity the upstream is fine and a retry will do: 503 with Retry-After, not 502.
      const capacity = err instanceof CapacityError;
      this.unserved(target, parsedBody, bodyBytes, caller, address(), { code: capacity ? err.code : -32603, message, refused: capacity });
      if (capacity) return rpcErrorResponse(503, err.code, message, { "Retry-After": "2" });
      return rpcErrorResponse(502, -32603, message);
    }
    await session.server.connect(session.transport);
    const response = await session.transport.handleRequest(request, { parsedBody });
    // An initialize that did not take (bad params) leaves nothing behind.
    if (!session.id) await this.forget(session);
    // Recorded before the client learns the id, so its next request finds the session from any replica.
    else if (this.settings.directory) await this.settings.directory.sessionOpened(session.id).catch((err: unknown) => this.settings.logger.warn("cannot record the session's replica", { error: (err as Error).message }));
    return response;
  }

  /** Begins a usage record for each request of a POST's body (the body's size for one; in a batch, each request's own). */
  private begin(usage: SessionUsage, body: unknown, bytes: number, caller: Caller, address: string | null): RequestId[] {
    const actor = callerActor(caller);
    if (!Array.isArray(body)) {
      const [message] = requestsIn(body);
      if (!message) return [];
      usage.begin(message, bytes, actor, address);
      return [message.id];
    }
    // Batches are rare (and gone from MCP 2025-06-18): each request's own size is measured.
    const messages = requestsIn(body);
    for (const message of messages) usage.begin(message, Buffer.byteLength(JSON.stringify(message)), actor, address);
    return messages.map((m) => m.id);
  }

  private async forget(session: DownstreamSession): Promise<void> {
    session.usage?.close();
    if (session.id && this.sessions.get(session.id) === session) {
      this.sessions.delete(session.id);
      void this.settings.directory?.sessionClosed(session.id).catch((err: unknown) => this.settings.logger.warn("cannot remove the session's replica", { error: (err as Error).message }));
    }
    for (const runtime of this.runtimes.values()) {
      if (runtime.sessions.has(session) || session.targetId === runtime.spec.id) await runtime.detach(session);
    }
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.settings.sessionIdleMs;
    for (const session of this.sessions.values()) {
      if (session.lastActive < cutoff && !session.busy) void session.close();
    }
  }

  private async closeRuntime(id: string): Promise<void> {
    const runtime = this.runtimes.get(id);
    if (!runtime) return;
    this.runtimes.delete(id);
    // Sessions of this connection end (their clients re-initialise); agents over it just use the new runtime.
    const sessions = [...this.sessions.values()].filter((s) => s.targetId === id);
    // Upstreams first: calls in flight then fail and answer their clients before the sessions close.
    await runtime.close();
    await Promise.all(sessions.map((s) => s.close()));
  }

  // GatewayControl

  /** A bounded test run (see connection-tests.ts); stderr in the result only `withStderr` (admins). */
  test(spec: ConnectionSpec, options: { withStderr?: boolean } = {}): Promise<ConnectionTestResult> {
    return this.tests.test(spec, options);
  }

  async status(id: string): Promise<ConnectionStatus> {
    const runtime = this.runtimes.get(id);
    // The admin polls the status: an authorization given since shows without anyone calling first.
    runtime?.recheckAuthorization();
    if (runtime) return runtime.getStatus();
    const spec = await this.settings.lookup(id);
    return { state: spec && !spec.enabled ? "disabled" : "idle", lastError: null, since: null };
  }

  discovery(id: string): Discovery {
    return this.runtimes.get(id)?.discovery ?? NO_DISCOVERY;
  }

  async refresh(id: string): Promise<Discovery> {
    const runtime = await this.runtime(id);
    return runtime ? runtime.refresh() : NO_DISCOVERY;
  }

  /** The stderr lines kept for an admin's eyes, with the connection's own secrets (its env values) redacted. */
  stderr(id: string): string[] {
    const runtime = this.runtimes.get(id);
    return runtime ? runtime.stderr.snapshot().map((line) => redactFor(runtime.spec, line, Infinity)) : [];
  }

  async apply(spec: ConnectionSpec): Promise<void> {
    const old = this.runtimes.get(spec.id);
    // Lines kept across the change are redacted with the old settings' secrets (the new ones may differ).
    const stderr = old ? old.stderr.snapshot().map((line) => redactFor(old.spec, line, Infinity)) : [];
    await this.closeRuntime(spec.id);
    const runtime = new ConnectionRuntime(spec, this.runtimeSettings());
    for (const line of stderr) runtime.stderr.push(line);
    this.runtimes.set(spec.id, runtime);
    // Agent sessions over this connection stay open: their records mask its new secrets.
    for (const session of this.sessions.values()) {
      if (session instanceof AgentSession && session.usage && session.spec.connections.some((s) => s.connectionId === spec.id)) {
        session.usage.policy = this.usagePolicy({ kind: "agent", id: session.spec.id, slug: session.spec.slug }, session.spec);
      }
    }
    this.discover(runtime);
  }

  /** Connects in the background to learn what an enabled connection offers (for the admin and key builder). */
  discover(runtime: ConnectionRuntime): void {
    if (runtime.spec.enabled) void runtime.refresh();
  }

  /** At start: discovers every enabled connection, so pages and the key builder show their tools. */
  async discoverAll(ids: string[]): Promise<void> {
    for (const id of ids) {
      const runtime = await this.runtime(id);
      if (runtime) this.discover(runtime);
    }
  }

  async remove(id: string): Promise<void> {
    await this.closeRuntime(id);
  }

  // AgentControl

  /** The agent's spec, if it exists (enabled or not: callers decide what a disabled one means). */
  async agent(idOrSlug: string): Promise<AgentSpec | null> {
    return (await this.settings.lookupAgent?.(idOrSlug)) ?? null;
  }

  async agentApplied(agentId: string): Promise<void> {
    const spec = await this.agent(agentId);
    if (spec) await this.load(spec);
    await this.applyAgent(agentId, spec);
  }

  /** Gives the open sessions of an agent its spec (its runtimes loaded), or closes them when it is gone or disabled. */
  private async applyAgent(agentId: string, spec: AgentSpec | null): Promise<void> {
    for (const session of this.sessions.values()) {
      if (!(session instanceof AgentSession) || session.targetId !== agentId) continue;
      if (!spec || !spec.enabled) {
        await session.close();
        continue;
      }
      session.spec = spec;
      // Turning record_payloads off holds for the calls of sessions already open, too.
      if (session.usage) session.usage.policy = this.usagePolicy({ kind: "agent", id: spec.id, slug: spec.slug }, spec);
      for (const method of ["notifications/tools/list_changed", "notifications/resources/list_changed", "notifications/prompts/list_changed"]) {
        await session.notify({ method }).catch(() => {});
      }
    }
  }

  async agentRemoved(agentId: string): Promise<void> {
    this.agentFailures.delete(agentId);
    const sessions = [...this.sessions.values()].filter((s) => s.targetId === agentId);
    await Promise.all(sessions.map((s) => s.close()));
  }

  async agentHealth(agentId: string): Promise<{ connectionId: string; error: string | null; at: Date | null }[]> {
    const spec = await this.agent(agentId);
    const failures = this.agentFailures.get(agentId);
    return (spec?.connections ?? []).map(({ connectionId }) => {
      const runtime = this.runtimes.get(connectionId);
      const noted = failures?.get(connectionId);
      const error = noted?.error ?? runtime?.discovery.error ?? (runtime?.getStatus().state === "error" ? runtime.getStatus().lastError : null);
      return { connectionId, error, at: noted?.at ?? runtime?.discovery.refreshedAt ?? null };
    });
  }

  async callAgentTool(agentId: string, caller: Caller, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const spec = await this.agent(agentId);
    if (!spec || !spec.enabled) throw new JsonRpcError(-32602, spec ? "This agent is disabled" : "No such agent");
    await this.load(spec);
    // A session without a client: nothing can be asked of it (sampling, elicitation), and it lives for one call.
    const session = new AgentSession(spec, this.agentRuntimes, caller.key?.id ?? "admin", caller);
    const controller = new AbortController();
    try {
      return await session.callTool(name, args, {
        signal: controller.signal,
        requestId: 0,
        sendNotification: async () => {},
        sendRequest: async () => {
          throw new JsonRpcError(-32601, "The admin's Try it panel cannot answer requests from the server (sampling, elicitation, roots).");
        },
      } as never);
    } finally {
      controller.abort();
      await this.forget(session);
    }
  }

  /** Closes every session and upstream and kills every stdio process (at shutdown). */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    await Promise.all([...this.runtimes.keys()].map((id) => this.closeRuntime(id)));
    killAllStdioProcesses();
  }
}
