// A load balancer for tests and benchmarks: a tiny HTTP proxy on 127.0.0.1 that sends each request to
// the next live backend in turn (or, sticky, to the backend that answered the session's initialize), streaming bodies both ways
// (SSE included), counting requests per backend. Run as a script, it serves until killed:
// `bun test/support/round-robin.ts [--sticky] URL…` prints "listening on http://127.0.0.1:PORT".

/**
 * How a request picks its backend: the next live one in turn, or (sticky) the one that gave out its
 * Mcp-Session-Id, learnt from the response headers as HAProxy's `stick store-response` does; a request
 * with no session, or with one not learnt here, goes round robin.
 */
export type Strategy = "round-robin" | "sticky";

export type RoundRobin = {
  url: string;
  /** Requests sent to each backend, by index. */
  readonly counts: number[];
  /** The backend index each request went to, in order. */
  readonly log: number[];
  /** A backend marked down receives nothing until marked up again. */
  markDown(index: number): void;
  markUp(index: number): void;
  stop(): Promise<void>;
};

/** Hop-by-hop headers, which belong to one connection and are never passed on. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"];

function withoutHopByHop(headers: Headers): Headers {
  const out = new Headers(headers);
  for (const name of HOP_BY_HOP) out.delete(name);
  return out;
}

/** Starts the proxy in front of `backends` (base URLs such as "http://127.0.0.1:8080"). */
export function startRoundRobin(backends: string[], options: { strategy?: Strategy; port?: number } = {}): RoundRobin {
  if (backends.length === 0) throw new Error("a proxy needs at least one backend");
  const strategy = options.strategy ?? "round-robin";
  const down = new Set<number>();
  const counts = backends.map(() => 0);
  const log: number[] = [];
  let next = 0;
  /** Sticky: the backend each session id came from. */
  const owners = new Map<string, number>();

  const pick = (request: Request): number | null => {
    const live = backends.map((_, i) => i).filter((i) => !down.has(i));
    if (live.length === 0) return null;
    const owner = strategy === "sticky" ? owners.get(request.headers.get("mcp-session-id") ?? "") : undefined;
    if (owner !== undefined && !down.has(owner)) return owner;
    const index = live[next % live.length]!;
    next++;
    return index;
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    // An SSE stream may be quiet for long: the proxy never cuts a connection for idleness.
    idleTimeout: 0,
    async fetch(request) {
      const index = pick(request);
      if (index === null) return new Response("no backend is up", { status: 503 });
      counts[index]!++;
      log.push(index);
      const url = new URL(request.url);
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      try {
        const answer = await fetch(`${backends[index]}${url.pathname}${url.search}`, {
          method: request.method,
          headers: withoutHopByHop(request.headers),
          body: hasBody ? request.body : undefined,
          redirect: "manual",
          // The client going away ends the request to the backend too (an SSE stream, above all).
          signal: request.signal,
          // The response body is streamed as it comes, never read whole here.
          decompress: false,
        } as RequestInit);
        if (strategy === "sticky") {
          const session = answer.headers.get("mcp-session-id");
          if (session && request.method !== "DELETE") owners.set(session, index);
          else if (request.method === "DELETE") owners.delete(request.headers.get("mcp-session-id") ?? "");
        }
        return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: withoutHopByHop(answer.headers) });
      } catch (err) {
        if (request.signal.aborted) throw err;
        return new Response(`backend ${index} unreachable: ${(err as Error).message}`, { status: 502 });
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    counts,
    log,
    markDown: (index) => void down.add(index),
    markUp: (index) => void down.delete(index),
    stop: () => server.stop(true),
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const sticky = args.includes("--sticky");
  const proxy = startRoundRobin(
    args.filter((a) => !a.startsWith("--")),
    { strategy: sticky ? "sticky" : "round-robin" },
  );
  console.log(`listening on ${proxy.url}`);
}
