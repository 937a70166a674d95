// The path guard's pure parts: the raw path of a URL, which paths are refused, and the canonical
// encoded form that WWW-Authenticate and the resource metadata echo.
import { describe, expect, test } from "bun:test";
import { badPathReason, canonicalPath, rawPathOf } from "../../src/http/middleware/path-guard.ts";

describe("rawPathOf", () => {
  test("is the path as sent, still encoded, without query or fragment", () => {
    expect(rawPathOf("http://h:1/mcp/a%0db?x=%00#f")).toBe("/mcp/a%0db");
    expect(rawPathOf("http://h/")).toBe("/");
    expect(rawPathOf("http://h")).toBe("/");
    expect(rawPathOf("http://h/a#x?y")).toBe("/a");
  });
});

describe("badPathReason", () => {
  test("refuses encoded control characters, bidi controls, broken escapes and bytes that are not UTF-8", () => {
    for (const path of ["/mcp/%0d", "/mcp/%0A", "/mcp/%00", "/a/%7f", "/a/%c2%85", "/a/%e2%80%ae", "/a/%E2%81%A6", "/a/%zz", "/a/%", "/a/%2", "/a/%ff", "/a/%c3"]) {
      expect({ path, refused: badPathReason(path) !== null }).toEqual({ path, refused: true });
    }
  });

  test("accepts ordinary paths, encoded spaces, quotes, slashes and non-ASCII text", () => {
    for (const path of ["/", "/mcp/conn_0f1e", "/mcp/agent/my-agent", "/api/v1/keys/key_1/rotate", "/a%20b", "/x%22y", "/a%2Fb", "/%F0%9F%98%80", "/%C3%A9t%C3%A9", "/a%25zz"]) {
      expect({ path, reason: badPathReason(path) }).toEqual({ path, reason: null });
    }
  });
});

describe("canonicalPath", () => {
  test("leaves plain paths alone and encodes everything that could end a quoted parameter", () => {
    expect(canonicalPath("/mcp/conn_123")).toBe("/mcp/conn_123");
    expect(canonicalPath('/mcp/x",resource_metadata="https:evil.example')).toBe("/mcp/x%22%2Cresource_metadata%3D%22https%3Aevil.example");
    expect(canonicalPath("/mcp/x%22,y")).toBe("/mcp/x%22%2Cy");
    expect(canonicalPath("/mcp/a\\b")).toBe("/mcp/a%5Cb");
  });

  test("is stable (encoding twice changes nothing) and total (a broken escape is encoded as it stands)", () => {
    for (const path of ["/mcp/x%22%2Cy", "/a%2Fb", "/%F0%9F%98%80", "/a b"]) expect(canonicalPath(canonicalPath(path))).toBe(canonicalPath(path));
    expect(canonicalPath("/a/%zz")).toBe("/a/%25zz");
    expect(canonicalPath("/a/%0d")).toBe("/a/%0D");
    expect(canonicalPath("/a/%0d")).toMatch(/^[A-Za-z0-9\-_.!~*'()%/]*$/);
  });
});
