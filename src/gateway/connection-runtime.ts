// Everything live about one connection: its upstream client(s) with reconnect backoff, the downstream
// sessions attached to it, the requests in flight (to attribute server-to-client traffic), the
// discovery cache, and the stderr ring of its stdio processes.
//
// Per-session state never crosses sessions. An http or sse connection gives every downstream session
// an upstream session of its own (an id and an initialize over the connection's shared socket pool),
// declaring that client's own capabilities; so do stdio connections with isolation = "session" (a
// process each). The shared link serves discovery, and is the one process of a shared stdio
// connection, where the gateway keeps ownership itself: what cannot be attributed is answered empty
// or refused, never with another client's data.
import {
  ErrorCode,
  LoggingLevelSchema,
  McpError,
  type JSONRPCRequest,
  type LoggingLevel,
  type Notification,
} from "@modelcontextprotocol/sdk/types.js";
import { CapacityError, JsonRpcError } from "../errors.ts";
import { carriedCapabilities, SHARED_CAPABILITIES, type AttachedSession, type InflightCall } from "./attached-session.ts";
import type { Logger } from "../logger.ts";
import { boundWarnings, checkPrompts, checkResources, checkResourceTemplates, checkTools, everyPage, type Checked } from "./discovery.ts";
import { redactFor } from "./redact.ts";
import { taskOwner } from "./session-tasks.ts";
import type { AddressPolicy } from "./upstream/address-policy.ts";
import { LineRing } from "./upstream/stdio-process.ts";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import { NeedsAuthorizationError } from "../domain/connections/oauth-types.ts";
import type { UpstreamCredentials } from "./upstream/oauth/types.ts";
import { RefreshFailedError } from "./upstream/oauth/credentials.ts";
import { NO_DISCOVERY, type ConnectionStatus, type Discovery } from "./types.ts";
import type { Http1Pool } from "./upstream/http1.ts";
import { AnyResult, isUpstreamRefusal, isUpstreamSessionGone, sharedPool, Upstream, type UpstreamHooks } from "./upstream/upstream.ts";

/** Discovery's upstream session was forgotten by the upstream: read again on a new one. */
class SessionGone extends Error {}

export type RuntimeSettings = {
  stderrLines: number;
  logger: Logger;
  /** Which addresses http and sse upstreams may reach (default: only the built-in deny list). */
  addressPolicy?: AddressPolicy;
  /** Told when the connection's state changes (with several replicas, each records its own). */
  onStatus?: (connectionId: string, status: ConnectionStatus) => void;
  /** The bearer tokens of OAuth connections (absent: an OAuth connection cannot be reached). */
  credentials?: UpstreamCredentials;
};

const MAX_BACKOFF_MS = 30_000;
/** How often a status read may have discovery look again for a token it lacked. */
const AUTHORIZATION_RECHECK_MS = 3_000;
const LEVELS = LoggingLevelSchema.options;

export type Link = { upstream: Promise<Upstream>; inflight: Set<InflightCall>; owner: AttachedSession | null };

export class ConnectionRuntime {
  readonly stderr: LineRing;
  readonly sessions = new Set<AttachedSession>();
  discovery: Discovery = NO_DISCOVERY;
  private status: ConnectionStatus;
  private shared: Link | null = null;
  private readonly perSession = new Map<AttachedSession, Link>();
  private failures = 0;
  private retryAt = 0;
  private lastError: string | null = null;
  private closed = false;
  private refreshing: Promise<Discovery> | null = null;
  private refreshAgain = false;
  /** The level last asked of a shared upstream (the most verbose any of its sessions wants). */
  private sharedLevel: LoggingLevel | null = null;
  /** The sockets every upstream session of a plain-http connection shares. */
  private pool: Http1Pool | null | undefined;

  constructor(
    public spec: ConnectionSpec,
    private readonly settings: RuntimeSettings,
  ) {
    this.stderr = new LineRing(settings.stderrLines);
    this.status = { state: spec.enabled ? "idle" : "disabled", lastError: null, since: new Date() };
  }

  /** True when several downstream sessions share one upstream session (stdio with isolation "shared"). */
  get sharesUpstream(): boolean {
    return this.spec.transport === "stdio" && this.spec.isolation !== "session";
  }

  /** True when each downstream session gets an upstream session of its own. */
  private ownsUpstream(session: AttachedSession | null): session is AttachedSession {
    return session !== null && !this.sharesUpstream;
  }

  /** True once the connection was removed or changed: nothing more goes upstream through it. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Processes this runtime has running or starting (stdio), for the bound on connection tests. */
  get processCount(): number {
    return this.spec.transport === "stdio" ? (this.shared ? 1 : 0) + this.perSession.size : 0;
  }

  getStatus(): ConnectionStatus {
    return this.status;
  }

  /** When discovery may next look again for the token it lacked (see recheckAuthorization). */
  private authorizationRecheckAt = 0;

  /**
   * Discovery lacked a token: looks again in the background (at most every few seconds), so an
   * authorization given since (in the admin, on any replica) shows on the status being polled.
   */
  recheckAuthorization(): void {
    if (this.status.state !== "needs_authorization" || this.refreshing || Date.now() < this.authorizationRecheckAt) return;
    this.authorizationRecheckAt = Date.now() + AUTHORIZATION_RECHECK_MS;
    // Only once there is a token does discovery connect again: asking without one would show
    // "connecting" for a moment at every look, for nothing.
    const credentials = this.settings.credentials;
    if (!credentials || !this.spec.oauth) return void this.refresh().catch(() => {});
    void credentials.authorization(this.spec, "discovery").then(
      () => this.refresh().catch(() => {}),
      () => {},
    );
  }

  private setStatus(state: ConnectionStatus["state"], lastError: string | null = this.lastError): void {
    const changed = state !== this.status.state || lastError !== this.status.lastError;
    this.status = { state, lastError, since: new Date() };
    if (changed) this.settings.onStatus?.(this.spec.id, this.status);
  }

  /** The upstream serving `session`: the shared one, or the session's own (stdio with isolation "session"). */
  async upstreamFor(session: AttachedSession | null): Promise<{ upstream: Upstream; link: Link }> {
    if (this.closed) throw new JsonRpcError(ErrorCode.ConnectionClosed, "This connection was removed or changed.");
    if (!this.spec.enabled) throw new JsonRpcError(ErrorCode.InvalidRequest, "This connection is disabled.");
    const own = this.ownsUpstream(session);
    let link = own ? this.perSession.get(session) : this.shared;
    if (!link) {
      if (own && this.spec.transport === "stdio" && this.perSession.size >= this.spec.maxProcesses) {
        throw new CapacityError(`This connection already runs its maximum of ${this.spec.maxProcesses} processes; try again later.`);
      }
      const now = Date.now();
      if (now < this.retryAt) {
        throw new JsonRpcError(ErrorCode.InternalError, `The upstream is unavailable (${this.lastError}); retrying in ${Math.ceil((this.retryAt - now) / 1000)}s.`);
      }
      link = this.connect(own ? session : null);
    }
    return { upstream: await link.upstream, link };
  }

  /**
   * The Authorization of an OAuth connection's requests: a session's own upstream session carries its
   * user's token (per-user: their own link; shared: the shared one), discovery's the discovery subject's.
   */
  private authorization(owner: AttachedSession | null): ((rejected?: string) => Promise<string>) | undefined {
    const spec = this.spec;
    if (!spec.oauth) return undefined;
    const credentials = this.settings.credentials;
    const who = owner ? { userId: owner.userId } : ("discovery" as const);
    return (rejected) => (credentials ? credentials.authorization(spec, who, { rejected }) : Promise.reject(new Error("OAuth connections are not available here")));
  }

  private connect(owner: AttachedSession | null): Link {
    const link: Link = { upstream: Promise.resolve(null as unknown as Upstream), inflight: new Set(), owner };
    if (owner) this.perSession.set(owner, link);
    else this.shared = link;
    // The status is the connection's (its discovery's), not each user's: an OAuth connection's session
    // links, which succeed or fail per user, leave it alone unless they show it reachable.
    const accountLink = owner !== null && Boolean(this.spec.oauth);
    if (!accountLink) this.setStatus("connecting");
    if (this.pool === undefined) this.pool = sharedPool(this.spec, this.settings.addressPolicy);
    link.upstream = Upstream.connect(this.spec, {
      stderr: this.stderr,
      hooks: this.hooks(link),
      timeoutMs: this.spec.connectTimeoutMs,
      policy: this.settings.addressPolicy,
      pool: this.pool,
      capabilities: owner ? carriedCapabilities(owner.clientCapabilities) : this.sharesUpstream ? SHARED_CAPABILITIES : undefined,
      listen: owner ? owner.listening : true,
      authorization: this.authorization(owner),
    }).then(
      async (upstream) => {
        this.failures = 0;
        this.lastError = null;
        if (!accountLink || this.status.state !== "needs_authorization") this.setStatus("connected", null);
        if (!owner && this.discovery.refreshedAt === null) void this.refresh().catch(() => {});
        // A session's upstream session that was lost and made anew gets back what the client set up.
        if (owner) await this.restore(owner, upstream);
        return upstream;
      },
      (err: unknown) => {
        this.forget(link);
        // One subject without a usable token is not the connection failing: no backoff, and other users'
        // sessions go on. Only discovery's own lack of one is the connection's state.
        // Nor is one user's refresh failing for now (their token endpoint's answer): they are told, others go on.
        if (err instanceof NeedsAuthorizationError || (owner && this.spec.oauth && (isUpstreamRefusal(err) || err instanceof RefreshFailedError))) {
          if (!owner && err instanceof NeedsAuthorizationError) this.setStatus("needs_authorization", err.message);
          if (err instanceof NeedsAuthorizationError) throw err;
          if (err instanceof RefreshFailedError) throw new JsonRpcError(ErrorCode.InternalError, err.message);
          throw new JsonRpcError(ErrorCode.InvalidRequest, "The upstream refused this account's authorization.");
        }
        // A connect that ran out of time says so, without the SDK's "MCP error <code>:" prefix.
        const timedOut = err instanceof McpError && err.code === ErrorCode.RequestTimeout;
        this.fail(timedOut ? new Error(`initialize timed out after ${Math.round(this.spec.connectTimeoutMs / 100) / 10}s (connect_timeout)`) : err);
        throw new JsonRpcError(ErrorCode.InternalError, `Cannot reach the upstream: ${this.lastError}`);
      },
    );
    return link;
  }

  /** Asks `upstream` for log messages at `level`, when it offers logging at all. */
  private async tellLevel(upstream: Upstream, level: LoggingLevel): Promise<void> {
    if (upstream.capabilities.logging) await upstream.request({ method: "logging/setLevel", params: { level } }, { timeoutMs: this.spec.callTimeoutMs });
  }

  /** Replays a session's log level and subscriptions on its (new) upstream session. */
  private async restore(owner: AttachedSession, upstream: Upstream): Promise<void> {
    if (owner.logLevel !== null) await this.tellLevel(upstream, owner.logLevel).catch(() => {});
    if (upstream.capabilities.resources?.subscribe) {
      for (const uri of owner.subscriptions) await upstream.request({ method: "resources/subscribe", params: { uri } }, { timeoutMs: this.spec.callTimeoutMs }).catch(() => {});
    }
  }

  /**
   * A session set its log level. Its own upstream session gets that level; a shared upstream gets the
   * most verbose level any of its sessions asked for, and each session is then sent only what its own
   * level admits (see route()).
   */
  async levelChanged(session: AttachedSession): Promise<void> {
    if (this.ownsUpstream(session)) {
      if (session.logLevel === null) return;
      // A session's upstream session made now is told its level as it starts (restore()).
      if (!this.perSession.has(session)) return void (await this.upstreamFor(session));
      const { upstream } = await this.upstreamFor(session);
      return this.tellLevel(upstream, session.logLevel);
    }
    const levels = [...this.sessions, session].map((s) => s.logLevel).filter((l): l is LoggingLevel => l !== null);
    if (levels.length === 0) return;
    const verbose = levels.reduce((a, b) => (LEVELS.indexOf(a) <= LEVELS.indexOf(b) ? a : b));
    if (verbose === this.sharedLevel) return;
    const { upstream } = await this.upstreamFor(session);
    if (!upstream.capabilities.logging) return;
    this.sharedLevel = verbose;
    await this.tellLevel(upstream, verbose);
  }

  private fail(err: unknown): void {
    this.failures++;
    // Shown to members (status, errors to callers) and logged: never the connection's own secrets.
    this.lastError = redactFor(this.spec, err instanceof Error ? err.message : String(err));
    this.retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.failures - 1));
    this.setStatus("error");
    this.settings.logger.warn("upstream failed", { connection: this.spec.id, error: this.lastError, failures: this.failures });
  }

  /**
   * A request failed below MCP (connection refused, reset, TLS): the upstream is down, not just the
   * call. Drop the link so the next use reconnects after the backoff, and show the error.
   */
  async transportFailed(link: Link, err: unknown): Promise<void> {
    if (this.shared !== link && !(link.owner && this.perSession.get(link.owner) === link)) return;
    this.fail(err);
    await this.dropUpstream(link);
  }

  /**
   * A request found its subject without a usable token (disconnected, or the refresh was refused). A
   * session's own upstream session is dropped, so the next request initialises anew with whatever token
   * the user connects next; discovery's marks the connection as needing authorization.
   */
  async authorizationLost(link: Link, err: NeedsAuthorizationError): Promise<void> {
    if (this.shared !== link && !(link.owner && this.perSession.get(link.owner) === link)) return;
    await this.dropUpstream(link);
    // Set after the drop, whose close would show "idle".
    if (!link.owner) this.setStatus("needs_authorization", err.message);
  }

  private forget(link: Link): void {
    if (this.shared === link) this.shared = null;
    if (link.owner && this.perSession.get(link.owner) === link) this.perSession.delete(link.owner);
  }

  private hooks(link: Link): UpstreamHooks {
    return {
      onClose: (error) => {
        this.forget(link);
        if (error && !this.closed) {
          this.fail(error);
          // Restart a crashed shared upstream once its backoff passes, if clients are still attached.
          if (!link.owner && this.sessions.size > 0) {
            setTimeout(() => {
              if (!this.closed && !this.shared && this.sessions.size > 0) {
                void this.upstreamFor(null).catch(() => {});
              }
            }, Math.max(0, this.retryAt - Date.now())).unref();
          }
        } else if (!this.closed && !this.shared && !(link.owner && this.status.state === "needs_authorization")) {
          this.setStatus("idle");
        }
      },
      onNotification: (n) => this.route(link, n),
      onRequest: async (request, extra) => {
        // A server-to-client request (sampling, elicitation, roots) goes to the one client that
        // caused it: on the stream of its request when exactly one is in flight, else (a session's
        // own upstream) to that session. If that cannot be known, it is refused rather than sent to
        // the wrong client. Roots asked of a shared upstream session (it was offered none) or of
        // discovery's are none: a server keeps them per session, so any client's would be everyone's.
        const calls = [...link.inflight];
        if (request.method === "roots/list" && !link.owner) return { roots: [] };
        // A task's own requests (input it needs) go to the session that owns the task, not to
        // whichever request happens to be in flight on a shared upstream.
        const owner = link.owner ? undefined : taskOwner(this.sessions, request);
        if (owner) return (calls.find((c) => c.session === owner) ?? owner).ask(request, extra.signal);
        if (calls.length === 1) return calls[0]!.ask(request, extra.signal);
        if (link.owner) return link.owner.ask(request, extra.signal);
        throw new JsonRpcError(
          ErrorCode.InvalidRequest,
          `Switchboard cannot tell which client ${request.method} is for (${calls.length} requests in flight on this shared connection), so it refuses it.`,
        );
      },
    };
  }

  /**
   * Routes an upstream notification to the downstream sessions it concerns. A session's own upstream
   * session speaks only to that session. The shared link is discovery's (http, sse, isolated stdio:
   * its list changes refresh the caches, and each session hears of them from its own upstream) or the
   * one process of a shared stdio connection, whose notifications are shared out by the gateway.
   */
  private route(link: Link, n: Notification): void {
    const send = (s: AttachedSession) => void s.notify(n).catch(() => {});
    const calls = [...link.inflight];
    // What concerns a task (its status, messages related to it) is for the session that owns it.
    const owner = link.owner ? undefined : taskOwner(this.sessions, n);
    if (owner) return send(owner);
    switch (n.method) {
      case "notifications/tools/list_changed":
      case "notifications/resources/list_changed":
      case "notifications/prompts/list_changed":
        // Never for a connection whose processes are per session: discovery's own process announces
        // its lists at start-up, and refreshing on that spawned another, forever.
        if (this.spec.transport !== "stdio" || this.sharesUpstream) void this.refresh().catch(() => {});
        if (link.owner) send(link.owner);
        else if (this.sharesUpstream) this.sessions.forEach(send);
        return;
      case "notifications/resources/updated": {
        const uri = (n.params as { uri?: string } | undefined)?.uri;
        const targets = link.owner ? [link.owner] : this.sharesUpstream ? [...this.sessions] : [];
        targets.filter((s) => uri !== undefined && s.subscriptions.has(uri)).forEach(send);
        return;
      }
      default: {
        // Log messages and anything else: to the request in flight if there is exactly one, else to
        // the session this upstream session serves; on a shared upstream, log messages go to each
        // session its own level admits, and anything else that cannot be attributed is dropped.
        if (calls.length === 1) {
          void calls[0]!.notify(n).catch(() => {});
        } else if (link.owner) {
          send(link.owner);
        } else if (n.method === "notifications/message" && this.sharesUpstream) {
          const level = String((n.params as { level?: string } | undefined)?.level ?? "info");
          [...this.sessions].filter((s) => s.wantsLogs(level)).forEach(send);
        }
      }
    }
  }

  /** Re-reads tools, resources, templates and prompts from the upstream (every page). */
  refresh(): Promise<Discovery> {
    if (this.refreshing) {
      // A change announced while a refresh runs may come after that refresh read the changed list:
      // read everything again once it ends, and answer every waiter with the newer discovery.
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.readDiscovery();
        } while (this.refreshAgain && !this.closed);
      } finally {
        this.refreshing = null;
      }
      return this.discovery;
    })();
    return this.refreshing;
  }

  private async readDiscovery(retried = false): Promise<void> {
    try {
      const { upstream, link } = await this.upstreamFor(null);
      const caps = upstream.capabilities;
      const warnings: string[] = [];
      // What the upstream sends is untrusted (see discovery.ts): every page is read, then the whole
      // list is checked at once, so a name listed on two pages is kept once.
      const all = async <T>(method: string, key: string, check: (list: unknown) => Checked<T>): Promise<T[]> => {
        const ask = (params: { cursor?: string }) =>
          upstream.request({ method, params } as never, { timeoutMs: this.spec.callTimeoutMs }).catch(async (err: unknown) => {
            // The upstream forgot discovery's session (it restarted): initialise anew and read again.
            if (!retried && isUpstreamSessionGone(err)) {
              await this.dropUpstream(link);
              throw new SessionGone();
            }
            throw err;
          });
        const raw = await everyPage(method, key, ask, (w) => warnings.push(w));
        const checked = check(raw);
        warnings.push(...checked.warnings);
        return checked.items;
      };
      const tools = caps.tools ? await all("tools/list", "tools", checkTools) : [];
      const resources = caps.resources ? await all("resources/list", "resources", checkResources) : [];
      const resourceTemplates = caps.resources ? await all("resources/templates/list", "resourceTemplates", checkResourceTemplates) : [];
      const prompts = caps.prompts ? await all("prompts/list", "prompts", checkPrompts) : [];
      // Upstream text shown to members: the connection's own secrets never appear in it.
      const bounded = boundWarnings(warnings).map((w) => redactFor(this.spec, w));
      if (bounded.length > 0) this.settings.logger.warn("upstream discovery dropped malformed entries", { connection: this.spec.id, count: warnings.length, first: bounded[0] });
      const perSession = [caps.logging && "log levels", caps.resources?.subscribe && "resource subscriptions", caps.tasks && "tasks"].filter((f): f is string => typeof f === "string");
      this.discovery = { tools, resources, resourceTemplates, prompts, refreshedAt: new Date(), error: null, warnings: bounded, perSession };
    } catch (err) {
      if (err instanceof SessionGone) return this.readDiscovery(true);
      // Dropped first: closing it would show "idle".
      if (err instanceof NeedsAuthorizationError) {
        if (this.shared) await this.dropUpstream(this.shared);
        this.setStatus("needs_authorization", err.message);
      }
      this.discovery = { ...this.discovery, error: redactFor(this.spec, err instanceof Error ? err.message : String(err)) };
    } finally {
      // A connection whose sessions each get their own process keeps no shared one running.
      if (this.spec.transport === "stdio" && this.spec.isolation === "session" && this.shared) await this.dropUpstream(this.shared);
    }
  }

  /** The discovery in progress, if any (an agent's list waits for it after list_changed). */
  pendingRefresh(): Promise<Discovery> | null {
    return this.refreshing;
  }

  /** Drops an upstream that lost its session (HTTP 404, or 400 from some servers) so the next use re-initialises. */
  async dropUpstream(link: Link): Promise<void> {
    this.forget(link);
    await link.upstream.then((u) => u.close(), () => {});
  }

  /** The session opened or closed its GET stream: its own upstream session follows (see Upstream.listen). */
  listenFor(session: AttachedSession): void {
    void this.perSession.get(session)?.upstream.then((u) => u.listen(session.listening), () => {});
  }

  attach(session: AttachedSession): void {
    this.sessions.add(session);
  }

  /**
   * A session ended: its own upstream session ends with it (an HTTP one is told so, DELETE; a process
   * stops), so nothing it started there goes on; on a shared upstream, subscriptions it alone held are
   * dropped.
   */
  async detach(session: AttachedSession): Promise<void> {
    this.sessions.delete(session);
    const own = this.perSession.get(session);
    if (own) {
      this.perSession.delete(session);
      await own.upstream.then((u) => u.close({ terminate: true }), () => {});
    } else if (this.shared && this.sharesUpstream) {
      const shared = this.shared;
      for (const uri of session.subscriptions) {
        if (![...this.sessions].some((s) => s.subscriptions.has(uri))) {
          void shared.upstream.then((u) => u.request({ method: "resources/unsubscribe", params: { uri } }, { timeoutMs: this.spec.callTimeoutMs })).catch(() => {});
        }
      }
    }
  }

  /** Closes every upstream (killing stdio process groups); sessions are closed by the gateway. */
  async close(): Promise<void> {
    this.closed = true;
    const links = [this.shared, ...this.perSession.values()].filter((l): l is Link => l !== null);
    this.shared = null;
    this.perSession.clear();
    await Promise.all(links.map((l) => l.upstream.then((u) => u.close(), () => {})));
    this.pool?.close();
  }
}

export { AnyResult };
