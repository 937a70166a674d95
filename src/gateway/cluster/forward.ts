// Replica-to-replica forwarding of MCP requests (issue 15): a request for a session another replica
// holds is sent there, signed with a key derived from the server secret, and its answer streamed back.
import { createHmac, timingSafeEqual } from "node:crypto";

/** Carries the signature of a forwarded request: `v1.<unix ms>.<hex HMAC>`. */
export const FORWARDED_HEADER = "x-switchboard-forwarded";
/** The original client's address, believed only together with a valid signature. */
export const CLIENT_HEADER = "x-switchboard-client";
/** How long a signature is accepted (either side of the owner's clock), so a captured one cannot be replayed later. */
export const FORWARD_VALID_MS = 30_000;

/** Headers that describe one hop's connection, not the request: never copied to the next hop. */
const HOP_HEADERS = new Set(["host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"]);

/** What the signature covers: the time, and what the request asks of which session, for which client. */
function signed(key: Buffer, at: number, method: string, path: string, sessionId: string, client: string): string {
  return createHmac("sha256", key).update(`${at}\n${method}\n${path}\n${sessionId}\n${client}`).digest("hex");
}

/** The result of checking a request's X-Switchboard-Forwarded: absent, valid (with the client's address), or forged. */
export type ForwardCheck = { kind: "none" } | { kind: "valid"; client: string | null } | { kind: "forged" };

/**
 * Checks the forwarding signature of a request that arrived here. Valid only if made with this
 * cluster's key, within FORWARD_VALID_MS of `now`, over this very method, path and session id.
 */
export function checkForwarded(request: Request, key: Buffer, now = Date.now()): ForwardCheck {
  const header = request.headers.get(FORWARDED_HEADER);
  if (header === null) return { kind: "none" };
  const match = /^v1\.(\d{1,16})\.([0-9a-f]{64})$/.exec(header);
  const sessionId = request.headers.get("mcp-session-id");
  if (!match || !sessionId) return { kind: "forged" };
  const at = Number(match[1]);
  if (Math.abs(now - at) > FORWARD_VALID_MS) return { kind: "forged" };
  const client = request.headers.get(CLIENT_HEADER) ?? "";
  const expected = Buffer.from(signed(key, at, request.method, new URL(request.url).pathname, sessionId, client), "hex");
  const given = Buffer.from(match[2]!, "hex");
  if (!timingSafeEqual(expected, given)) return { kind: "forged" };
  return { kind: "valid", client: client === "" ? null : client };
}

/**
 * Sends `request` to the same path on the replica at `ownerUrl` and returns its answer as it streams
 * (SSE included). The client's disconnect aborts the hop: the request's signal is the fetch's.
 */
export async function forwardRequest(request: Request, options: { ownerUrl: string; sessionId: string; client: string | null; key: Buffer; now?: number }): Promise<Response> {
  const incoming = new URL(request.url);
  const target = new URL(incoming.pathname + incoming.search, options.ownerUrl);
  const headers = new Headers();
  request.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name) && name !== FORWARDED_HEADER && name !== CLIENT_HEADER) headers.set(name, value);
  });
  const at = options.now ?? Date.now();
  const client = options.client ?? "";
  headers.set(FORWARDED_HEADER, `v1.${at}.${signed(options.key, at, request.method, incoming.pathname, options.sessionId, client)}`);
  if (client !== "") headers.set(CLIENT_HEADER, client);
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  const answer = await fetch(target, {
    method: request.method,
    headers,
    body: hasBody ? request.body : undefined,
    // A streamed request body (the client's POST) is sent as it arrives.
    ...(hasBody ? { duplex: "half" } : {}),
    signal: request.signal,
    redirect: "manual",
    // The answer is passed on as it came: no decompression on the way (Bun's fetch would otherwise).
    decompress: false,
  } as RequestInit);
  const out = new Headers();
  answer.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name)) out.set(name, value);
  });
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out });
}
