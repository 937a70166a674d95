// The audit log's masking: no secret value of a change is ever stored, and everything else keeps its shape.
import { describe, expect, test } from "bun:test";
import { AUDIT_MASK, maskSecrets } from "../../src/domain/monitoring/mask.ts";

describe("maskSecrets", () => {
  test("token, password and secret keys (and keys ending so) are masked; a null stays null", () => {
    const masked = maskSecrets({ token: "ghp_abc", password: "hunter22222", client_secret: "s3", newPassword: "x", bearerToken: "y", access_token: null });
    expect(masked).toEqual({ token: AUDIT_MASK, password: AUDIT_MASK, client_secret: AUDIT_MASK, newPassword: AUDIT_MASK, bearerToken: AUDIT_MASK, access_token: null });
  });

  test("headers and env keep their names, never their values", () => {
    const masked = maskSecrets({ slug: "gh", headers: { "X-Api-Key": "k-123", Authorization: "Bearer abc" }, env: { API_KEY: "e-456" } });
    expect(masked).toEqual({ slug: "gh", headers: { "X-Api-Key": AUDIT_MASK, Authorization: AUDIT_MASK }, env: { API_KEY: AUDIT_MASK } });
    expect(JSON.stringify(masked)).not.toMatch(/k-123|abc|e-456/);
  });

  test("an OAuth connection's change: the client secret is masked (set or rotated; null stays null), its client id, mode and scopes kept", () => {
    const change = { slug: "linear", auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: "cs-very-secret", oauth_scopes: "read write" };
    expect(maskSecrets(change)).toEqual({ ...change, oauth_client_secret: AUDIT_MASK });
    expect(maskSecrets({ connection: { oauth_client_secret: null } })).toEqual({ connection: { oauth_client_secret: null } });
    expect(maskSecrets({ oauth: { client_secret_set: true } })).toEqual({ oauth: { client_secret_set: true } });
  });

  test("fields that only name a secret's state are kept", () => {
    expect(maskSecrets({ token_set: true, access_token_ttl: 3600, tokens: 3 })).toEqual({ token_set: true, access_token_ttl: 3600, tokens: 3 });
  });

  test("a Switchboard token or a URL password inside any string is masked", () => {
    const masked = maskSecrets({ description: "use mcp_key_AbC123xyz please", url: "https://bob:pa55@example.com/mcp", args: ["--key", "mcp_at_Zz9"] });
    expect(masked).toEqual({ description: `use mcp_key_${AUDIT_MASK} please`, url: `https://bob:${AUDIT_MASK}@example.com/mcp`, args: ["--key", `mcp_at_${AUDIT_MASK}`] });
  });

  test("nested objects and arrays are walked; other values keep their shape", () => {
    const masked = maskSecrets({ connections: [{ connection: "c", tools: ["a"], token: "t" }], enabled: false, n: 2, at: new Date(0) });
    expect(masked).toEqual({ connections: [{ connection: "c", tools: ["a"], token: AUDIT_MASK }], enabled: false, n: 2, at: "1970-01-01T00:00:00.000Z" });
  });

  test("a value deeper than any input is masked whole rather than walked", () => {
    let deep: unknown = { password: "p" };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    expect(JSON.stringify(maskSecrets(deep))).not.toContain('"p"');
  });
});

describe("secrets in unexpected shapes (a refused input is stored as it came)", () => {
  test("headers and env as lists or strings, credential-named keys, Bearer in text", () => {
    const raw = {
      headers: [["Authorization", "Bearer ghp_supersecretvalue123"]],
      env: "API_KEY=sk-live-123456",
      authorization: "Basic dXNlcjpwYXNz",
      api_key: "k-123",
      apiKey: "k-456",
      credentials: { user: "u" },
      description: "call it with Bearer ghp_anothersecret999, please",
    };
    const text = JSON.stringify(maskSecrets(raw));
    for (const secret of ["ghp_supersecretvalue123", "sk-live-123456", "dXNlcjpwYXNz", "k-123", "k-456", "ghp_anothersecret999"]) expect(text).not.toContain(secret);
    expect(text).toContain("call it with Bearer ********, please");
  });
});
