// Which redirect URIs a client may register (https, loopback http, private-use schemes: RFC 8252,
// OAuth 2.1 §2.3.1), and whether a presented one matches a registered one: exactly, except the port
// of a loopback http URI (RFC 8252 §7.3, native apps listen on an ephemeral port). Pure functions.

export const MAX_REDIRECT_URI_LENGTH = 2000;

/**
 * Schemes that are never a redirect target: script and document schemes a browser would run or show
 * in place (javascript:, data:, vbscript:, blob:, about:, view-source:), local files, and non-HTTP
 * transports. A code sent there would run attacker-chosen content or leave the client entirely.
 */
const REFUSED_SCHEMES = new Set([
  "javascript",
  "jscript",
  "livescript",
  "vbscript",
  "data",
  "file",
  "filesystem",
  "blob",
  "about",
  "view-source",
  "jar",
  "ws",
  "wss",
  "ftp",
]);

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// Whitespace, controls and backslashes: the URL parser silently drops, encodes or reinterprets them
// (a backslash reads as "/" in http URLs), so the string compared would not be the URL a browser follows.
const UNSAFE_CHARACTERS = /[\s\u0000-\u001f\u007f-\u009f\\]/;
const IPV4_LOOPBACK = /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An http(s) URI split as written: host (brackets kept), port (null when absent) and what follows the authority. */
type Authority = { host: string; port: string | null; rest: string; userinfo: boolean };

function splitAuthority(afterScheme: string): Authority | null {
  if (!afterScheme.startsWith("//")) return null;
  const body = afterScheme.slice(2);
  const end = body.search(/[/?#]/);
  const authority = end === -1 ? body : body.slice(0, end);
  const rest = end === -1 ? "" : body.slice(end);
  const userinfo = authority.includes("@");
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  if (!m) return null;
  return { host: m[1]!, port: m[2] ?? null, rest, userinfo };
}

/** Loopback as RFC 8252 §7.3 means it: localhost, 127.0.0.0/8, [::1]. */
function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "[::1]" || IPV4_LOOPBACK.test(h);
}

function isValidPort(port: string): boolean {
  return /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
}

function quoted(uri: string): string {
  return JSON.stringify(uri.length > 200 ? `${uri.slice(0, 200)}…` : uri);
}

/**
 * Why `uri` may not be registered as a redirect URI, naming it; null when it is acceptable. Accepts
 * https (any host), http only on a loopback host (any port), and private-use schemes such as
 * `cursor://anysphere.cursor-mcp/oauth/callback` or `com.example.app:/cb`.
 */
export function redirectUriProblem(uri: string): string | null {
  const name = `redirect URI ${quoted(uri)}`;
  if (uri.length === 0) return "a redirect URI cannot be empty";
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return `${name} is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  if (UNSAFE_CHARACTERS.test(uri)) return `${name} contains whitespace, control characters or a backslash`;
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return `${name} is not an absolute URI (expected https://…, http://localhost…, or an app's own scheme such as cursor://…)`;
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return `${name} is not a valid URI`;
  }
  // OAuth 2.1 §2.3.1 and RFC 6749 §3.1.2: the redirection endpoint URI must not include a fragment.
  if (uri.includes("#")) return `${name} has a fragment (#…), which redirect URIs may not have`;
  if (REFUSED_SCHEMES.has(scheme)) return `${name} uses the ${scheme}: scheme, which is never a redirect target`;
  const authority = splitAuthority(uri.slice(scheme.length + 1));
  // Credentials in a redirect URI are a phishing device ("https://trusted@evil") and never needed.
  if (authority?.userinfo || parsed.username !== "" || parsed.password !== "") return `${name} has user information (user@host), which redirect URIs may not have`;
  if (scheme === "https" || scheme === "http") {
    if (authority === null || authority.host === "") return `${name} has no host`;
    if (authority.port !== null && !isValidPort(authority.port)) return `${name} has an invalid port`;
    // Plain http would let anyone on the path read the code, except on the user's own machine (RFC 8252 §8.3).
    if (scheme === "http" && !isLoopbackHost(authority.host)) {
      return `${name} uses http on a host that is not loopback; use https, or http://localhost, http://127.0.0.1 or http://[::1] on any port`;
    }
  }
  return null;
}

/** The loopback http URI `uri` split for the port-free comparison, or null when it is not one. */
function loopbackParts(uri: string): Authority | null {
  if (!uri.startsWith("http://")) return null;
  const parts = splitAuthority(uri.slice("http:".length));
  if (parts === null || parts.userinfo || !isLoopbackHost(parts.host)) return null;
  if (parts.port !== null && !isValidPort(parts.port)) return null;
  return parts;
}

/**
 * Whether `presented` (the authorization request's redirect_uri) is one of the client's registered
 * URIs: exact string equality, except that a loopback http URI may name any port (RFC 8252 §7.3),
 * host, path and query still compared exactly ("localhost" is not "127.0.0.1").
 */
export function redirectUriMatches(registered: readonly string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  const p = loopbackParts(presented);
  if (p === null || presented.includes("#")) return false;
  return registered.some((uri) => {
    const r = loopbackParts(uri);
    return r !== null && r.host === p.host && r.rest === p.rest;
  });
}
