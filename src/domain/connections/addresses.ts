// Which network addresses upstream connections may reach (gateway.upstream_deny / upstream_allow), as
// rules on IP addresses: the built-in deny list (link-local, cloud metadata, non-destinations), the
// configured CIDR blocks, and IPv6 forms of IPv4 addresses. Pure: the gateway resolves names and
// applies these rules to every address (src/gateway/upstream/address-policy.ts).
import { isIP } from "node:net";

/** A named block of the built-in deny list. */
type Builtin = { block: string; why: string };

/**
 * Always denied, whatever the config says (deny wins over allow). Loopback and private ranges are
 * not here: self-hosters run local MCP servers; gateway.upstream_deny denies those.
 */
export const BUILTIN_DENY: readonly Builtin[] = [
  { block: "0.0.0.0/8", why: '"this network", not a destination' },
  { block: "169.254.0.0/16", why: "link-local (cloud metadata: AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle at 169.254.169.254; AWS ECS at 169.254.170.2)" },
  { block: "100.100.100.200/32", why: "Alibaba Cloud metadata" },
  { block: "192.0.0.192/32", why: "Oracle Cloud Classic metadata" },
  { block: "168.63.129.16/32", why: "Azure WireServer (host agent)" },
  { block: "224.0.0.0/4", why: "multicast" },
  { block: "240.0.0.0/4", why: "reserved and broadcast (255.255.255.255)" },
  { block: "::/128", why: "the unspecified address" },
  { block: "fe80::/10", why: "link-local" },
  { block: "fd00:ec2::254/128", why: "AWS metadata over IPv6" },
  { block: "ff00::/8", why: "multicast" },
];

/** The 8 groups of an IPv6 address (no zone), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  // A trailing dotted quad is the last two groups.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const [head, rest] = text.split("::") as [string, string | undefined];
  const front = parse(head);
  if (rest === undefined) return front.length === 8 ? front : null;
  const back = parse(rest);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * The IPv4 address an IPv6 one carries, when reaching it reaches that IPv4 host: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d). Else null.
 */
export function embeddedIpv4(address: string): string | null {
  const g = ipv6Groups(address.split("%")[0]!);
  if (!g) return null;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 5) && g[5] === 0xffff;
  const compatible = zeros(0, 6) && (g[6]! !== 0 || g[7]! > 1);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6);
  if (!mapped && !compatible && !nat64) return null;
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".");
}

/**
 * The network one client controls, for counting its requests: an IPv4 address itself (an IPv6 form of
 * one, mapped or NAT64, as that IPv4 address), an IPv6 address's /64 (one subscriber commonly holds a
 * whole /64, so counting per address would give it 2^64 budgets). Anything else is returned as given.
 */
export function subscriberOf(address: string): string {
  const bare = address.split("%")[0]!;
  if (isIP(bare) !== 6) return address;
  const embedded = embeddedIpv4(bare);
  if (embedded) return embedded;
  const g = ipv6Groups(bare);
  return g ? `${g.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64` : address;
}

/** An address as bytes (4 or 16), or null when it is not an IP address. */
function bytesOf(address: string): Uint8Array | null {
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split(".").map(Number));
  const groups = family === 6 ? ipv6Groups(address) : null;
  return groups ? Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff])) : null;
}

/** A CIDR block (or a single address) as bytes and a prefix length. */
type Block = { bytes: Uint8Array; prefix: number };

function blockOf(entry: string): Block {
  const [address, prefix] = entry.split("/") as [string, string | undefined];
  const bytes = bytesOf(address);
  if (!bytes) throw new Error(`not an IP address or CIDR block: ${JSON.stringify(entry)}`);
  const bits = prefix === undefined ? bytes.length * 8 : Number(prefix);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) throw new Error(`prefix out of range: ${JSON.stringify(entry)}`);
  return { bytes, prefix: bits };
}

function inBlock(bytes: Uint8Array, block: Block): boolean {
  if (bytes.length !== block.bytes.length) return false;
  const whole = block.prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== block.bytes[i]) return false;
  const rest = block.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (block.bytes[whole]! & mask);
}

export type AddressPolicySettings = { upstream_deny: readonly string[]; upstream_allow: readonly string[] };

/** The address rules: the built-in deny list, gateway.upstream_deny, and gateway.upstream_allow when not empty. */
/** The built-in list, parsed once (every AddressRules shares it). */
const BUILTIN = BUILTIN_DENY.map((b) => ({ ...b, parsed: blockOf(b.block) }));

export class AddressRules {
  private readonly builtin = BUILTIN;
  private readonly deny: Block[];
  private readonly allow: Block[] | null;

  /** Throws on a malformed entry (the config schema refuses those first). */
  constructor(settings: AddressPolicySettings = { upstream_deny: [], upstream_allow: [] }) {
    this.deny = settings.upstream_deny.map(blockOf);
    this.allow = settings.upstream_allow.length > 0 ? settings.upstream_allow.map(blockOf) : null;
  }

  /** Why `address` (an IP literal) may not be reached, or null when it may. */
  refusal(address: string): string | null {
    const bare = address.replace(/^\[|\]$/g, "").split("%")[0]!;
    const bytes = bytesOf(bare);
    if (!bytes) return `${JSON.stringify(address)} is not an IP address`;
    // An IPv6 form of an IPv4 address reaches that IPv4 host: both forms are checked.
    const forms = [bytes];
    const inner = bytes.length === 16 ? embeddedIpv4(bare) : null;
    if (inner) forms.push(bytesOf(inner)!);
    for (const form of forms) {
      const hit = this.builtin.find((b) => inBlock(form, b.parsed));
      if (hit) return `${bare} is denied by gateway.upstream_deny (built in: ${hit.why})`;
      if (this.deny.some((b) => inBlock(form, b))) return `${bare} is denied by gateway.upstream_deny`;
    }
    if (this.allow && !forms.some((form) => this.allow!.some((b) => inBlock(form, b)))) return `${bare} is outside gateway.upstream_allow`;
    return null;
  }

  /** Why the URL's host may not be reached when it is an IP literal; null for hostnames (checked at connect time) and allowed IPs. */
  literalRefusal(url: string): string | null {
    let hostname: string;
    try {
      hostname = new URL(url).hostname.replace(/^\[|\]$/g, "");
    } catch {
      return null;
    }
    return isIP(hostname) === 0 ? null : this.refusal(hostname);
  }
}
