// A Gateway over a map of connection specs, driven without HTTP: SDK clients (and raw JSON-RPC
// requests) reach `gateway.handle` through a custom fetch. Also the fixture upstream over HTTP,
// callers with given permissions, and polling with a deadline for what cannot be awaited.
import { Client, type ClientOptions } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import { Gateway, type UsageSettings } from "../../src/gateway/gateway.ts";
import type { ConnectionRuntime } from "../../src/gateway/connection-runtime.ts";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import type { AddressPolicy } from "../../src/gateway/upstream/address-policy.ts";
import type { UpstreamCredentials } from "../../src/gateway/upstream/oauth/types.ts";
import { silentLogger } from "../../src/logger.ts";
import type { Caller } from "../../src/domain/access/caller.ts";
import { bundledFixture } from "./fixture-bundle.ts";
import { waitForLine } from "./streams.ts";

/** The fixture upstream (test/fixtures/upstream-server.ts), bundled: it is spawned for most tests. */
export const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
export const PROTOCOL_VERSION = "2025-06-18";

/** A JSON-RPC error as it arrives on the wire. */
export type RpcError = { code: number; message: string; data?: unknown };

export type GatewayCaller = Caller & { key: { id: string } };

/** A caller holding `permissions` through the key `keyId`. */
export function makeCaller(permissions: Permissions, keyId = "key_a"): GatewayCaller {
  return { user: { id: "user_1", email: "tester@example.com", role: "admin", createdAt: new Date(0) }, key: { kind: "api_key", id: keyId, permissions, expiresAt: null, audience: null }, permissions };
}

function baseSpec(): ConnectionSpec {
  const id = `conn_${crypto.randomUUID()}`;
  return {
    id,
    slug: id.slice(5, 13),
    title: "fixture",
    description: "",
    transport: "stdio",
    enabled: true,
    url: null,
    headers: {},
    token: null,
    oauth: null,
    command: null,
    args: [],
    cwd: null,
    env: {},
    isolation: "shared",
    maxProcesses: 4,
    connectTimeoutMs: 10_000,
    callTimeoutMs: 10_000,
    fromConfig: false,
  };
}

/** The fixture upstream over stdio (a new id every call). */
export function stdioSpec(overrides: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return { ...baseSpec(), command: process.execPath, args: [FIXTURE], ...overrides };
}

/** An upstream over Streamable HTTP at `url` (a new id every call). */
export function httpSpec(url: string, overrides: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return { ...baseSpec(), transport: "http", url, ...overrides };
}

/** The fixture upstream as an HTTP server in a child process: Streamable HTTP, or the legacy HTTP+SSE transport. */
export type HttpFixture = { url: string; pid: number; stop: () => Promise<void> };

export async function startHttpFixture(transport: "http" | "sse" = "http"): Promise<HttpFixture> {
  const child = Bun.spawn([process.execPath, FIXTURE, `--${transport}`, "--port", "0"], { stdout: "pipe", stderr: "ignore" });
  const line = await waitForLine(child.stdout, (l) => l.startsWith("listening "));
  return {
    url: line.slice("listening ".length).trim(),
    pid: child.pid,
    stop: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

/** True while a process with this pid runs (a zombie waiting for a reaper counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "<pid> (<comm>) <state> …": state Z is a dead process nobody has reaped yet.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc here: kill(pid, 0) is all we can know
  }
}

/** Polls `condition` until it holds (returning its value) or `timeoutMs` passes (throwing `what`). */
export async function waitUntil<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await Bun.sleep(25);
  }
}

/** Resolves with the value `promise` settles to, or rejects with `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The JSON-RPC messages of a Streamable HTTP response, whether JSON or an SSE stream. */
export async function rpcMessages(response: Response): Promise<JSONRPCMessage[]> {
  const text = await response.text();
  if ((response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    return text
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trim())
      .filter((d) => d.length > 0)
      .map((d) => JSON.parse(d) as JSONRPCMessage);
  }
  if (!text) return [];
  const body = JSON.parse(text) as JSONRPCMessage | JSONRPCMessage[];
  return Array.isArray(body) ? body : [body];
}

export type ConnectOptions = {
  caller?: GatewayCaller;
  capabilities?: ClientOptions["capabilities"];
  /** Called before connecting, to register handlers on the client. */
  setup?: (client: Client) => void;
};

/** A Gateway over `specs`, with helpers to talk to it. Close it in afterEach. */
export class GatewayHarness {
  readonly gateway: Gateway;
  readonly specs = new Map<string, ConnectionSpec>();
  private readonly clients: Client[] = [];

  readonly agents = new Map<string, AgentSpec>();

  constructor(
    specs: ConnectionSpec[],
    settings: { sessionIdleMs?: number; maxSessions?: number; maxBodyBytes?: number; addressPolicy?: AddressPolicy; agents?: AgentSpec[]; resumeRetryMs?: number; usage?: UsageSettings; address?: string; credentials?: UpstreamCredentials } = {},
  ) {
    for (const spec of specs) this.specs.set(spec.id, spec);
    for (const agent of settings.agents ?? []) this.agents.set(agent.id, agent);
    this.gateway = new Gateway({
      sessionIdleMs: settings.sessionIdleMs ?? 60_000,
      maxSessions: settings.maxSessions ?? 100,
      stderrLines: 100,
      maxBodyBytes: settings.maxBodyBytes ?? 4 << 20,
      logger: silentLogger,
      lookup: async (idOrSlug) => this.specs.get(idOrSlug) ?? [...this.specs.values()].find((s) => s.slug === idOrSlug) ?? null,
      lookupAgent: async (idOrSlug) => this.agents.get(idOrSlug) ?? [...this.agents.values()].find((a) => a.slug === idOrSlug) ?? null,
      addressPolicy: settings.addressPolicy,
      resumeRetryMs: settings.resumeRetryMs,
      usage: settings.usage,
      credentials: settings.credentials,
    });
    this.address = settings.address ?? null;
  }

  /** The client address every request is served as coming from (as the route passes clientIp). */
  readonly address: string | null;

  async runtime(id: string): Promise<ConnectionRuntime> {
    const runtime = await this.gateway.runtime(id);
    if (!runtime) throw new Error(`no runtime for ${id}`);
    return runtime;
  }

  /** Changes (or adds) a connection, as the connection operations do: the lookup first, then the gateway. */
  async apply(spec: ConnectionSpec): Promise<void> {
    this.specs.set(spec.id, spec);
    await this.gateway.apply(spec);
  }

  /** Deletes a connection, as the connection operations do. */
  async remove(id: string): Promise<void> {
    this.specs.delete(id);
    await this.gateway.remove(id);
  }

  /** Serves one request to /mcp/:id as `caller`, the way the HTTP route will. */
  async fetch(id: string, caller: GatewayCaller, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return this.gateway.handle(new Request(input, init), await this.runtime(id), caller, () => this.address);
  }

  /** An SDK client with an open session on connection `id`. */
  async connect(id: string, options: ConnectOptions = {}): Promise<Client> {
    const caller = options.caller ?? makeCaller({ "*": ["*"] });
    const client = new Client({ name: "gateway-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
    options.setup?.(client);
    const transport = new StreamableHTTPClientTransport(new URL(`http://localhost/mcp/${id}`), {
      fetch: (url, init) => this.fetch(id, caller, url, init),
    });
    this.clients.push(client);
    await client.connect(transport);
    return client;
  }

  /** An SDK client with an open session on agent `id` (declared in the constructor). */
  async connectAgent(id: string, options: ConnectOptions = {}): Promise<Client> {
    const agent = this.agents.get(id);
    if (!agent) throw new Error(`no agent ${id}`);
    const caller = options.caller ?? makeCaller({ "*": ["*"] });
    const client = new Client({ name: "gateway-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
    options.setup?.(client);
    const transport = new StreamableHTTPClientTransport(new URL(`http://localhost/mcp/agent/${agent.slug}`), {
      fetch: (url, init) => this.gateway.handleAgent(new Request(url, init), agent, caller, () => this.address),
    });
    this.clients.push(client);
    await client.connect(transport);
    return client;
  }

  /** A raw JSON-RPC POST (optionally in a session), answered by the gateway. */
  post(id: string, caller: GatewayCaller, body: unknown, sessionId?: string): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    if (sessionId) {
      headers["mcp-session-id"] = sessionId;
      headers["mcp-protocol-version"] = PROTOCOL_VERSION;
    }
    return this.fetch(id, caller, `http://localhost/mcp/${id}`, { method: "POST", headers, body: JSON.stringify(body) });
  }

  /** Opens a session with raw requests (initialize + initialized) and returns its id. */
  async openRawSession(id: string, caller: GatewayCaller): Promise<string> {
    const init = await this.post(id, caller, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${await init.text()}`);
    const sessionId = init.headers.get("mcp-session-id");
    await init.body?.cancel();
    if (!sessionId) throw new Error("initialize gave no session id");
    const initialized = await this.post(id, caller, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId);
    if (initialized.status !== 202) throw new Error(`initialized answered ${initialized.status}`);
    return sessionId;
  }

  /** Closes the clients, then the gateway (which kills every stdio process). */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
    await this.gateway.close();
  }
}

/** The text of the first content block of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content[0]?.text ?? "";
}

/** The pid and environment variable names a fixture reports through `whoami`. */
export async function whoami(client: Client): Promise<{ name: string; pid: number; env: string[] }> {
  return JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })));
}

/** The fixture over stdio behind `tee`, so a test can read every message the upstream was sent. */
export function recordedStdioSpec(logFile: string, overrides: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return stdioSpec({
    command: "/bin/sh",
    args: ["-c", 'tee -a "$SB_STDIN_LOG" | exec "$0" "$1"', process.execPath, FIXTURE],
    env: { SB_STDIN_LOG: logFile },
    ...overrides,
  });
}

/** The messages recorded by `recordedStdioSpec`. */
export function recordedMessages(logFile: string): JSONRPCMessage[] {
  let text = "";
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as JSONRPCMessage);
}

/** An HTTP forwarder to `target` that records every JSON-RPC message POSTed through it. */
export type RecordingForwarder = { url: string; seen: JSONRPCMessage[]; stop: () => void };

export function startRecordingForwarder(target: string): RecordingForwarder {
  const seen: JSONRPCMessage[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const body = req.method === "POST" ? await req.text() : undefined;
      if (body) {
        const parsed = JSON.parse(body) as JSONRPCMessage | JSONRPCMessage[];
        seen.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      return fetch(target, { method: req.method, headers, body, signal: req.signal });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, seen, stop: () => void server.stop(true) };
}
