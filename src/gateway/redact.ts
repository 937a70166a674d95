// The one place upstream text is made safe to show or log: a connection's own secret values (token,
// header values, env values, in the forms an upstream may echo them) are replaced, and the text is
// capped. An upstream that echoes its request headers in an error body must not hand a caller, a
// member's page or the log the connection's token.
import type { ConnectionSpec } from "../domain/connections/spec.ts";

/** How long upstream text may be where it is shown or logged (last_error, test results, errors to callers). */
export const MAX_ERROR_TEXT = 500;
export const REDACTED = "[redacted]";
/** Values shorter than this are not treated as secrets: replacing "1" or "on" everywhere would garble the text and hide nothing. */
const MIN_SECRET_LENGTH = 4;

const cache = new WeakMap<ConnectionSpec, string[]>();

/**
 * The connection's secret values and the encoded forms an upstream might echo them in (URL-encoded,
 * base64 and base64url, JSON-escaped), longest first so a value inside another is not half-replaced.
 */
export function secretsOf(spec: Pick<ConnectionSpec, "token" | "headers" | "env">): string[] {
  const known = cache.get(spec as ConnectionSpec);
  if (known) return known;
  const values = [spec.token, ...Object.values(spec.headers), ...Object.values(spec.env)].filter((v): v is string => typeof v === "string" && v.length >= MIN_SECRET_LENGTH);
  const forms = new Set<string>();
  for (const value of values) {
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1));
    const base64 = Buffer.from(value).toString("base64");
    forms.add(base64);
    forms.add(base64.replace(/=+$/, ""));
    forms.add(Buffer.from(value).toString("base64url"));
  }
  const list = [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  cache.set(spec as ConnectionSpec, list);
  return list;
}

/** `text` with every secret of `secrets` replaced by [redacted], cut to `max` characters (ending in "…"). */
export function redact(text: string, secrets: readonly string[], max = MAX_ERROR_TEXT): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/** Upstream text about `spec` (an error, a stderr line), redacted and capped. */
export function redactFor(spec: Pick<ConnectionSpec, "token" | "headers" | "env">, text: string, max = MAX_ERROR_TEXT): string {
  return redact(text, secretsOf(spec), max);
}
