// AES-256-GCM for secrets stored in the database (connection tokens, headers, env).
// Format: "v1.<iv>.<ciphertext+tag>" in base64url; the optional context is bound as associated data,
// so a ciphertext copied onto another row fails to decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts `plaintext` under `key`; `context` (say, a row id) must match on decryption. */
export function encryptSecret(key: Buffer, plaintext: string, context = ""): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString("base64url")}.${body.toString("base64url")}`;
}

/** Decrypts what encryptSecret wrote; throws if the key, context or ciphertext is wrong. */
export function decryptSecret(key: Buffer, sealed: string, context = ""): string {
  const [version, ivText, bodyText, extra] = sealed.split(".");
  if (version !== VERSION || !ivText || !bodyText || extra !== undefined) throw new Error("not an encrypted secret");
  const iv = Buffer.from(ivText, "base64url");
  const body = Buffer.from(bodyText, "base64url");
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new Error("not an encrypted secret");
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new Error("secret cannot be decrypted: wrong key or tampered ciphertext");
  }
}
