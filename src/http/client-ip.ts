// The client's IP address: the socket's peer, or, when that peer is a trusted reverse proxy
// (server.trusted_proxies), the nearest address in X-Forwarded-For that is not itself a trusted proxy.
// Nobody else's X-Forwarded-For is believed: any client can send one.
import { BlockList, isIP } from "node:net";
import type { Context } from "hono";
import type { Face } from "../domain/monitoring/types.ts";
import type { Origin } from "../operations/registry.ts";
import type { AppEnv } from "./context.ts";

const lists = new WeakMap<readonly string[], BlockList>();

/** The trusted proxies as a BlockList (built once per configured list). */
function trustedList(trusted: readonly string[]): BlockList {
  let list = lists.get(trusted);
  if (!list) {
    list = new BlockList();
    for (const entry of trusted) {
      const [address, prefix] = entry.split("/") as [string, string | undefined];
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
    lists.set(trusted, list);
  }
  return list;
}

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * The client's address given the socket's peer, the X-Forwarded-For header and the trusted proxies.
 * Walks X-Forwarded-For from the nearest hop outwards, past trusted proxies; a malformed entry ends
 * the walk (what lies beyond it cannot be believed), and then the last trusted hop is the answer.
 */
export function clientAddress(peer: string | null, forwardedFor: string | null, trusted: readonly string[]): string {
  if (peer === null) return "unknown";
  if (trusted.length === 0 || forwardedFor === null) return peer;
  const list = trustedList(trusted);
  if (!isTrusted(list, peer)) return peer;
  let client = peer;
  const hops = forwardedFor.split(",").map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) break;
    client = hop;
    if (!isTrusted(list, hop)) break;
  }
  return client;
}

export function clientIp(c: Context<AppEnv>, trusted: readonly string[]): string {
  return clientAddress(c.env?.requestIP?.(c.req.raw)?.address ?? null, c.req.header("x-forwarded-for") ?? null, trusted);
}

/** Where an operation came from, for its usage and audit rows: the face and the client's address (null if unknown). */
export function requestOrigin(c: Context<AppEnv>, trusted: readonly string[], face: Face): Origin {
  const address = clientIp(c, trusted);
  return { face, address: address === "unknown" ? null : address };
}
