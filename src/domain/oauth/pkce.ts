// PKCE (RFC 7636) with S256 only, as OAuth 2.1 requires of public clients: "plain" would hand the
// verifier to whoever sees the authorization request. Pure functions.
import { createHash, timingSafeEqual } from "node:crypto";

/** An S256 code_challenge: base64url of a SHA-256 digest, 43 characters, no padding. */
export const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** RFC 7636 §4.1: a code_verifier is 43-128 characters of [A-Za-z0-9-._~]. */
export function isCodeVerifier(v: string): boolean {
  return CODE_VERIFIER.test(v);
}

/** The S256 code_challenge of a verifier: BASE64URL(SHA256(verifier)) (RFC 7636 §4.2). */
export function codeChallengeOf(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** Whether the S256 challenge of `verifier` equals `challenge` (RFC 7636 §4.6), compared in constant time. */
export function verifyPkce(verifier: string, challenge: string): boolean {
  if (!isCodeVerifier(verifier) || !CODE_CHALLENGE.test(challenge)) return false;
  return timingSafeEqual(Buffer.from(codeChallengeOf(verifier)), Buffer.from(challenge));
}
