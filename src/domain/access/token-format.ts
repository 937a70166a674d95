// The one format of Switchboard's bearer tokens (API keys, OAuth access and refresh tokens and
// authorization codes): a kind prefix, 256 random bits in base62 and a CRC-32 checksum, stored only
// as an HMAC. The checksum lets typos and scanners' guesses fail before any lookup, and lets secret
// scanners recognise a leaked token by its prefix.
import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 256 bits in base62. */
export const TOKEN_BODY_LENGTH = 43;
/** CRC-32 in base62. */
export const TOKEN_CHECKSUM_LENGTH = 6;
const TAIL = new RegExp(`^[0-9A-Za-z]{${TOKEN_BODY_LENGTH + TOKEN_CHECKSUM_LENGTH}}$`);

function base62(bytes: Uint8Array, length: number): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
  let out = "";
  while (out.length < length) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out;
}

function checksum(body: string): string {
  // CRC-32 fits in a double exactly, so plain arithmetic suffices (this runs on every request).
  let n = Bun.hash.crc32(body);
  let out = "";
  for (let i = 0; i < TOKEN_CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** A new token of the kind `prefix` names: prefix, 256 random bits in base62, CRC-32 checksum. */
export function generateToken(prefix: string): string {
  const body = base62(randomBytes(32), TOKEN_BODY_LENGTH);
  return `${prefix}${body}${checksum(body)}`;
}

/** True when `token` has `prefix`, the right length and alphabet, and its checksum; says nothing about whether it exists. */
export function isWellFormedToken(prefix: string, token: string): boolean {
  if (!token.startsWith(prefix)) return false;
  const tail = token.slice(prefix.length);
  if (!TAIL.test(tail)) return false;
  // The checksum is computable by anyone from the body, so a plain comparison leaks nothing.
  return tail.slice(TOKEN_BODY_LENGTH) === checksum(tail.slice(0, TOKEN_BODY_LENGTH));
}

/**
 * The stored form of a token: HMAC-SHA-256 under `hmacKey`, with `label` naming the kind, so a hash of
 * one kind can never be looked up as another. Verifiers on the hot path keep their own keyed hasher
 * (the same computation with the key schedule done once) and must use the same label.
 */
export function hmacToken(hmacKey: Buffer, label: string, token: string): string {
  return new Bun.CryptoHasher("sha256", hmacKey).update(`${label}${token}`).digest("base64url");
}
