// AES-256-GCM for stored secrets: what goes in comes out, and every way a ciphertext can be wrong is refused.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { decryptSecret, encryptSecret } from "../../src/security/cipher.ts";

const key = randomBytes(32);

/** Flips one bit of the decoded bytes of part `index` ("v1.<iv>.<body>") at byte `at`. */
function tamper(sealed: string, index: 1 | 2, at: number): string {
  const parts = sealed.split(".");
  const bytes = Buffer.from(parts[index]!, "base64url");
  bytes[at < 0 ? bytes.length + at : at]! ^= 0x01;
  parts[index] = bytes.toString("base64url");
  return parts.join(".");
}

describe("encryptSecret / decryptSecret", () => {
  test.each(["ghp_token-value", "", "ünïcødé ✓ 🔑", "x".repeat(10_000)])("round-trips %#", (plaintext) => {
    const sealed = encryptSecret(key, plaintext, "conn_1");
    expect(decryptSecret(key, sealed, "conn_1")).toBe(plaintext);
  });

  test("writes v1.<iv>.<body> in base64url, without the plaintext", () => {
    const sealed = encryptSecret(key, "plain-secret-value");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("plain-secret-value");
    expect(decryptSecret(key, sealed)).toBe("plain-secret-value");
  });

  test("uses a fresh IV each time, so equal plaintexts give different ciphertexts", () => {
    const sealed = Array.from({ length: 20 }, () => encryptSecret(key, "same", "ctx"));
    expect(new Set(sealed.map((s) => s.split(".")[1])).size).toBe(20);
    for (const s of sealed) expect(decryptSecret(key, s, "ctx")).toBe("same");
  });

  test.each([
    ["the ciphertext", 2, 0],
    ["the auth tag", 2, -1],
    ["the IV", 1, 0],
  ] as const)("rejects a bit flipped in %s", (_what, index, at) => {
    const sealed = encryptSecret(key, "a secret long enough to have bytes", "ctx");
    expect(() => decryptSecret(key, tamper(sealed, index, at), "ctx")).toThrow("wrong key or tampered ciphertext");
  });

  test("rejects the wrong key", () => {
    const sealed = encryptSecret(key, "secret", "ctx");
    expect(() => decryptSecret(randomBytes(32), sealed, "ctx")).toThrow("wrong key or tampered ciphertext");
  });

  test("rejects the wrong context, so a ciphertext copied to another row does not decrypt", () => {
    const sealed = encryptSecret(key, "secret", "conn_a");
    expect(() => decryptSecret(key, sealed, "conn_b")).toThrow("wrong key or tampered ciphertext");
    expect(() => decryptSecret(key, sealed)).toThrow("wrong key or tampered ciphertext");
    expect(() => decryptSecret(key, encryptSecret(key, "secret"), "conn_a")).toThrow("wrong key or tampered ciphertext");
  });

  test.each([
    ["empty", () => ""],
    ["plaintext", () => "just-a-token"],
    ["another version", (s: string) => s.replace(/^v1\./, "v2.")],
    ["a missing body", (s: string) => s.split(".").slice(0, 2).join(".")],
    ["an empty body", (s: string) => s.split(".").slice(0, 2).join(".") + "."],
    ["an extra part", (s: string) => `${s}.extra`],
    ["a short IV", (s: string) => s.replace(/^v1\.[^.]+\./, "v1.AAAA.")],
    ["a body shorter than the tag", (s: string) => s.replace(/\.[^.]+$/, ".AAAA")],
  ])("rejects a malformed input: %s", (_what, mangle) => {
    const sealed = encryptSecret(key, "secret");
    expect(() => decryptSecret(key, mangle(sealed))).toThrow("not an encrypted secret");
  });
});
