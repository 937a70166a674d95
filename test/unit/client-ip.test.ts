// Which address is the client: the socket's peer unless a trusted reverse proxy forwarded the request,
// and server.trusted_proxies as the config accepts it.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { problemsOf } from "../support/errors.ts";
import { clientAddress } from "../../src/http/client-ip.ts";

describe("clientAddress", () => {
  const trusted = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"];

  test("without trusted proxies, X-Forwarded-For is ignored", () => {
    expect(clientAddress("203.0.113.9", "198.51.100.1", [])).toBe("203.0.113.9");
  });

  test("a peer that is not a trusted proxy is the client, whatever it claims", () => {
    expect(clientAddress("203.0.113.9", "198.51.100.1", trusted)).toBe("203.0.113.9");
  });

  test("from a trusted proxy, the nearest untrusted hop is the client (spoofed hops further out are ignored)", () => {
    expect(clientAddress("127.0.0.1", "198.51.100.1", trusted)).toBe("198.51.100.1");
    expect(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", trusted)).toBe("198.51.100.1");
    expect(clientAddress("::ffff:10.0.0.5", "2001:db8::7", trusted)).toBe("2001:db8::7");
    expect(clientAddress("fd12::1", "198.51.100.1", trusted)).toBe("198.51.100.1");
  });

  test("every hop trusted: the furthest one; a malformed hop ends the walk at the last good one", () => {
    expect(clientAddress("127.0.0.1", "10.0.0.1, 10.0.0.2", trusted)).toBe("10.0.0.1");
    expect(clientAddress("127.0.0.1", "198.51.100.1, not-an-ip", trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "", trusted)).toBe("127.0.0.1");
  });

  test("no header, or no peer", () => {
    expect(clientAddress("127.0.0.1", null, trusted)).toBe("127.0.0.1");
    expect(clientAddress(null, "198.51.100.1", trusted)).toBe("unknown");
  });
});

const parse = (raw: unknown) => parseConfig(raw, { source: null, env: {}, baseDir: "/tmp" });

describe("server.trusted_proxies in the config", () => {
  test("addresses and CIDR blocks of both families are accepted; the default is none", () => {
    expect(parse({}).server.trusted_proxies).toEqual([]);
    const list = ["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "192.168.1.0/24"];
    expect(parse({ server: { trusted_proxies: list } }).server.trusted_proxies).toEqual(list);
  });

  test("anything else fails with the key path and what was expected", () => {
    for (const bad of ["localhost", "10.0.0.0/33", "fd00::/129", "10.0.0.1/8/1", "10.0.0.0/x"]) {
      const problems = problemsOf(() => parse({ server: { trusted_proxies: [bad] } }));
      expect(problems.join("\n")).toContain(`server.trusted_proxies[0]: expected an IP address or a CIDR block such as "10.0.0.0/8", got ${JSON.stringify(bad)}`);
    }
  });
});
