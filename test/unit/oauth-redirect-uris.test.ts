// Redirect URIs: what a client may register (https, loopback http, private-use schemes; nothing that
// runs script, reads files or leaves the code readable on the network) and how a presented one
// matches (exactly, but for a loopback http URI's port).
import { describe, expect, test } from "bun:test";
import { redirectUriMatches, redirectUriProblem } from "../../src/domain/oauth/redirect-uris.ts";

describe("redirectUriProblem: accepted", () => {
  test.each([
    ["https on any host", "https://claude.ai/api/mcp/auth_callback"],
    ["https with a port and query", "https://app.example.com:8443/cb?tenant=1"],
    ["ChatGPT's connector callback", "https://chatgpt.com/connector_platform_oauth_redirect"],
    ["loopback localhost, no port", "http://localhost/callback"],
    ["loopback localhost, a port", "http://localhost:33418/"],
    ["loopback 127.0.0.1 with a port", "http://127.0.0.1:6274/oauth/callback"],
    ["another address of 127.0.0.0/8", "http://127.10.20.30/cb"],
    ["IPv6 loopback", "http://[::1]:8080/cb"],
    ["Cursor's private-use scheme", "cursor://anysphere.cursor-mcp/oauth/callback"],
    ["VS Code's scheme", "vscode://vscode.github-authentication/did-authenticate"],
    ["a reverse-domain scheme", "com.example.app:/cb"],
  ])("%s: %s", (_name, uri) => {
    expect(redirectUriProblem(uri)).toBeNull();
  });
});

describe("redirectUriProblem: refused, naming the URI and why", () => {
  test.each([
    ["javascript:", "javascript:alert(document.cookie)", "javascript: scheme"],
    ["javascript: in capitals", "JavaScript://%0aalert(1)", "javascript: scheme"],
    ["data:", "data:text/html,<script>alert(1)</script>", "data: scheme"],
    ["file:", "file:///etc/passwd", "file: scheme"],
    ["vbscript:", "vbscript:msgbox(1)", "vbscript: scheme"],
    ["blob:", "blob:https://evil.example/uuid", "blob: scheme"],
    ["about:", "about:blank", "about: scheme"],
    ["ws:", "ws://localhost/cb", "ws: scheme"],
    ["wss:", "wss://example.com/cb", "wss: scheme"],
    ["ftp:", "ftp://example.com/cb", "ftp: scheme"],
    ["http on a public host", "http://example.com/cb", "not loopback"],
    ["http on a private address", "http://192.168.1.10/cb", "not loopback"],
    ["http on a host that starts like localhost", "http://localhost.evil.com/cb", "not loopback"],
    ["http on a host that starts like 127.0.0.1", "http://127.0.0.1.nip.io/cb", "not loopback"],
    ["http on an IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/cb", "not loopback"],
    ["a fragment", "https://example.com/cb#frag", "fragment"],
    ["an empty fragment", "https://example.com/cb#", "fragment"],
    ["a fragment on a private-use scheme", "cursor://anysphere.cursor-mcp/cb#x", "fragment"],
    ["userinfo on https", "https://claude.ai@evil.example/cb", "user information"],
    ["userinfo on loopback", "http://user:pw@localhost/cb", "user information"],
    ["userinfo on a private-use scheme", "cursor://u@anysphere.cursor-mcp/cb", "user information"],
    ["a backslash", "https://evil.example\\@claude.ai/cb", "backslash"],
    ["leading whitespace", " https://example.com/cb", "whitespace"],
    ["a newline", "https://example.com/cb\n", "whitespace"],
    ["a relative path", "/callback", "not an absolute URI"],
    ["plain text", "not a uri", "whitespace"],
    ["no scheme", "example.com/cb", "not an absolute URI"],
    ["https without a host", "https:///cb", "no host"],
    ["https without slashes", "https:example.com", "no host"],
    ["a port out of range", "http://localhost:70000/cb", "not a valid URI"],
    ["an empty port", "http://localhost:/cb", "invalid port"],
    ["an empty string", "", "cannot be empty"],
  ])("%s", (_name, uri, why) => {
    const problem = redirectUriProblem(uri);
    expect(problem).not.toBeNull();
    expect(problem!).toContain(why);
    if (uri !== "") expect(problem!).toContain(JSON.stringify(uri).slice(1, 12));
  });

  test("a URI over 2000 characters is refused, and the message quotes only its start", () => {
    const uri = `https://example.com/${"a".repeat(2000)}`;
    const problem = redirectUriProblem(uri)!;
    expect(problem).toContain("longer than 2000");
    expect(problem.length).toBeLessThan(400);
    expect(redirectUriProblem(uri.slice(0, 2000))).toBeNull();
  });
});

describe("redirectUriMatches", () => {
  test("exact string equality", () => {
    expect(redirectUriMatches(["https://claude.ai/api/mcp/auth_callback"], "https://claude.ai/api/mcp/auth_callback")).toBe(true);
    expect(redirectUriMatches(["cursor://anysphere.cursor-mcp/oauth/callback"], "cursor://anysphere.cursor-mcp/oauth/callback")).toBe(true);
  });

  test.each([
    ["a longer path", "https://claude.ai/api/mcp/auth_callback/x"],
    ["a prefix", "https://claude.ai/api/mcp/auth"],
    ["an added query", "https://claude.ai/api/mcp/auth_callback?x=1"],
    ["a trailing slash", "https://claude.ai/api/mcp/auth_callback/"],
    ["another host", "https://claude.ai.evil.example/api/mcp/auth_callback"],
    ["a port on https", "https://claude.ai:444/api/mcp/auth_callback"],
    ["http instead of https", "http://claude.ai/api/mcp/auth_callback"],
    ["other case", "https://CLAUDE.ai/api/mcp/auth_callback"],
    ["a fragment", "https://claude.ai/api/mcp/auth_callback#x"],
    ["userinfo", "https://claude.ai@evil.example/api/mcp/auth_callback"],
  ])("no match for %s", (_name, presented) => {
    expect(redirectUriMatches(["https://claude.ai/api/mcp/auth_callback"], presented)).toBe(false);
  });

  test("a loopback http URI matches on any port (RFC 8252 §7.3)", () => {
    expect(redirectUriMatches(["http://localhost/callback"], "http://localhost:53817/callback")).toBe(true);
    expect(redirectUriMatches(["http://localhost:33418/"], "http://localhost:49152/")).toBe(true);
    expect(redirectUriMatches(["http://127.0.0.1:6274/cb"], "http://127.0.0.1/cb")).toBe(true);
    expect(redirectUriMatches(["http://[::1]/cb?x=1"], "http://[::1]:9000/cb?x=1")).toBe(true);
  });

  test.each([
    ["localhost registered, 127.0.0.1 presented", "http://localhost/callback", "http://127.0.0.1:53817/callback"],
    ["another path", "http://localhost/callback", "http://localhost:53817/other"],
    ["a longer path", "http://localhost/callback", "http://localhost:53817/callback/x"],
    ["another query", "http://localhost/callback?a=1", "http://localhost:53817/callback?a=2"],
    ["an added query", "http://localhost/callback", "http://localhost:53817/callback?a=1"],
    ["https presented", "http://localhost/callback", "https://localhost:53817/callback"],
    ["a public host on http", "http://localhost/callback", "http://evil.example:53817/callback"],
    ["userinfo", "http://localhost/callback", "http://evil@localhost:53817/callback"],
    ["a fragment", "http://localhost/callback", "http://localhost:53817/callback#x"],
    ["a bad port", "http://localhost/callback", "http://localhost:99999/callback"],
    ["a port on a non-loopback https registration", "https://app.example.com/cb", "https://app.example.com:8443/cb"],
    ["a private-use scheme with a port", "cursor://anysphere.cursor-mcp/cb", "cursor://anysphere.cursor-mcp:1/cb"],
  ])("no loopback match: %s", (_name, registered, presented) => {
    expect(redirectUriMatches([registered], presented)).toBe(false);
  });

  test("nothing matches an empty registration", () => {
    expect(redirectUriMatches([], "http://localhost/callback")).toBe(false);
  });
});
