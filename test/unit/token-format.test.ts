// The shared token format: each kind's prefix, 256 random bits, a checksum that catches every typo,
// and a hash label per kind so one kind's token never matches another kind's stored hash.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { generateToken, hmacToken, isWellFormedToken, TOKEN_BODY_LENGTH, TOKEN_CHECKSUM_LENGTH } from "../../src/domain/access/token-format.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

describe("token format", () => {
  test.each(["mcp_key_", "mcp_at_", "mcp_rt_", "mcp_ac_"])("a %s token is that prefix, 43 base62 characters and a 6-character checksum", (prefix) => {
    const token = generateToken(prefix);
    expect(token).toMatch(new RegExp(`^${prefix}[0-9A-Za-z]{${TOKEN_BODY_LENGTH + TOKEN_CHECKSUM_LENGTH}}$`));
    expect(isWellFormedToken(prefix, token)).toBe(true);
  });

  test("a token of one kind is not well-formed as another kind", () => {
    const access = generateToken("mcp_at_");
    expect(isWellFormedToken("mcp_rt_", access)).toBe(false);
    expect(isWellFormedToken("mcp_key_", access)).toBe(false);
    // Same body under another prefix of the same length: the prefix is checked, not only the length.
    expect(isWellFormedToken("mcp_rt_", `mcp_rt_${access.slice("mcp_at_".length)}`)).toBe(true);
    expect(isWellFormedToken("mcp_at_", `mcp_rt_${access.slice("mcp_at_".length)}`)).toBe(false);
  });

  test("every single-character change of the body or checksum is caught", () => {
    const token = generateToken("mcp_rt_");
    for (let i = "mcp_rt_".length; i < token.length; i++) {
      const replacement = BASE62[(BASE62.indexOf(token[i]!) + 1) % BASE62.length]!;
      const typo = token.slice(0, i) + replacement + token.slice(i + 1);
      expect({ i, ok: isWellFormedToken("mcp_rt_", typo) }).toEqual({ i, ok: false });
    }
  });

  test.each([
    ["empty", ""],
    ["only the prefix", "mcp_at_"],
    ["one character short", () => generateToken("mcp_at_").slice(0, -1)],
    ["one character long", () => `${generateToken("mcp_at_")}0`],
    ["a non-base62 character", () => { const t = generateToken("mcp_at_"); return `${t.slice(0, 20)}-${t.slice(21)}`; }],
    ["a trailing newline", () => `${generateToken("mcp_at_")}\n`],
  ])("%s is refused", (_name, make) => {
    expect(isWellFormedToken("mcp_at_", typeof make === "function" ? make() : make)).toBe(false);
  });

  test("the stored HMAC depends on the key and the label, and does not contain the token", () => {
    const key = randomBytes(32);
    const token = generateToken("mcp_at_");
    expect(hmacToken(key, "oauth-access:", token)).toBe(hmacToken(key, "oauth-access:", token));
    expect(hmacToken(key, "oauth-refresh:", token)).not.toBe(hmacToken(key, "oauth-access:", token));
    expect(hmacToken(randomBytes(32), "oauth-access:", token)).not.toBe(hmacToken(key, "oauth-access:", token));
    expect(hmacToken(key, "oauth-access:", token)).not.toContain(token.slice(7, 19));
  });
});
