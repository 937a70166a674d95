// Which addresses a client ID metadata document may be fetched from: public unicast only. The
// gateway's rules (src/domain/connections/addresses.ts) deny what no request should reach (metadata,
// link-local, multicast); on top of them a client's metadata host is never loopback, private, shared
// or reserved, since any client on the internet picks the URL we fetch (SSRF). Pure.
import { isIP } from "node:net";
import { AddressRules } from "../../domain/connections/addresses.ts";

/**
 * Ranges the gateway leaves reachable (self-hosters run upstreams there) that a metadata host is never
 * in. Each is an allow-only rule set, so `refusal` is null exactly for an address inside the range (an
 * IPv6 form of an IPv4 address included) and not on the built-in deny list.
 */
const NOT_PUBLIC: readonly { what: string; rules: AddressRules }[] = [
  { what: "a loopback address", blocks: ["127.0.0.0/8", "::1/128"] },
  { what: "a private address", blocks: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] },
  { what: "a shared (carrier-grade NAT) address", blocks: ["100.64.0.0/10"] },
  // IANA special-purpose ranges that are not globally reachable (RFC 6890 and successors).
  { what: "a reserved address (documentation, benchmarking or protocol use)", blocks: ["192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20", "100::/64"] },
  // 6to4, Teredo and local-use NAT64 reach IPv4 hosts in ways the IPv4 checks cannot see.
  { what: "a tunnel or local translation address", blocks: ["2002::/16", "2001::/32", "64:ff9b:1::/48"] },
].map(({ what, blocks }) => ({ what, rules: new AddressRules({ upstream_deny: [], upstream_allow: blocks }) }));

const LOOPBACK = NOT_PUBLIC[0]!;

/** The built-in deny list alone. */
const BUILTIN = new AddressRules();

/** Global unicast: all of IPv4 that is left, IPv6's 2000::/3, and NAT64 of a public IPv4 address. */
const GLOBAL_UNICAST = new AddressRules({ upstream_deny: [], upstream_allow: ["0.0.0.0/0", "2000::/3", "64:ff9b::/96"] });

/**
 * Why a metadata host may not be reached at `address` (an IP literal), phrased to follow "resolves to
 * …", or null when the address is public. `allowLoopback` is for tests that serve documents on
 * 127.0.0.1; no setting reaches it.
 */
export function publicAddressProblem(address: string, options: { allowLoopback?: boolean } = {}): string | null {
  const bare = address.replace(/^\[|\]$/g, "").split("%")[0]!;
  if (isIP(bare) === 0) return `${bare}, which is not an IP address`;
  if (BUILTIN.refusal(bare) !== null) return `${bare}, an address Switchboard never connects to (link-local, cloud metadata, multicast, reserved or unspecified)`;
  for (const range of NOT_PUBLIC) {
    if (range === LOOPBACK && options.allowLoopback) continue;
    if (range.rules.refusal(bare) === null) return `${bare}, ${range.what}`;
  }
  if (options.allowLoopback && LOOPBACK.rules.refusal(bare) === null) return null;
  if (GLOBAL_UNICAST.refusal(bare) !== null) return `${bare}, not a public unicast address`;
  return null;
}
