// Keys derived from the server secret with HKDF, one per purpose, so no key is ever used for two jobs.
import { hkdfSync } from "node:crypto";

export type ServerKeys = {
  /** HMAC-SHA-256 key for API key and session token hashes. */
  tokenHmac: Buffer;
  /** Key that signs cookies (a plain ArrayBuffer view, as Web Crypto wants). */
  cookie: Uint8Array<ArrayBuffer>;
  /** AES-256-GCM key for secrets stored in the database. */
  encryption: Buffer;
  /** Key that signs the sign-in device cookie (apart from the session cookie's, so neither passes for the other). */
  device: Uint8Array<ArrayBuffer>;
  /** HMAC-SHA-256 key that signs a request one replica forwards to another (X-Switchboard-Forwarded). */
  replicaForward: Buffer;
};

function derive(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "switchboard", purpose, 32));
}

/** Derives the purpose-bound keys from the server secret. */
export function deriveKeys(secret: string): ServerKeys {
  return {
    tokenHmac: derive(secret, "switchboard/token-hmac/v1"),
    cookie: new Uint8Array(hkdfSync("sha256", secret, "switchboard", "switchboard/cookie/v1", 32)),
    encryption: derive(secret, "switchboard/encryption/v1"),
    device: new Uint8Array(hkdfSync("sha256", secret, "switchboard", "switchboard/device-cookie/v1", 32)),
    replicaForward: derive(secret, "switchboard/replica-forward/v1"),
  };
}
