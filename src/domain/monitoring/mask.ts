// The audit log's one masking rule: what a change looked like, with every secret value replaced, so an
// audit row can be read by anyone allowed to read the log without handing them a credential.

/** What a masked value reads as (the same mask the connections' API and the effective config show). */
export const AUDIT_MASK = "********";

// Keys whose values are secrets: "token", "password", "secret" and anything ending so ("new_password",
// "bearerToken", "client_secret"), and the other usual names of credentials ("authorization",
// "api_key", "apiKey", "passwd", "credentials", "bearer"); not "token_set" or "access_token_ttl".
const SECRET_KEY = /(secret|token|password|passwd|authorization|api[_-]?key|credentials?|bearer|cookie)$/i;
/** Maps whose every value is secret (a connection's headers and a stdio server's env): names are kept. */
const SECRET_MAPS = new Set(["headers", "env"]);
// A Switchboard credential pasted where no secret was expected (a description, a URL): key, OAuth
// access, refresh and code tokens all share the mcp_<kind>_ format.
const CREDENTIAL = /\bmcp_(key|at|rt|ac)_[A-Za-z0-9]+/g;
/** Deeper than any operation's input: past it, a value is dropped rather than walked. */
const MAX_DEPTH = 16;

/**
 * A copy of `value` safe to store: secret keys' values (a null stays null: "removed" is no secret),
 * every value of a headers or env map, Switchboard tokens inside strings and a URL's password are
 * masked. Objects, arrays and everything else keep their shape.
 */
export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return AUDIT_MASK;
  if (typeof value === "string") return maskString(value);
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) out[key] = item === null || item === undefined ? item : AUDIT_MASK;
    else if (SECRET_MAPS.has(key) && item !== null && item !== undefined) {
      // Whatever shape it came in (a refused input is stored as given: a list of pairs, a string), a
      // headers or env value holds secrets: only an object's names are kept.
      out[key] = typeof item === "object" && !Array.isArray(item) ? Object.fromEntries(Object.keys(item).map((name) => [name, AUDIT_MASK])) : AUDIT_MASK;
    } else out[key] = maskSecrets(item, depth + 1);
  }
  return out;
}

function maskString(text: string): string {
  let masked = text.replace(CREDENTIAL, (_match, kind: string) => `mcp_${kind}_${AUDIT_MASK}`);
  // https://user:password@host: the password part of a URL's userinfo.
  masked = masked.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]*@/gi, `$1:${AUDIT_MASK}@`);
  // "Bearer <anything>" and "Basic <anything>" typed into any text (a header written as a string).
  masked = masked.replace(/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${AUDIT_MASK}`);
  return masked;
}
