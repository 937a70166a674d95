// The transport of one upstream client: a child process for stdio, the SDK's Streamable HTTP or legacy
// SSE client transport for http and sse, each request checked by the address policy, capped in size and,
// for an OAuth connection, carrying the Authorization of that moment.
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ConnectionSpec } from "../../domain/connections/spec.ts";
import type { AddressPolicy } from "./address-policy.ts";
import { sendAuthorized } from "./http-exchange.ts";
import { cappedFetch, DEFAULT_MAX_RESPONSE_BYTES } from "./response-limit.ts";
import { type LineRing, StdioProcessTransport } from "./stdio-process.ts";
import { watchEnd } from "./stream-end.ts";

/** gateway.max_response_size for this connection: one answer, one event, one stdio line. */
export function maxResponseBytes(spec: ConnectionSpec): number {
  return spec.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
}

/**
 * What every request to an HTTP upstream carries: the connection's headers and its bearer token. An
 * OAuth connection's Authorization is the token of the request's subject, set per request (authorizedFetch).
 */
export function upstreamHeaders(spec: ConnectionSpec): Record<string, string> {
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.oauth) {
    for (const name of Object.keys(headers)) if (name.toLowerCase() === "authorization") delete headers[name];
    return headers;
  }
  if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
  return headers;
}

/**
 * A fetch whose every request carries the Authorization `authorization` gives at that moment, and is
 * sent once more with a fresh value when the upstream answers 401 (whatever that gets is the answer).
 */
export function authorizedFetch(inner: typeof fetch, value: (rejected?: string) => Promise<string>): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const headers = new Headers(init?.headers);
    return sendAuthorized(value, (authorization) => {
      headers.set("authorization", authorization);
      return inner(input, { ...init, headers });
    });
  }) as typeof fetch;
}

/**
 * Whether a Streamable HTTP upstream session keeps its GET stream (what the server sends outside any
 * request) open. An upstream session serving one client mirrors that client: it listens only while the
 * client does, so an idle session costs the upstream no open stream (and the gateway no socket).
 */
export class StreamSwitch {
  private controller: AbortController | null = null;
  constructor(public wanted: boolean) {}

  /** The fetch the SDK's transport uses: a GET while nobody listens is answered 405 (the SDK then opens none). */
  wrap(inner: typeof fetch): typeof fetch {
    return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      if ((init?.method ?? "GET").toUpperCase() !== "GET") return inner(input, init);
      if (!this.wanted) return new Response(null, { status: 405 });
      const controller = new AbortController();
      this.controller = controller;
      const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
      return inner(input, { ...init, signal });
    }) as typeof fetch;
  }

  /** Stops listening: the open GET (if any) is ended, and reconnections are refused until wanted again. */
  stop(): void {
    this.wanted = false;
    this.controller?.abort();
    this.controller = null;
  }
}

/**
 * The transport for `spec`. `onStreamTooLarge` hears of a legacy-SSE stream cut for an event over the
 * limit: the responses it would have carried are lost with it.
 */
export function createTransport(
  spec: ConnectionSpec,
  stderr: LineRing,
  policy: AddressPolicy,
  events: { onStreamTooLarge: () => void; onStreamLost: () => void; stream: StreamSwitch; authorization?: (inner: typeof fetch) => typeof fetch },
): Transport {
  if (spec.transport === "stdio") {
    return new StdioProcessTransport({ command: spec.command!, args: spec.args, cwd: spec.cwd, env: spec.env, stderr, maxMessageBytes: maxResponseBytes(spec) });
  }
  const headers = upstreamHeaders(spec);
  const url = new URL(spec.url!);
  // Every request the SDK makes (initialize, the GET stream, each redirect hop) has its host checked
  // first, and what its transports read themselves is capped: per event on a stream, whole otherwise.
  const checked = policy.fetch();
  const authorize = events.authorization ?? ((inner: typeof fetch) => inner);
  const capped = authorize(cappedFetch(maxResponseBytes(spec), { inner: checked }));
  if (spec.transport === "sse") {
    const stream = authorize(cappedFetch(maxResponseBytes(spec), { inner: checked, onExceeded: events.onStreamTooLarge }));
    let opened = false;
    return new SSEClientTransport(url, {
      requestInit: { headers },
      fetch: capped,
      // The SSE GET is made by EventSource-like code that takes headers separately. When the stream
      // drops (idle cut, upstream restart) the upstream session is gone with it: reconnecting would get
      // a new upstream session that nobody initialised, so the upstream is given up as soon as the
      // stream ends (requests waiting on it fail at once instead of after EventSource's reconnection
      // delay; an upstream that never answers a POST for a session it forgot would hold them till then),
      // a second GET is refused, and the next call connects (and initialises) afresh.
      eventSourceInit: {
        fetch: async (input, init) => {
          if (opened) {
            events.onStreamLost();
            return new Response(null, { status: 204 });
          }
          opened = true;
          const response = await stream(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } });
          // Ended by our own close (EventSource aborts its fetch): not a loss.
          return watchEnd(response, () => {
            if (!init?.signal?.aborted) events.onStreamLost();
          });
        },
      },
    });
  }
  return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: events.stream.wrap(capped) });
}
