// The upstream address policy (gateway.upstream_deny / upstream_allow): CIDR matching, IPv6 forms of
// IPv4 addresses, the built-in deny list, hop-by-hop checks of fetch, and the config and check-config.
// Pure: no packet leaves this machine (fetch is a stub; only "localhost" is resolved, from /etc/hosts).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchWithinOrigin } from "@modelcontextprotocol/sdk/shared/transport.js";
import { runCli } from "../../src/cli/main.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BUILTIN_DENY, embeddedIpv4 } from "../../src/domain/connections/addresses.ts";
import { AddressDeniedError, AddressPolicy, DEFAULT_ADDRESS_POLICY } from "../../src/gateway/upstream/address-policy.ts";
import { problemsOf, rejectionOf } from "../support/errors.ts";
import { useTempDirs } from "../support/temp-dir.ts";

const policy = (deny: string[] = [], allow: string[] = []) => new AddressPolicy({ upstream_deny: deny, upstream_allow: allow });

describe("the built-in deny list", () => {
  test("names the cloud metadata addresses", () => {
    const blocks = BUILTIN_DENY.map((b) => b.block);
    for (const block of ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8", "::/128", "224.0.0.0/4", "ff00::/8"]) expect(blocks).toContain(block);
  });

  test("denies metadata, link-local and nonsense addresses with nothing configured", () => {
    for (const address of ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192", "168.63.129.16", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1"]) {
      expect(DEFAULT_ADDRESS_POLICY.refusal(address)).toContain("is denied by gateway.upstream_deny (built in:");
    }
  });

  test("leaves loopback and private ranges (and the rest of 100.64.0.0/10, Tailscale's) allowed", () => {
    for (const address of ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "fd12::1", "100.100.100.100", "93.184.216.34", "2001:db8::1"]) {
      expect(DEFAULT_ADDRESS_POLICY.refusal(address)).toBeNull();
    }
  });
});

describe("matching", () => {
  test("CIDR blocks and single addresses, IPv4 and IPv6", () => {
    const p = policy(["10.0.0.0/8", "192.168.1.7", "fc00::/7"]);
    expect(p.refusal("10.255.0.1")).toBe("10.255.0.1 is denied by gateway.upstream_deny");
    expect(p.refusal("11.0.0.1")).toBeNull();
    expect(p.refusal("192.168.1.7")).not.toBeNull();
    expect(p.refusal("192.168.1.8")).toBeNull();
    expect(p.refusal("fd00::5")).not.toBeNull();
    expect(p.refusal("fe00::5")).toBeNull(); // outside fc00::/7 and fe80::/10
  });

  test("prefix boundaries inside a byte, /0, and families kept apart", () => {
    const nine = policy(["10.128.0.0/9"]);
    expect(nine.refusal("10.127.255.255")).toBeNull();
    expect(nine.refusal("10.128.0.0")).not.toBeNull();
    expect(nine.refusal("10.255.255.255")).not.toBeNull();
    const allV6 = policy(["::/0"]);
    expect(allV6.refusal("2001:db8::1")).not.toBeNull();
    expect(allV6.refusal("8.8.8.8")).toBeNull();
    expect(policy(["0.0.0.0/0"]).refusal("2001:db8::1")).toBeNull();
    expect(policy(["0.0.0.0/0"]).refusal("93.184.216.34")).not.toBeNull();
    expect(() => policy(["10.0.0.0/33"])).toThrow("prefix out of range");
  });

  test("IPv6 forms of an IPv4 address are that address: mapped, compatible, NAT64", () => {
    expect(embeddedIpv4("::ffff:169.254.169.254")).toBe("169.254.169.254");
    expect(embeddedIpv4("::ffff:a9fe:a9fe")).toBe("169.254.169.254");
    expect(embeddedIpv4("64:ff9b::a9fe:a9fe")).toBe("169.254.169.254");
    expect(embeddedIpv4("::a9fe:a9fe")).toBe("169.254.169.254");
    expect(embeddedIpv4("::1")).toBeNull();
    expect(embeddedIpv4("2001:db8::a9fe:a9fe")).toBeNull();
    for (const form of ["::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "64:ff9b::169.254.169.254", "[::ffff:169.254.169.254]"]) {
      expect(DEFAULT_ADDRESS_POLICY.refusal(form)).toContain("built in: link-local");
    }
    expect(policy(["127.0.0.0/8"]).refusal("::ffff:127.0.0.1")).toContain("is denied by gateway.upstream_deny");
  });

  test("allow, when not empty, is the only space permitted; deny still wins", () => {
    const p = policy(["127.0.0.3/32"], ["127.0.0.2/32", "127.0.0.3/32", "169.254.0.0/16"]);
    expect(p.refusal("127.0.0.2")).toBeNull();
    expect(p.refusal("127.0.0.1")).toBe("127.0.0.1 is outside gateway.upstream_allow");
    expect(p.refusal("::ffff:127.0.0.2")).toBeNull();
    expect(p.refusal("127.0.0.3")).toBe("127.0.0.3 is denied by gateway.upstream_deny");
    expect(p.refusal("169.254.169.254")).toContain("built in");
  });

  test("a URL is refused at once only when its host is a denied IP literal", () => {
    expect(DEFAULT_ADDRESS_POLICY.literalRefusal("http://169.254.169.254/latest/meta-data")).toContain("169.254.169.254 is denied");
    expect(DEFAULT_ADDRESS_POLICY.literalRefusal("http://[fd00:ec2::254]/")).toContain("fd00:ec2::254 is denied");
    expect(DEFAULT_ADDRESS_POLICY.literalRefusal("http://0x7f.1/")).toBeNull(); // 127.0.0.1, allowed by default
    expect(policy(["127.0.0.0/8"]).literalRefusal("http://0x7f.1/")).toContain("127.0.0.1 is denied"); // the URL parser's canonical form
    expect(DEFAULT_ADDRESS_POLICY.literalRefusal("http://metadata.google.internal/")).toBeNull(); // a name: checked when resolved
  });
});

describe("resolving", () => {
  test("every address a name resolves to is checked: localhost under a loopback deny", async () => {
    const err = await rejectionOf(policy(["127.0.0.0/8", "::1/128"]).resolve("localhost"));
    expect(err).toBeInstanceOf(AddressDeniedError);
    expect((err as Error).message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1) is denied by gateway\.upstream_deny$/);
    expect(await policy().resolve("localhost")).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(await policy().resolve("[::1]")).toBe("::1");
  });

  test("the checked fetch never reaches a denied host, and follows no redirect by itself", async () => {
    const seen: { url: string; redirect: RequestRedirect | undefined }[] = [];
    const stub = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), redirect: init?.redirect });
      return new Response("ok");
    }) as typeof fetch;
    const checked = DEFAULT_ADDRESS_POLICY.fetch(stub);
    const err = await rejectionOf(checked("http://169.254.169.254/latest/meta-data/"));
    expect((err as Error).message).toContain("169.254.169.254 is denied");
    expect(seen).toEqual([]);
    await checked("http://127.0.0.1:1/mcp");
    await checked("http://127.0.0.1:1/mcp", { redirect: "follow" });
    expect(seen.map((s) => s.redirect)).toEqual(["manual", "manual"]);
  });

  test("each redirect hop is checked again: a name that rebinds to a denied address between hops is refused", async () => {
    // The first check passes; by the second, the name "resolves" to metadata (a rebinding DNS server).
    class Rebinding extends AddressPolicy {
      checks = 0;
      override async resolve(hostname: string): Promise<string> {
        this.checks++;
        if (this.checks > 1) throw new AddressDeniedError(`${hostname} resolves to ${this.refusal("169.254.169.254")}`);
        return "127.0.0.1";
      }
    }
    const rebinding = new Rebinding();
    const sent: string[] = [];
    const stub = (async (input: string | URL | Request) => {
      sent.push(String(input));
      return new Response(null, { status: 307, headers: { location: "/moved" } });
    }) as typeof fetch;
    const err = await rejectionOf(fetchWithinOrigin(rebinding.fetch(stub))("http://upstream.test/mcp", { method: "POST", body: "{}" }));
    expect((err as Error).message).toContain("upstream.test resolves to 169.254.169.254 is denied");
    expect(rebinding.checks).toBe(2);
    expect(sent).toEqual(["http://upstream.test/mcp"]);
  });
});

describe("gateway.upstream_deny and upstream_allow in the config", () => {
  const parse = (raw: unknown) => parseConfig(raw, { source: "t.toml", env: {}, baseDir: "/etc/sb" });
  const tempDir = useTempDirs("switchboard-address-");

  test("default empty; CIDR lists accepted", () => {
    expect(parse({}).gateway).toMatchObject({ upstream_deny: [], upstream_allow: [] });
    expect(parse({ gateway: { upstream_deny: ["127.0.0.0/8", "::1"], upstream_allow: ["10.0.0.0/8"] } }).gateway).toMatchObject({ upstream_deny: ["127.0.0.0/8", "::1"], upstream_allow: ["10.0.0.0/8"] });
  });

  test("a malformed CIDR is refused with its key path", () => {
    for (const [key, bad] of [["upstream_deny", "10.0.0.0/33"], ["upstream_allow", "not-an-ip"], ["upstream_deny", "fe80::/129"]] as const) {
      const problems = problemsOf(() => parse({ gateway: { [key]: [bad] } }));
      expect(problems.join("\n")).toContain(`gateway.${key}[0]: expected an IP address or a CIDR block`);
    }
  });

  test("a declared connection whose URL is a denied IP literal is refused with its key path", () => {
    const problems = problemsOf(() => parse({ connections: [{ slug: "meta", url: "http://169.254.169.254/mcp" }, { slug: "ok", url: "http://127.0.0.1:9/mcp" }] }));
    expect(problems).toEqual([expect.stringContaining("connections[0].url: 169.254.169.254 is denied by gateway.upstream_deny")]);
    expect(problemsOf(() => parse({ gateway: { upstream_allow: ["10.0.0.0/8"] }, connections: [{ slug: "ok", url: "http://127.0.0.1:9/mcp" }] })).join("\n")).toContain(
      "connections[0].url: 127.0.0.1 is outside gateway.upstream_allow",
    );
  });

  test("check-config exits 2 naming the key", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "switchboard.toml"), '[gateway]\nupstream_deny = ["10.0.0.0/40"]\n');
    let stderr = "";
    const code = await runCli(["check-config"], { stdout: () => {}, stderr: (t) => (stderr += t), readStdin: async () => "", env: {}, cwd });
    expect(code).toBe(2);
    expect(stderr).toContain("gateway.upstream_deny[0]");
  });
});
