// A small HTTP/1.1 client over Bun.connect, for the gateway's requests to plain-http upstreams. Bun's
// fetch hands every request to a separate HTTP thread and back; on the proxy's hot path that hop cost
// about as much CPU as the rest of the upstream leg. Sockets are kept alive and reused per origin.
// It speaks only what MCP over Streamable HTTP needs: a request with a string body, and an answer with
// a Content-Length, chunked, or read-until-close body. Anything else (https, redirects, proxies) is
// left to fetch by the caller.
import type { Socket } from "bun";
import { asError } from "../../errors.ts";
import { ResponseTooLargeError } from "./response-limit.ts";

/** How long an idle kept-alive socket is kept (servers commonly close theirs after 5–10 s). */
const IDLE_SECONDS = 4;
const CRLF2 = Buffer.from("\r\n\r\n");
const MAX_HEADER_BYTES = 64 * 1024;

type Body = { kind: "length"; remaining: number } | { kind: "chunked" } | { kind: "close" } | { kind: "none" };

/** One request being answered on a socket. */
type Exchange = {
  resolve: (response: Response) => void;
  reject: (err: Error) => void;
  /** Set once the headers are read and the body streams (chunked, or until close). */
  stream: ReadableStreamDefaultController<Uint8Array<ArrayBuffer>> | null;
  status: number;
  headers: Headers | null;
  body: Body;
  /** Body bytes of a Content-Length answer, gathered until complete. */
  parts: Buffer[];
  /** Body bytes received so far, and the most allowed (an event stream is bounded per event by its reader instead). */
  received: number;
  limit: number;
  keepAlive: boolean;
  /** Whether any byte of the answer arrived (a reused socket closed before that may be retried). */
  started: boolean;
  /** Stops listening to the request's abort signal (once the answer is over, body included). */
  stopListening: () => void;
};

type Conn = {
  socket: Socket<Conn>;
  /** Bytes of the answer not parsed yet (a header block or a chunk-size line cut in two). */
  buffer: Buffer;
  /** Bytes of the request the socket did not take yet (written on drain). */
  unsent: Buffer | null;
  exchange: Exchange | null;
  chunk: ChunkState;
  reused: boolean;
  closed: boolean;
};
/** Where the chunked decoder is: reading a size line, `size` bytes of data, or the trailer. */
type ChunkState = { phase: "size" | "data" | "data-end" | "trailer"; size: number };

export class Http1Error extends Error {}

function badHeader(value: string): boolean {
  return /[\r\n\0]/.test(value);
}

export class Http1Pool {
  private readonly idle: Conn[] = [];
  private readonly open = new Set<Conn>();
  /** Requests waiting for a socket while `maxSockets` are open. */
  private readonly queue: { resolve: (conn: Conn) => void; reject: (err: Error) => void }[] = [];
  private connecting = 0;
  private closed = false;

  /** Most sockets open to the upstream at once (Bun's fetch allows 256 requests at a time). */
  private readonly maxSockets: number;
  /** The address to open a socket to, resolved and checked by the address policy (the host is pinned to it). */
  private readonly addressOf: (hostname: string) => Promise<string>;
  /** Most body bytes of one answer (gateway.max_response_size): past it the socket is dropped, not read on. */
  private readonly maxBodyBytes: number;

  constructor(
    private readonly origin: URL,
    options: { maxSockets?: number; addressOf?: (hostname: string) => Promise<string>; maxBodyBytes?: number } = {},
  ) {
    this.maxSockets = options.maxSockets ?? 256;
    this.addressOf = options.addressOf ?? (async (hostname) => hostname);
    this.maxBodyBytes = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    if (origin.protocol !== "http:") throw new Error("Http1Pool speaks plain http only");
  }

  /** Sends one request; resolves with the answer once its headers (and a Content-Length body) arrived. */
  async request(path: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<Response> {
    let head = `${init.method} ${path} HTTP/1.1\r\nhost: ${this.origin.host}\r\n`;
    for (const [name, value] of Object.entries(init.headers)) {
      if (badHeader(name) || badHeader(value) || name.includes(":")) throw new TypeError(`Invalid header: ${JSON.stringify(name)}`);
      head += `${name}: ${value}\r\n`;
    }
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    if (body) head += `content-length: ${body.length}\r\n`;
    const bytes = body ? Buffer.concat([Buffer.from(`${head}\r\n`), body]) : Buffer.from(`${head}\r\n`);
    for (let attempt = 0; ; attempt++) {
      const conn = await this.take();
      try {
        return await this.send(conn, bytes, init.signal);
      } catch (err) {
        // A kept-alive socket the server closed just as it was reused: once more on a new one.
        if (attempt === 0 && err instanceof RetryableClose) continue;
        throw err;
      }
    }
  }

  private send(conn: Conn, bytes: Buffer, signal: AbortSignal | undefined): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        // Given up while waiting for the socket (a slow connect, a full pool): the socket is free again.
        this.release(conn);
        return reject(signal.reason);
      }
      const exchange: Exchange = { resolve, reject, stream: null, status: 0, headers: null, body: { kind: "none" }, parts: [], received: 0, limit: this.maxBodyBytes, keepAlive: true, started: false, stopListening: () => {} };
      conn.exchange = exchange;
      conn.buffer = Buffer.alloc(0);
      if (signal) {
        // An abort ends the exchange wherever it is, a streaming body included: the socket is closed.
        const onAbort = () => {
          if (conn.exchange === exchange) this.fail(conn, asError(signal.reason));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        exchange.stopListening = () => signal.removeEventListener("abort", onAbort);
      }
      this.write(conn, bytes);
    });
  }

  private write(conn: Conn, bytes: Buffer): void {
    const written = conn.socket.write(bytes);
    conn.unsent = written < bytes.length ? bytes.subarray(Math.max(0, written)) : null;
  }

  private take(): Promise<Conn> {
    if (this.closed) return Promise.reject(new Http1Error("the upstream connection pool is closed"));
    const idle = this.idle.pop();
    if (idle) return Promise.resolve(this.reuse(idle));
    // At the cap, wait for a socket to be free rather than open ever more (fetch limits its own too).
    if (this.open.size + this.connecting >= this.maxSockets) return new Promise((resolve, reject) => this.queue.push({ resolve, reject }));
    return this.connect();
  }

  private reuse(conn: Conn): Conn {
    conn.reused = true;
    conn.socket.timeout(0); // a long call is not idleness
    return conn;
  }

  /** A socket is free again: the next waiting request takes it, or it waits idle. */
  private release(conn: Conn): void {
    const next = this.queue.shift();
    if (next) {
      next.resolve(this.reuse(conn));
      return;
    }
    conn.socket.timeout(IDLE_SECONDS);
    this.idle.push(conn);
  }

  private async connect(): Promise<Conn> {
    const conn = { buffer: Buffer.alloc(0), unsent: null, exchange: null, chunk: { phase: "size", size: 0 }, reused: false, closed: false } as unknown as Conn;
    const pool = this;
    this.connecting++;
    try {
      // Connect to the address that was checked, not to the name again: a DNS answer that changed
      // since (rebinding) cannot redirect the socket.
      const address = await this.addressOf(this.origin.hostname.replace(/^\[|\]$/g, ""));
      conn.socket = await Bun.connect<Conn>({
        hostname: address,
        port: Number(this.origin.port || 80),
        data: conn,
        socket: {
          data(socket, chunk) {
            pool.receive(socket.data, chunk);
          },
          drain(socket) {
            const unsent = socket.data.unsent;
            if (unsent) pool.write(socket.data, unsent);
          },
          close(socket) {
            pool.closedConn(socket.data);
          },
          error(socket, err) {
            pool.fail(socket.data, err);
          },
          timeout(socket) {
            socket.end();
          },
        },
      });
    } finally {
      this.connecting--;
    }
    this.open.add(conn);
    return conn;
  }

  private receive(conn: Conn, chunk: Buffer): void {
    const exchange = conn.exchange;
    if (!exchange) {
      // Bytes nobody asked for: the socket is not in a state to reuse.
      conn.socket.end();
      return;
    }
    exchange.started = true;
    let data = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    conn.buffer = Buffer.alloc(0);
    if (!exchange.headers) {
      const end = data.indexOf(CRLF2);
      if (end === -1) {
        if (data.length > MAX_HEADER_BYTES) return this.fail(conn, new Http1Error("the upstream's response headers are too large"));
        conn.buffer = data;
        return;
      }
      if (!this.head(conn, exchange, data.subarray(0, end).toString("latin1"))) return;
      data = data.subarray(end + 4);
    }
    this.body(conn, exchange, data);
  }

  /** Reads the status line and headers; false when the answer is not HTTP/1.x. */
  private head(conn: Conn, exchange: Exchange, text: string): boolean {
    const lines = text.split("\r\n");
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
    if (!status) {
      this.fail(conn, new Http1Error("the upstream did not answer in HTTP/1.x"));
      return false;
    }
    const headers = new Headers();
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i]!.indexOf(":");
      if (colon > 0) headers.append(lines[i]!.slice(0, colon).trim(), lines[i]!.slice(colon + 1).trim());
    }
    exchange.status = Number(status[2]);
    exchange.headers = headers;
    const connection = (headers.get("connection") ?? "").toLowerCase();
    exchange.keepAlive = status[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    const length = headers.get("content-length");
    if (exchange.status === 204 || exchange.status === 304 || (exchange.status >= 100 && exchange.status < 200)) exchange.body = { kind: "none" };
    else if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) exchange.body = { kind: "chunked" };
    else if (length !== null && /^\d+$/.test(length)) exchange.body = { kind: "length", remaining: Number(length) };
    else exchange.body = { kind: "close" };
    // A streamed event stream may be long-lived (progress, logs, then the response): its reader bounds
    // each event. A body of known length is gathered whole here, so it is bounded whole.
    const eventStream = (headers.get("content-type") ?? "").toLowerCase().includes("text/event-stream");
    if (eventStream && exchange.body.kind !== "length") exchange.limit = Number.POSITIVE_INFINITY;
    // Announced too large: refused before a byte of it is buffered.
    if (exchange.body.kind === "length" && exchange.body.remaining > exchange.limit) {
      this.fail(conn, new ResponseTooLargeError(this.maxBodyBytes));
      return false;
    }
    if (exchange.body.kind === "chunked" || exchange.body.kind === "close") {
      conn.chunk = { phase: "size", size: 0 };
      const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
        start: (controller) => {
          exchange.stream = controller;
        },
        cancel: () => {
          // The reader gave up before the end: the rest of the answer would arrive on this socket.
          if (conn.exchange === exchange) {
            this.detach(conn);
            conn.socket.end();
          }
        },
      });
      exchange.resolve(new Response(stream, { status: exchange.status, headers }));
    }
    return true;
  }

  private body(conn: Conn, exchange: Exchange, data: Buffer): void {
    const body = exchange.body;
    if (body.kind === "close" && !this.withinLimit(conn, exchange, data.length)) return;
    switch (body.kind) {
      case "none":
        return this.finish(conn, exchange);
      case "length": {
        const take = data.subarray(0, body.remaining);
        if (take.length > 0) exchange.parts.push(take);
        body.remaining -= take.length;
        if (body.remaining === 0) this.finish(conn, exchange);
        return;
      }
      case "close":
        if (data.length > 0) exchange.stream?.enqueue(new Uint8Array(data));
        return;
      case "chunked":
        return this.chunked(conn, exchange, data);
    }
  }

  private chunked(conn: Conn, exchange: Exchange, data: Buffer): void {
    const state = conn.chunk;
    let at = 0;
    while (at < data.length) {
      if (state.phase === "data") {
        const take = data.subarray(at, at + state.size);
        if (!this.withinLimit(conn, exchange, take.length)) return;
        exchange.stream?.enqueue(new Uint8Array(take));
        state.size -= take.length;
        at += take.length;
        if (state.size === 0) state.phase = "data-end";
        continue;
      }
      const eol = data.indexOf("\r\n", at);
      if (eol === -1) {
        conn.buffer = data.subarray(at);
        return;
      }
      const line = data.subarray(at, eol).toString("latin1");
      at = eol + 2;
      if (state.phase === "data-end") {
        if (line !== "") return this.fail(conn, new Http1Error("the upstream sent a malformed chunked body"));
        state.phase = "size";
      } else if (state.phase === "size") {
        const size = Number.parseInt(line.split(";")[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) return this.fail(conn, new Http1Error("the upstream sent a malformed chunked body"));
        if (size === 0) state.phase = "trailer";
        else Object.assign(state, { phase: "data", size });
      } else if (line === "") {
        // The empty line after the trailers ends the body.
        return this.finish(conn, exchange);
      }
    }
  }

  /**
   * Counts `bytes` more of the body; false (and the exchange failed, its socket closed so the rest is
   * never read) once the answer passes maxBodyBytes. A hostile or broken upstream cannot make the
   * gateway hold more than that for one answer, however long it sends.
   */
  private withinLimit(conn: Conn, exchange: Exchange, bytes: number): boolean {
    exchange.received += bytes;
    if (exchange.received <= exchange.limit) return true;
    this.fail(conn, new ResponseTooLargeError(this.maxBodyBytes));
    return false;
  }

  /** The answer is complete: hand it over (or end its stream) and return the socket to the pool. */
  private finish(conn: Conn, exchange: Exchange): void {
    this.detach(conn);
    if (exchange.stream) exchange.stream.close();
    else exchange.resolve(new Response(exchange.parts.length === 0 ? null : Buffer.concat(exchange.parts), { status: exchange.status, headers: exchange.headers! }));
    if (exchange.keepAlive && !this.closed && !conn.closed) {
      this.release(conn);
    } else {
      conn.socket.end();
    }
  }

  /** The socket failed or was closed under an answer. */
  private fail(conn: Conn, err: Error): void {
    const exchange = this.detach(conn);
    conn.socket.terminate();
    if (exchange) failExchange(exchange, err);
  }

  /** Detaches the socket's exchange (its answer is over, one way or another); null when there was none. */
  private detach(conn: Conn): Exchange | null {
    const exchange = conn.exchange;
    conn.exchange = null;
    exchange?.stopListening();
    return exchange;
  }

  private closedConn(conn: Conn): void {
    conn.closed = true;
    this.open.delete(conn);
    const at = this.idle.indexOf(conn);
    if (at !== -1) this.idle.splice(at, 1);
    // A place under the cap opened up: a new socket for the next waiting request.
    const next = this.closed ? undefined : this.queue.shift();
    if (next) this.connect().then(next.resolve, next.reject);
    const exchange = this.detach(conn);
    if (!exchange) return;
    if (exchange.body.kind === "close" && exchange.headers) {
      exchange.stream?.close();
    } else if (conn.reused && !exchange.started) {
      exchange.reject(new RetryableClose("the upstream closed a kept-alive connection"));
    } else {
      failExchange(exchange, new Http1Error("the upstream closed the connection before the answer was complete"));
    }
  }

  /** Closes every socket; answers still coming fail. */
  close(): void {
    this.closed = true;
    for (const waiting of this.queue.splice(0)) waiting.reject(new Http1Error("the upstream connection pool is closed"));
    for (const conn of [...this.open]) this.fail(conn, new Http1Error("the upstream connection pool is closed"));
    this.idle.length = 0;
  }
}

class RetryableClose extends Http1Error {}

/** Fails an exchange: its streaming body errors, or its request rejects. */
function failExchange(exchange: Exchange, err: Error): void {
  if (exchange.stream) exchange.stream.error(err);
  else exchange.reject(err);
}
