// Fetching client ID metadata documents: which client_ids name one, which addresses a metadata host may
// resolve to, the pinned https GET (SNI and certificate on the name, socket on the checked address),
// and the fetcher against a fixture on 127.0.0.1 (good, mismatched, oversized, slow, redirecting,
// non-JSON, 404, no-store). Hostile DNS answers are injected: no packet leaves loopback.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { gzipSync } from "node:zlib";
import { cacheLifetime, checkClientMetadataDocument, DEFAULT_CACHE_MS, MAX_CACHE_MS, shown } from "../../src/http/oauth/client-metadata-document.ts";
import { clientMetadataUrlProblem, createClientMetadataFetcher, type ClientMetadataResult } from "../../src/http/oauth/client-metadata.ts";
import { pinnedGet } from "../../src/http/oauth/pinned-get.ts";
import { publicAddressProblem } from "../../src/http/oauth/public-address.ts";
import { rejectionOf } from "../support/errors.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TLS_DIR = join(import.meta.dir, "../fixtures/tls");
const pem = (name: string): string => readFileSync(join(TLS_DIR, name), "utf8");

/**
 * The reason of a refusal; fails the test when the fetch succeeded. Every reason may be sent as an
 * OAuth error_description as it is (RFC 6749 §5.2: printable ASCII without `"` and `\`).
 */
function reasonOf(result: ClientMetadataResult): string {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  expect(result.reason).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
  return result.reason;
}

describe("which client_ids name a metadata document", () => {
  test("https URLs with a path, as real clients use them", () => {
    for (const id of ["https://claude.ai/oauth/mcp-oauth-client-metadata", "https://vscode.dev/oauth/client-metadata.json", "https://a.example:8443/x", "https://a.example/x?v=1"]) {
      expect(clientMetadataUrlProblem(id)).toBeNull();
      expect(clientMetadataUrlProblem(id)).toBeNull();
    }
  });

  test("refused: other schemes, no path, fragments, credentials, dot segments, non-canonical forms", () => {
    const cases: [string, string][] = [
      ["sbc_abc123", "is not a URL"],
      ["http://a.example/x", "is not an https URL"],
      ["ftp://a.example/x", "is not an https URL"],
      ["https://a.example", "has no path"],
      ["https://a.example/", "has no path"],
      ["https://a.example/x#frag", "has a fragment"],
      ["https://a.example/x#", "has a fragment"],
      ["https://user:pw@a.example/x", "has a user name or password"],
      ["https://@a.example/x", "has a user name or password"],
      ["https://a.example/a/../x", "has a . or .. path segment"],
      ["https://a.example/./x", "has a . or .. path segment"],
      ["https://a.example/%2e%2E/x", "has a . or .. path segment"],
      ["https://a.example/a\\..\\x", "has a . or .. path segment"],
      ["https://A.example/x", "is not written in its canonical form, https://a.example/x"],
      ["https://a.example:443/x", "is not written in its canonical form"],
      [`https://a.example/${"x".repeat(2048)}`, "is longer than 2048 characters"],
    ];
    for (const [id, problem] of cases) {
      expect(clientMetadataUrlProblem(id)).toContain(problem);
    }
  });

  test("http on loopback only with the test switch, which no setting turns on", () => {
    expect(clientMetadataUrlProblem("http://127.0.0.1:8080/doc", { allowLoopbackHttp: true })).toBeNull();
    expect(clientMetadataUrlProblem("http://localhost:8080/doc", { allowLoopbackHttp: true })).toBeNull();
    expect(clientMetadataUrlProblem("http://10.0.0.1/doc", { allowLoopbackHttp: true })).toContain("is not an https URL");
    expect(clientMetadataUrlProblem("http://127.0.0.1:8080/doc")).not.toBeNull();
  });
});

describe("which addresses a metadata host may resolve to", () => {
  test("public IPv4 and IPv6 addresses, and NAT64 of a public IPv4 address", () => {
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700::6810:84e5", "64:ff9b::808:808", "::ffff:8.8.8.8"]) expect(publicAddressProblem(address)).toBeNull();
  });

  test("refused, each named: loopback, private, CGNAT, link-local, metadata, ULA, multicast, unspecified, reserved", () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "a loopback address"],
      ["::1", "a loopback address"],
      ["10.0.0.3", "a private address"],
      ["172.16.5.4", "a private address"],
      ["172.31.255.255", "a private address"],
      ["192.168.1.1", "a private address"],
      ["fd12:3456::1", "a private address"],
      ["fc00::1", "a private address"],
      ["100.64.0.1", "a shared (carrier-grade NAT) address"],
      ["100.127.255.254", "a shared (carrier-grade NAT) address"],
      ["169.254.169.254", "never connects to"],
      ["fd00:ec2::254", "never connects to"],
      ["100.100.100.200", "never connects to"],
      ["fe80::1", "never connects to"],
      ["224.0.0.1", "never connects to"],
      ["ff02::1", "never connects to"],
      ["0.0.0.0", "never connects to"],
      ["::", "never connects to"],
      ["192.0.2.7", "a reserved address"],
      ["198.18.0.1", "a reserved address"],
      ["2001:db8::1", "a reserved address"],
      ["2002:a00:1::1", "a tunnel or local translation address"],
      ["2001:0:4136:e378::1", "a tunnel or local translation address"],
      ["100::1", "a reserved address"],
      ["4000::1", "not a public unicast address"],
      ["::2", "never connects to"], // IPv4-compatible: 0.0.0.2
      ["not-an-ip", "which is not an IP address"],
    ];
    for (const [address, what] of cases) {
      expect(publicAddressProblem(address)).toStartWith(`${address}, `);
      expect(publicAddressProblem(address)).toContain(what);
    }
  });

  test("IPv6 forms of a private or loopback IPv4 address are refused as that address", () => {
    expect(publicAddressProblem("::ffff:127.0.0.1")).toBe("::ffff:127.0.0.1, a loopback address");
    expect(publicAddressProblem("::ffff:10.0.0.3")).toBe("::ffff:10.0.0.3, a private address");
    expect(publicAddressProblem("::ffff:a9fe:a9fe")).toContain("never connects to");
    expect(publicAddressProblem("64:ff9b::c0a8:101")).toBe("64:ff9b::c0a8:101, a private address");
    expect(publicAddressProblem("[::ffff:192.168.0.1]")).toBe("::ffff:192.168.0.1, a private address");
  });

  test("the loopback switch lets loopback through and nothing else", () => {
    expect(publicAddressProblem("127.0.0.2", { allowLoopback: true })).toBeNull();
    expect(publicAddressProblem("::1", { allowLoopback: true })).toBeNull();
    expect(publicAddressProblem("10.0.0.3", { allowLoopback: true })).toContain("a private address");
    expect(publicAddressProblem("169.254.169.254", { allowLoopback: true })).toContain("never connects to");
  });
});

describe("how long a document is cached", () => {
  test("max-age, no-store and no-cache, clamped to [0, 24 h], 1 h without a header", () => {
    expect(cacheLifetime(undefined)).toBe(DEFAULT_CACHE_MS);
    expect(DEFAULT_CACHE_MS).toBe(3_600_000);
    expect(cacheLifetime("public")).toBe(DEFAULT_CACHE_MS);
    expect(cacheLifetime("max-age=600")).toBe(600_000);
    expect(cacheLifetime("public, MAX-AGE=120")).toBe(120_000);
    expect(cacheLifetime('max-age="60"')).toBe(60_000);
    expect(cacheLifetime("max-age=0")).toBe(0);
    expect(cacheLifetime("max-age=31536000")).toBe(MAX_CACHE_MS);
    expect(MAX_CACHE_MS).toBe(86_400_000);
    expect(cacheLifetime("max-age=99999999999999999999999")).toBe(MAX_CACHE_MS);
    expect(cacheLifetime("no-store")).toBe(0);
    expect(cacheLifetime("max-age=600, no-cache")).toBe(0);
    expect(cacheLifetime("no-cache=set-cookie, max-age=600")).toBe(0);
    expect(cacheLifetime("max-age=-5")).toBe(0);
    expect(cacheLifetime("max-age=soon")).toBe(0);
  });
});

describe("what the document must say", () => {
  const ID = "https://client.example/oauth/metadata.json";
  const noHttp = (uri: string): string | null => (uri.startsWith("http://") ? `redirect URI "${uri}" must be https` : null);
  const check = (doc: unknown) => checkClientMetadataDocument(ID, doc, noHttp);
  const good = { client_id: ID, client_name: "Example", redirect_uris: ["https://client.example/cb"], token_endpoint_auth_method: "none", client_uri: "https://client.example/", logo_uri: "https://client.example/logo.png" };

  test("a good document becomes the client's metadata", () => {
    expect(check(good)).toEqual({ ok: true, metadata: { name: "Example", redirectUris: ["https://client.example/cb"], clientUri: "https://client.example/", logoUri: "https://client.example/logo.png" } });
    expect(check({ client_id: ID, redirect_uris: ["https://client.example/cb"] })).toMatchObject({ ok: true, metadata: { name: "client.example", clientUri: null, logoUri: null } });
  });

  test("client_id must be the URL itself", () => {
    expect(check({ ...good, client_id: "https://claude.ai/oauth/mcp-oauth-client-metadata" })).toEqual({ ok: false, reason: `client_id in the document is https://claude.ai/oauth/mcp-oauth-client-metadata, not ${ID}` });
    expect(check({ ...good, client_id: `${ID}/` })).toMatchObject({ ok: false });
    expect(check({ ...good, client_id: 42 })).toEqual({ ok: false, reason: `client_id in the document is a number, not ${ID}` });
    expect(check({ ...good, client_id: undefined })).toEqual({ ok: false, reason: `the document at ${ID} has no client_id` });
  });

  test("not an object, no redirect URIs, a refused redirect URI", () => {
    for (const doc of [null, [], "x", 3]) expect(check(doc)).toEqual({ ok: false, reason: `the document at ${ID} is not a JSON object` });
    for (const uris of [undefined, [], "https://client.example/cb", [7]]) expect(check({ ...good, redirect_uris: uris })).toEqual({ ok: false, reason: "redirect_uris must be a non-empty array of strings" });
    expect(check({ ...good, redirect_uris: ["https://client.example/cb", "http://evil.example/cb"] })).toEqual({ ok: false, reason: "redirect URI 'http://evil.example/cb' must be https" });
  });

  test("a confidential client is refused: private_key_jwt, client secrets", () => {
    expect(check({ ...good, token_endpoint_auth_method: "private_key_jwt" })).toMatchObject({ ok: false, reason: expect.stringMatching(/^private_key_jwt is not supported/) });
    expect(check({ ...good, token_endpoint_auth_method: "client_secret_basic" })).toMatchObject({ ok: false, reason: expect.stringMatching(/^client_secret_basic is not supported/) });
    expect(check({ ...good, token_endpoint_auth_method: ["none"] })).toMatchObject({ ok: false });
    expect(check({ ...good, client_secret: "s3cret" })).toMatchObject({ ok: false, reason: expect.stringContaining("client_secret") });
  });

  test("unusable display fields are dropped: the name falls back to the host, non-https links go", () => {
    for (const name of ["", "   ", "x".repeat(101), "Claude\nAdmin", "Safe\u202eevil", 5]) expect(check({ ...good, client_name: name })).toMatchObject({ ok: true, metadata: { name: "client.example" } });
    expect(check({ ...good, client_name: "  Padded  " })).toMatchObject({ ok: true, metadata: { name: "Padded" } });
    for (const uri of ["http://client.example/", "javascript:alert(1)", "https://u:p@client.example/", "not a url", 7, `https://client.example/${"x".repeat(2100)}`]) {
      expect(check({ ...good, client_uri: uri, logo_uri: uri })).toMatchObject({ ok: true, metadata: { clientUri: null, logoUri: null } });
    }
  });

  test("outside text in a reason is printable ASCII without quotes or backslashes, and bounded", () => {
    const hostile = `https://x/"\\\r\n\u202e${"a".repeat(500)}`;
    const result = check({ ...good, client_id: hostile });
    expect(result.ok).toBe(false);
    const reason = (result as { reason: string }).reason;
    expect(reason).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
    expect(reason.length).toBeLessThan(400);
    expect(shown("a\"b\\c\nd")).toBe("a'b?c?d");
  });
});

/** A fixture serving documents on 127.0.0.1, as `http://127.0.0.1:<port>/<path>` client_ids. */
function fixture(handler: (path: string, id: string) => Response | Promise<Response>, hostname = "127.0.0.1"): { base: string; hits: () => number } {
  let hits = 0;
  const server = Bun.serve({
    hostname,
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      hits++;
      const url = new URL(req.url);
      return handler(url.pathname, `${url.origin}${url.pathname}`);
    },
  });
  cleanups.push(() => server.stop(true));
  return { base: `http://${hostname}:${server.port}`, hits: () => hits };
}

const doc = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ client_id: id, client_name: "Fixture", redirect_uris: ["http://127.0.0.1/callback", "https://client.example/cb"], ...extra });
const json = (body: unknown, headers: Record<string, string> = {}): Response => new Response(JSON.stringify(body), { headers: { "content-type": "application/json", ...headers } });

describe("fetching documents from a local fixture (through the test switch)", () => {
  const fetcher = (options: { timeoutMs?: number; maxBytes?: number; allowedHosts?: string[] } = {}) =>
    createClientMetadataFetcher({ allowedHosts: options.allowedHosts ?? [], timeoutMs: options.timeoutMs, maxBytes: options.maxBytes, allowLoopbackHttpForTests: true });

  test("a good document: metadata, and the cache lifetime from its Cache-Control", async () => {
    const { base } = fixture((path, id) => (path === "/cached" ? json(doc(id), { "cache-control": "public, max-age=300" }) : json(doc(id), { "content-type": "application/json; charset=utf-8" })));
    expect(await fetcher()(`${base}/cached`)).toEqual({ ok: true, metadata: { name: "Fixture", redirectUris: ["http://127.0.0.1/callback", "https://client.example/cb"], clientUri: null, logoUri: null }, cacheForMs: 300_000 });
    expect(await fetcher()(`${base}/plain`)).toMatchObject({ ok: true, cacheForMs: 3_600_000 });
  });

  test("no-store: fetched every time (cacheForMs 0)", async () => {
    const { base } = fixture((_, id) => json(doc(id), { "cache-control": "no-store" }));
    expect(await fetcher()(`${base}/doc`)).toMatchObject({ ok: true, cacheForMs: 0 });
  });

  test("a document naming another client_id is refused", async () => {
    const { base } = fixture(() => json(doc("https://claude.ai/oauth/mcp-oauth-client-metadata")));
    expect(reasonOf(await fetcher()(`${base}/doc`))).toBe(`client_id in the document is https://claude.ai/oauth/mcp-oauth-client-metadata, not ${base}/doc`);
  });

  test("a redirect URI the registration rule refuses is refused (the domain's rule)", async () => {
    const { base } = fixture((_, id) => json(doc(id, { redirect_uris: ["https://client.example/cb", "javascript:alert(1)"] })));
    expect(reasonOf(await fetcher()(`${base}/doc`))).toBe("redirect URI 'javascript:alert(1)' uses the javascript: scheme, which is never a redirect target");
  });

  test("private_key_jwt is refused", async () => {
    const { base } = fixture((_, id) => json(doc(id, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://client.example/jwks" })));
    expect(reasonOf(await fetcher()(`${base}/doc`))).toStartWith("private_key_jwt is not supported");
  });

  test("oversized: refused when announced, and when streamed without a length (counted while reading)", async () => {
    const big = JSON.stringify({ pad: "x".repeat(70 * 1024) });
    const { base } = fixture((path) => {
      if (path === "/announced") return new Response(big, { headers: { "content-type": "application/json" } });
      const stream = new ReadableStream({
        pull(controller) {
          // Endless: only the reader's cap stops it.
          controller.enqueue(new TextEncoder().encode("x".repeat(8192)));
        },
      });
      return new Response(stream, { headers: { "content-type": "application/json" } });
    });
    expect(reasonOf(await fetcher()(`${base}/announced`))).toBe(`${base}/announced is larger than 64 KiB`);
    expect(reasonOf(await fetcher()(`${base}/streamed`))).toBe(`${base}/streamed is larger than 64 KiB`);
    expect(reasonOf(await fetcher({ maxBytes: 1000 })(`${base}/streamed`))).toBe(`${base}/streamed is larger than 1000 bytes`);
  });

  test("slow: no answer, or a body that never ends, is cut at the deadline", async () => {
    const { base } = fixture((path, id) => {
      if (path === "/silent") return new Promise<Response>(() => {});
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify(doc(id)).slice(0, 20)));
        },
      });
      return new Response(stream, { headers: { "content-type": "application/json" } });
    });
    expect(reasonOf(await fetcher({ timeoutMs: 300 })(`${base}/silent`))).toBe(`${base}/silent took longer than 0.3 s`);
    expect(reasonOf(await fetcher({ timeoutMs: 300 })(`${base}/trickle`))).toBe(`${base}/trickle took longer than 0.3 s`);
  });

  test("a redirect is a refusal, never followed", async () => {
    const { base, hits } = fixture((path, id) => (path === "/moved" ? new Response(null, { status: 302, headers: { location: "/real" } }) : json(doc(id))));
    expect(reasonOf(await fetcher()(`${base}/moved`))).toBe(`${base}/moved redirects (302 to /real); the document must be served at its URL itself`);
    expect(hits()).toBe(1);
  });

  test("not JSON: another content type, no content type, invalid JSON, a compressed body", async () => {
    const { base } = fixture((path, id) => {
      if (path === "/html") return new Response("<html></html>", { headers: { "content-type": "text/html" } });
      if (path === "/none") return new Response(new TextEncoder().encode(JSON.stringify(doc(id))));
      if (path === "/broken") return new Response("{not json", { headers: { "content-type": "application/json" } });
      if (path === "/latin1") return new Response(new Uint8Array([0x7b, 0xff, 0x7d]), { headers: { "content-type": "application/json" } });
      return new Response(gzipSync(JSON.stringify(doc(id))), { headers: { "content-type": "application/json", "content-encoding": "gzip" } });
    });
    expect(reasonOf(await fetcher()(`${base}/html`))).toBe(`${base}/html answered with Content-Type text/html, not JSON`);
    // Bun.serve labels a bare byte body itself; the raw server below sends no Content-Type at all.
    expect(reasonOf(await fetcher()(`${base}/none`))).toBe(`${base}/none answered with Content-Type application/octet-stream, not JSON`);
    const raw = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { data: (socket) => void socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}') },
    });
    cleanups.push(() => raw.stop(true));
    const untyped = `http://127.0.0.1:${raw.port}/doc`;
    expect(reasonOf(await fetcher()(untyped))).toBe(`${untyped} answered with Content-Type (none), not JSON`);
    expect(reasonOf(await fetcher()(`${base}/broken`))).toBe(`${base}/broken is not valid JSON in UTF-8`);
    expect(reasonOf(await fetcher()(`${base}/latin1`))).toBe(`${base}/latin1 is not valid JSON in UTF-8`);
    expect(reasonOf(await fetcher()(`${base}/gz`))).toBe(`${base}/gz answered with Content-Encoding gzip, though none was asked for`);
  });

  test("endless headers are cut off by the HTTP parser, long before the deadline", async () => {
    const line = `x-pad: ${"a".repeat(1000)}\r\n`;
    const raw = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          socket.write("HTTP/1.1 200 OK\r\n");
          for (let i = 0; i < 200; i++) socket.write(line);
        },
      },
    });
    cleanups.push(() => raw.stop(true));
    const id = `http://127.0.0.1:${raw.port}/doc`;
    expect(reasonOf(await fetcher({ timeoutMs: 60_000 })(id))).toMatch(new RegExp(`^could not fetch ${id}: .*header`, "i"));
  });

  test("an error status names the status", async () => {
    const { base } = fixture((path) => new Response("gone", { status: path === "/missing" ? 404 : 500 }));
    expect(reasonOf(await fetcher()(`${base}/missing`))).toBe(`${base}/missing answered 404`);
    expect(reasonOf(await fetcher()(`${base}/broken`))).toBe(`${base}/broken answered 500`);
  });

  test("nothing listening: a reason, not a throw", async () => {
    const { base } = fixture(() => new Response("x"));
    cleanups.splice(0).forEach((c) => c());
    expect(reasonOf(await fetcher()(`${base}/doc`))).toStartWith(`could not fetch ${base}/doc: `);
  });

  test("a client_id that names no document is refused before any request", async () => {
    expect(reasonOf(await fetcher()("http://10.0.0.1/doc"))).toBe("http://10.0.0.1/doc is not an https URL");
    expect(reasonOf(await createClientMetadataFetcher({ allowedHosts: [] })("http://127.0.0.1:1/doc"))).toBe("http://127.0.0.1:1/doc is not an https URL");
  });

  test("the socket goes to the address that was checked, not to a second lookup of the name", async () => {
    // The fixture listens on 127.0.0.2 only; "localhost" resolves to 127.0.0.1 or ::1 by itself.
    const { base } = fixture((_, id) => json(doc(id)), "127.0.0.2");
    const port = new URL(base).port;
    const id = `http://localhost:${port}/doc`;
    const asked: string[] = [];
    const pinned = createClientMetadataFetcher({ allowedHosts: [], allowLoopbackHttpForTests: true, resolve: async (host) => (asked.push(host), ["127.0.0.2"]) });
    const result = await pinned(id);
    expect(result).toMatchObject({ ok: true, metadata: { name: "Fixture" } });
    expect(asked).toEqual(["localhost"]);
  });
});

describe("the SSRF guard, through injected DNS answers", () => {
  const ID = "https://client.example/oauth/metadata.json";
  /** A fetcher whose resolver answers `addresses` and records every name it is asked. */
  const guarded = (addresses: string[] | (() => Promise<string[]>), options: { allowedHosts?: string[]; loopback?: boolean; timeoutMs?: number } = {}) => {
    const asked: string[] = [];
    const fetch = createClientMetadataFetcher({
      allowedHosts: options.allowedHosts ?? [],
      timeoutMs: options.timeoutMs,
      allowLoopbackHttpForTests: options.loopback,
      resolve: async (host) => {
        asked.push(host);
        return typeof addresses === "function" ? addresses() : addresses;
      },
    });
    return { fetch, asked };
  };

  test("a host resolving to a private, loopback, metadata or CGNAT address is refused before connecting", async () => {
    const cases: [string, string][] = [
      ["10.0.0.3", "client.example resolves to 10.0.0.3, a private address"],
      ["127.0.0.1", "client.example resolves to 127.0.0.1, a loopback address"],
      ["::1", "client.example resolves to ::1, a loopback address"],
      ["::ffff:127.0.0.1", "client.example resolves to ::ffff:127.0.0.1, a loopback address"],
      ["169.254.169.254", "client.example resolves to 169.254.169.254, an address Switchboard never connects to"],
      ["100.64.1.2", "client.example resolves to 100.64.1.2, a shared (carrier-grade NAT) address"],
      ["fd00::1", "client.example resolves to fd00::1, a private address"],
    ];
    for (const [address, reason] of cases) {
      const { fetch, asked } = guarded([address]);
      expect(reasonOf(await fetch(ID))).toStartWith(reason);
      expect(asked).toEqual(["client.example"]);
    }
  });

  test("every address is checked: one bad address among good ones refuses the host", async () => {
    // The good address is loopback (allowed by the test switch), so a guard that checked only the first would connect only to this machine.
    const { fetch } = guarded(["127.0.0.1", "10.0.0.3"], { loopback: true });
    expect(reasonOf(await fetch(ID))).toBe("client.example resolves to 10.0.0.3, a private address");
  });

  test("an IP literal is checked as it is, without a lookup; odd IPv4 spellings are their canonical address", async () => {
    const { fetch, asked } = guarded(["93.184.216.34"]);
    expect(reasonOf(await fetch("https://10.1.2.3/doc"))).toBe("10.1.2.3 resolves to 10.1.2.3, a private address");
    expect(reasonOf(await fetch("https://[::1]/doc"))).toBe("::1 resolves to ::1, a loopback address");
    expect(clientMetadataUrlProblem("https://0x7f.1/doc")).toContain("not written in its canonical form, https://127.0.0.1/doc");
    expect(asked).toEqual([]);
  });

  test("the allowlist refuses any other host before any lookup", async () => {
    const { fetch, asked } = guarded(["93.184.216.34"], { allowedHosts: ["claude.ai", "vscode.dev"] });
    expect(reasonOf(await fetch(ID))).toBe("client.example is not one of the hosts in oauth.client_metadata_hosts");
    expect(reasonOf(await fetch("https://claude.ai.evil.example/doc"))).toBe("claude.ai.evil.example is not one of the hosts in oauth.client_metadata_hosts");
    expect(asked).toEqual([]);
    // An allowed host is still looked up and checked: the allowlist does not replace the address rules.
    const allowed = guarded(["10.0.0.3"], { allowedHosts: ["client.example"] });
    expect(reasonOf(await allowed.fetch(ID))).toBe("client.example resolves to 10.0.0.3, a private address");
    expect(allowed.asked).toEqual(["client.example"]);
  });

  test("no answer, a failed lookup and a lookup that never ends are reasons", async () => {
    expect(reasonOf(await guarded([]).fetch(ID))).toBe("client.example does not resolve to any address");
    const failing = guarded(() => Promise.reject(Object.assign(new Error("getaddrinfo ENOTFOUND client.example"), { code: "ENOTFOUND" })));
    expect(reasonOf(await failing.fetch(ID))).toBe("client.example could not be resolved: getaddrinfo ENOTFOUND client.example");
    const hanging = guarded(() => new Promise<string[]>(() => {}), { timeoutMs: 200 });
    expect(reasonOf(await hanging.fetch(ID))).toBe(`${ID} took longer than 0.2 s`);
  });
});

describe("the pinned GET over TLS", () => {
  /** A TLS server on 127.0.0.2 answering one fixed HTTP/1.1 response; `sni` is the name the client sent. */
  async function tlsServer(cert: string, key: string): Promise<{ port: number; sni: () => string | false | undefined; connections: () => number }> {
    let sni: string | false | undefined;
    let connections = 0;
    const server = tls.createServer({ cert, key }, (socket) => {
      sni = (socket as tls.TLSSocket & { servername?: string | false }).servername;
      socket.once("data", () => socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"ok":true}'));
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.2", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: (server.address() as { port: number }).port, sni: () => sni, connections: () => connections };
  }
  const get = (url: string, ca?: string) => pinnedGet(new URL(url), ["127.0.0.2"], { signal: new AbortController().signal, maxBytes: 1024, headers: {}, ca });

  test("connects to the pinned address, sends the host name as SNI, and verifies the certificate against the name", async () => {
    const server = await tlsServer(pem("localhost.crt"), pem("localhost.key"));
    const answer = await get(`https://localhost:${server.port}/doc`, pem("localhost.crt"));
    expect(answer.status).toBe(200);
    expect((await answer.body()).toString()).toBe('{"ok":true}');
    expect(server.sni()).toBe("localhost");
  });

  test("a certificate for another name is refused, even when trusted", async () => {
    const server = await tlsServer(pem("wrong-name.crt"), pem("wrong-name.key"));
    const err = (await rejectionOf(get(`https://localhost:${server.port}/doc`, pem("wrong-name.crt")))) as Error & { code?: string };
    expect(err.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("the fetcher verifies certificates: a self-signed one is a reason, not a document", async () => {
    const server = await tlsServer(pem("localhost.crt"), pem("localhost.key"));
    const id = `https://localhost:${server.port}/doc`;
    // The switch lets the loopback address through the address check; TLS is checked as in production.
    const fetch = createClientMetadataFetcher({ allowedHosts: [], allowLoopbackHttpForTests: true, resolve: async () => ["127.0.0.2"] });
    expect(reasonOf(await fetch(id))).toMatch(new RegExp(`^could not fetch ${id}: .*self[- ]signed`, "i"));
    // It reached the pinned server (the only one listening there) and refused its certificate.
    expect(server.connections()).toBe(1);
  });

  test("a certificate no trusted authority signed is refused", async () => {
    const server = await tlsServer(pem("localhost.crt"), pem("localhost.key"));
    const err = (await rejectionOf(get(`https://localhost:${server.port}/doc`))) as Error;
    expect(err.message).toMatch(/self[- ]signed/i);
  });
});
