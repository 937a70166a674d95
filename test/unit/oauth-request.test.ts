// The pure parts of the authorization request: which resource URLs name an agent or connection, and
// how the answer is put on the client's redirect URI.
import { describe, expect, test } from "bun:test";
import { redirectBack } from "../../src/http/oauth/request.ts";
import { oauthTargetOf } from "../../src/http/oauth/resource-url.ts";

const P = "https://mcp.example.com";

describe("oauthTargetOf", () => {
  const rows: [string, ReturnType<typeof oauthTargetOf>][] = [
    [`${P}/mcp/agent/helper`, { kind: "agent", ref: "helper" }],
    [`${P}/mcp/agent/agent_0b1c2d3e-0000-4000-8000-000000000000`, { kind: "agent", ref: "agent_0b1c2d3e-0000-4000-8000-000000000000" }],
    [`${P}/mcp/files`, { kind: "connection", ref: "files" }],
    [`${P}/mcp/self`, null],
    [`${P}/mcp/agent`, null],
    [`${P}/mcp/agent/`, null],
    [`${P}/mcp/files/`, null],
    [`${P}/mcp/files?x=1`, null],
    [`${P}/mcp/files#x`, null],
    [`${P}/mcp/agent/a%2Fb`, null],
    [`${P}/mcp/agent/a/b`, null],
    [`${P}/mcp-key/files`, null],
    [`${P}/api/v1`, null],
    [`${P}`, null],
    [`${P}.evil.example/mcp/files`, null],
    ["https://other.example/mcp/files", null],
    [`http://mcp.example.com/mcp/files`, null],
  ];
  for (const [url, expected] of rows) {
    test(`${url} → ${expected ? `${expected.kind} ${expected.ref}` : "not a resource"}`, () => {
      expect(oauthTargetOf(P, url)).toEqual(expected);
    });
  }
});

describe("redirectBack", () => {
  test("adds the parameters, the state and iss, keeping the URI's own query", () => {
    const url = new URL(redirectBack("https://app.example.com/cb?tenant=7", P, "s&1", { code: "mcp_ac_x" }));
    expect(url.origin + url.pathname).toBe("https://app.example.com/cb");
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: "7", code: "mcp_ac_x", state: "s&1", iss: P });
  });

  test("no state sent, none returned; a private-use scheme keeps its form", () => {
    const back = redirectBack("cursor://anysphere.cursor-mcp/oauth/callback", P, null, { error: "access_denied" });
    expect(back.startsWith("cursor://anysphere.cursor-mcp/oauth/callback?")).toBe(true);
    expect(new URL(back).searchParams.has("state")).toBe(false);
  });
});
