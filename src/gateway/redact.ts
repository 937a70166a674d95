// The one place upstream text is made safe to show or log: a connection's own secret values (token,
// header values, env values, and for an OAuth connection the tokens the gateway sent it, in the forms an
// upstream may echo them) are replaced, and the text is capped. An upstream that echoes its request
// headers in an error body must not hand a caller, a member's page or the log the connection's token.
import type { ConnectionSpec } from "../domain/connections/spec.ts";

/** How long upstream text may be where it is shown or logged (last_error, test results, errors to callers). */
export const MAX_ERROR_TEXT = 500;
export const REDACTED = "[redacted]";
/** Values shorter than this are not treated as secrets: replacing "1" or "on" everywhere would garble the text and hide nothing. */
const MIN_SECRET_LENGTH = 4;

/** What secretsOf needs of a connection: its own values, and for an OAuth connection its id (the tokens it was sent). */
export type SecretSource = Pick<ConnectionSpec, "token" | "headers" | "env"> & Partial<Pick<ConnectionSpec, "id" | "oauth">>;

/**
 * The OAuth tokens most recently sent for one connection (access and refresh tokens, every subject's),
 * oldest first. Bounded: a per-user connection with many users keeps the newest, which are the ones an
 * upstream echoes (the request's own); the forms are worked out again only when the set changes.
 */
type Sent = { values: Set<string>; version: number };
const MAX_SENT_VALUES = 64;
const sent = new Map<string, Sent>();

const cache = new WeakMap<object, string[]>();
const withSent = new WeakMap<object, { version: number; list: string[] }>();

/**
 * Notes OAuth tokens the gateway is about to send for connection `connectionId` (or holds to refresh
 * with): from then on they are redacted from that connection's upstream text, whoever's they are.
 */
export function rememberSent(connectionId: string, values: readonly (string | null)[]): void {
  let entry = sent.get(connectionId);
  for (const value of values) {
    if (value === null || value.length < MIN_SECRET_LENGTH) continue;
    if (!entry) sent.set(connectionId, (entry = { values: new Set(), version: 0 }));
    if (entry.values.delete(value)) {
      // Known: moved to the newest end (the set is unchanged, so no new forms).
      entry.values.add(value);
      continue;
    }
    entry.values.add(value);
    entry.version++;
    if (entry.values.size > MAX_SENT_VALUES) entry.values.delete(entry.values.values().next().value!);
  }
}

/** `values` and the encoded forms an upstream might echo them in (URL-encoded, base64 and base64url, JSON-escaped), longest first. */
function formsOf(values: readonly (string | null)[]): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH) continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1));
    const base64 = Buffer.from(value).toString("base64");
    forms.add(base64);
    forms.add(base64.replace(/=+$/, ""));
    forms.add(Buffer.from(value).toString("base64url"));
  }
  // Longest first, so a value inside another is not half-replaced.
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

/**
 * The connection's secret values (its token, header and env values; for an OAuth connection also the
 * tokens sent for it, see rememberSent) in every form an upstream might echo them in, longest first.
 * A static connection's list is worked out once per spec.
 */
export function secretsOf(spec: SecretSource): string[] {
  let own = cache.get(spec);
  if (!own) {
    own = formsOf([spec.token, ...Object.values(spec.headers), ...Object.values(spec.env)]);
    cache.set(spec, own);
  }
  if (!spec.oauth || spec.id === undefined) return own;
  const entry = sent.get(spec.id);
  if (!entry) return own;
  const known = withSent.get(spec);
  if (known?.version === entry.version) return known.list;
  const list = [...new Set([...own, ...formsOf([...entry.values])])].sort((a, b) => b.length - a.length);
  withSent.set(spec, { version: entry.version, list });
  return list;
}

/** `text` with every secret of `secrets` replaced by [redacted], cut to `max` characters (ending in "…"). */
export function redact(text: string, secrets: readonly string[], max = MAX_ERROR_TEXT): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/** Upstream text about `spec` (an error, a stderr line), redacted and capped. */
export function redactFor(spec: SecretSource, text: string, max = MAX_ERROR_TEXT): string {
  return redact(text, secretsOf(spec), max);
}
