// Upstream connections reach only addresses the address rules allow (SSRF): a name is resolved and
// every address it resolves to is checked; the HTTP/1.1 client connects to the checked address itself,
// so a DNS answer that changes between check and connect is not used; fetch is checked before every
// request and every redirect hop.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { AddressRules } from "../../domain/connections/addresses.ts";

/** The refusal of an address by the policy: what the caller, the status and the log show. */
export class AddressDeniedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AddressDeniedError";
  }
}

/** The address rules, applied to what names resolve to and to every request fetch makes. */
export class AddressPolicy extends AddressRules {
  /**
   * Resolves `hostname` and checks every address it resolves to (one denied address refuses the host:
   * which one a client would pick is not ours to predict). Returns the address to connect to.
   */
  async resolve(hostname: string): Promise<string> {
    const bare = hostname.replace(/^\[|\]$/g, "");
    const addresses = isIP(bare) !== 0 ? [bare] : (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
    if (addresses.length === 0) throw new AddressDeniedError(`${bare} does not resolve to any address`);
    for (const address of addresses) {
      const why = this.refusal(address);
      if (why) throw new AddressDeniedError(address === bare ? why : `${bare} resolves to ${why}`);
    }
    return addresses[0]!;
  }

  /**
   * A fetch that checks the host of every request before sending it and never follows a redirect by
   * itself (the SDK's fetchWithinOrigin follows them hop by hop through this fetch, so each hop is
   * checked). fetch then resolves the name again itself (https needs the name for TLS; a proxy
   * resolves it on its side), so an answer that changes between this check and fetch's own lookup
   * is a window left open here; plain-http upstreams avoid it through the pinned pool (http1.ts).
   */
  fetch(base: typeof fetch = fetch): typeof fetch {
    const checked = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      await this.resolve(url.hostname);
      return base(input, { ...init, redirect: init?.redirect === "error" ? "error" : "manual" });
    };
    return checked as typeof fetch;
  }
}

/** The policy with nothing configured: only the built-in deny list. */
export const DEFAULT_ADDRESS_POLICY = new AddressPolicy();
