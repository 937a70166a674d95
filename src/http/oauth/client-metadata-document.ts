// What a fetched client ID metadata document must say (draft-ietf-oauth-client-id-metadata-document,
// MCP authorization 2025-11-25), how long it may be cached, and how outside text is shown in a
// reason. Pure: the fetch is client-metadata.ts's.
import type { ClientMetadata } from "../../domain/oauth/types.ts";
import { singleLineProblem } from "../../domain/text.ts";

/** Without a Cache-Control header, a document is used this long before it is fetched again. */
export const DEFAULT_CACHE_MS = 60 * 60 * 1000;
/** However long the host says, a document is fetched again after this (a changed or withdrawn client shows within a day). */
export const MAX_CACHE_MS = 24 * 60 * 60 * 1000;

const MAX_NAME_LENGTH = 100;
const MAX_URI_LENGTH = 2048;

/**
 * `text` as it may appear in a reason: printable ASCII without `"` and `\` (what an OAuth
 * error_description may hold, RFC 6749 §5.2), at most `max` characters. Reasons quote a hostile
 * host's words; they must not forge a log line or break the error they end up in.
 */
export function shown(text: string, max = 200): string {
  const safe = text.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?");
  return safe.length > max ? `${safe.slice(0, max)}...` : safe;
}

/** How long a document may be cached, from its Cache-Control header (RFC 9111 §5.2.2), in [0, 24 h]. */
export function cacheLifetime(cacheControl: string | undefined): number {
  if (cacheControl === undefined) return DEFAULT_CACHE_MS;
  const directives = cacheControl.toLowerCase().split(",").map((d) => d.trim());
  if (directives.some((d) => d === "no-store" || d === "no-cache" || d.startsWith("no-cache="))) return 0;
  const maxAge = directives.find((d) => d.startsWith("max-age="));
  if (maxAge === undefined) return DEFAULT_CACHE_MS;
  const value = maxAge.slice("max-age=".length).replace(/^"(.*)"$/, "$1");
  // An invalid max-age makes the answer stale (RFC 9111 §4.2.1): not cached.
  if (!/^\d+$/.test(value)) return 0;
  return Math.min(Number(value) * 1000, MAX_CACHE_MS);
}

export type DocumentCheck = { ok: true; metadata: ClientMetadata } | { ok: false; reason: string };

/**
 * Validates the document fetched from `clientId`: it must name itself (client_id equal to the URL, so
 * one host cannot speak for another), list redirect URIs the registration rule accepts, and be a
 * public client (PKCE and no secret: a key we cannot verify is refused, not ignored). Display fields
 * that are unusable are dropped (the name falls back to the host), not refused.
 */
export function checkClientMetadataDocument(clientId: string, document: unknown, redirectUriProblem: (uri: string) => string | null): DocumentCheck {
  const fail = (reason: string): DocumentCheck => ({ ok: false, reason });
  if (typeof document !== "object" || document === null || Array.isArray(document)) return fail(`the document at ${shown(clientId)} is not a JSON object`);
  const doc = document as Record<string, unknown>;
  if (doc.client_id === undefined) return fail(`the document at ${shown(clientId)} has no client_id`);
  if (doc.client_id !== clientId) return fail(`client_id in the document is ${typeof doc.client_id === "string" ? shown(doc.client_id) : `a ${typeof doc.client_id}`}, not ${shown(clientId)}`);
  const method = doc.token_endpoint_auth_method;
  if (method !== undefined && method !== "none") {
    const named = typeof method === "string" ? shown(method, 40) : "a non-string token_endpoint_auth_method";
    return fail(`${named} is not supported: Switchboard accepts public clients only (token_endpoint_auth_method none, with PKCE)`);
  }
  // The draft forbids a secret in a public document; one there means the client is confused about what it is.
  if (doc.client_secret !== undefined) return fail("the document contains a client_secret, which a client ID metadata document must not");
  const uris = doc.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0) return fail("redirect_uris must be a non-empty array of strings");
  for (const uri of uris) {
    if (typeof uri !== "string") return fail("redirect_uris must be a non-empty array of strings");
    const problem = redirectUriProblem(uri);
    // The rule's reason names the URI itself.
    if (problem !== null) return fail(shown(problem, 300));
  }
  return {
    ok: true,
    metadata: {
      name: displayName(doc.client_name) ?? new URL(clientId).hostname,
      redirectUris: [...(uris as string[])],
      clientUri: httpsUri(doc.client_uri),
      logoUri: httpsUri(doc.logo_uri),
    },
  };
}

/** client_name when it is a short single line; else null (the caller shows the host instead). */
function displayName(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const name = value.trim();
  if (name === "" || name.length > MAX_NAME_LENGTH || singleLineProblem(name) !== null) return null;
  return name;
}

/** An https URL without credentials, as its canonical href; anything else is dropped (a page links it). */
function httpsUri(value: unknown): string | null {
  if (typeof value !== "string" || value.length > MAX_URI_LENGTH || !URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "") return null;
  return url.href;
}
