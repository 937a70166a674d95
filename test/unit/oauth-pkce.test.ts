// PKCE S256 (RFC 7636) and the scopes the authorization server grants.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { OAuthError } from "../../src/errors.ts";
import { CODE_CHALLENGE, isCodeVerifier, verifyPkce } from "../../src/domain/oauth/pkce.ts";
import { grantedScope, narrowedScope, SCOPES_SUPPORTED } from "../../src/domain/oauth/scopes.ts";
import { thrownBy } from "../support/errors.ts";

const s256 = (v: string): string => createHash("sha256").update(v).digest("base64url");

describe("PKCE", () => {
  test("RFC 7636 appendix B's example verifies", () => {
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    expect(CODE_CHALLENGE.test(challenge)).toBe(true);
    expect(verifyPkce(verifier, challenge)).toBe(true);
  });

  test("another verifier, or the challenge itself as verifier ('plain'), does not verify", () => {
    const verifier = "a".repeat(43);
    const challenge = s256(verifier);
    expect(verifyPkce("b".repeat(43), challenge)).toBe(false);
    expect(verifyPkce(`${verifier}a`, challenge)).toBe(false);
    // The "plain" method sends the verifier as the challenge; S256 only, so that never verifies.
    expect(verifyPkce(verifier, verifier)).toBe(false);
  });

  test.each([
    ["42 characters", "a".repeat(42), false],
    ["43 characters", "a".repeat(43), true],
    ["128 characters", "a".repeat(128), true],
    ["129 characters", "a".repeat(129), false],
    ["the unreserved punctuation", `-._~${"A".repeat(39)}`, true],
    ["a plus sign", `+${"a".repeat(42)}`, false],
    ["a slash", `/${"a".repeat(42)}`, false],
    ["a space", ` ${"a".repeat(42)}`, false],
    ["non-ASCII", `é${"a".repeat(42)}`, false],
  ])("a code_verifier of %s: %p", (_name, verifier, ok) => {
    expect(isCodeVerifier(verifier)).toBe(ok);
    // A verifier of the wrong shape never verifies, even against its own S256 challenge.
    expect(verifyPkce(verifier, s256(verifier))).toBe(ok);
  });

  test.each([
    ["42 characters", "a".repeat(42)],
    ["44 characters", "a".repeat(44)],
    ["padding", `${"a".repeat(42)}=`],
    ["standard base64", `${"a".repeat(42)}+`],
  ])("a code_challenge of %s is not S256 and verifies nothing", (_name, challenge) => {
    expect(CODE_CHALLENGE.test(challenge)).toBe(false);
    expect(verifyPkce("a".repeat(43), challenge)).toBe(false);
  });
});

describe("scopes", () => {
  test("mcp and offline_access are supported", () => {
    expect([...SCOPES_SUPPORTED]).toEqual(["mcp", "offline_access"]);
  });

  test.each([
    [null, "mcp"],
    ["", "mcp"],
    ["mcp", "mcp"],
    ["offline_access", "mcp offline_access"],
    ["offline_access mcp", "mcp offline_access"],
    ["mcp  mcp offline_access", "mcp offline_access"],
  ])("%p is granted as %p", (requested, granted) => {
    expect(grantedScope(requested)).toBe(granted);
  });

  test.each(["admin", "mcp openid", "MCP", "mcp\toffline_access"])("%p is invalid_scope, naming the scope", (requested) => {
    const err = thrownBy(() => grantedScope(requested));
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).error).toBe("invalid_scope");
    expect((err as OAuthError).message).toContain("Unknown scope");
  });

  test("a refresh may keep or narrow the scope, never widen it", () => {
    expect(narrowedScope("mcp offline_access", null)).toBe("mcp offline_access");
    expect(narrowedScope("mcp offline_access", "mcp")).toBe("mcp");
    expect(narrowedScope("mcp", "mcp")).toBe("mcp");
    const err = thrownBy(() => narrowedScope("mcp", "mcp offline_access"));
    expect((err as OAuthError).error).toBe("invalid_scope");
    expect((thrownBy(() => narrowedScope("mcp", "other")) as OAuthError).error).toBe("invalid_scope");
  });
});
