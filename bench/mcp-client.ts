// A minimal MCP client for the benchmarks: raw JSON-RPC over fetch, one Streamable HTTP session,
// reading a JSON or an SSE response alike. The same few lines talk to every target, so no target
// is measured through a client that suits it better than another.

export const PROTOCOL_VERSION = "2025-06-18";

type RpcMessage = { jsonrpc: "2.0"; id?: number | string | null; method?: string; result?: unknown; error?: { code: number; message: string } };

/** The JSON-RPC messages in a response body, whether `application/json` or a `text/event-stream`. */
export function readMessages(contentType: string, text: string): RpcMessage[] {
  if (contentType.includes("text/event-stream")) {
    const out: RpcMessage[] = [];
    for (const event of text.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
        .join("\n");
      if (data.trim()) out.push(JSON.parse(data) as RpcMessage);
    }
    return out;
  }
  if (!text.trim()) return [];
  const body = JSON.parse(text) as RpcMessage | RpcMessage[];
  return Array.isArray(body) ? body : [body];
}

export class McpHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One MCP session with a Streamable HTTP endpoint. */
export class RawSession {
  id: string | null = null;
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", ...this.extraHeaders };
    if (this.id) {
      headers["mcp-session-id"] = this.id;
      headers["mcp-protocol-version"] = PROTOCOL_VERSION;
    }
    return headers;
  }

  private async post(message: RpcMessage): Promise<Response> {
    return fetch(this.url, { method: "POST", headers: this.headers(), body: JSON.stringify(message) });
  }

  /** Sends a request and returns its result; a JSON-RPC error or an HTTP error throws. */
  async request(method: string, params: unknown = {}): Promise<unknown> {
    const id = this.nextId++;
    const res = await this.post({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) } as RpcMessage);
    const text = await res.text();
    if (!res.ok) throw new McpHttpError(res.status, `${method} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    const reply = readMessages(res.headers.get("content-type") ?? "", text).find((m) => m.id === id);
    if (!reply) throw new Error(`${method}: no response with id ${id} in ${text.slice(0, 200)}`);
    if (reply.error) throw new Error(`${method} failed: ${reply.error.code} ${reply.error.message}`);
    return reply.result;
  }

  /** initialize (and, unless told otherwise, notifications/initialized); keeps the session id. */
  async initialize(options: { initialized?: boolean } = {}): Promise<void> {
    const res = await this.post({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "switchboard-bench", version: "1" } },
    } as RpcMessage);
    const text = await res.text();
    if (!res.ok) throw new McpHttpError(res.status, `initialize answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    const reply = readMessages(res.headers.get("content-type") ?? "", text).find((m) => m.id === 0);
    if (!reply?.result) throw new Error(`initialize failed: ${text.slice(0, 200)}`);
    this.id = res.headers.get("mcp-session-id");
    if (!this.id) throw new Error("initialize gave no Mcp-Session-Id");
    if (options.initialized === false) return;
    const note = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    await note.arrayBuffer();
    if (note.status !== 202 && note.status !== 200) throw new McpHttpError(note.status, `notifications/initialized answered HTTP ${note.status}`);
  }

  /** A `ping` that reports whether the session is still known (HTTP 404 means it is gone). */
  async alive(): Promise<boolean> {
    try {
      await this.request("ping");
      return true;
    } catch (err) {
      if (err instanceof McpHttpError && err.status === 404) return false;
      throw err;
    }
  }

  /** Ends the session with DELETE. */
  async close(): Promise<void> {
    if (!this.id) return;
    const res = await fetch(this.url, { method: "DELETE", headers: this.headers() });
    await res.arrayBuffer();
    this.id = null;
  }
}

/** Calls the `echo` tool and checks that the text came back. */
export async function callEcho(session: RawSession, text: string): Promise<void> {
  const result = (await session.request("tools/call", { name: "echo", arguments: { text } })) as { content?: { text?: string }[] };
  if (result.content?.[0]?.text !== text) throw new Error(`echo returned ${JSON.stringify(result).slice(0, 200)}`);
}
